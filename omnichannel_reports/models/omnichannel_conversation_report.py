from odoo import api, fields, models, tools
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

MEDIAN = "median"
# A duration needs both ends: conversations the company started (no customer message) have none.
ANSWERED = SQL("(c.first_inbound_date IS NOT NULL AND c.first_agent_reply_date IS NOT NULL)")
FIRST_RESOLVED = SQL("(c.first_inbound_date IS NOT NULL AND c.first_resolved_date IS NOT NULL)")
# Reopening empties resolved_date: a reopened conversation has no resolution time until resolved again.
RESOLVED = SQL("(c.first_inbound_date IS NOT NULL AND c.resolved_date IS NOT NULL)")


def _hours(string, help_text, aggregator="avg"):
    return fields.Float(string=string, readonly=True, aggregator=aggregator, help=help_text)


class OmnichannelConversationReport(models.Model):
    """Service KPIs, one row per conversation: a plain projection of the facts stored on
    omnichannel.conversation, where "not measurable yet" is NULL so that averages, medians and
    rates only count the conversations they apply to."""

    _name = "omnichannel.conversation.report"
    _description = "Service Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "conversation_id"

    conversation_id = fields.Many2one("omnichannel.conversation", readonly=True)
    date = fields.Datetime(readonly=True, help="The customer's first message (or the creation of the conversation).")
    resolved_date = fields.Datetime(string="Resolved On", readonly=True)
    channel_id = fields.Many2one("omnichannel.channel", readonly=True)
    channel_type = fields.Selection(selection="_selection_channel_type", string="Channel Type", readonly=True)
    team_id = fields.Many2one("omnichannel.team", readonly=True)
    user_id = fields.Many2one("res.users", string="Agent", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    state = fields.Selection(selection="_selection_state", string="Status", readonly=True)

    nbr = fields.Integer(string="# Conversations", readonly=True, aggregator="sum")
    first_response_hours = _hours(
        "First Response (h)",
        "Hours from the customer's first message to the first agent reply; bots and automatic answers "
        "left out. Empty while unanswered.",
    )
    first_resolution_hours = _hours(
        "First Resolution (h)", "Hours from the first message to the first resolution. Empty until resolved."
    )
    resolution_hours = _hours(
        "Resolution (h)", "Hours from the first message to the last resolution. Empty while not resolved."
    )
    # The web pivot and graph (and spreadsheet pivots) ask for a measure with its field's
    # aggregator: these fields offer the median of the same columns there.
    first_response_hours_median = _hours(
        "Median First Response (h)", "Median of the first response times.", aggregator=MEDIAN
    )
    first_resolution_hours_median = _hours(
        "Median First Resolution (h)", "Median of the first resolution times.", aggregator=MEDIAN
    )
    resolution_hours_median = _hours("Median Resolution (h)", "Median of the resolution times.", aggregator=MEDIAN)
    first_response_business_hours = _hours(
        "First Response (working h)",
        "First response time in the working hours of the team's calendar. Empty when the team has no calendar.",
    )
    first_resolution_business_hours = _hours(
        "First Resolution (working h)",
        "First resolution time in the working hours of the team's calendar. Empty when the team has no calendar.",
    )
    resolution_business_hours = _hours(
        "Resolution (working h)",
        "Resolution time in the working hours of the team's calendar. Empty when the team has no calendar.",
    )
    agent_reply_count = fields.Integer(string="Agent Replies", readonly=True, aggregator="sum")
    reopen_count = fields.Integer(string="Reopens", readonly=True, aggregator="sum")
    fcr_rate = fields.Float(
        string="FCR %",
        readonly=True,
        aggregator="avg",
        help="Share of conversations resolved at first contact: at most one agent reply and not reopened "
        "within the reopen window. Conversations unresolved or still within that window do not count.",
    )
    rating = fields.Float(readonly=True, aggregator="avg", help="The customer's rating, 1 to 5. Empty when not rated.")
    csat = fields.Float(
        string="CSAT %",
        readonly=True,
        aggregator="avg",
        help="Share of ratings of 4 or 5 among the rated conversations.",
    )
    surveyed = fields.Integer(string="Surveys Sent", readonly=True, aggregator="sum")
    rated = fields.Integer(string="Ratings", readonly=True, aggregator="sum")
    response_rate = fields.Float(
        string="Survey Response %",
        readonly=True,
        aggregator="avg",
        help="Share of the surveyed conversations the customer rated.",
    )

    # The conversation's own selections (and their translations), channel types added by other modules included.
    @api.model
    def _selection_channel_type(self):
        return self.env["omnichannel.channel"]._fields["channel_type"]._description_selection(self.env)

    @api.model
    def _selection_state(self):
        return self.env["omnichannel.conversation"]._fields["state"]._description_selection(self.env)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # No subquery per row and no interaction: the dashboard aggregates hundreds of thousands
        # of rows in one scan. PostgreSQL drops the team join when no working-hours column is read.
        self.env.cr.execute(
            SQL(
                """CREATE OR REPLACE VIEW %(view)s AS (
                SELECT c.id AS id,
                       c.id AS conversation_id,
                       COALESCE(c.first_inbound_date, c.create_date) AS date,
                       c.resolved_date,
                       c.channel_id,
                       c.channel_type,
                       c.team_id,
                       c.user_id,
                       c.company_id,
                       c.partner_id,
                       c.state,
                       1 AS nbr,
                       %(response)s AS first_response_hours,
                       %(response)s AS first_response_hours_median,
                       %(first_resolution)s AS first_resolution_hours,
                       %(first_resolution)s AS first_resolution_hours_median,
                       %(resolution)s AS resolution_hours,
                       %(resolution)s AS resolution_hours_median,
                       CASE WHEN t.resource_calendar_id IS NOT NULL AND %(answered)s
                            THEN c.agent_response_business_hours END AS first_response_business_hours,
                       CASE WHEN t.resource_calendar_id IS NOT NULL AND %(first_resolved)s
                            THEN c.first_resolution_business_hours END AS first_resolution_business_hours,
                       CASE WHEN t.resource_calendar_id IS NOT NULL AND %(resolved)s
                            THEN c.resolution_business_hours END AS resolution_business_hours,
                       COALESCE(c.agent_reply_count, 0) AS agent_reply_count,
                       COALESCE(c.reopen_count, 0) AS reopen_count,
                       CASE c.fcr_state WHEN 'yes' THEN 100.0 WHEN 'no' THEN 0.0 END AS fcr_rate,
                       CASE WHEN c.rating_last_value > 0 THEN c.rating_last_value END AS rating,
                       CASE WHEN c.rating_last_value >= 4 THEN 100.0
                            WHEN c.rating_last_value > 0 THEN 0.0 END AS csat,
                       CASE WHEN c.csat_survey_date IS NOT NULL THEN 1 ELSE 0 END AS surveyed,
                       CASE WHEN c.rating_last_value > 0 THEN 1 ELSE 0 END AS rated,
                       CASE WHEN c.csat_survey_date IS NULL THEN NULL
                            WHEN c.rating_last_value > 0 THEN 100.0 ELSE 0.0 END AS response_rate
                  FROM omnichannel_conversation c
             LEFT JOIN omnichannel_team t ON t.id = c.team_id
                )""",
                view=SQL.identifier(self._table),
                response=SQL("CASE WHEN %s THEN c.agent_response_hours END", ANSWERED),
                first_resolution=SQL("CASE WHEN %s THEN c.first_resolution_hours END", FIRST_RESOLVED),
                resolution=SQL("CASE WHEN %s THEN c.resolution_hours END", RESOLVED),
                answered=ANSWERED,
                first_resolved=FIRST_RESOLVED,
                resolved=RESOLVED,
            )
        )

    def _read_group_select(self, aggregate_spec, query):
        """Also accept ``<numeric field>:median``: the exact median of the non-empty values."""
        if aggregate_spec != "__count":
            fname, property_name, func = parse_read_group_spec(aggregate_spec)
            field = self._fields.get(fname)
            if func == MEDIAN and not property_name and field and field.type in ("integer", "float"):
                column = self._field_to_sql(self._table, fname, query)
                return SQL("percentile_cont(0.5) WITHIN GROUP (ORDER BY %s)", column)
        return super()._read_group_select(aggregate_spec, query)
