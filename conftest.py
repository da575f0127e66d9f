"""pytest set-up shared by every addon's tests and tests/.

pytest-odoo imports ``odoo.tests`` before it turns on Odoo's test mode, and Odoo then logs
an error with a stack trace ("Importing test framework…"). Import it here, in test mode,
as Odoo's own test runner would.
"""

from odoo.tools import config

config["test_enable"] = True
import odoo.tests  # noqa: E402,F401

config["test_enable"] = False
