"""Cross-module journey: one customer, four channels, one identity and one history."""

from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestOmnichannelJourney(TransactionCase):
    def test_chat_then_call_then_store_then_email(self):
        self.env.company.country_id = self.env.ref("base.es")
        Channel = self.env["omnichannel.channel"]
        whatsapp = Channel.create({"name": "WhatsApp", "channel_type": "whatsapp"})
        phone = Channel.create({"name": "Switchboard", "channel_type": "voice"})
        store = Channel.create({"name": "Madrid store", "channel_type": "store"})
        mailbox = Channel.create({"name": "Support", "channel_type": "email"})
        ingest = self.env["omnichannel.ingest"]

        chat = ingest.ingest(
            {
                "channel_id": whatsapp.id,
                "external_id": "wamid.A1",
                "date": "2026-11-20T10:00:00Z",
                "sender": {"provider_id": "34655001122", "phone": "+34655001122", "name": "Carlos Ruiz"},
                "body": "¿Me reserváis las botas del 43?",
            }
        )
        customer = chat.partner_id
        customer.email = "carlos.ruiz@example.es"  # the agent completes the contact
        call = ingest.ingest(
            {
                "channel_id": phone.id,
                "kind": "call",
                "external_id": "call-1",
                "date": "2026-11-20T16:00:00Z",
                "sender": {"phone": "655 00 11 22"},
                "summary": "Pregunta por la reserva",
            }
        )
        visit = ingest.ingest(
            {
                "channel_id": store.id,
                "kind": "visit",
                "date": "2026-11-21T11:00:00Z",
                "sender": {"phone": "0034655001122"},
                "summary": "Recoge las botas",
            }
        )
        email = ingest.ingest(
            {
                "channel_id": mailbox.id,
                "kind": "email",
                "date": "2026-11-22T09:00:00Z",
                "sender": {"email": "Carlos.Ruiz@Example.es"},
                "body": "Gracias, todo perfecto",
            }
        )

        self.assertEqual((chat | call | visit | email).partner_id, customer, "one customer, whatever the channel")
        timeline = self.env["omnichannel.interaction"].search([("partner_id", "=", customer.id)])
        self.assertEqual(timeline.mapped("channel_type"), ["email", "store", "voice", "whatsapp"])
        self.assertEqual(len(customer.omni_conversation_ids), 3, "the visit is no conversation")
        self.assertEqual(str(customer.omni_last_contact_date), "2026-11-22 09:00:00")
        self.assertEqual(
            self.env["res.partner"].search_count(
                [("omni_source_channel_id", "!=", False), ("id", "in", timeline.partner_id.ids)]
            ),
            1,
        )
