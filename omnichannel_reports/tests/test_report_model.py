"""The Service Analysis view on six hand-built conversations, each expected figure written out.

The facts on the conversations (first agent reply, resolutions, FCR, survey, rating) are set as the
KPI code stores them (test_kpi proves that part); here the report must turn them into rows where
"not measurable" is empty, so that averages, medians and rates count only what they apply to.
All dates UTC; "now" is 2026-02-01, so FCR windows (7 days) of January resolutions are over except
the one of January 28th.

    conv  first message      agent replies          resolved          survey  rating
    c1    01-05 09:00        10:30                  01-05 12:00       yes     5
    c2    01-06 09:00        none                   open              no      -
    c3    01-07 09:00        13:00, 14:00           01-08 09:00       yes     2
    c4    01-28 09:00        09:30                  01-28 10:00       yes     -
    c5    none (outbound)    01-10 10:00            01-10 11:00       no      1 (in the chat)
    c6    01-09 09:00        11:00                  01-09 17:00       yes     4
"""

from datetime import datetime

from odoo.tests import TransactionCase, freeze_time, tagged

NOW = "2026-02-01 12:00:00"


def dt(value):
    return datetime.fromisoformat(f"2026-{value}")


@tagged("post_install", "-at_install")
class TestConversationReport(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_reports.fcr_reopen_days", "7")
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Marta Manager",
                "login": "marta.report.model",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_manager").id])],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "Care", "member_ids": [(6, 0, cls.manager.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Report app", "channel_type": "api", "team_id": cls.team.id}
        )
        cls.partner = cls.env["res.partner"].create({"name": "Lucía"})
        with freeze_time(NOW):
            cls.c1 = cls.conversation("01-05 09:00", replies=["01-05 10:30"], resolved="01-05 12:00", survey=True)
            cls.c2 = cls.conversation("01-06 09:00", state="open")
            cls.c3 = cls.conversation(
                "01-07 09:00", replies=["01-07 13:00", "01-07 14:00"], resolved="01-08 09:00", survey=True
            )
            cls.c4 = cls.conversation("01-28 09:00", replies=["01-28 09:30"], resolved="01-28 10:00", survey=True)
            cls.c5 = cls.conversation(None, replies=["01-10 10:00"], resolved="01-10 11:00")
            cls.c6 = cls.conversation("01-09 09:00", replies=["01-09 11:00"], resolved="01-09 17:00", survey=True)
            for conversation, value in ((cls.c1, 5), (cls.c3, 2), (cls.c5, 1), (cls.c6, 4)):
                conversation.rating_apply(value, token=conversation._rating_get_access_token())
            cls.env.flush_all()
        cls.all = cls.c1 | cls.c2 | cls.c3 | cls.c4 | cls.c5 | cls.c6
        cls.Report = cls.env["omnichannel.conversation.report"].with_user(cls.manager)

    @classmethod
    def conversation(cls, first_message, replies=(), resolved=None, survey=False, state="resolved"):
        replies = [dt(reply) for reply in replies]
        return cls.env["omnichannel.conversation"].create(
            {
                "partner_id": cls.partner.id,
                "channel_id": cls.channel.id,
                "user_id": cls.manager.id,
                "state": state if resolved else "open",
                "thread_key": f"thread-{first_message or replies[0]}",
                "first_inbound_date": first_message and dt(first_message),
                "first_agent_reply_date": replies[0] if replies else False,
                "second_agent_reply_date": replies[1] if len(replies) > 1 else False,
                "agent_reply_count": len(replies),
                "resolved_date": resolved and dt(resolved),
                "first_resolved_date": resolved and dt(resolved),
                "csat_survey_date": dt(resolved) if survey else False,
            }
        )

    def rows(self):
        fields = [
            "first_response_hours",
            "first_resolution_hours",
            "resolution_hours",
            "fcr_rate",
            "rating",
            "csat",
            "surveyed",
            "rated",
            "response_rate",
        ]
        return {
            row["conversation_id"][0]: tuple(row[name] for name in fields)
            for row in self.Report.search_read([("conversation_id", "in", self.all.ids)], ["conversation_id", *fields])
        }

    def group(self, aggregates, domain=()):
        return self.Report._read_group([("conversation_id", "in", self.all.ids), *domain], [], aggregates)[0]

    def test_columns(self):
        # Empty ("not measurable") reads False; 0.0 is a real zero.
        #                     response  1st res  res    FCR %  rating  CSAT %  surv  rated  response %
        self.assertEqual(
            self.rows(),
            {
                self.c1.id: (1.5, 3.0, 3.0, 100.0, 5.0, 100.0, 1, 1, 100.0),
                self.c2.id: (False, False, False, False, False, False, 0, 0, False),  # unanswered, open
                self.c3.id: (4.0, 24.0, 24.0, 0.0, 2.0, 0.0, 1, 1, 100.0),  # two replies: not FCR
                self.c4.id: (0.5, 1.0, 1.0, False, False, False, 1, 0, 0.0),  # FCR pending, survey unanswered
                self.c5.id: (False, False, False, 100.0, 1.0, 0.0, 0, 1, False),  # no customer message
                self.c6.id: (2.0, 8.0, 8.0, 100.0, 4.0, 100.0, 1, 1, 100.0),
            },
        )
        row = self.Report.search([("conversation_id", "=", self.c5.id)])
        self.assertEqual(row.date, self.c5.create_date, "no customer message: dated by its creation")
        self.assertEqual(self.Report.search([("conversation_id", "=", self.c1.id)]).date, dt("01-05 09:00"))

    def test_reopened_has_no_resolution_time_until_resolved_again(self):
        with freeze_time(NOW):
            self.c6.with_user(self.manager).action_reopen()
            self.env.flush_all()
        row = self.Report.search_read(
            [("conversation_id", "=", self.c6.id)], ["resolution_hours", "first_resolution_hours"]
        )
        self.assertEqual((row[0]["resolution_hours"], row[0]["first_resolution_hours"]), (False, 8.0))

    def test_kpis_of_the_dashboard(self):
        self.assertEqual(self.group(["__count", "nbr:sum", "agent_reply_count:sum"]), (6, 6, 6))
        # First response over c1, c3, c4, c6: 1.5, 4, 0.5, 2.
        self.assertEqual(self.group(["first_response_hours:avg", "first_response_hours:median"]), (2.0, 1.75))
        # Resolution over c1, c3, c4, c6: 3, 24, 1, 8 (even set: (3 + 8) / 2).
        self.assertEqual(self.group(["resolution_hours:avg", "resolution_hours:median"]), (9.0, 5.5))
        # FCR over c1, c3, c5, c6 (c4 pending, c2 unresolved): 100, 0, 100, 100.
        # CSAT over the ratings 5, 2, 1, 4; responses over the surveys of c1, c3, c4, c6.
        self.assertEqual(
            self.group(["fcr_rate:avg", "csat:avg", "response_rate:avg", "rated:sum", "surveyed:sum", "rating:avg"]),
            (75.0, 50.0, 75.0, 4, 4, 3.0),
        )

    def test_median_odd_and_even(self):
        odd = [("conversation_id", "!=", self.c6.id)]
        self.assertEqual(self.group(["first_response_hours:median"], odd), (1.5,))  # 0.5, 1.5, 4
        self.assertEqual(self.group(["resolution_hours:median"], odd), (3.0,))  # 1, 3, 24
        self.assertEqual(self.group(["first_resolution_hours:median"]), (5.5,))  # 1, 3, 8, 24
        self.assertEqual(self.group(["resolution_hours:median"], [("state", "!=", "resolved")]), (False,))
        # Ordering groups by a median works too (read_group's orderby).
        by_conversation = self.Report._read_group(
            [("conversation_id", "in", (self.c1 | self.c3 | self.c4).ids)],
            ["conversation_id"],
            ["resolution_hours:median"],
            order="resolution_hours:median desc",
        )
        self.assertEqual([value for __, value in by_conversation], [24.0, 3.0, 1.0])
        with self.assertRaises(ValueError):
            self.Report._read_group([], [], ["date:median"])  # a median of datetimes is not offered

    def test_pivot_and_spreadsheet_requests(self):
        """The web pivot and graph ask for "<measure>:<its field's aggregator>"; a spreadsheet pivot
        for "<id>:<aggregator>(<field>)": both reach the medians."""
        fields = self.Report.fields_get(["first_response_hours_median", "resolution_hours", "nbr"], ["aggregator"])
        self.assertEqual(fields["first_response_hours_median"]["aggregator"], "median")
        self.assertEqual(fields["resolution_hours"]["aggregator"], "avg")
        domain = [("conversation_id", "in", self.all.ids)]
        groups = self.Report.web_read_group(
            domain,
            ["__count", "first_response_hours_median:median", "resolution_hours_median:median", "nbr:sum"],
            ["user_id"],
            lazy=False,
        )["groups"]
        self.assertEqual(
            [(g["__count"], g["first_response_hours_median"], g["resolution_hours_median"], g["nbr"]) for g in groups],
            [(6, 1.75, 5.5, 6)],
        )
        spreadsheet = self.Report.read_group(
            domain,
            [
                "first_response_hours_median_id:median(first_response_hours)",
                "resolution_hours_median_median_id:median(resolution_hours_median)",
                "first_resolution_hours_median",
            ],
            [],
            lazy=False,
        )
        self.assertEqual(
            [
                spreadsheet[0][name]
                for name in (
                    "first_response_hours_median_id",
                    "resolution_hours_median_median_id",
                    "first_resolution_hours_median",
                )
            ],
            [1.75, 5.5, 5.5],
        )
