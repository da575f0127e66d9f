from datetime import timedelta
from uuid import uuid4

from odoo import Command, fields
from odoo.tests import tagged

from odoo.addons.omnichannel_base.tests.common import OmnichannelCase

ROW_FIELDS = ("partner_id", "company_id", "kind", "direction", "date", "summary", "user_id", "external_id")


@tagged("post_install", "-at_install")
class TestPosOrderTimeline(OmnichannelCase):
    """POS orders paid at the till reach the customer's timeline, whoever the cashier is."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A cashier as point_of_sale's own tests make them: POS rights and nothing of Omnichannel.
        cls.cashier = cls.env["res.users"].create(
            {
                "name": "Carla Cajera",
                "login": "carla.cajera",
                "email": "carla@example.com",
                "groups_id": [
                    Command.set([cls.env.ref("base.group_user").id, cls.env.ref("point_of_sale.group_pos_user").id])
                ],
            }
        )
        # A back-office agent who also sees the POS orders.
        cls.agent.groups_id = [Command.link(cls.env.ref("point_of_sale.group_pos_user").id)]
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Tienda", "email": "lucia.tienda@example.com"})
        cls.config = cls.env.ref("point_of_sale.pos_config_main")
        cls.cash = cls.config.payment_method_ids.filtered(lambda m: m.is_cash_count)[:1]
        cls.card = cls.config.payment_method_ids.filtered(lambda m: not m.is_cash_count and m.journal_id)[:1]
        cls.product = cls.env["product.product"].create(
            {"name": "Zapatilla talla 38", "available_in_pos": True, "list_price": 49.9, "taxes_id": [Command.clear()]}
        )
        cls.config.with_user(cls.cashier).open_ui()
        cls.session = cls.config.current_session_id
        cls.session.with_user(cls.cashier).set_opening_control(0, None)
        cls.sequence = 0

    # ------------------------------------------------------------ the POS, as its front end talks to the server
    def ui_order(self, lines, payments, partner=None, state="paid", date_order=None):
        """An order as the POS's ``syncAllOrders`` serialises it: ``lines`` are (product, qty,
        refunded pos.order.line or None), ``payments`` (payment method, amount)."""
        self.sequence += 1
        uuid = str(uuid4())
        line_values = []
        for product, qty, refunded_line in lines:
            price = refunded_line.price_unit if refunded_line else product.lst_price
            line_values.append(
                Command.create(
                    {
                        "id": self.sequence * 100 + len(line_values),
                        "uuid": str(uuid4()),
                        "product_id": product.id,
                        "full_product_name": product.display_name,
                        "qty": qty,
                        "price_unit": price,
                        "price_subtotal": price * qty,
                        "price_subtotal_incl": price * qty,
                        "discount": 0,
                        "price_extra": 0,
                        "tax_ids": [Command.set([])],
                        "pack_lot_ids": [],
                        "customer_note": "",
                        "note": "",
                        "refunded_orderline_id": refunded_line.id if refunded_line else False,
                    }
                )
            )
        total = sum(line[2]["price_subtotal_incl"] for line in line_values)
        return {
            "uuid": uuid,
            "name": f"Order {self.session.id:05d}-001-{self.sequence:04d}",
            "access_token": str(uuid4()),
            "session_id": self.session.id,
            "user_id": self.cashier.id,
            "partner_id": partner.id if partner else False,
            "pricelist_id": self.config.pricelist_id.id,
            "fiscal_position_id": False,
            "date_order": fields.Datetime.to_string(date_order or fields.Datetime.now()),
            "sequence_number": self.sequence,
            "state": state,
            "amount_total": total,
            "amount_tax": 0,
            "amount_paid": sum(amount for _method, amount in payments),
            "amount_return": 0,
            "to_invoice": False,
            "shipping_date": False,
            "is_tipped": False,
            "tip_amount": 0,
            "nb_print": 0,
            "general_note": "",
            "last_order_preparation_change": "{}",
            "lines": line_values,
            "payment_ids": [
                Command.create(
                    {
                        "uuid": str(uuid4()),
                        "amount": amount,
                        "payment_date": fields.Datetime.to_string(fields.Datetime.now()),
                        "payment_method_id": method.id,
                        "is_change": False,
                    }
                )
                for method, amount in payments
            ],
        }

    def sync(self, *orders):
        """What the till sends and receives, as the cashier: the synced pos.order records."""
        result = self.env["pos.order"].with_user(self.cashier).sync_from_ui(list(orders))
        return self.env["pos.order"].browse([values["id"] for values in result["pos.order"]])

    def sell(self, partner=None, qty=2, payments=None):
        total = self.product.lst_price * qty
        return self.sync(self.ui_order([(self.product, qty, None)], payments or [(self.cash, total)], partner))

    def events(self, orders):
        return self.env["omnichannel.interaction"].search(
            [("res_model", "=", "pos.order"), ("res_id", "in", orders.ids)], order="id"
        )

    def rows(self, orders):
        return {
            (event.res_id, *(event[name].id if event._fields[name].relational else event[name] for name in ROW_FIELDS))
            for event in self.events(orders)
        }

    # ------------------------------------------------------------ tests
    def test_cashier_pays_and_the_order_reaches_the_timeline(self):
        self.assertFalse(self.cashier.has_group("omnichannel_base.group_omnichannel_user"))
        order = self.sell(self.customer, payments=[(self.cash, 20.0), (self.card, 79.8)])
        self.assertEqual(order.state, "paid")
        event = self.events(order)
        self.assertEqual(len(event), 1)
        self.assertEqual(
            (event.partner_id, event.kind, event.direction, event.external_id, event.user_id, event.channel_id),
            (self.customer, "pos_order", "inbound", "paid", self.cashier, self.env["omnichannel.channel"]),
        )
        self.assertEqual(event.summary, f"POS order {order.name} paid")
        self.assertEqual(event.date, order.date_order)

        # The back office sees it, with its details read from the order as it is now.
        items = self.customer.with_user(self.agent).omnichannel_timeline()["items"]
        item = next(item for item in items if item["id"] == event.id)
        self.assertEqual(item["kind_group"], "orders")
        self.assertEqual(item["source"], {"model": "pos.order", "id": order.id, "name": order.name})
        details = dict(item["details"])
        self.assertEqual(list(details), ["Amount", "Shop", "Cashier", "Payment", "Receipt"])
        self.assertEqual(details["Amount"], order._omni_amount(99.8, order.currency_id))
        self.assertEqual(details["Shop"], self.config.name)
        self.assertEqual(details["Cashier"], "Carla Cajera")
        self.assertEqual(set(details["Payment"].split(", ")), {self.cash.name, self.card.name})
        self.assertEqual(details["Receipt"], order.pos_reference)

    def test_refund_at_the_till(self):
        order = self.sell(self.customer, qty=2)
        # The POS refunds one of the two: a new order whose line points to the refunded line.
        refund = self.sync(
            self.ui_order(
                [(self.product, -1, order.lines)], [(self.cash, -self.product.lst_price)], partner=self.customer
            )
        )
        self.assertEqual(refund.refunded_order_id, order)
        self.assertLess(refund.amount_total, 0)
        event = self.events(refund)
        self.assertEqual(
            (event.kind, event.direction, event.external_id, event.user_id),
            ("pos_order", "outbound", "refunded", self.cashier),
        )
        self.assertEqual(event.summary, f"POS refund {refund.name}")
        self.assertEqual(self.events(order).mapped("external_id"), ["paid"], "the refunded order keeps its payment")
        details = dict(self.customer.with_user(self.agent)._omni_timeline_items(event)[0]["details"])
        self.assertEqual(details["Amount"], refund._omni_amount(-49.9, refund.currency_id))

    def test_order_without_customer_records_nothing_until_it_gets_one(self):
        order = self.sell()
        self.assertEqual(order.state, "paid")
        self.assertFalse(self.events(order))
        # The cashier picks the customer afterwards, to invoice the ticket.
        order.with_user(self.cashier).write({"partner_id": self.customer.id})
        self.assertEqual(self.events(order).mapped("external_id"), ["paid"])
        order.with_user(self.cashier).write({"partner_id": self.customer.id, "general_note": "Factura"})
        self.assertEqual(len(self.events(order)), 1)

    def test_draft_order_is_recorded_once_paid(self):
        values = self.ui_order([(self.product, 1, None)], [], partner=self.customer, state="draft")
        order = self.sync(values)
        self.assertEqual(order.state, "draft")
        self.assertFalse(self.events(order), "an order still open at the till is not an event")
        values.update(state="paid", amount_paid=49.9)
        values["payment_ids"] = [Command.create({"amount": 49.9, "payment_method_id": self.cash.id})]
        self.assertEqual(self.sync(values), order)
        self.assertEqual(order.state, "paid")
        self.assertEqual(self.events(order).mapped("external_id"), ["paid"])

    def test_order_synced_late_is_dated_when_it_was_rung_up(self):
        rung_up = fields.Datetime.now().replace(microsecond=0) - timedelta(hours=3)  # the till was offline
        order = self.sync(
            self.ui_order([(self.product, 1, None)], [(self.cash, 49.9)], self.customer, date_order=rung_up)
        )
        self.assertEqual(self.events(order).date, rung_up)

    def test_cashier_closes_the_session(self):
        orders = self.sell(self.customer) | self.sell(self.customer, qty=1) | self.sell()
        before = self.rows(orders)
        self.assertEqual(len(before), 2)
        session = self.session.with_user(self.cashier)
        cash = sum(orders.payment_ids.filtered(lambda p: p.payment_method_id == self.cash).mapped("amount"))
        self.assertTrue(session.post_closing_cash_details(cash)["successful"])
        result = session.close_session_from_ui()
        self.assertTrue(result["successful"], result)
        self.assertEqual(self.session.state, "closed")
        self.assertEqual(set(orders.mapped("state")), {"done"})
        self.assertEqual(self.rows(orders), before, "posting the orders is no new event")

    def test_backfill_is_idempotent(self):
        Interaction = self.env["omnichannel.interaction"]
        order = self.sell(self.customer, qty=2)
        refund = self.sync(self.ui_order([(self.product, -2, order.lines)], [(self.cash, -99.8)], self.customer))
        draft = self.sync(self.ui_order([(self.product, 1, None)], [], self.customer, state="draft"))
        anonymous = self.sell()
        orders = order | refund | draft | anonymous
        live = self.rows(orders)
        self.assertEqual(len(live), 2)

        self.assertEqual(Interaction._backfill_business_events(["pos.order"])[0], 0, "nothing twice")
        self.assertEqual(Interaction._backfill_source("pos.order")[0], 0, "the model has events already")

        # Every POS order's event goes (the database's own ones too, e.g. demo data) and comes back once.
        self.env.cr.execute("DELETE FROM omnichannel_interaction WHERE res_model = 'pos.order'")
        deleted = self.env.cr.rowcount
        self.env.invalidate_all()
        self.assertEqual(Interaction._backfill_source("pos.order")[0], deleted)
        self.assertEqual(self.rows(orders), live, "the backfill writes what the till wrote")
        self.assertEqual(Interaction._backfill_source("pos.order")[0], 0)
        self.assertEqual(Interaction._backfill_business_events(["pos.order"])[0], 0)
        self.assertEqual(self.rows(orders), live)

    def test_backfill_when_installed_long_after_omnichannel_base(self):
        # Orders paid before omnichannel_pos made pos.order a timeline source: none of them has
        # an event when the module is installed (or updated from before it did).
        order = self.sell(self.customer)
        refund = self.sync(self.ui_order([(self.product, -1, order.lines)], [(self.cash, -49.9)], self.customer))
        live = self.rows(order | refund)
        self.env.cr.execute("DELETE FROM omnichannel_interaction WHERE res_model = 'pos.order'")
        self.env.invalidate_all()
        # What installing or updating omnichannel_pos runs for the model.
        self.registry.init_models(self.env.cr, ["pos.order"], {"module": "omnichannel_pos"}, install=False)
        self.assertEqual(self.rows(order | refund), live)

    def test_details_are_read_in_batch(self):
        one = self.sell(self.customer)
        many = one | self.sell(self.customer, qty=1) | self.sell(self.customer, payments=[(self.card, 99.8)])

        def queries(orders):
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            details = orders.with_user(self.agent)._omni_timeline_details()
            self.assertEqual(len(details), len(orders))
            return self.env.cr.sql_log_count - start

        queries(one)  # warm the registry caches
        self.assertEqual(queries(many), queries(one))
