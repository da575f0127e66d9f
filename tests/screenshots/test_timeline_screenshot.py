"""README screenshot of the customer timeline, taken in Odoo's headless Chromium.

Not a test: it runs only when asked for, on a database with the demo data::

    OMNI_SCREENSHOT=1 python3 -m pytest --odoo-config=.local/odoo.conf --odoo-database=<db> \\
        --odoo-http tests/screenshots -q

and writes docs/timeline.png (or the path in OMNI_SCREENSHOT_PATH).
"""

import os

from odoo.tests import tagged
from screenshot_case import DOCS, ScreenshotCase

OUTPUT = DOCS / "timeline.png"
CUSTOMER = "omnichannel_base.partner_lucia_fernandez"

# Waits until the first page of the timeline is on screen, brings it to the top of
# the form, and lets fonts and avatars settle before saying so.
READY_JS = """
(async () => {
    const deadline = Date.now() + 30000;
    const ready = () => document.querySelector(
        ".o_omni_timeline:not(.o_omni_timeline_loading) .o_omni_timeline_item"
    );
    while (!ready()) {
        if (Date.now() > deadline) {
            console.error("the timeline did not show any item");
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    document.querySelector(".o_notebook").scrollIntoView({ block: "start" });
    await document.fonts.ready;
    await new Promise((resolve) => setTimeout(resolve, 500));
    console.log("screenshot ready");
})();
"""


@tagged("post_install", "-at_install")
class TestTimelineScreenshot(ScreenshotCase):
    def test_timeline_screenshot(self):
        customer = self.env.ref(CUSTOMER, raise_if_not_found=False)
        if not customer:
            self.skipTest("needs the demo data of omnichannel_base")
        self.take_screenshot(
            f"/odoo/action-base.action_partner_form/{customer.id}",
            READY_JS,
            os.environ.get("OMNI_SCREENSHOT_PATH") or OUTPUT,
        )
