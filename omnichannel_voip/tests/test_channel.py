from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestVoiceChannel(TransactionCase):
    def test_calls_are_dialogues(self):
        self.env.company.country_id = self.env.ref("base.es")
        channel = self.env["omnichannel.channel"].create({"name": "Switchboard", "channel_type": "voice"})
        call = self.env["omnichannel.ingest"].ingest(
            {
                "channel_id": channel.id,
                "kind": "call",
                "external_id": "1700000000.42",
                "sender": {"phone": "910 000 123"},
                "summary": "Llamada entrante, 3 min",
            }
        )
        self.assertEqual(call.channel_type, "voice")
        self.assertEqual(call.summary, "Llamada entrante, 3 min")
        self.assertTrue(call.conversation_id)
        self.assertEqual(call.partner_id.phone, "+34910000123")
