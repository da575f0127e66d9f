import hashlib
import logging
import time

from odoo import api, fields, models
from odoo.tools import SQL, drop_view_if_exists

_logger = logging.getLogger(__name__)

# pg_advisory lock key of the table's (re)creation: the first 8 bytes of sha256("omnichannel_retention_report")
RETENTION_TABLE_LOCK = int.from_bytes(hashlib.sha256(b"omnichannel_retention_report").digest()[:8], "big", signed=True)
COHORT_TYPES = [("purchase", "First Purchase"), ("contact", "First Contact")]


class OmnichannelRetentionReport(models.Model):
    """Monthly customer cohorts, laid out by the pivot as a cohort table.

    One row per customer (commercial partner), company and month in which the customer was active,
    twice over: ``purchase`` rows follow customers from the month of their first purchase (active =
    bought that month), ``contact`` rows from the month they first reached out on any channel
    (active = an inbound interaction that month). The cohort and its counts are per company.

    A materialized view, refreshed every night (``_refresh_cohorts``): computing the cohorts reads
    every order and every inbound interaction, seconds on a million of them, too slow for each
    pivot query; reading the table is not.

    Each cohort also has one row per month after (0 up to this month) with no customer, which carries
    the cohort size: the denominator that makes ``retention_rate`` exact in any pivot cell (see
    ``_read_group_select``), also for the months in which nobody of the cohort came back.
    """

    _name = "omnichannel.retention.report"
    _description = "Customer Retention"
    _auto = False
    _order = "cohort_month desc, months_after"
    _rec_name = "partner_id"

    cohort_type = fields.Selection(COHORT_TYPES, readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    cohort_month = fields.Date(
        string="Cohort", readonly=True, help="Month of the customer's first purchase, or first contact."
    )
    activity_month = fields.Date(string="Active Month", readonly=True)
    months_after = fields.Integer(readonly=True, aggregator=None, help="Months between the cohort and this month.")
    customer_count = fields.Integer(
        string="Customers", readonly=True, help="Customers active in the month: in month 0, the cohort size."
    )
    activity_count = fields.Integer(
        string="Purchases or Contacts", readonly=True, help="Purchases (or inbound interactions) in the month."
    )
    cohort_size = fields.Integer(readonly=True, aggregator=None, help="Customers of the cohort.")
    retention_rate = fields.Float(
        string="Retention %",
        readonly=True,
        aggregator="avg",  # computed by _read_group_select, not an average: empty on each row
        help="Customers active in the month out of all the customers of their cohort.",
    )
    repeat_rate = fields.Float(
        string="Repeat %",
        readonly=True,
        aggregator="avg",
        help="Share of the cohort that came back: customers with two purchases or more (purchase cohorts), "
        "or who got in touch again in a later month (contact cohorts).",
    )

    def _purchase_query(self):
        """One row per purchase: (key, company_id, partner_id, moment). A purchase is what the RFM
        frequency counts: a confirmed sale order, a posted customer invoice with no sale or POS order
        behind it, and a paid POS ticket (not a refund) when pos.order is in the registry. ``key`` is
        unique across the three tables."""
        with_pos = "pos.order" in self.env
        queries = [
            """
            SELECT so.id::bigint * 4 AS key, so.company_id, p.commercial_partner_id AS partner_id,
                   so.date_order AS moment
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE so.state = 'sale'
            """,
            """
            SELECT am.id::bigint * 4 + 1, am.company_id, am.commercial_partner_id, am.invoice_date::timestamp
              FROM account_move am
             WHERE am.state = 'posted' AND am.move_type = 'out_invoice' AND am.commercial_partner_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM account_move_line aml
                                 JOIN sale_order_line_invoice_rel rel ON rel.invoice_line_id = aml.id
                                WHERE aml.move_id = am.id)
            """
            + ("AND NOT EXISTS (SELECT 1 FROM pos_order po WHERE po.account_move = am.id)" if with_pos else ""),
        ]
        if with_pos:
            queries.append(
                """
                SELECT po.id::bigint * 4 + 2, po.company_id, p.commercial_partner_id, po.date_order
                  FROM pos_order po
                  JOIN res_partner p ON p.id = po.partner_id
                 WHERE po.state IN ('paid', 'done', 'invoiced') AND po.amount_total > 0
                """
            )
        return "\nUNION ALL\n".join(queries)

    def _view_query(self):
        return f"""
            WITH purchase AS ({self._purchase_query()}),
            monthly AS (
                SELECT MIN(key) * 2 AS id, 'purchase' AS cohort_type, company_id, partner_id,
                       date_trunc('month', moment)::date AS activity_month, COUNT(*) AS activity_count
                  FROM purchase
                 GROUP BY company_id, partner_id, date_trunc('month', moment)
                UNION ALL
                SELECT MIN(id)::bigint * 2 + 1, 'contact', company_id, commercial_partner_id,
                       date_trunc('month', date)::date, COUNT(*)
                  FROM omnichannel_interaction
                 WHERE direction = 'inbound'
                 GROUP BY company_id, commercial_partner_id, date_trunc('month', date)
            ),
            member AS (
                SELECT monthly.*,
                       MIN(activity_month) OVER customer AS cohort_month,
                       SUM(activity_count) OVER customer AS total_count,
                       COUNT(*) OVER customer AS active_months
                  FROM monthly
                WINDOW customer AS (PARTITION BY cohort_type, company_id, partner_id)
            ),
            cell AS (
                SELECT member.*,
                       ((EXTRACT(YEAR FROM activity_month) - EXTRACT(YEAR FROM cohort_month)) * 12
                        + EXTRACT(MONTH FROM activity_month) - EXTRACT(MONTH FROM cohort_month))::int AS months_after
                  FROM member
            ),
            sized AS (
                SELECT cell.*,
                       COUNT(*) FILTER (WHERE months_after = 0) OVER cohort AS cohort_size,
                       MIN(partner_id) FILTER (WHERE months_after = 0) OVER cohort AS leader_id,
                       GREATEST(
                           MAX(months_after) OVER cohort,
                           ((EXTRACT(YEAR FROM CURRENT_DATE) - EXTRACT(YEAR FROM cohort_month)) * 12
                            + EXTRACT(MONTH FROM CURRENT_DATE) - EXTRACT(MONTH FROM cohort_month))::int
                       ) AS last_month_after
                  FROM cell
                WINDOW cohort AS (PARTITION BY cohort_type, company_id, cohort_month)
            )
            -- the customers' rows (k IS NULL), and for each cohort one row per month after, from 0 to
            -- this month, with no customer: it carries the cohort size, the denominator of the retention
            SELECT sized.id * 2048 + COALESCE(k + 1, 0) AS id,
                   cohort_type, company_id, cohort_month,
                   CASE WHEN k IS NULL THEN partner_id END AS partner_id,
                   CASE WHEN k IS NULL THEN activity_month
                        ELSE (cohort_month + make_interval(months => k))::date END AS activity_month,
                   COALESCE(k, months_after) AS months_after,
                   CASE WHEN k IS NULL THEN 1 ELSE 0 END AS customer_count,
                   CASE WHEN k IS NULL THEN activity_count ELSE 0 END AS activity_count,
                   cohort_size,
                   NULL::float8 AS retention_rate,
                   CASE WHEN k IS NULL AND months_after = 0 THEN
                       CASE WHEN (cohort_type = 'purchase' AND total_count >= 2)
                                 OR (cohort_type = 'contact' AND active_months >= 2)
                            THEN 100.0 ELSE 0.0 END
                   END AS repeat_rate
              FROM sized
             CROSS JOIN LATERAL (
                SELECT NULL::int AS k
                 UNION ALL
                SELECT generate_series(0, sized.last_month_after)
                 WHERE sized.months_after = 0 AND sized.partner_id = sized.leader_id
             ) AS skeleton
        """

    def init(self):
        self._create_table()

    def _register_hook(self):
        """Re-create the table when the point of sale came or went since it was created.

        The query reads pos_order only when pos.order is in the registry. Installing omnichannel_pos
        (or point_of_sale) after this module doesn't run ``init()`` here, and uninstalling it drops
        the materialized view with the table (DROP TABLE ... CASCADE); the registry is then reloaded
        and this hook puts the view back in line. Otherwise it costs one catalog lookup.
        """
        super()._register_hook()
        self._create_table()

    def _create_table(self):
        """(Re)create the materialized view unless it exists with this very query (its version is the
        view's comment): a module update keeps the rows, the nightly refresh renews them."""
        cr = self.env.cr
        query = self._view_query()
        version = hashlib.sha256(query.encode()).hexdigest()
        if self._table_version()[0] == version:
            return False
        # Workers loading the registry together would each drop and create it, and all but one fail:
        # one builds it, the others go on with the table as it is.
        cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [RETENTION_TABLE_LOCK])
        if not cr.fetchone()[0]:
            _logger.info("Customer retention: another process is creating the table")
            return False
        current, built_since = self._table_version()
        if current == version or built_since:
            return False
        table = SQL.identifier(self._table)
        drop_view_if_exists(cr, self._table)
        cr.execute(SQL("CREATE MATERIALIZED VIEW %s AS (%s)", table, SQL(query)))  # noqa: S608 (no user input)
        # the unique index lets the refresh run CONCURRENTLY, without locking out readers
        cr.execute(SQL("CREATE UNIQUE INDEX %s ON %s (id)", SQL.identifier(f"{self._table}_id_uniq"), table))
        cr.execute(
            SQL(
                "CREATE INDEX %s ON %s (cohort_type, company_id, cohort_month)",
                SQL.identifier(f"{self._table}_cohort"),
                table,
            )
        )
        cr.execute(SQL("COMMENT ON MATERIALIZED VIEW %s IS %s", table, version))
        _logger.info("Customer retention: table created")
        return True

    def _table_version(self):
        """The version of the table (its comment), and whether another transaction created it since this
        one's snapshot: the catalog knows the name (``to_regclass``) but the snapshot sees no such table,
        nor its comment."""
        self.env.cr.execute(
            """SELECT obj_description(to_regclass(%(table)s), 'pg_class'),
                      to_regclass(%(table)s) IS NOT NULL
                      AND NOT EXISTS (SELECT FROM pg_class WHERE oid = to_regclass(%(table)s))""",
            {"table": self._table},
        )
        return self.env.cr.fetchone()

    @api.model
    def _refresh_cohorts(self):
        """Recompute the cohort table (the nightly scheduled action); readers keep the old rows meanwhile."""
        started = time.monotonic()
        self.env.flush_all()
        # the windows sort every customer month: keep the sorts in memory
        self.env.cr.execute("SET LOCAL work_mem = '256MB'")
        self.env.cr.execute(SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY %s", SQL.identifier(self._table)))
        self.invalidate_model()
        _logger.info("Customer retention: cohorts refreshed in %.1f s", time.monotonic() - started)

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        """Count customers, and compute ``retention_rate:avg`` as a ratio of sums, exact in any cell.

        The customers of a cell are its customer rows. Its denominator is the cohort size carried by
        its cohort rows (no customer): one per cohort and month after, also when none of the cohort
        came back that month. So the rate stays exact when a cell merges cohorts (quarterly or yearly
        cohorts, several companies), where an average of per-cohort rates would be wrong, and as long
        as a filter keeps or drops whole cohorts (cohort type, company, cohort and month filters do;
        a filter on the customer drops the cohort rows). The record count ("Count" in the pivot)
        counts customers too, not the cohort rows.
        """
        if aggregate_spec == "__count":
            return SQL("SUM(%s)", self._field_to_sql(self._table, "customer_count", query))
        if aggregate_spec != "retention_rate:avg":
            return super()._read_group_select(aggregate_spec, query)
        self._field_to_sql(self._table, "retention_rate", query)  # the access check of the field shown
        customers = self._field_to_sql(self._table, "customer_count", query)
        size = self._field_to_sql(self._table, "cohort_size", query)
        return SQL(
            "100.0 * SUM(%(customers)s) / NULLIF(SUM(CASE WHEN %(customers)s = 0 THEN %(size)s END), 0)",
            customers=customers,
            size=size,
        )
