"""README screenshot of the customer timeline, taken in Odoo's headless Chromium.

Not a test: it runs only when asked for, on a database with the demo data::

    OMNI_SCREENSHOT=1 python3 -m pytest --odoo-config=.local/odoo.conf --odoo-database=<db> \\
        --odoo-http tests/screenshots -q

and writes docs/timeline.png (or the path in OMNI_SCREENSHOT_PATH).
"""

import base64
import os
import unittest
from pathlib import Path

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "timeline.png"
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


@unittest.skipUnless(os.environ.get("OMNI_SCREENSHOT"), "set OMNI_SCREENSHOT=1 to take the README screenshot")
@tagged("post_install", "-at_install")
class TestTimelineScreenshot(HttpCase):
    browser_size = "1366x900"

    def test_timeline_screenshot(self):
        customer = self.env.ref(CUSTOMER, raise_if_not_found=False)
        if not customer:
            self.skipTest("needs the demo data of omnichannel_base")
        output = Path(os.environ.get("OMNI_SCREENSHOT_PATH") or OUTPUT)
        # English, whatever the database's admin uses, and a fixed zone for the hours shown.
        self.env.ref("base.user_admin").write({"lang": "en_US", "tz": "Europe/Madrid"})

        browser = ChromeBrowser(self, success_signal="screenshot ready")
        try:
            self.authenticate("admin", "admin", browser=browser)
            self.cr.flush()
            self.cr.clear()
            # The browser takes the user's zone for the hours shown, as a real one set to it would.
            browser._websocket_request("Emulation.setTimezoneOverride", params={"timezoneId": "Europe/Madrid"})
            browser.navigate_to(f"{self.base_url()}/odoo/action-base.action_partner_form/{customer.id}", wait_stop=True)
            self.assertTrue(browser._wait_ready())
            browser._wait_code_ok(READY_JS, timeout=60)
            png = browser._websocket_request("Page.captureScreenshot", params={"format": "png"})["data"]
        finally:
            browser.stop()
            self._wait_remaining_requests()
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(base64.b64decode(png))
        self.assertGreater(output.stat().st_size, 10000, "the screenshot is not blank")
