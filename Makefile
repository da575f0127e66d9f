# Two commands: `make run` serves the suite, `make test` runs every test.
# Both set up what is missing (Odoo 18, Python packages, a local PostgreSQL) and nothing else.
PYTHON ?= python3
# Odoo and its pinned requirements go into the project's virtualenv, never into the Python
# running make: only a PYTHON named on make's command line is used as is (a PYTHON exported
# for other tools, as node-gyp's users do, is not a choice made for this project).
ifeq ($(origin PYTHON),command line)
export OMNI_PYTHON := $(PYTHON)
endif
ARGS ?=

.PHONY: run test bench screenshot stop rebuild
run:
	$(PYTHON) scripts/devenv.py run $(ARGS)

test:
	$(PYTHON) scripts/devenv.py test $(ARGS)

bench:
	$(PYTHON) scripts/devenv.py bench $(ARGS)

# Retakes docs/timeline.png, docs/pos_context.png and docs/omnichannel_dashboard.png (README) on the test database's demo data.
screenshot:
	OMNI_SCREENSHOT=1 $(PYTHON) scripts/devenv.py test tests/screenshots $(ARGS)

stop:
	$(PYTHON) scripts/devenv.py stop
