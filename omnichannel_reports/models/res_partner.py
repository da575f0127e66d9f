import logging
import time

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Marketing users target the segments in email and SMS mailings (saved filters on contacts).
RFM_GROUPS = (
    "omnichannel_base.group_omnichannel_user,sales_team.group_sale_salesman,mass_mailing.group_mass_mailing_user"
)

# the company-dependent score fields, each written by the recompute as {company_id: value}
RFM_FIELDS = (
    "omni_rfm_recency_days",
    "omni_rfm_frequency",
    "omni_rfm_monetary",
    "omni_rfm_r",
    "omni_rfm_f",
    "omni_rfm_m",
    "omni_rfm_segment",
    "omni_customer_value",
)

RFM_SEGMENTS = [
    ("champions", "Champions"),
    ("loyal", "Loyal"),
    ("potential_loyalist", "Potential Loyalist"),
    ("new", "New"),
    ("promising", "Promising"),
    ("need_attention", "Need Attention"),
    ("about_to_sleep", "About to Sleep"),
    ("at_risk", "At Risk"),
    ("cannot_lose", "Can't Lose Them"),
    ("hibernating", "Hibernating"),
    ("lost", "Lost"),
]

# The usual R x F grid (recency score, frequency score); the monetary score is kept for the customer value.
# Evaluated top to bottom, first match wins; every (r, f) pair of 1..5 x 1..5 is covered.
SEGMENT_CASE = """
    CASE
        WHEN r = 5 AND f >= 4 THEN 'champions'
        WHEN r IN (3, 4) AND f >= 4 THEN 'loyal'
        WHEN r >= 4 AND f IN (2, 3) THEN 'potential_loyalist'
        WHEN r = 5 AND f = 1 THEN 'new'
        WHEN r = 4 AND f = 1 THEN 'promising'
        WHEN r = 3 AND f = 3 THEN 'need_attention'
        WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
        WHEN r <= 2 AND f = 5 THEN 'cannot_lose'
        WHEN r <= 2 AND f >= 3 THEN 'at_risk'
        WHEN r = 1 AND f = 1 THEN 'lost'
        ELSE 'hibernating'
    END
"""


class ResPartner(models.Model):
    _inherit = "res.partner"

    # Company-dependent (one jsonb column {company_id: value}): each company scores its own customers
    # from its own sales, in its own currency, and its users read and search the score of their current
    # company only. Only the segment is indexed (the filters and mailings search it): an index per score
    # would slow the recompute down.
    omni_rfm_recency_days = fields.Integer(
        string="Days Since Last Purchase", company_dependent=True, index=False, readonly=True, groups=RFM_GROUPS
    )
    omni_rfm_frequency = fields.Integer(
        string="Purchases", company_dependent=True, index=False, readonly=True, groups=RFM_GROUPS
    )
    # a Float: Monetary is no company-dependent field type; the amount is in the current company's currency
    omni_rfm_monetary = fields.Float(
        string="Net Revenue",
        company_dependent=True,
        index=False,
        readonly=True,
        groups=RFM_GROUPS,
        help="Posted customer invoices net of credit notes, plus POS orders that were not invoiced, untaxed, "
        "in the currency of the current company.",
    )
    omni_rfm_currency_id = fields.Many2one(
        "res.currency", string="RFM Currency", compute="_compute_omni_rfm_currency_id", groups=RFM_GROUPS
    )
    omni_rfm_r = fields.Integer(
        string="Recency Score", company_dependent=True, index=False, readonly=True, groups=RFM_GROUPS
    )
    omni_rfm_f = fields.Integer(
        string="Frequency Score", company_dependent=True, index=False, readonly=True, groups=RFM_GROUPS
    )
    omni_rfm_m = fields.Integer(
        string="Monetary Score", company_dependent=True, index=False, readonly=True, groups=RFM_GROUPS
    )
    omni_rfm_segment = fields.Selection(
        RFM_SEGMENTS, string="RFM Segment", company_dependent=True, readonly=True, groups=RFM_GROUPS
    )
    omni_customer_value = fields.Integer(
        string="Customer Value",
        company_dependent=True,
        index=False,
        readonly=True,
        groups=RFM_GROUPS,
        help="Recency, frequency and monetary scores added up: 3 (lowest) to 15 (best customers).",
    )

    # The base shows it to omnichannel users only; salespeople see it next to the customer value.
    omni_preferred_channel_type = fields.Selection(groups=RFM_GROUPS)

    def _auto_init(self):
        # The scores were plain columns before they became company-dependent (never released): drop such
        # columns so that the ORM creates the jsonb ones (PostgreSQL casts no integer to jsonb); the next
        # recompute fills them.
        self.env.cr.execute(
            """SELECT column_name FROM information_schema.columns
                WHERE table_name = 'res_partner' AND column_name = ANY(%s) AND udt_name != 'jsonb'""",
            [list(RFM_FIELDS)],
        )
        for (column,) in self.env.cr.fetchall():
            _logger.info("RFM: dropping the column res_partner.%s, now company-dependent", column)
            self.env.cr.execute(SQL("ALTER TABLE res_partner DROP COLUMN %s", SQL.identifier(column)))
        return super()._auto_init()

    @api.depends_context("company")
    def _compute_omni_rfm_currency_id(self):
        self.omni_rfm_currency_id = self.env.company.currency_id

    def _omni_rfm_sources(self):
        """SQL of one row per purchase event: (company_id, partner_id, day, is_order, amount).

        The company is the one of the order or invoice, so the amount is in that company's currency.

        ``is_order`` counts towards frequency and recency, ``amount`` towards monetary. An invoiced sale
        order is one purchase (the order); its invoice brings the amount. POS tables are referenced only
        when pos.order is in the registry.
        """
        sources = [
            # confirmed sale orders: frequency and recency, no amount (it comes with the invoice)
            """
            SELECT so.company_id, p.commercial_partner_id AS partner_id, so.date_order::date AS day,
                   1 AS is_order, 0.0 AS amount
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE so.state = 'sale'
            """,
            # posted customer invoices and credit notes: the amount; an invoice with no sale or POS order
            # behind it is also a purchase of its own
            """
            SELECT am.company_id, am.commercial_partner_id, am.invoice_date,
                   CASE WHEN am.move_type = 'out_invoice' AND NOT EXISTS (
                            SELECT 1 FROM account_move_line aml
                              JOIN sale_order_line_invoice_rel rel ON rel.invoice_line_id = aml.id
                             WHERE aml.move_id = am.id)
                        {not_pos}
                        THEN 1 ELSE 0 END,
                   am.amount_untaxed_signed
              FROM account_move am
             WHERE am.state = 'posted' AND am.move_type IN ('out_invoice', 'out_refund')
               AND am.commercial_partner_id IS NOT NULL
            """,
        ]
        if "pos.order" in self.env:
            sources[1] = sources[1].format(
                not_pos="AND NOT EXISTS (SELECT 1 FROM pos_order po WHERE po.account_move = am.id)"
            )
            # paid POS orders; refunds (negative) lower the amount but are not purchases; the amount of
            # an invoiced ticket comes with its invoice
            sources.append(
                """
                SELECT po.company_id, p.commercial_partner_id, po.date_order::date,
                       CASE WHEN po.amount_total > 0 THEN 1 ELSE 0 END,
                       CASE WHEN po.state = 'invoiced' THEN 0.0 ELSE po.amount_total - po.amount_tax END
                  FROM pos_order po
                  JOIN res_partner p ON p.id = po.partner_id
                 WHERE po.state IN ('paid', 'done', 'invoiced')
                """
            )
        else:
            sources[1] = sources[1].format(not_pos="")
        return "\nUNION ALL\n".join(sources)

    @api.model
    def _omni_rfm_recompute(self, today=None):
        """Score every customer of every company in one set-based UPDATE; return the number of contacts
        changed.

        Customers are commercial partners (a company and its contacts share one score). Each company
        ranks its own customers from its own orders and invoices (quintiles per company, amounts in its
        currency); a contact that buys from two companies gets two independent scores, one per key of
        the company-dependent columns. Only customers with at least one purchase are ranked; contacts
        that no longer have any are cleared (for the company where they have none).
        """
        started = time.monotonic()
        today = today or fields.Date.context_today(self)
        self.env.flush_all()
        query = f"""
            WITH events AS ({self._omni_rfm_sources()}),
            customers AS (
                SELECT company_id, partner_id,
                       %(today)s::date - MAX(day) FILTER (WHERE is_order = 1) AS recency_days,
                       SUM(is_order) AS frequency,
                       SUM(amount) AS monetary
                  FROM events
                 GROUP BY company_id, partner_id
                HAVING SUM(is_order) > 0
            ),
            ranked AS (
                -- quintiles by rank within the company: equal values get equal scores; without ties
                -- this is NTILE(5)
                SELECT company_id, partner_id, recency_days, frequency, monetary,
                       LEAST(5, 1 + FLOOR(5 * PERCENT_RANK() OVER (
                           PARTITION BY company_id ORDER BY recency_days DESC)))::int AS r,
                       LEAST(5, 1 + FLOOR(5 * PERCENT_RANK() OVER (
                           PARTITION BY company_id ORDER BY frequency)))::int AS f,
                       LEAST(5, 1 + FLOOR(5 * PERCENT_RANK() OVER (
                           PARTITION BY company_id ORDER BY monetary)))::int AS m
                  FROM customers
            ),
            scores AS (
                -- one row per customer, each field as {{company_id: value}}
                SELECT partner_id,
                       jsonb_object_agg(company_id::text, recency_days) AS recency_days,
                       jsonb_object_agg(company_id::text, frequency) AS frequency,
                       jsonb_object_agg(company_id::text, monetary) AS monetary,
                       jsonb_object_agg(company_id::text, r) AS r,
                       jsonb_object_agg(company_id::text, f) AS f,
                       jsonb_object_agg(company_id::text, m) AS m,
                       jsonb_object_agg(company_id::text, r + f + m) AS customer_value,
                       jsonb_object_agg(company_id::text, {SEGMENT_CASE}) AS segment
                  FROM ranked
                 GROUP BY partner_id
            ),
            target AS (
                SELECT c.id, s.recency_days, s.frequency, s.monetary, s.r, s.f, s.m, s.customer_value, s.segment
                  FROM res_partner c
                  LEFT JOIN scores s ON s.partner_id = c.commercial_partner_id
                 WHERE s.partner_id IS NOT NULL OR c.omni_rfm_segment IS NOT NULL
            )
            UPDATE res_partner p
               SET omni_rfm_recency_days = t.recency_days,
                   omni_rfm_frequency = t.frequency,
                   omni_rfm_monetary = t.monetary,
                   omni_rfm_r = t.r,
                   omni_rfm_f = t.f,
                   omni_rfm_m = t.m,
                   omni_customer_value = t.customer_value,
                   omni_rfm_segment = t.segment
              FROM target t
             WHERE p.id = t.id
               AND (p.omni_rfm_recency_days, p.omni_rfm_frequency, p.omni_rfm_monetary, p.omni_rfm_r,
                    p.omni_rfm_f, p.omni_rfm_m, p.omni_rfm_segment)
                   IS DISTINCT FROM
                   (t.recency_days, t.frequency, t.monetary, t.r, t.f, t.m, t.segment)
        """
        # the ranking sorts every customer three times: keep the sorts and hashes in memory
        self.env.cr.execute("SET LOCAL work_mem = '256MB'")
        self.env.cr.execute(query, {"today": today})
        changed = self.env.cr.rowcount
        # the UPDATE bypassed the ORM: drop what the cache holds of these fields
        self.env["res.partner"].invalidate_model(list(RFM_FIELDS))
        _logger.info("RFM recompute: %s contacts changed in %.1f s", changed, time.monotonic() - started)
        return changed
