"""RFM scores and segments on a crafted set of orders, each expected value written out.

Salespeople confirm the orders and a billing user posts the invoices, as they would. The database's
own (demo) orders would share the quintiles with the crafted customers, so each test sets them aside
inside its own transaction first: the crafted customers are then the whole population.

Quintile scores rank the N customers: score = 1 + floor(5 * (rank - 1) / (N - 1)), at most 5, where
equal values share the lowest rank. With the five customers below (N = 5) the ranks 1..5 give the
scores 1, 2, 3, 4, 5.
"""

import unittest
from datetime import date, timedelta

from odoo import Command
from odoo.tests import freeze_time, tagged

from odoo.addons.omnichannel_base.tests.common import OmnichannelCase
from odoo.addons.omnichannel_reports.models.res_partner import SEGMENT_CASE

TODAY = date(2026, 6, 30)
FIELDS = (
    "omni_rfm_recency_days",
    "omni_rfm_frequency",
    "omni_rfm_monetary",
    "omni_rfm_r",
    "omni_rfm_f",
    "omni_rfm_m",
    "omni_rfm_segment",
    "omni_customer_value",
)


def ago(days):
    return TODAY - timedelta(days=days)


class RfmCase(OmnichannelCase):
    """Users who sell and invoice, a service product, and no purchase but the test's own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = cls.env["res.users"].create(
            {
                "name": "Sergio Ventas",
                "login": "sergio.ventas",
                "email": "sergio@example.com",
                "groups_id": [Command.set([cls.env.ref("sales_team.group_sale_salesman_all_leads").id])],
            }
        )
        # cancelling needs the Sales Administrator once sale_loyalty is installed (its coupon points)
        cls.sales_manager = cls.env["res.users"].create(
            {
                "name": "Marta Jefa",
                "login": "marta.jefa",
                "email": "marta@example.com",
                "groups_id": [Command.set([cls.env.ref("sales_team.group_sale_manager").id])],
            }
        )
        cls.billing = cls.env["res.users"].create(
            {
                "name": "Berta Facturas",
                "login": "berta.facturas",
                "email": "berta@example.com",
                "groups_id": [Command.set([cls.env.ref("account.group_account_invoice").id])],
            }
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "Consultoría",
                "type": "service",
                "invoice_policy": "order",
                "list_price": 1.0,
                "taxes_id": [Command.clear()],
            }
        )
        cls.set_aside_existing_purchases()

    @classmethod
    def set_aside_existing_purchases(cls):
        cls.env.flush_all()
        cls.env.cr.execute("UPDATE sale_order SET state = 'cancel' WHERE state = 'sale'")
        cls.env.cr.execute(
            "UPDATE account_move SET state = 'cancel' "
            "WHERE state = 'posted' AND move_type IN ('out_invoice', 'out_refund')"
        )
        if "pos.order" in cls.env:
            cls.env.cr.execute("UPDATE pos_order SET state = 'cancel' WHERE state IN ('paid', 'done', 'invoiced')")
        cls.env.invalidate_all()

    @classmethod
    def order(cls, partner, amount, day, confirm=True, salesman=None):
        with freeze_time(day):
            order = (
                cls.env["sale.order"]
                .with_user(salesman or cls.salesman)
                .create(
                    {
                        "partner_id": partner.id,
                        "order_line": [
                            Command.create({"product_id": cls.product.id, "product_uom_qty": 1, "price_unit": amount})
                        ],
                    }
                )
            )
            if confirm:
                order.action_confirm()
            cls.env.flush_all()
        return order

    @classmethod
    def invoice_order(cls, order, day, salesman=None, billing=None):
        with freeze_time(day):
            invoice = order.with_user(salesman or cls.salesman)._create_invoices()
            invoice.with_user(billing or cls.billing).action_post()
            cls.env.flush_all()
        return invoice

    @classmethod
    def invoice(cls, partner, amount, day, move_type="out_invoice", post=True):
        with freeze_time(day):
            move = (
                cls.env["account.move"]
                .with_user(cls.billing)
                .create(
                    {
                        "move_type": move_type,
                        "partner_id": partner.id,
                        "invoice_date": day,
                        "invoice_line_ids": [
                            Command.create(
                                {"product_id": cls.product.id, "quantity": 1, "price_unit": amount, "tax_ids": []}
                            )
                        ],
                    }
                )
            )
            if post:
                move.action_post()
            cls.env.flush_all()
        return move

    def scores(self, partner, user=None):
        """The RFM fields as a user of the Omnichannel group (or ``user``) reads them on the contact."""
        values = partner.with_user(user or self.agent).read(list(FIELDS))[0]
        return tuple(values[name] for name in FIELDS)


@tagged("post_install", "-at_install")
class TestRfm(RfmCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.alfa = Partner.create({"name": "Alfa Distribuciones SL", "is_company": True})
        cls.ana = Partner.create({"name": "Ana Alfa", "parent_id": cls.alfa.id})
        cls.bruno = Partner.create({"name": "Bruno Bravo"})
        cls.carmen = Partner.create({"name": "Carmen Cruz"})
        cls.diego = Partner.create({"name": "Diego Díaz"})
        cls.elena = Partner.create({"name": "Elena Estévez"})
        cls.fausto = Partner.create({"name": "Fausto Futuro"})

        # Alfa: three orders (one placed by its contact Ana, one not invoiced yet) and one invoice with
        # no order behind it: 4 purchases, last 1 day ago, 2000 + 500 + 2500 invoiced.
        cls.invoice_order(cls.order(cls.ana, 2000, ago(30)), ago(29))
        cls.order(cls.alfa, 700, ago(1))
        cls.invoice_order(cls.order(cls.alfa, 500, ago(60)), ago(60))
        cls.invoice(cls.ana, 2500, ago(5))
        # Bruno: 3 purchases, last 10 days ago, 4000; a quotation and a cancelled order don't count.
        cls.invoice_order(cls.order(cls.bruno, 1000, ago(10)), ago(10))
        cls.invoice_order(cls.order(cls.bruno, 2000, ago(50)), ago(45))
        cls.invoice(cls.bruno, 1000, ago(80))
        cls.order(cls.bruno, 9000, ago(3), confirm=False)
        cls.order(cls.bruno, 9000, ago(4)).with_user(cls.sales_manager)._action_cancel()
        # Carmen: 2 orders, last 40 days ago; 800 invoiced, 300 credited back, one order not invoiced.
        cls.invoice_order(cls.order(cls.carmen, 800, ago(40)), ago(40))
        cls.invoice(cls.carmen, 300, ago(35), move_type="out_refund")
        cls.order(cls.carmen, 400, ago(90))
        # Diego: 1 invoice 200 days ago, 100; a draft invoice doesn't count.
        cls.invoice(cls.diego, 100, ago(200))
        cls.invoice(cls.diego, 9999, ago(2), post=False)
        # Elena: 1 order 400 days ago, 200 invoiced.
        cls.invoice_order(cls.order(cls.elena, 200, ago(400)), ago(400))
        # Fausto: only a quotation, so no purchase and no score.
        cls.order(cls.fausto, 100, ago(1), confirm=False)

    def test_scores_and_segments(self):
        self.env["res.partner"]._omni_rfm_recompute(today=TODAY)
        # (recency days, purchases, net revenue, R, F, M, segment, customer value)
        expected = {
            self.alfa: (1, 4, 5000.0, 5, 5, 5, "champions", 15),
            self.ana: (1, 4, 5000.0, 5, 5, 5, "champions", 15),  # a contact shares its company's score
            self.bruno: (10, 3, 4000.0, 4, 4, 4, "loyal", 12),
            self.carmen: (40, 2, 500.0, 3, 3, 3, "need_attention", 9),
            self.diego: (200, 1, 100.0, 2, 1, 1, "hibernating", 4),
            self.elena: (400, 1, 200.0, 1, 1, 2, "lost", 4),
            self.fausto: (0, 0, 0.0, 0, 0, 0, False, 0),
        }
        for partner, values in expected.items():
            with self.subTest(partner=partner.name):
                self.assertEqual(self.scores(partner), values)

    def test_recompute_follows_new_purchases_and_ties(self):
        Partner = self.env["res.partner"]
        Partner._omni_rfm_recompute(today=TODAY)
        self.assertEqual(Partner._omni_rfm_recompute(today=TODAY), 0, "nothing changed, nothing written")
        # Elena comes back today with a small invoice: 2 purchases (a tie with Carmen), 250 net.
        self.invoice(self.elena, 50, TODAY)
        self.assertEqual(Partner._omni_rfm_recompute(today=TODAY), 6)  # Ana follows Alfa; Fausto stays blank
        # Recency ranks D(200) C(40) B(10) A(1) E(0); frequency D(1) C=E(2, both rank 2) B(3) A(4).
        expected = {
            self.alfa: (1, 4, 5000.0, 4, 5, 5, "loyal", 14),
            self.bruno: (10, 3, 4000.0, 3, 4, 4, "loyal", 11),
            self.carmen: (40, 2, 500.0, 2, 2, 3, "hibernating", 7),
            self.diego: (200, 1, 100.0, 1, 1, 1, "lost", 3),
            self.elena: (0, 2, 250.0, 5, 2, 2, "potential_loyalist", 9),
        }
        for partner, values in expected.items():
            with self.subTest(partner=partner.name):
                self.assertEqual(self.scores(partner), values)

    def test_customer_without_purchases_any_more_is_cleared(self):
        Partner = self.env["res.partner"]
        Partner._omni_rfm_recompute(today=TODAY)
        self.assertEqual(self.diego.omni_rfm_segment, "hibernating")
        diego_invoice = self.env["account.move"].search([("partner_id", "=", self.diego.id), ("state", "=", "posted")])
        diego_invoice.with_user(self.billing).button_draft()
        Partner._omni_rfm_recompute(today=TODAY)
        self.assertEqual(self.scores(self.diego), (0, 0, 0.0, 0, 0, 0, False, 0))
        self.assertEqual(self.bruno.omni_rfm_segment, "loyal")

    def test_segment_map(self):
        """The R x F grid of the README, every pair written out (rows R = 5..1, columns F = 1..5)."""
        grid = {
            5: ["new", "potential_loyalist", "potential_loyalist", "champions", "champions"],
            4: ["promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"],
            3: ["about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"],
            2: ["hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"],
            1: ["lost", "hibernating", "at_risk", "at_risk", "cannot_lose"],
        }
        self.env.cr.execute(
            f"SELECT r, f, {SEGMENT_CASE} FROM generate_series(1, 5) r, generate_series(1, 5) f"  # noqa: S608
        )
        found = {(r, f): segment for r, f, segment in self.env.cr.fetchall()}
        self.assertEqual(found, {(r, f): grid[r][f - 1] for r in grid for f in range(1, 6)})
        self.assertEqual(
            {key for key, _label in self.env["res.partner"]._fields["omni_rfm_segment"].selection},
            set(found.values()),
        )

    def test_segments_filter_contacts(self):
        self.env["res.partner"]._omni_rfm_recompute(today=TODAY)
        champions = (
            self.env["res.partner"]
            .with_user(self.salesman)
            .search([("omni_rfm_segment", "=", "champions"), ("id", "in", (self.alfa | self.ana | self.bruno).ids)])
        )
        self.assertEqual(champions, self.alfa | self.ana)


@tagged("post_install", "-at_install")
class TestRfmMultiCompany(RfmCase):
    """Each company scores its own customers from its own sales, and its users see its scores only.

    Nora and Óscar are shared contacts (no company) who buy from the main company A and from B:
        A: Nora 1 order 10 days ago, 1000 invoiced; Óscar 1 order 50 days ago, 200 invoiced.
        B: Nora 1 order 100 days ago, 300 invoiced; Óscar 2 orders (5 and 20 days ago), not invoiced.
    Each company ranks its two customers (ranks 1 and 2 give the scores 1 and 5; equal values share 1).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Omnicanal Norte SL"})
        cls.env["account.chart.template"].try_loading("generic_coa", cls.company_b, install_demo=False)
        cls.salesman_b = cls.env["res.users"].create(
            {
                "name": "Sonia Norte",
                "login": "sonia.norte",
                "email": "sonia@example.com",
                "company_id": cls.company_b.id,
                "company_ids": [Command.set(cls.company_b.ids)],
                "groups_id": [Command.set([cls.env.ref("sales_team.group_sale_salesman_all_leads").id])],
            }
        )
        cls.billing_b = cls.env["res.users"].create(
            {
                "name": "Bea Norte",
                "login": "bea.norte",
                "email": "bea@example.com",
                "company_id": cls.company_b.id,
                "company_ids": [Command.set(cls.company_b.ids)],
                "groups_id": [Command.set([cls.env.ref("account.group_account_invoice").id])],
            }
        )
        Partner = cls.env["res.partner"]
        cls.nora = Partner.create({"name": "Nora Núñez"})
        cls.oscar = Partner.create({"name": "Óscar Ortega", "email": "oscar@example.com"})
        cls.invoice_order(cls.order(cls.nora, 1000, ago(10)), ago(10))
        cls.invoice_order(cls.order(cls.oscar, 200, ago(50)), ago(50))
        order_b = cls.order(cls.nora, 300, ago(100), salesman=cls.salesman_b)
        cls.invoice_order(order_b, ago(100), salesman=cls.salesman_b, billing=cls.billing_b)
        cls.order(cls.oscar, 70, ago(5), salesman=cls.salesman_b)
        cls.order(cls.oscar, 70, ago(20), salesman=cls.salesman_b)

    def test_each_company_scores_its_own_sales(self):
        self.assertEqual(self.nora.sale_order_ids.mapped("company_id"), self.company_a | self.company_b)
        self.env["res.partner"]._omni_rfm_recompute(today=TODAY)
        # (recency days, purchases, net revenue, R, F, M, segment, customer value)
        expected = {
            self.salesman: {
                self.nora: (10, 1, 1000.0, 5, 1, 5, "new", 11),
                self.oscar: (50, 1, 200.0, 1, 1, 1, "lost", 3),
            },
            self.salesman_b: {
                self.nora: (100, 1, 300.0, 1, 1, 5, "lost", 7),
                self.oscar: (5, 2, 0.0, 5, 5, 1, "champions", 11),
            },
        }
        for user, scores in expected.items():
            for partner, values in scores.items():
                with self.subTest(user=user.name, partner=partner.name):
                    self.assertEqual(self.scores(partner, user), values)
            company = user.company_id
            self.assertEqual(self.nora.with_user(user).omni_rfm_currency_id, company.currency_id)

    def test_segments_filter_and_group_in_the_users_company(self):
        self.env["res.partner"]._omni_rfm_recompute(today=TODAY)
        customers = [("id", "in", (self.nora | self.oscar).ids)]
        for user, lost, groups in (
            (self.salesman, self.oscar, {"new": self.nora, "lost": self.oscar}),
            (self.salesman_b, self.nora, {"lost": self.nora, "champions": self.oscar}),
        ):
            with self.subTest(user=user.name):
                Partner = self.env["res.partner"].with_user(user)
                self.assertEqual(Partner.search([*customers, ("omni_rfm_segment", "=", "lost")]), lost)
                # the RFM Segment group-by of the contact list
                found = Partner._read_group(customers, ["omni_rfm_segment"], ["id:recordset"])
                self.assertEqual({segment: partners for segment, partners in found}, groups)
                counts = Partner.read_group(customers, ["omni_rfm_segment"], ["omni_rfm_segment"])
                self.assertEqual(
                    {g["omni_rfm_segment"]: g["omni_rfm_segment_count"] for g in counts}, dict.fromkeys(groups, 1)
                )

    def test_mailing_reaches_the_segment_of_its_company(self):
        """A marketer of B mails B's champions, also when the queue's scheduled action (its own user,
        in company A) sends the mailing."""
        self.env["res.partner"]._omni_rfm_recompute(today=TODAY)
        self.env["ir.config_parameter"].sudo().set_param("mail.mail.force.send.limit", 0)
        marketing_b = self.env["res.users"].create(
            {
                "name": "Mar Norte",
                "login": "mar.norte",
                "email": "mar@example.com",
                "company_id": self.company_b.id,
                "company_ids": [Command.set(self.company_b.ids)],
                "groups_id": [Command.set([self.env.ref("mass_mailing.group_mass_mailing_user").id])],
            }
        )
        mailing = (
            self.env["mailing.mailing"]
            .with_user(marketing_b)
            .create(
                {
                    "subject": "Gracias",
                    "body_html": "<p>Hola</p>",
                    "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                    "mailing_filter_id": self.env.ref("omnichannel_reports.mailing_filter_rfm_champions").id,
                }
            )
        )
        self.assertEqual(mailing.total, 1, "Óscar, the champion of B")
        mailing.action_launch()
        self.assertEqual(self.env.company, self.company_a)
        self.env["mailing.mailing"]._process_mass_mailing_queue()
        traces = self.env["mailing.trace"].search([("mass_mailing_id", "=", mailing.id)])
        self.assertEqual(traces.mapped("res_id"), self.oscar.ids)


@tagged("post_install", "-at_install")
class TestRfmPos(RfmCase):
    """Paid POS tickets count when omnichannel_pos (pos.order) is installed; an invoiced ticket once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "pos.order" not in cls.env:
            raise unittest.SkipTest("point_of_sale is not installed")
        cls.cashier = cls.env["res.users"].create(
            {
                "name": "Carla Cajera",
                "login": "carla.cajera.rfm",
                "email": "carla.rfm@example.com",
                "groups_id": [
                    Command.set([cls.env.ref("base.group_user").id, cls.env.ref("point_of_sale.group_pos_user").id])
                ],
            }
        )
        cls.config = cls.env.ref("point_of_sale.pos_config_main")
        cls.cash = cls.config.payment_method_ids.filtered(lambda m: m.is_cash_count)[:1]
        cls.product.available_in_pos = True
        cls.config.with_user(cls.cashier).open_ui()
        cls.session = cls.config.current_session_id
        cls.session.with_user(cls.cashier).set_opening_control(0, None)
        cls.gina = cls.env["res.partner"].create({"name": "Gina Tienda"})
        cls.hugo = cls.env["res.partner"].create({"name": "Hugo Tienda"})
        # Gina: a ticket of 120 three days ago, 20 refunded the day after: 1 purchase, 100.
        cls.ticket(cls.gina, 120, ago(3))
        cls.ticket(cls.gina, -20, ago(2))
        # Hugo: a ticket of 300 six days ago, invoiced: 1 purchase (not 2), 300 (not 600).
        cls.ticket(cls.hugo, 300, ago(6), invoice=True)

    @classmethod
    def ticket(cls, partner, amount, day, invoice=False):
        with freeze_time(day):
            order = (
                cls.env["pos.order"]
                .with_user(cls.cashier)
                .create(
                    {
                        "session_id": cls.session.id,
                        "partner_id": partner.id,
                        "date_order": day,
                        "lines": [
                            Command.create(
                                {
                                    "product_id": cls.product.id,
                                    "qty": 1 if amount > 0 else -1,
                                    "price_unit": abs(amount),
                                    "price_subtotal": amount,
                                    "price_subtotal_incl": amount,
                                }
                            )
                        ],
                        "amount_total": amount,
                        "amount_tax": 0,
                        "amount_paid": 0,
                        "amount_return": 0,
                        "to_invoice": invoice,
                    }
                )
            )
            order.add_payment({"pos_order_id": order.id, "amount": amount, "payment_method_id": cls.cash.id})
            order.action_pos_order_paid()
            if invoice:
                order.action_pos_order_invoice()
            cls.env.flush_all()
        return order

    def test_scores_and_segments(self):
        self.env["res.partner"]._omni_rfm_recompute(today=TODAY)
        self.assertEqual(self.hugo.pos_order_ids.state, "invoiced")
        # Two customers: ranks 1 and 2 give the scores 1 and 5; equal frequencies share score 1.
        self.assertEqual(self.scores(self.gina), (3, 1, 100.0, 5, 1, 1, "new", 7))
        self.assertEqual(self.scores(self.hugo), (6, 1, 300.0, 1, 1, 5, "lost", 7))
