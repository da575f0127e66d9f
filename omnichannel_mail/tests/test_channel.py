from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestEmailChannel(TransactionCase):
    def test_email_channel_threads_by_key(self):
        channel = self.env["omnichannel.channel"].create({"name": "Support", "channel_type": "email"})
        self.assertEqual(channel._fields["channel_type"].convert_to_export(channel.channel_type, channel), "Email")
        ingest = self.env["omnichannel.ingest"]
        first = ingest.ingest(
            {
                "channel_id": channel.id,
                "kind": "email",
                "thread_key": "<a@mail.example>",
                "sender": {"email": "Ana <ana@cliente.es>"},
                "body": "Factura",
            }
        )
        other = ingest.ingest(
            {
                "channel_id": channel.id,
                "kind": "email",
                "thread_key": "<b@mail.example>",
                "sender": {"email": "ana@cliente.es"},
                "body": "Otra consulta",
            }
        )
        self.assertEqual(first.partner_id, other.partner_id)
        self.assertNotEqual(first.conversation_id, other.conversation_id, "one conversation per email thread")
