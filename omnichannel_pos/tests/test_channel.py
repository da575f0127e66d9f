from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestStoreChannel(TransactionCase):
    def test_store_visit_lands_on_timeline_without_conversation(self):
        channel = self.env["omnichannel.channel"].create({"name": "Madrid store", "channel_type": "store"})
        customer = self.env["res.partner"].create({"name": "Lucía Fernández", "email": "lucia@example.es"})
        visit = self.env["omnichannel.ingest"].ingest(
            {
                "channel_id": channel.id,
                "kind": "visit",
                "sender": {"email": "LUCIA@example.es"},
                "summary": "Recogió su pedido en tienda",
            }
        )
        self.assertEqual(visit.partner_id, customer)
        self.assertEqual(visit.channel_type, "store")
        self.assertFalse(visit.conversation_id)
        self.assertTrue(customer.omni_last_contact_date)
