from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields, models
from odoo.tools import SQL

FCR_REOPEN_DAYS_PARAM = "omnichannel_reports.fcr_reopen_days"
DEFAULT_FCR_REOPEN_DAYS = 7
FCR_STATES = [
    ("pending", "Pending"),  # resolved, one touch at most, but still within its reopen window
    ("yes", "Resolved First Time"),
    ("no", "Not First Contact"),
]


def _hours(start, end):
    """Hours from ``start`` to ``end``; 0 when one is missing (Odoo stores no empty float)."""
    if not start or not end:
        return 0.0
    return max((end - start).total_seconds() / 3600, 0.0)


def _business_hours_field(help_text):
    return fields.Float(
        compute="_compute_business_hours", store=True, aggregator="avg", copy=False, readonly=True, help=help_text
    )


class OmnichannelConversation(models.Model):
    """Service KPI facts, kept up to date as the conversation changes, for reports to add up."""

    _inherit = "omnichannel.conversation"

    agent_reply_count = fields.Integer(
        string="Agent Replies",
        readonly=True,
        copy=False,
        aggregator="sum",
        help="Answers of an agent on the customer's channel. Automatic acknowledgements, bots and "
        "messages sent by no user (API clients, OdooBot) are not replies.",
    )
    first_agent_reply_date = fields.Datetime(string="First Agent Reply", readonly=True, copy=False)
    # The second reply tells whether more than one touch came before the first resolution (FCR).
    second_agent_reply_date = fields.Datetime(string="Second Agent Reply", readonly=True, copy=False)
    reopen_count = fields.Integer(string="Reopens", readonly=True, copy=False, aggregator="sum")
    first_reopen_date = fields.Datetime(string="First Reopened On", readonly=True, copy=False)
    agent_response_hours = fields.Float(
        string="Agent Response Hours",
        compute="_compute_agent_response_hours",
        store=True,
        aggregator="avg",
        copy=False,
        help="Hours from the customer's first message to the first agent reply (automatic answers and bots "
        "left out). 0 while unanswered: average it over answered conversations.",
    )
    agent_response_business_hours = _business_hours_field(
        "Working hours of the team's calendar from the first message to the first agent reply."
    )
    first_resolution_business_hours = _business_hours_field(
        "Working hours of the team's calendar from the first message to the first resolution."
    )
    resolution_business_hours = _business_hours_field(
        "Working hours of the team's calendar from the first message to the last resolution."
    )
    fcr_state = fields.Selection(
        FCR_STATES,
        string="First-Contact Resolution",
        compute="_compute_fcr_state",
        store=True,
        copy=False,
        index="btree_not_null",
        help="Resolved with at most one agent reply and not reopened within the days set in the "
        "settings. Pending while that window is still open; empty until resolved.",
    )
    fcr = fields.Boolean(
        string="FCR",
        compute="_compute_fcr_state",
        store=True,
        copy=False,
        help="Resolved at first contact, the reopen window over.",
    )

    csat_survey_date = fields.Datetime(
        string="Survey Sent",
        readonly=True,
        copy=False,
        help="When the satisfaction survey went to the customer: at most one per conversation.",
    )

    @api.depends("first_inbound_date", "first_agent_reply_date")
    def _compute_agent_response_hours(self):
        for conversation in self:
            conversation.agent_response_hours = _hours(
                conversation.first_inbound_date, conversation.first_agent_reply_date
            )

    @api.depends(
        "first_inbound_date",
        "first_agent_reply_date",
        "first_resolved_date",
        "resolved_date",
        "team_id",
    )
    def _compute_business_hours(self):
        # Not on team_id.resource_calendar_id: a team's new calendar would recompute all its
        # conversations in the request; a scheduled action does it in batches (omnichannel.team).
        for conversation in self:
            calendar = conversation.sudo().team_id.resource_calendar_id
            start = conversation.first_inbound_date
            conversation.agent_response_business_hours = self._omni_work_hours(
                calendar, start, conversation.first_agent_reply_date
            )
            conversation.first_resolution_business_hours = self._omni_work_hours(
                calendar, start, conversation.first_resolved_date
            )
            conversation.resolution_business_hours = self._omni_work_hours(calendar, start, conversation.resolved_date)

    @api.model
    def _omni_work_hours(self, calendar, start, end):
        """Working hours of ``calendar`` (its time zone, its public holidays) between two UTC dates."""
        if not (calendar and start and end):
            return 0.0
        return calendar.get_work_duration_data(start, end)["hours"] if end > start else 0.0

    @api.depends("first_resolved_date", "second_agent_reply_date", "first_reopen_date")
    def _compute_fcr_state(self):
        window = self._fcr_window()
        now = fields.Datetime.now()
        for conversation in self:
            resolved = conversation.first_resolved_date
            if not resolved:
                state = False
            elif conversation.second_agent_reply_date and conversation.second_agent_reply_date <= resolved:
                state = "no"
            elif conversation.first_reopen_date and conversation.first_reopen_date <= resolved + window:
                state = "no"
            elif resolved + window <= now:
                state = "yes"
            else:
                state = "pending"
            conversation.fcr_state = state
            conversation.fcr = state == "yes"

    @api.model
    def _fcr_window(self):
        """How long after its first resolution a reopened conversation still fails FCR."""
        value = self.env["ir.config_parameter"].sudo().get_param(FCR_REOPEN_DAYS_PARAM)
        try:
            days = int(value) if value else DEFAULT_FCR_REOPEN_DAYS
        except ValueError:
            days = DEFAULT_FCR_REOPEN_DAYS
        return timedelta(days=max(days, 0))

    # ------------------------------------------------------------ keeping the facts
    def write(self, vals):
        reopened = self.browse()
        if "state" in vals and vals["state"] != "resolved":
            reopened = self.filtered(lambda c: c.state == "resolved")
        result = super().write(vals)
        if reopened:
            # Ingest reopens on the customer's message (its date); an agent's click, now.
            date = fields.Datetime.to_datetime(vals.get("last_message_date")) or fields.Datetime.now()
            for conversation in reopened:
                conversation.write(
                    {
                        "reopen_count": conversation.reopen_count + 1,
                        "first_reopen_date": conversation.first_reopen_date or date,
                    }
                )
        return result

    def _register_messages(self, messages):
        """Outside ingest (which counts each reply with its sender, see omnichannel.ingest), an
        outbound message registered directly is an agent's answer: an answered phone call."""
        result = super()._register_messages(messages)
        if not self.env.context.get("omnichannel_reports_counted"):
            self._omni_record_agent_replies([date for direction, date in messages if direction == "outbound"])
        return result

    def _omni_record_agent_replies(self, dates):
        """Count agent replies sent at ``dates``, in any order, keeping the first two dates.

        Only what an agent sends from the customer's first message on replies to it: a message the
        company sent first (a conversation it started) is no answer, as base's first response."""
        self.ensure_one()
        start = self.first_inbound_date
        dates = [date for date in dates if start and date >= start]
        if not dates:
            return
        earliest = sorted(filter(None, [self.first_agent_reply_date, self.second_agent_reply_date, *dates]))
        self.with_context(tracking_disable=True).write(
            {
                "agent_reply_count": self.agent_reply_count + len(dates),
                "first_agent_reply_date": earliest[0],
                "second_agent_reply_date": earliest[1] if len(earliest) > 1 else False,
            }
        )

    @api.model
    def _omni_is_agent(self, user):
        """A person of the company answering: internal, and not OdooBot (automated actions)."""
        return bool(user) and user.id != SUPERUSER_ID and not user.share

    # ------------------------------------------------------------ set-based (install, cron)
    @api.model
    def _omni_settle_fcr(self):
        """Pending FCRs whose reopen window is over become FCRs: one UPDATE (daily cron)."""
        self.flush_model(["fcr_state", "first_resolved_date"])
        window = self._fcr_window()
        self.env.cr.execute(
            SQL(
                """UPDATE omnichannel_conversation SET fcr_state = 'yes', fcr = TRUE
                    WHERE fcr_state = 'pending' AND first_resolved_date + %s <= %s""",
                window,
                fields.Datetime.now(),
            )
        )
        self.invalidate_model(["fcr_state", "fcr"])

    @api.model
    def _omni_recompute_fcr(self):
        """Every conversation's FCR with the current reopen window, in one UPDATE: on install, and
        when the window changes in the settings (one report, one definition)."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE omnichannel_conversation c
                      SET fcr_state = k.fcr_state, fcr = k.fcr_state IS NOT DISTINCT FROM 'yes'
                     FROM (SELECT id, CASE
                              WHEN first_resolved_date IS NULL THEN NULL
                              WHEN second_agent_reply_date <= first_resolved_date THEN 'no'
                              WHEN first_reopen_date <= first_resolved_date + %(window)s THEN 'no'
                              WHEN first_resolved_date + %(window)s <= %(now)s THEN 'yes'
                              ELSE 'pending'
                          END AS fcr_state
                             FROM omnichannel_conversation) AS k
                    WHERE c.id = k.id AND c.fcr_state IS DISTINCT FROM k.fcr_state""",
                window=self._fcr_window(),
                now=fields.Datetime.now(),
            )
        )
        self.invalidate_model(["fcr_state", "fcr"])

    @api.model
    def _omni_recompute_kpis(self):
        """The facts of every existing conversation, from its interactions, in a few UPDATEs.

        Agent replies: the outbound messages and emails an internal user (not OdooBot) sent on
        the conversation's channel. Calls are left out: whether one was answered is not on the
        interaction. Reopens before this module came are not recorded anywhere: a conversation
        resolved more than once, or resolved then open again, counts one reopen, dated by the
        customer's first message after its first resolution (or at that resolution, if none).
        """
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            """UPDATE omnichannel_conversation c
                  SET agent_reply_count = r.total,
                      first_agent_reply_date = r.dates[1],
                      second_agent_reply_date = r.dates[2]
                 FROM (SELECT i.conversation_id, count(*) AS total,
                              (array_agg(i.date ORDER BY i.date, i.id))[1:2] AS dates
                         FROM omnichannel_interaction i
                         JOIN res_users u ON u.id = i.user_id
                         JOIN omnichannel_conversation c0 ON c0.id = i.conversation_id
                        WHERE i.direction = 'outbound' AND i.kind IN ('message', 'email')
                          AND i.date >= c0.first_inbound_date AND NOT u.share AND u.id != %s
                     GROUP BY i.conversation_id) AS r
                WHERE c.id = r.conversation_id""",
            [SUPERUSER_ID],
        )
        cr.execute(
            """UPDATE omnichannel_conversation c
                  SET reopen_count = 1,
                      first_reopen_date = COALESCE(
                          (SELECT min(i.date) FROM omnichannel_interaction i
                            WHERE i.conversation_id = c.id AND i.direction = 'inbound'
                              AND i.date > c.first_resolved_date),
                          c.first_resolved_date)
                WHERE c.first_resolved_date IS NOT NULL
                  AND (c.state != 'resolved' OR c.resolved_date > c.first_resolved_date)"""
        )
        cr.execute(
            """UPDATE omnichannel_conversation c
                  SET agent_response_hours = COALESCE(GREATEST(
                          EXTRACT(EPOCH FROM c.first_agent_reply_date - c.first_inbound_date) / 3600, 0), 0),
                      agent_response_business_hours = 0,
                      first_resolution_business_hours = 0,
                      resolution_business_hours = 0,
                      agent_reply_count = COALESCE(c.agent_reply_count, 0),
                      reopen_count = COALESCE(c.reopen_count, 0)"""
        )
        self.invalidate_model()
        self._omni_recompute_fcr()
        # Business hours need each team's calendar: the ORM computes them, for those teams only.
        with_calendar = self.search([("team_id.resource_calendar_id", "!=", False)])
        for name in ("agent_response_business_hours", "first_resolution_business_hours", "resolution_business_hours"):
            self.env.add_to_compute(self._fields[name], with_calendar)
        with_calendar.flush_recordset()
