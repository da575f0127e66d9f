"""The cohort table of Customer Retention on crafted orders and messages, each expected cell written out.

Everything happens in a company of its own ("Cohortes SL"): cohorts are counted per company, so the
database's demo orders and messages (in the main company) stay out of the table. Salespeople confirm
the orders; customers write through ingest, as a channel does. Dates are UTC.

Purchase cohorts (month of the first confirmed order):
    customer                 purchases                               active months
    Ana                      Jan 5, Jan 20, Mar 3                    Jan, Mar
    Bruno                    Jan 10, Feb 14                          Jan, Feb
    Cocinas SL               Jan 25 (by its contact Carlos);         Jan
                             a quotation in Feb and a cancelled order don't count
    Diego                    Feb 3, Apr 8                            Feb, Apr
    Elena                    Feb 20                                  Feb
    Ana also buys in the main company in Feb: another company's cohort, not this one.

    cohort     size   month 0      month 1      month 2      repeat (2 purchases or more)
    Jan 2026   3      3 (100 %)    1 (33.3 %)   1 (33.3 %)   Ana, Bruno: 66.7 %
    Feb 2026   2      2 (100 %)    -            1 (50 %)     Diego: 50 %
    Q1 2026    5      5 (100 %)    1 (20 %)     2 (40 %)     60 %   (not the 41.7 % an average of rates gives)

Contact cohorts (month of the first inbound interaction; outbound messages and order events don't count):
    Ana     Dec 15, Jan 3          -> Dec 2025, active Dec, Jan: came back
    Fede    Jan 12, Jan 13         -> Jan 2026, active Jan only: two messages, but did not come back
    Gema    Jan 20, Mar 2          -> Jan 2026, active Jan, Mar: came back
    (Bruno only gets an outbound message.)

    cohort     size   month 0      month 1      month 2      repeat (came back in a later month)
    Dec 2025   1      1 (100 %)    1 (100 %)    -            100 %
    Jan 2026   2      2 (100 %)    -            1 (50 %)     50 %
"""

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import freeze_time, tagged

from odoo.sql_db import db_connect

from odoo.addons.omnichannel_base.tests.common import OmnichannelCase
from odoo.addons.omnichannel_reports.models.omnichannel_retention_report import RETENTION_TABLE_LOCK

REPORT = "omnichannel.retention.report"


@tagged("post_install", "-at_install")
class TestRetention(OmnichannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.main_company = cls.env.company
        cls.cohortes = cls.env["res.company"].create({"name": "Cohortes SL"})
        both = cls.main_company | cls.cohortes
        cls.salesman = cls.user("Sonia Ventas", "sales_team.group_sale_salesman_all_leads", cls.cohortes, both)
        cls.sales_manager = cls.user("Mario Jefe", "sales_team.group_sale_manager", cls.cohortes, both)
        cls.manager = cls.user("Olga Gerente", "omnichannel_base.group_omnichannel_manager", cls.cohortes, both)
        cls.main_manager = cls.user(
            "Pablo Gerente", "omnichannel_base.group_omnichannel_manager", cls.main_company, cls.main_company
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Asesoría", "type": "service", "list_price": 100.0, "taxes_id": [Command.clear()]}
        )
        Partner = cls.env["res.partner"]
        cls.ana = Partner.create({"name": "Ana Cohorte"})
        cls.bruno = Partner.create({"name": "Bruno Cohorte"})
        cls.cocinas = Partner.create({"name": "Cocinas SL", "is_company": True})
        cls.carlos = Partner.create({"name": "Carlos Cocinas", "parent_id": cls.cocinas.id})
        cls.diego = Partner.create({"name": "Diego Cohorte"})
        cls.elena = Partner.create({"name": "Elena Cohorte"})
        cls.fede = Partner.create({"name": "Fede Cohorte"})
        cls.gema = Partner.create({"name": "Gema Cohorte"})

        for partner, day in (
            (cls.ana, "2026-01-05"),
            (cls.ana, "2026-01-20"),
            (cls.ana, "2026-03-03"),
            (cls.bruno, "2026-01-10"),
            (cls.bruno, "2026-02-14"),
            (cls.carlos, "2026-01-25"),
            (cls.diego, "2026-02-03"),
            (cls.diego, "2026-04-08"),
            (cls.elena, "2026-02-20"),
        ):
            cls.order(partner, day)
        cls.order(cls.cocinas, "2026-02-10", confirm=False)
        cls.order(cls.cocinas, "2026-02-11").with_user(cls.sales_manager)._action_cancel()
        cls.order(cls.ana, "2026-02-15", company=cls.main_company)

        cls.app = cls.env["omnichannel.channel"].create(
            {"name": "Cohortes app", "channel_type": "api", "company_id": cls.cohortes.id}
        )
        for partner, when in (
            (cls.ana, "2025-12-15 10:00:00"),
            (cls.ana, "2026-01-03 10:00:00"),
            (cls.fede, "2026-01-12 10:00:00"),
            (cls.fede, "2026-01-13 10:00:00"),
            (cls.gema, "2026-01-20 10:00:00"),
            (cls.gema, "2026-03-02 10:00:00"),
        ):
            cls.message(partner, when)
        cls.message(cls.bruno, "2026-01-15 10:00:00", direction="outbound")
        # what the nightly scheduled action does
        cls.env[REPORT]._refresh_cohorts()

    @classmethod
    def user(cls, name, group, company, companies):
        return cls.env["res.users"].create(
            {
                "name": name,
                "login": name.lower().replace(" ", ".") + ".retention",
                "email": name.lower().replace(" ", ".") + "@example.com",
                "company_id": company.id,
                "company_ids": [Command.set(companies.ids)],
                "groups_id": [Command.set(cls.env.ref(group).ids)],
            }
        )

    @classmethod
    def order(cls, partner, day, confirm=True, company=None):
        company = company or cls.cohortes
        with freeze_time(f"{day} 11:00:00"):
            order = (
                cls.env["sale.order"]
                .with_user(cls.salesman)
                .with_company(company)
                .create(
                    {
                        "partner_id": partner.id,
                        "order_line": [Command.create({"product_id": cls.product.id, "product_uom_qty": 1})],
                    }
                )
            )
            if confirm:
                order.action_confirm()
            cls.env.flush_all()
        return order

    @classmethod
    def message(cls, partner, when, direction="inbound"):
        with freeze_time(when):
            cls.ingest.ingest(
                {
                    "channel_id": cls.app.id,
                    "partner_id": partner.id,
                    "date": when,
                    "direction": direction,
                    "body": "Hola",
                }
            )

    def table(self, cohort_type, cohort_interval="month", user=None):
        """{(cohort start, months after): (customers, retention %)} and {cohort start: repeat %}, read as
        the pivot reads them, by ``user`` (the omnichannel manager of Cohortes SL)."""
        report = self.env[REPORT].with_user(user or self.manager).with_context(allowed_company_ids=self.cohortes.ids)
        # the table goes on with empty months up to today: the first four are enough here
        domain = [("cohort_type", "=", cohort_type), ("months_after", "<=", 3)]
        cohort = f"cohort_month:{cohort_interval}"
        cells = report.read_group(domain, ["retention_rate:avg"], [cohort, "months_after"], lazy=False)
        rows = report.read_group(domain, ["repeat_rate:avg"], [cohort], lazy=False)
        return (
            {
                # __count is the pivot's "Count": customers, as customer_count
                (cell["__range"][cohort]["from"], cell["months_after"]): (
                    cell["__count"],
                    round(cell["retention_rate"], 1),
                )
                for cell in cells
            },
            {row["__range"][cohort]["from"]: round(row["repeat_rate"], 1) for row in rows},
        )

    def test_purchase_cohorts(self):
        cells, repeat = self.table("purchase")
        self.assertEqual(
            cells,
            {
                ("2026-01-01", 0): (3, 100.0),
                ("2026-01-01", 1): (1, 33.3),
                ("2026-01-01", 2): (1, 33.3),
                ("2026-01-01", 3): (0, 0.0),
                ("2026-02-01", 0): (2, 100.0),
                ("2026-02-01", 1): (0, 0.0),
                ("2026-02-01", 2): (1, 50.0),
                ("2026-02-01", 3): (0, 0.0),
            },
        )
        self.assertEqual(repeat, {"2026-01-01": 66.7, "2026-02-01": 50.0})

    def test_rates_stay_exact_on_coarser_cohorts(self):
        """A quarter merges two monthly cohorts: month 2 is (1 + 1) / (3 + 2), not the average of 33.3 and 50;
        month 1 is 1 / (3 + 2): nobody of February came back in March, but February counts."""
        cells, repeat = self.table("purchase", "quarter")
        self.assertEqual(
            cells,
            {
                ("2026-01-01", 0): (5, 100.0),
                ("2026-01-01", 1): (1, 20.0),
                ("2026-01-01", 2): (2, 40.0),
                ("2026-01-01", 3): (0, 0.0),
            },
        )
        self.assertEqual(repeat, {"2026-01-01": 60.0})

    def test_contact_cohorts(self):
        cells, repeat = self.table("contact")
        self.assertEqual(
            cells,
            {
                ("2025-12-01", 0): (1, 100.0),
                ("2025-12-01", 1): (1, 100.0),
                ("2025-12-01", 2): (0, 0.0),
                ("2025-12-01", 3): (0, 0.0),
                ("2026-01-01", 0): (2, 100.0),
                ("2026-01-01", 1): (0, 0.0),
                ("2026-01-01", 2): (1, 50.0),
                ("2026-01-01", 3): (0, 0.0),
            },
        )
        self.assertEqual(repeat, {"2025-12-01": 100.0, "2026-01-01": 50.0})

    def test_rows_per_customer_and_month(self):
        """One row per customer and active month, under the customer's company (commercial partner)."""
        rows = (
            self.env[REPORT]
            .with_user(self.manager)
            .with_context(allowed_company_ids=self.cohortes.ids)
            .search([("cohort_type", "=", "purchase"), ("partner_id", "!=", False)])
        )
        self.assertEqual(
            sorted((r.partner_id.name, str(r.activity_month), r.months_after, r.activity_count) for r in rows),
            [
                ("Ana Cohorte", "2026-01-01", 0, 2),
                ("Ana Cohorte", "2026-03-01", 2, 1),
                ("Bruno Cohorte", "2026-01-01", 0, 1),
                ("Bruno Cohorte", "2026-02-01", 1, 1),
                ("Cocinas SL", "2026-01-01", 0, 1),
                ("Diego Cohorte", "2026-02-01", 0, 1),
                ("Diego Cohorte", "2026-04-01", 2, 1),
                ("Elena Cohorte", "2026-02-01", 0, 1),
            ],
        )
        self.assertEqual(rows.company_id, self.cohortes)
        # and one row per cohort and month after up to today, with no customer, carrying the cohort size
        cohort_rows = rows.search(
            [("cohort_type", "=", "purchase"), ("partner_id", "=", False), ("months_after", "<=", 2)]
        )
        self.assertEqual(
            sorted((str(r.cohort_month), r.months_after, r.cohort_size, r.customer_count) for r in cohort_rows),
            [("2026-01-01", k, 3, 0) for k in range(3)] + [("2026-02-01", k, 2, 0) for k in range(3)],
        )

    def test_access(self):
        # A manager of the main company only: none of Cohortes' rows, Ana's other purchase is there.
        main = self.env[REPORT].with_user(self.main_manager)
        self.assertFalse(main.search([("company_id", "=", self.cohortes.id)]))
        ana_main = main.search([("partner_id", "=", self.ana.id), ("cohort_type", "=", "purchase")])
        self.assertEqual(
            ana_main.filtered("partner_id").mapped(lambda r: (str(r.cohort_month), r.months_after)), [("2026-02-01", 0)]
        )
        # A salesperson is no reporting manager.
        with self.assertRaises(AccessError):
            self.env[REPORT].with_user(self.salesman).search([])
        # The manager reaches the pivot from the Reporting menu.
        menu = self.env.ref("omnichannel_reports.menu_omnichannel_retention_report")
        self.assertIn(menu.id, self.env["ir.ui.menu"].with_user(self.manager)._visible_menu_ids())
        # agents have a Reporting menu (their service figures), not this one
        self.assertNotIn(menu.id, self.env["ir.ui.menu"].with_user(self.agent)._visible_menu_ids())
        with self.assertRaises(AccessError):
            self.env[REPORT].with_user(self.agent).search([])
        action = self.env.ref("omnichannel_reports.action_omnichannel_retention_report")
        views = self.env[REPORT].with_user(self.manager).get_views([(False, "pivot"), (False, "search")])
        self.assertIn("retention_rate", views["views"]["pivot"]["arch"])
        self.assertIn("search_default_purchase", action.context)

    def test_refresh(self):
        """The table is as of the last refresh: a new purchase shows after the next one."""
        self.order(self.elena, "2026-03-09")
        self.assertEqual(self.table("purchase")[0][("2026-02-01", 1)], (0, 0.0))
        self.env[REPORT]._refresh_cohorts()
        self.assertEqual(self.table("purchase")[0][("2026-02-01", 1)], (1, 50.0))
        # a registry load (module update, server start) keeps the rows of an unchanged table
        self.env[REPORT]._register_hook()
        self.assertEqual(self.table("purchase")[0][("2026-02-01", 1)], (1, 50.0))

    def test_one_process_at_a_time_creates_the_table(self):
        """A worker loading the registry while another creates the table leaves it to that one."""
        cr = self.env.cr
        cr.execute("DROP MATERIALIZED VIEW omnichannel_retention_report")
        with db_connect(cr.dbname).cursor() as other:  # another process, creating the table
            other.execute("SELECT pg_advisory_xact_lock(%s)", [RETENTION_TABLE_LOCK])
            self.env[REPORT]._register_hook()
            cr.execute("SELECT to_regclass('omnichannel_retention_report')")
            self.assertIsNone(cr.fetchone()[0], "left to the other process, not waited for")
        self.env[REPORT]._register_hook()
        cr.execute("SELECT to_regclass('omnichannel_retention_report')")
        self.assertTrue(cr.fetchone()[0], "created once the lock is free")

    def test_table_follows_the_point_of_sale(self):
        """Installing or removing the point of sale later re-creates the table at the next registry load."""
        cr = self.env.cr
        # what uninstalling point_of_sale does: DROP TABLE pos_order CASCADE takes the table with it
        cr.execute("DROP MATERIALIZED VIEW omnichannel_retention_report")
        self.env[REPORT]._register_hook()
        cr.execute("SELECT pg_get_viewdef('omnichannel_retention_report'::regclass)")
        self.assertEqual("pos_order" in cr.fetchone()[0], "pos.order" in self.env)
        self.assertEqual(self.table("purchase")[0][("2026-01-01", 1)], (1, 33.3))
