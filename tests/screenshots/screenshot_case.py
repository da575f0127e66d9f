"""What the README screenshots share: Odoo's headless Chromium, signed in as the demo admin in
English and Madrid time, on a page made ready by a script that logs "screenshot ready"."""

import base64
import os
import unittest
from pathlib import Path

from odoo.tests import HttpCase
from odoo.tests.common import ChromeBrowser

DOCS = Path(__file__).resolve().parents[2] / "docs"


@unittest.skipUnless(os.environ.get("OMNI_SCREENSHOT"), "set OMNI_SCREENSHOT=1 to take the README screenshot")
class ScreenshotCase(HttpCase):
    browser_size = "1366x900"
    TIMEZONE = "Europe/Madrid"

    def setUp(self):
        super().setUp()
        # English, whatever the database's admin uses, and a fixed zone for the hours shown.
        self.env.ref("base.user_admin").write({"lang": "en_US", "tz": self.TIMEZONE})

    def take_screenshot(self, url, ready_js, output, timeout=60, wait_ready=True):
        """Open ``url`` as admin, run ``ready_js`` until it logs "screenshot ready", write the PNG to ``output``."""
        browser = ChromeBrowser(self, success_signal="screenshot ready")
        try:
            self.authenticate("admin", "admin", browser=browser)
            self.cr.flush()
            self.cr.clear()
            # The browser takes the user's zone for the hours shown, as a real one set to it would.
            browser._websocket_request("Emulation.setTimezoneOverride", params={"timezoneId": self.TIMEZONE})
            browser.navigate_to(f"{self.base_url()}{url}", wait_stop=True)
            if wait_ready:
                self.assertTrue(browser._wait_ready())
            browser._wait_code_ok(ready_js, timeout=timeout)
            png = browser._websocket_request("Page.captureScreenshot", params={"format": "png"})["data"]
        finally:
            browser.stop()
            self._wait_remaining_requests()
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(base64.b64decode(png))
        self.assertGreater(output.stat().st_size, 10000, "the screenshot is not blank")
