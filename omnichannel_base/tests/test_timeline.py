import json
from datetime import datetime, timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import OmnichannelCase


class TimelineCase(OmnichannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Prueba", "email": "lucia.prueba@example.com"})
        cls.product = cls.env["product.product"].create(
            {"name": "Silla de oficina", "type": "consu", "list_price": 100}
        )

    def order(self, partner=None, user=None, qty=2):
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.customer).id,
                "user_id": (user or self.env.user).id,
                "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": qty})],
            }
        )

    def invoice(self, partner=None, move_type="out_invoice", user=None):
        return self.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": (partner or self.customer).id,
                "invoice_user_id": (user or self.env.user).id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [Command.create({"product_id": self.product.id, "quantity": 1, "price_unit": 250})],
            }
        )

    def events(self, record):
        return self.env["omnichannel.interaction"].search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)], order="id"
        )

    def timeline(self, partner=None, **kwargs):
        return (partner or self.customer).omnichannel_timeline(**kwargs)


@tagged("post_install", "-at_install")
class TestBackOfficeEvents(TimelineCase):
    def test_sale_order_transitions(self):
        order = self.order(user=self.agent)
        self.assertFalse(self.events(order), "a draft quotation is not an event")
        order.action_quotation_sent()
        order.action_confirm()
        self.env.cr.precommit.run()  # the bus writes the notifications so far
        self.env["bus.bus"].search([]).unlink()
        order.write({"state": "sale"})  # no transition, no event
        order.note = "Entregar por la mañana"  # no state at all
        self.env.cr.precommit.run()
        updates = self.env["bus.bus"].search([("message", "like", "omnichannel.timeline/updated")])
        self.assertFalse(updates, "nothing new: no timeline is told to reload")
        self.assertEqual(self.events(order).mapped("external_id"), ["quotation_sent", "confirmed"])
        sent, confirmed = self.events(order)
        self.assertEqual(sent.summary, f"Quotation {order.name} sent")
        self.assertEqual((sent.kind, sent.direction, sent.partner_id), ("order", "outbound", self.customer))
        self.assertEqual(confirmed.user_id, self.agent, "done by the system: the salesperson is the author")
        order._action_cancel()
        self.assertEqual(self.events(order)[-1].summary, f"Order {order.name} cancelled")

    def test_delivery_validated(self):
        order = self.order()
        order.action_confirm()
        picking = order.picking_ids
        self.assertEqual(len(picking), 1)
        picking.move_ids.write({"quantity": 2, "picked": True})
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        delivery = self.events(picking)
        self.assertEqual((delivery.kind, delivery.direction), ("delivery", "outbound"))
        self.assertEqual(delivery.summary, f"Delivery {picking.name} validated")
        self.assertEqual(delivery.commercial_partner_id, self.customer)

    def test_return_validated(self):
        order = self.order()
        order.action_confirm()
        delivery = order.picking_ids
        delivery.move_ids.write({"quantity": 2, "picked": True})
        delivery.button_validate()
        wizard = (
            self.env["stock.return.picking"]
            .with_context(active_ids=delivery.ids, active_id=delivery.id, active_model="stock.picking")
            .create({})
        )
        wizard.product_return_moves.quantity = 1
        returned = self.env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
        returned.move_ids.write({"quantity": 1, "picked": True})
        returned.button_validate()
        event = self.events(returned)
        self.assertEqual((event.kind, event.direction), ("delivery", "inbound"))
        self.assertEqual(event.summary, f"Return {returned.name} validated")

    def test_invoice_posted_and_paid(self):
        invoice = self.invoice()
        invoice.action_post()
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {}
        )._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        posted, paid = self.events(invoice)
        self.assertEqual((posted.kind, posted.summary), ("invoice", f"Invoice {invoice.name} posted"))
        self.assertEqual(
            (paid.kind, paid.direction, paid.summary), ("payment", "inbound", f"Invoice {invoice.name} paid")
        )

    def test_credit_note_posted(self):
        refund = self.invoice(move_type="out_refund")
        refund.action_post()
        self.assertEqual(self.events(refund).summary, f"Credit note {refund.name} posted")

    def test_vendor_bill_is_not_a_customer_event(self):
        bill = self.invoice(move_type="in_invoice")
        bill.action_post()
        self.assertFalse(self.events(bill))

    def test_install_backfilled_documents_created_before_the_module(self):
        # sale's demo orders were created and confirmed while omnichannel_base was not installed
        # yet (it depends on sale): only the install backfill can have put them on the timeline.
        demo_order = self.env.ref("sale.sale_order_4")
        confirmed = self.events(demo_order)
        self.assertEqual(confirmed.external_id, "confirmed")
        self.assertEqual(confirmed.date, demo_order.date_order)
        self.assertEqual(confirmed.summary, f"Order {demo_order.name} confirmed")

    def test_backfill_is_set_based_and_idempotent(self):
        order, invoice = self.order(), self.invoice()
        order.action_confirm()
        invoice.action_post()
        expected = {
            (i.res_model, i.res_id, i.external_id, i.summary) for i in self.events(order) | self.events(invoice)
        }
        self.env.cr.execute("DELETE FROM omnichannel_interaction WHERE channel_id IS NULL AND res_model IS NOT NULL")
        self.env.invalidate_all()
        rows, _seconds = self.env["omnichannel.interaction"]._backfill_business_events()
        self.assertGreaterEqual(rows, 2)
        restored = {
            (i.res_model, i.res_id, i.external_id, i.summary) for i in self.events(order) | self.events(invoice)
        }
        self.assertEqual(restored, expected)
        self.assertEqual(self.env["omnichannel.interaction"]._backfill_business_events()[0], 0, "nothing twice")

    def test_a_source_added_later_gets_its_own_backfill(self):
        # As if the module making sale.order a timeline source were installed only now (or
        # reinstalled), on a database whose other sources are already on the timelines.
        order = self.order()
        order.action_confirm()
        invoice = self.invoice()
        invoice.action_post()
        self.env.cr.execute("DELETE FROM omnichannel_interaction WHERE res_model = 'sale.order'")
        self.env.invalidate_all()
        # What installing or updating that module runs for the model.
        self.registry.init_models(self.env.cr, ["sale.order"], {"module": "omnichannel_base"}, install=False)
        self.assertEqual(self.events(order).external_id, "confirmed")
        self.assertIn(
            self.env.ref("sale.sale_order_4").id,
            self.env["omnichannel.interaction"].search([("res_model", "=", "sale.order")]).mapped("res_id"),
        )
        self.assertEqual(len(self.events(invoice)), 1, "other sources are not backfilled again")
        before = self.env["omnichannel.interaction"].search_count([("res_model", "=", "sale.order")])
        with self.assertQueryCount(1):  # the next update probes the source index, and stops there
            self.env["omnichannel.interaction"]._backfill_source("sale.order")
        after = self.env["omnichannel.interaction"].search_count([("res_model", "=", "sale.order")])
        self.assertEqual(after, before)


@tagged("post_install", "-at_install")
class TestTimeline(TimelineCase):
    def ingest_many(self, partner, count, start=None, channel=None):
        start = start or datetime(2026, 1, 1, 9, 0)
        return self.ingest.ingest(
            [
                self.event(
                    channel_id=(channel or self.channel).id,
                    partner_id=partner.id,
                    external_id=f"tl-{partner.id}-{start.isoformat()}-{n}",
                    date=fields.Datetime.to_string(start + timedelta(minutes=n)),
                    body=f"Mensaje {n}",
                )
                for n in range(count)
            ]
        )

    def test_pages_newest_first_without_overlap(self):
        self.ingest_many(self.customer, 95)
        seen, cursor, sizes = [], None, []
        while True:
            page = self.timeline(limit=40, cursor=cursor)
            sizes.append(len(page["items"]))
            seen += [(item["date"], item["id"]) for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(sizes, [40, 40, 15])
        self.assertEqual(seen, sorted(seen, reverse=True))
        self.assertEqual(len(set(seen)), 95)
        first = self.timeline(limit=1)["items"][0]
        self.assertEqual(first["summary"], "Mensaje 94")
        self.assertEqual((first["kind_group"], first["channel_type"], first["icon"]), ("messages", "api", "fa-plug"))
        self.assertEqual(first["source"]["model"], "omnichannel.conversation")
        self.assertTrue(first["conversation_id"])

    def test_company_shows_its_contacts(self):
        company = self.env["res.partner"].create({"name": "Olivares Prueba S.L.", "is_company": True})
        buyer = self.env["res.partner"].create({"name": "Carmen Compras", "parent_id": company.id})
        self.ingest_many(buyer, 2)
        self.ingest_many(company, 1, start=datetime(2025, 6, 1))
        items = self.timeline(company)["items"]
        self.assertEqual([i["contact"] and i["contact"]["name"] for i in items], ["Carmen Compras"] * 2 + [False])
        self.assertEqual(len(self.timeline(buyer)["items"]), 2, "a contact shows its own history only")

    def test_filters(self):
        self.env.user.tz = "Europe/Madrid"
        self.ingest_many(self.customer, 3, start=datetime(2026, 3, 10, 22, 30))  # 23:30 local, then 23:31...
        late = self.ingest_many(self.customer, 1, start=datetime(2026, 3, 10, 23, 30))  # 00:30 on the 11th, local
        order = self.order()
        order.action_confirm()
        orders = self.timeline(filters={"kind_groups": ["orders"]})["items"]
        self.assertEqual([i["source"]["name"] for i in orders], [order.name])
        messages = self.timeline(filters={"channel_types": ["api"]})["items"]
        self.assertEqual(len(messages), 4)
        day = self.timeline(filters={"date_from": "2026-03-11", "date_to": "2026-03-11"})["items"]
        self.assertEqual([i["id"] for i in day], late.ids)
        self.assertEqual(len(self.timeline(filters={"date_to": "2026-03-10"})["items"]), 3)
        found = self.timeline(filters={"search": "mensaje 2"})["items"]
        self.assertEqual([i["summary"] for i in found], ["Mensaje 2"])

    def test_bad_requests_get_a_readable_error(self):
        for kwargs in (
            {"cursor": ["yesterday", 1]},
            {"cursor": [1]},
            {"filters": {"channel_types": "api"}},
            {"filters": {"date_from": "11/03/2026"}},
            {"limit": "many"},
        ):
            with self.subTest(kwargs), self.assertRaises(UserError):
                self.timeline(**kwargs)

    def test_details_are_read_live(self):
        order = self.order(qty=2)
        order.action_confirm()
        item = self.timeline(filters={"kind_groups": ["orders"]})["items"][0]
        self.assertEqual(item["details"][1], ["Status", "Sales Order"])
        amount_at_confirmation = item["details"][0][1]
        order.order_line.product_uom_qty = 5
        order._action_cancel()
        item = self.timeline(filters={"kind_groups": ["orders"]})["items"][0]
        self.assertEqual(item["summary"], f"Order {order.name} cancelled")
        confirmed = self.timeline(filters={"kind_groups": ["orders"]})["items"][1]
        today = order._omni_amount(order.amount_total, order.currency_id)
        self.assertNotEqual(today, amount_at_confirmation)
        self.assertEqual(confirmed["details"][0], ["Amount", today], "the amount of today, not of the confirmation")
        self.assertEqual(confirmed["details"][1], ["Status", "Cancelled"])

    def test_query_count_does_not_grow_with_history(self):
        small = self.env["res.partner"].create({"name": "Pocas Interacciones"})
        large = self.env["res.partner"].create({"name": "Muchas Interacciones"})
        for partner in (small, large):
            order = self.order(partner)
            order.action_confirm()
        # 9,990 older rows for the large partner, in one statement.
        self.env.cr.execute(
            """INSERT INTO omnichannel_interaction
                   (partner_id, commercial_partner_id, channel_id, channel_type, company_id, kind, direction,
                    date, summary)
               SELECT %s, %s, %s, 'api', %s, 'message', 'inbound',
                      TIMESTAMP '2020-01-01' + n * INTERVAL '1 hour', 'Antiguo ' || n
                 FROM generate_series(1, 9990) AS n""",
            [large.id, large.id, self.channel.id, self.env.company.id],
        )
        for partner in (small, large):
            self.ingest_many(partner, 9, start=datetime(2026, 6, 1))
        self.assertEqual(large.omni_interaction_count, 10000)
        self.assertEqual(small.omni_interaction_count, 10)

        def pages(partner):
            self.env.invalidate_all()
            first = partner.omnichannel_timeline(limit=5)
            self.env.invalidate_all()
            partner.omnichannel_timeline(limit=5, cursor=first["next_cursor"])
            return first["next_cursor"]

        pages(small)  # warm the registry caches
        self.env.invalidate_all()
        start = self.env.cr.sql_log_count
        small.omnichannel_timeline(limit=5)
        first_page_queries = self.env.cr.sql_log_count - start
        cursor = small.omnichannel_timeline(limit=5)["next_cursor"]
        self.env.invalidate_all()
        start = self.env.cr.sql_log_count
        small.omnichannel_timeline(limit=5, cursor=cursor)
        next_page_queries = self.env.cr.sql_log_count - start
        self.assertLessEqual(first_page_queries, 12)

        self.env.invalidate_all()
        with self.assertQueryCount(first_page_queries):
            cursor = large.omnichannel_timeline(limit=5)["next_cursor"]
        self.env.invalidate_all()
        with self.assertQueryCount(next_page_queries):
            large.omnichannel_timeline(limit=5, cursor=cursor)

    def test_live_update_through_the_bus(self):
        group = self.env.ref("omnichannel_base.group_omnichannel_user")
        self.env["bus.bus"].search([]).unlink()
        self.ingest_many(self.customer, 1)
        self.env.cr.precommit.run()  # the bus writes its notifications when the transaction commits
        notes = self.env["bus.bus"].search([])
        payloads = [
            json.loads(n.message) for n in notes if json.loads(n.channel) == [self.env.cr.dbname, group._name, group.id]
        ]
        updates = [p["payload"] for p in payloads if p["type"] == "omnichannel.timeline/updated"]
        self.assertEqual(len(updates), 1)
        self.assertIn(self.customer.id, updates[0]["partner_ids"])
        self.assertEqual(set(updates[0]), {"partner_ids"}, "only ids travel; clients reload with their own rights")

    def test_log_a_call(self):
        action = self.customer.with_user(self.agent).action_omni_log_interaction()
        wizard = (
            self.env[action["res_model"]]
            .with_user(self.agent)
            .with_context(action["context"])
            .create({"kind": "call", "direction": "outbound", "summary": "Llamada: confirma la entrega del jueves"})
        )
        self.env["bus.bus"].search([]).unlink()
        wizard.action_log()
        self.env.cr.precommit.run()  # the bus writes its notifications when the transaction commits
        item = self.customer.with_user(self.agent).omnichannel_timeline(limit=1)["items"][0]
        self.assertEqual(item["summary"], "Llamada: confirma la entrega del jueves")
        self.assertEqual((item["kind_group"], item["icon"], item["author"]), ("calls", "fa-phone", "Ana Agente"))
        self.assertTrue(self.env["bus.bus"].search_count([]))

    def test_partner_filters_and_last_channel(self):
        self.ingest_many(self.customer, 2, start=datetime.now() - timedelta(days=3))
        self.env.invalidate_all()
        self.assertEqual(self.customer.omni_last_contact_channel_type, "api")
        self.assertEqual(self.customer.omni_preferred_channel_type, "api")
        Partner = self.env["res.partner"]
        self.assertIn(self.customer, Partner.search([("omni_preferred_channel_type", "=", "api")]))
        contacted = Partner.search([("omni_last_contact_date", ">=", fields.Datetime.now() - timedelta(days=30))])
        self.assertIn(self.customer, contacted)


@tagged("post_install", "-at_install")
class TestTimelineAccess(TimelineCase):
    """A business event shows only to users who may read its document, as Odoo decides:
    agents without sales rights see none; a salesperson with "own documents" sees his
    orders and the invoices Odoo lets him read (his own), not a colleague's; invoicing
    users see everything, with amounts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        omni = cls.env.ref("omnichannel_base.group_omnichannel_user")

        def user(login, *groups):
            return cls.env["res.users"].create(
                {
                    "name": login.title(),
                    "login": login,
                    "groups_id": [Command.set([omni.id, *(cls.env.ref(g).id for g in groups)])],
                }
            )

        cls.salesman = user("vendedor", "sales_team.group_sale_salesman")
        cls.colleague = user("colega", "sales_team.group_sale_salesman")
        cls.accountant = user("contable", "sales_team.group_sale_salesman_all_leads", "account.group_account_invoice")

    def test_each_kind_of_user(self):
        mine, theirs = self.order(user=self.salesman), self.order(user=self.colleague)
        (mine | theirs).action_confirm()
        my_invoice, their_invoice = self.invoice(user=self.salesman), self.invoice(user=self.colleague)
        (my_invoice | their_invoice).action_post()
        self.ingest.ingest(
            [self.event(partner_id=self.customer.id, external_id="acc-1", body="¿Dónde está mi pedido?")]
        )

        def sources(user):
            items = self.customer.with_user(user).omnichannel_timeline()["items"]
            return {item["source"]["name"] for item in items if item["source"]["model"] != "omnichannel.conversation"}

        self.assertEqual(sources(self.agent), set(), "an agent without sales rights sees no business event")
        listed = (
            self.env["omnichannel.interaction"]
            .with_user(self.agent)
            .search_read([("partner_id", "=", self.customer.id)], ["res_model"])
        )
        self.assertEqual([row["res_model"] for row in listed], [False], "nor in the Interactions list")
        agent_items = self.customer.with_user(self.agent).omnichannel_timeline()["items"]
        self.assertEqual([i["summary"] for i in agent_items], ["¿Dónde está mi pedido?"])
        self.assertEqual(sources(self.salesman), {mine.name, my_invoice.name})
        self.assertEqual(sources(self.accountant), {mine.name, theirs.name, my_invoice.name, their_invoice.name})
        invoice_item = next(
            i
            for i in self.customer.with_user(self.accountant).omnichannel_timeline()["items"]
            if i["source"]["name"] == their_invoice.name
        )
        self.assertEqual(invoice_item["details"][0][0], "Amount")

    def test_hidden_documents_do_not_shorten_pages(self):
        theirs = [self.order(user=self.colleague) for _n in range(6)]
        for order in theirs:
            order.action_confirm()  # newer than the messages below, and not his to read
        self.ingest.ingest(
            [
                self.event(partner_id=self.customer.id, external_id=f"hid-{n}", date=f"2026-01-0{n + 1}T10:00:00Z")
                for n in range(5)
            ]
        )
        page = self.customer.with_user(self.salesman).omnichannel_timeline(limit=5)
        self.assertEqual(len(page["items"]), 5, "read on past the colleague's orders")
        self.assertEqual({i["kind_group"] for i in page["items"]}, {"messages"})
        self.assertFalse(page["next_cursor"])
        self.assertEqual(len(self.customer.with_user(self.accountant).omnichannel_timeline(limit=5)["items"]), 5)
