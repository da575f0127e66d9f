from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestSocialChannelTypes(TransactionCase):
    def test_types_and_provider_ids(self):
        self.env.company.country_id = self.env.ref("base.es")
        Channel = self.env["omnichannel.channel"]
        types = dict(Channel._fields["channel_type"].selection)
        for channel_type in ("whatsapp", "messenger", "instagram", "telegram", "sms"):
            self.assertIn(channel_type, types)
        telegram = Channel.create({"name": "Bot", "channel_type": "telegram"})
        whatsapp = Channel.create({"name": "WhatsApp", "channel_type": "whatsapp"})
        ingest = self.env["omnichannel.ingest"]
        by_bot = ingest.ingest(
            {"channel_id": telegram.id, "sender": {"provider_id": 5551234, "phone": "+34 622 000 111"}}
        )
        by_wa = ingest.ingest(
            {"channel_id": whatsapp.id, "sender": {"provider_id": "34622000111", "phone": "622000111"}}
        )
        self.assertEqual(by_bot.partner_id, by_wa.partner_id, "one customer across both apps")
        self.assertEqual(
            set(by_bot.partner_id.omni_identity_ids.mapped("value")),
            {"+34622000111", "telegram:5551234", "whatsapp:34622000111"},
        )
        self.assertNotEqual(by_bot.conversation_id, by_wa.conversation_id, "one conversation per channel")
