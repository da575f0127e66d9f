"""Cross-module journey: one customer, four channels, one identity and one history."""

from datetime import datetime, timedelta, timezone

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

    def test_timeline_preferred_channel_and_back_office(self):
        """Chat, call and shop: the timeline shows every channel and the order, and the
        contact list finds her among those who prefer WhatsApp."""
        self.env.company.country_id = self.env.ref("base.es")
        Channel = self.env["omnichannel.channel"]
        whatsapp = Channel.create({"name": "WhatsApp Ventas", "channel_type": "whatsapp"})
        phone = Channel.create({"name": "Centralita", "channel_type": "voice"})
        ingest = self.env["omnichannel.ingest"]
        sender = {"phone": "+34 611 22 33 44", "name": "Inés Vidal"}
        # Within the last 12 months, whenever the test runs: the preferred channel looks no further.
        now = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%dT10:%%02d:00Z")
        ingest.ingest(
            [
                {"channel_id": whatsapp.id, "external_id": f"wamid.P{n}", "date": now % n, "sender": sender}
                | {"body": "Hola"}
                for n in range(3)
            ]
        )
        call = ingest.ingest(
            {"channel_id": phone.id, "kind": "call", "date": now % 30, "sender": sender, "summary": "Llamada"}
        )
        customer = call.partner_id
        product = self.env["product.product"].create({"name": "Botas", "list_price": 80})
        order = self.env["sale.order"].create(
            {"partner_id": customer.id, "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})]}
        )
        order.action_confirm()

        items = customer.omnichannel_timeline()["items"]
        self.assertEqual(items[0]["source"], {"model": "sale.order", "id": order.id, "name": order.name})
        self.assertEqual({i["channel_type"] for i in items}, {"whatsapp", "voice", False})
        self.assertEqual(customer.omni_last_contact_channel_type, "voice")
        self.assertEqual(customer.omni_preferred_channel_type, "whatsapp", "3 chats beat 1 call")
        prefers = self.env.ref("omnichannel_social.res_partner_view_search")
        self.assertIn("omni_preferred_channel_type", prefers.arch)
        self.assertIn(customer, self.env["res.partner"].search([("omni_preferred_channel_type", "=", "whatsapp")]))
        self.assertNotIn(customer, self.env["res.partner"].search([("omni_preferred_channel_type", "=", "voice")]))
        company = self.env["res.partner"].create({"name": "Vidal Interiores S.L.", "is_company": True})
        customer.parent_id = company
        self.assertEqual(company.omni_preferred_channel_type, "whatsapp", "a company prefers what its contacts do")
        self.assertIn(company, self.env["res.partner"].search([("omni_preferred_channel_type", "=", "whatsapp")]))
