"""README screenshot of the Omnichannel dashboard (Dashboards app), taken in Odoo's headless Chromium.

Not a test: it runs only when asked for, on a database with the demo data::

    OMNI_SCREENSHOT=1 python3 -m pytest --odoo-config=.local/odoo.conf --odoo-database=<db> \\
        --odoo-http tests/screenshots -q

and writes docs/omnichannel_dashboard.png (or the path in OMNI_DASHBOARD_SCREENSHOT_PATH).
"""

import os

from odoo.tests import tagged
from screenshot_case import DOCS, ScreenshotCase

OUTPUT = DOCS / "omnichannel_dashboard.png"
DASHBOARD_ACTION = "omnichannel_reports.action_omnichannel_dashboard"

# Waits until every pivot of the dashboard has loaded (no cell reads "Loading..."), folds the list
# of dashboards away for a wider view, and lets the charts finish drawing.
READY_JS = """
(async () => {
    const deadline = Date.now() + 60000;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const findModel = () => {
        const stack = [odoo.__WOWL_DEBUG__.root.__owl__];
        while (stack.length) {
            const node = stack.pop();
            const dashboard = node.component?.state?.activeDashboard;
            if (dashboard?.model) {
                return dashboard.model;
            }
            stack.push(...Object.values(node.children || {}));
        }
    };
    const loading = (model) => {
        for (const sheetId of model.getters.getSheetIds()) {
            for (let col = 0; col < 8; col++) {
                for (let row = 0; row < 36; row++) {
                    if (model.getters.getEvaluatedCell({ sheetId, col, row }).value === "Loading...") {
                        return true;
                    }
                }
            }
        }
        return false;
    };
    const drawn = () => document.querySelector(".o_spreadsheet_dashboard_action .o-grid");
    let model;
    while (!(model = findModel()) || loading(model) || !drawn()) {
        if (Date.now() > deadline) {
            console.error("the dashboard did not load");
            return;
        }
        await sleep(200);
    }
    document.querySelector(".o_spreadsheet_dashboard_search_panel button")?.click();
    await document.fonts.ready;
    await sleep(1500);
    console.log("screenshot ready");
})();
"""


@tagged("post_install", "-at_install")
class TestDashboardScreenshot(ScreenshotCase):
    def test_dashboard_screenshot(self):
        if not self.env.ref("omnichannel_base.partner_lucia_fernandez", raise_if_not_found=False):
            self.skipTest("needs the demo data of omnichannel_base")
        if not self.env.ref(DASHBOARD_ACTION, raise_if_not_found=False):
            self.skipTest("needs omnichannel_reports")
        self.take_screenshot(
            f"/odoo/action-{DASHBOARD_ACTION}",
            READY_JS,
            os.environ.get("OMNI_DASHBOARD_SCREENSHOT_PATH") or OUTPUT,
            timeout=90,
        )
