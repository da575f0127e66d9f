from datetime import datetime, timedelta

from odoo.tests import HttpCase, tagged

OLD_MESSAGES = 45  # more than a page of the widget (40)


@tagged("post_install", "-at_install")
class TestTimelineTour(HttpCase):
    def test_timeline_on_the_contact_form(self):
        customer = self.env.ref("omnichannel_base.partner_lucia_fernandez", raise_if_not_found=False)
        if not customer:
            self.skipTest("needs the demo data of omnichannel_base")
        telegram = self.env["omnichannel.channel"].create({"name": "Tour Telegram", "channel_type": "telegram"})
        # A history older than the demo's, so the second page of the timeline holds it.
        start = datetime(2020, 1, 1, 9, 0)
        self.env["omnichannel.ingest"].ingest(
            [
                {
                    "channel_id": telegram.id,
                    "partner_id": customer.id,
                    "external_id": f"tour-history-{n}",
                    "date": start + timedelta(hours=n),
                    "body": f"Tour history {n:02d}",
                }
                for n in range(1, OLD_MESSAGES + 1)
            ]
        )

        self.start_tour("/odoo/action-base.action_partner_form", "omnichannel_timeline_tour", login="admin")

        call = self.env["omnichannel.interaction"].search(
            [("partner_id", "=", customer.id), ("summary", "=", "Called about the delivery of the chairs")]
        )
        self.assertEqual(call.kind, "call", "the call logged from the timeline is recorded")
        self.assertEqual(call.user_id, self.env.ref("base.user_admin"))
