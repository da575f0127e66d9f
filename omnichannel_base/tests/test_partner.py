from odoo.tests import tagged

from .common import OmnichannelCase


@tagged("post_install", "-at_install")
class TestPartnerMerge(OmnichannelCase):
    def test_merge_moves_everything_and_keeps_conversations(self):
        by_phone = self.ingest.ingest(self.event(sender={"phone": "+34600000201", "name": "Carmen (WhatsApp)"}))
        by_email = self.ingest.ingest(self.event(sender={"email": "carmen@example.es", "name": "Carmen López"}))
        source, target = by_phone.partner_id, by_email.partner_id
        self.assertNotEqual(source, target)
        resolved = self.ingest.ingest(
            self.event(channel_id=self.channel.copy({"name": "Web"}).id, sender={"phone": "+34600000201"})
        )
        resolved.conversation_id.action_resolve()
        conversations = (by_phone | by_email | resolved).conversation_id

        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((source | target).ids, target)

        self.assertFalse(source.exists())
        self.assertEqual(conversations.exists(), conversations, "no conversation is deleted by the merge")
        self.assertEqual(conversations.partner_id, target)
        self.assertEqual((by_phone | by_email | resolved).partner_id, target)
        self.assertEqual((by_phone | by_email | resolved).commercial_partner_id, target)
        self.assertEqual(set(target.omni_identity_ids.mapped("value")), {"+34600000201", "carmen@example.es"})
        for model in ("omnichannel.identity", "omnichannel.interaction", "omnichannel.conversation"):
            self.assertFalse(self.env[model].search([("partner_id", "=", source.id)]), f"orphan {model}")
        self.assertEqual(
            self.env["omnichannel.conversation"].search_count(
                [("partner_id", "=", target.id), ("channel_id", "=", self.channel.id), ("state", "!=", "resolved")]
            ),
            1,
        )
        # The next message from the old phone now lands on the surviving partner.
        self.assertEqual(self.ingest.ingest(self.event(sender={"phone": "600000201"})).partner_id, target)


@tagged("post_install", "-at_install")
class TestPartnerCounts(OmnichannelCase):
    def test_company_rolls_up_contacts(self):
        company = self.env["res.partner"].create({"name": "Hostal Sol", "is_company": True})
        maria = self.env["res.partner"].create({"name": "María", "parent_id": company.id, "phone": "+34600000301"})
        luis = self.env["res.partner"].create({"name": "Luis", "parent_id": company.id, "phone": "+34600000302"})
        self.ingest.ingest([self.event(sender={"phone": "+34600000301"}), self.event(sender={"phone": "+34600000302"})])
        self.assertEqual(company.omni_interaction_count, 2)
        self.assertEqual(maria.omni_interaction_count, 1)
        self.assertEqual(luis.omni_conversation_count, 1)
        luis.omni_conversation_ids.action_resolve()
        luis.invalidate_recordset(["omni_conversation_count"])
        self.assertEqual(luis.omni_conversation_count, 0, "the button counts open conversations")
        self.assertTrue(maria.omni_last_contact_date)
        action = company.action_omni_view_interactions()
        self.assertEqual(self.env["omnichannel.interaction"].search_count(action["domain"]), 2)
