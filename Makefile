# Two commands: `make run` serves the suite, `make test` runs every test.
# Both set up what is missing (Odoo 18, Python packages, a local PostgreSQL) and nothing else.
PYTHON ?= python3
ARGS ?=

.PHONY: run test bench stop rebuild
run:
	$(PYTHON) scripts/devenv.py run $(ARGS)

test:
	$(PYTHON) scripts/devenv.py test $(ARGS)

bench:
	$(PYTHON) scripts/devenv.py bench $(ARGS)

stop:
	$(PYTHON) scripts/devenv.py stop
