"""README screenshot of the customer context at the Point of Sale, taken in Odoo's headless Chromium.

Not a test: it runs only when asked for, on a database with the demo data::

    OMNI_SCREENSHOT=1 python3 -m pytest --odoo-config=.local/odoo.conf --odoo-database=<db> \\
        --odoo-http tests/screenshots -q

and writes docs/pos_context.png (or the path in OMNI_POS_SCREENSHOT_PATH).
"""

import os

from odoo.tests import tagged
from screenshot_case import DOCS, ScreenshotCase

OUTPUT = DOCS / "pos_context.png"
CUSTOMER = "omnichannel_base.partner_lucia_fernandez"
CONFIG = "point_of_sale.pos_config_clothes"  # the Madrid store in the demo data

# Once the POS shows its product screen, opens the customer's context as the cashier's
# "Customer Context" button does, waits for it to load, and lets fonts settle.
READY_JS = """
(async () => {
    const deadline = Date.now() + 60000;
    const wait = async (test, what) => {
        while (!test()) {
            if (Date.now() > deadline) {
                console.error(what);
                return false;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return true;
    };
    const openRegister = () => document.querySelector(".screen-login .open-register-btn");
    if (!(await wait(() => openRegister() || document.querySelector(".product-screen"), "the POS did not load"))) {
        return;
    }
    openRegister()?.click();
    if (!(await wait(() => window.posmodel && document.querySelector(".product-screen"), "the POS did not open"))) {
        return;
    }
    // Her order, as if the cashier had picked her from the customer list.
    const [partner] = await posmodel.data.read("res.partner", [%(partner_id)s]);
    posmodel.get_order().set_partner(partner);
    posmodel.showOmniCustomerContext(partner);
    if (!(await wait(() => document.querySelector(".o_omni_pos_context[data-status='ready']"), "no context"))) {
        return;
    }
    await document.fonts.ready;
    await new Promise((resolve) => setTimeout(resolve, 500));
    console.log("screenshot ready");
})();
"""


@tagged("post_install", "-at_install")
class TestPosContextScreenshot(ScreenshotCase):
    def test_pos_context_screenshot(self):
        customer = self.env.ref(CUSTOMER, raise_if_not_found=False)
        config = self.env.ref(CONFIG, raise_if_not_found=False)
        if not customer or not config or "omni_show_context" not in config:
            self.skipTest("needs the demo data of omnichannel_base, point_of_sale and omnichannel_pos")
        admin = self.env.ref("base.user_admin")
        if not config.current_session_id:
            config.with_user(admin).open_ui()
        if config.current_session_id.state == "opening_control":
            config.current_session_id.set_opening_control(0, "")

        self.take_screenshot(
            f"/pos/ui?config_id={config.id}",
            READY_JS % {"partner_id": customer.id},
            os.environ.get("OMNI_POS_SCREENSHOT_PATH") or OUTPUT,
            timeout=90,
            wait_ready=False,
        )
