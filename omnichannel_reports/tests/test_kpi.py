"""Service KPI facts on hand-built conversations, each expected value written out.

The customer writes through ingest (as a channel does); the agent acts as herself (a user of the
Omnichannel group): replies from the chatter, resolves and reopens. Dates are UTC.
"""

from datetime import datetime

from odoo import SUPERUSER_ID, Command
from odoo.tests import freeze_time, tagged

from odoo.addons.omnichannel_base.tests.common import OmnichannelCase


@tagged("post_install", "-at_install")
class TestServiceKpis(OmnichannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_reports.fcr_reopen_days", "7")
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Marta Manager",
                "login": "marta.manager.kpi",
                "groups_id": [Command.set(cls.env.ref("omnichannel_base.group_omnichannel_manager").ids)],
            }
        )

    def customer_writes(self, when, phone="+34600100200"):
        with freeze_time(when):
            conversation = self.ingest.ingest(self.event(date=when, sender={"phone": phone})).conversation_id
            self.env.flush_all()  # stored computes (FCR) read the clock when flushed
            return conversation

    def agent_replies(self, conversation, when, body="Le ayudo"):
        with freeze_time(when):
            conversation.with_user(self.agent).message_post(
                body=body, message_type="comment", subtype_xmlid="mail.mt_comment"
            )
            self.env.flush_all()

    def agent_resolves(self, conversation, when):
        with freeze_time(when):
            conversation.with_user(self.agent).action_resolve()
            self.env.flush_all()

    def settle(self, when):
        with freeze_time(when):
            self.env["omnichannel.conversation"]._omni_settle_fcr()

    def recompute_business_hours(self, limit=1000):
        """Run the scheduled action as the cron does, after the request that changed the calendar."""
        self.env.flush_all()
        remaining = self.env["omnichannel.team"]._omni_cron_recompute_business_hours(limit=limit)
        self.env.invalidate_all()
        return remaining

    def madrid_calendar(self):
        """Monday to Friday, 9:00 to 18:00 in Madrid (UTC+1 in November)."""
        return self.env["resource.calendar"].create(
            {
                "name": "Care Madrid",
                "tz": "Europe/Madrid",
                "attendance_ids": [Command.clear()]
                + [
                    Command.create({"name": f"Day {day}", "dayofweek": str(day), "hour_from": 9.0, "hour_to": 18.0})
                    for day in range(5)
                ],
            }
        )

    def facts(self, conversation):
        conversation.invalidate_recordset()
        return {
            "agent_reply_count": conversation.agent_reply_count,
            "first_agent_reply_date": conversation.first_agent_reply_date,
            "agent_response_hours": conversation.agent_response_hours,
            "reopen_count": conversation.reopen_count,
            "fcr_state": conversation.fcr_state,
            "fcr": conversation.fcr,
        }

    # ------------------------------------------------------------ replies
    def test_bots_and_automatic_answers_are_not_agent_replies(self):
        conversation = self.customer_writes("2026-11-02 09:00:00")
        # A chatbot or an API client answers with no user; an automated action as OdooBot.
        with freeze_time("2026-11-02 09:01:00"):
            self.ingest.ingest(
                self.event(date="2026-11-02 09:01:00", direction="outbound", partner_id=conversation.partner_id.id)
            )
        with freeze_time("2026-11-02 09:02:00"):
            self.ingest.ingest(
                self.event(
                    date="2026-11-02 09:02:00",
                    direction="outbound",
                    partner_id=conversation.partner_id.id,
                    user_id=SUPERUSER_ID,
                )
            )
        self.assertEqual(conversation.agent_reply_count, 0)
        self.assertFalse(conversation.first_agent_reply_date)
        self.agent_replies(conversation, "2026-11-02 09:30:00")
        with freeze_time("2026-11-02 09:40:00"):
            conversation.with_user(self.agent).message_post(
                body="nota interna", message_type="comment", subtype_xmlid="mail.mt_note"
            )
        self.assertEqual(
            self.facts(conversation),
            {
                "agent_reply_count": 1,
                "first_agent_reply_date": datetime(2026, 11, 2, 9, 30),
                "agent_response_hours": 0.5,  # 09:00 -> 09:30, the bot at 09:01 left out
                "reopen_count": 0,
                "fcr_state": False,  # not resolved
                "fcr": False,
            },
        )
        # Base's first response counts any answer, the bot's included: 1 minute.
        self.assertAlmostEqual(conversation.first_response_hours, 1 / 60)
        self.agent_replies(conversation, "2026-11-02 10:00:00")
        self.assertEqual(conversation.agent_reply_count, 2)
        self.assertEqual(conversation.second_agent_reply_date, datetime(2026, 11, 2, 10, 0))

    def test_replies_counted_in_date_order_whatever_the_arrival_order(self):
        conversation = self.customer_writes("2026-11-02 09:00:00")
        with freeze_time("2026-11-02 12:00:00"):
            for hour in (11, 10):  # an agent's mail client delivering late, out of order
                self.ingest.ingest(
                    self.event(
                        date=f"2026-11-02 {hour}:00:00",
                        direction="outbound",
                        partner_id=conversation.partner_id.id,
                        user_id=self.agent.id,
                    )
                )
        self.assertEqual(conversation.agent_reply_count, 2)
        self.assertEqual(conversation.first_agent_reply_date, datetime(2026, 11, 2, 10, 0))
        self.assertEqual(conversation.second_agent_reply_date, datetime(2026, 11, 2, 11, 0))
        self.assertEqual(conversation.agent_response_hours, 1.0)

    def test_what_the_agent_sent_before_the_customer_wrote_is_no_reply(self):
        """A conversation the company started: its first message is no answer to the customer."""
        partner = self.env["res.partner"].create({"name": "Lucía Fernández", "phone": "+34600100200"})
        with freeze_time("2026-11-02 08:00:00"):
            conversation = (
                self.env["omnichannel.conversation"]
                .with_user(self.agent)
                .create({"partner_id": partner.id, "channel_id": self.channel.id})
            )
        self.agent_replies(conversation, "2026-11-02 09:00:00", body="Su pedido está listo")
        self.assertEqual(conversation.agent_reply_count, 0)
        self.assertEqual(self.customer_writes("2026-11-02 10:00:00"), conversation)
        self.agent_replies(conversation, "2026-11-02 11:00:00")
        expected = {
            "agent_reply_count": 1,
            "first_agent_reply_date": datetime(2026, 11, 2, 11, 0),
            "agent_response_hours": 1.0,
            "reopen_count": 0,
            "fcr_state": False,
            "fcr": False,
        }
        self.assertEqual(self.facts(conversation), expected)
        self.env["omnichannel.conversation"]._omni_recompute_kpis()  # the same from history
        self.assertEqual(self.facts(conversation), expected)

    def test_conversation_with_no_reply(self):
        conversation = self.customer_writes("2026-11-02 09:00:00")
        self.agent_resolves(conversation, "2026-11-02 12:00:00")
        self.assertEqual(
            self.facts(conversation),
            {
                "agent_reply_count": 0,
                "first_agent_reply_date": False,
                "agent_response_hours": 0.0,  # unanswered: the "Answered by an Agent" filter leaves it out
                "reopen_count": 0,
                "fcr_state": "pending",  # at most one reply: zero is one touch or fewer
                "fcr": False,
            },
        )
        self.assertEqual(conversation.first_resolution_hours, 3.0)
        self.settle("2026-11-09 12:00:00")  # 7 days on
        self.assertEqual(self.facts(conversation)["fcr_state"], "yes")
        self.assertTrue(conversation.fcr)

    # ------------------------------------------------------------ FCR and reopens
    def test_reopened_within_the_window_is_not_fcr(self):
        conversation = self.customer_writes("2026-11-02 09:00:00")
        self.agent_replies(conversation, "2026-11-02 09:30:00")
        self.agent_resolves(conversation, "2026-11-02 10:00:00")
        self.assertEqual(conversation.fcr_state, "pending")
        self.settle("2026-11-05 10:00:00")  # 3 days on: still within 7 days
        self.assertEqual(self.facts(conversation)["fcr_state"], "pending")
        reopened = self.customer_writes("2026-11-05 10:00:00")  # 3 days after: reopens
        self.assertEqual(reopened, conversation)
        self.assertEqual(conversation.state, "open")
        self.assertEqual(conversation.first_reopen_date, datetime(2026, 11, 5, 10, 0))
        self.agent_replies(conversation, "2026-11-05 11:00:00")
        self.agent_resolves(conversation, "2026-11-05 12:00:00")
        self.settle("2026-11-20 12:00:00")
        self.assertEqual(
            self.facts(conversation),
            {
                "agent_reply_count": 2,
                "first_agent_reply_date": datetime(2026, 11, 2, 9, 30),
                "agent_response_hours": 0.5,
                "reopen_count": 1,
                "fcr_state": "no",
                "fcr": False,
            },
        )
        self.assertEqual(conversation.first_resolution_hours, 1.0)  # 09:00 -> 10:00 on the 2nd
        self.assertEqual(conversation.resolution_hours, 75.0)  # 09:00 on the 2nd -> 12:00 on the 5th

    def test_reopened_after_the_window_stays_fcr(self):
        conversation = self.customer_writes("2026-11-02 09:00:00")
        self.agent_replies(conversation, "2026-11-02 09:30:00")
        self.agent_resolves(conversation, "2026-11-02 10:00:00")
        self.settle("2026-11-09 10:00:00")  # exactly 7 days on
        self.assertEqual(self.facts(conversation)["fcr_state"], "yes")
        self.customer_writes("2026-11-12 10:00:00")  # 10 days after: a new contact
        self.assertEqual(conversation.state, "open")
        self.assertEqual(
            self.facts(conversation),
            {
                "agent_reply_count": 1,
                "first_agent_reply_date": datetime(2026, 11, 2, 9, 30),
                "agent_response_hours": 0.5,
                "reopen_count": 1,
                "fcr_state": "yes",
                "fcr": True,
            },
        )

    def test_agent_reopening_counts_and_window_follows_the_setting(self):
        settings = self.env["res.config.settings"].create({"omni_fcr_reopen_days": 14})
        settings.execute()
        conversation = self.customer_writes("2026-11-02 09:00:00")
        self.agent_resolves(conversation, "2026-11-02 10:00:00")
        self.settle("2026-11-12 10:00:00")  # 10 days: within 14
        self.assertEqual(self.facts(conversation)["fcr_state"], "pending")
        with freeze_time("2026-11-12 10:00:00"):
            conversation.with_user(self.agent).action_reopen()
            self.env.flush_all()
        self.assertEqual(conversation.reopen_count, 1)
        self.assertEqual(conversation.first_reopen_date, datetime(2026, 11, 12, 10, 0))
        self.assertEqual(self.facts(conversation)["fcr_state"], "no")
        self.agent_resolves(conversation, "2026-11-12 11:00:00")
        with freeze_time("2026-11-13 10:00:00"):
            conversation.with_user(self.agent).action_reopen()
            self.env.flush_all()
        self.assertEqual(conversation.reopen_count, 2)
        self.assertEqual(conversation.first_reopen_date, datetime(2026, 11, 12, 10, 0))

    def test_a_new_window_applies_to_every_conversation(self):
        conversation = self.customer_writes("2026-11-02 09:00:00")
        self.agent_resolves(conversation, "2026-11-02 10:00:00")
        self.settle("2026-11-10 10:00:00")  # 8 days: the 7-day window is over
        self.assertEqual(self.facts(conversation)["fcr_state"], "yes")
        with freeze_time("2026-11-12 10:00:00"):  # reopened 10 days after its resolution
            conversation.with_user(self.agent).action_reopen()
            self.env.flush_all()
        self.assertEqual(self.facts(conversation)["fcr_state"], "yes")
        with freeze_time("2026-11-20 10:00:00"):
            self.env["res.config.settings"].create({"omni_fcr_reopen_days": 14}).execute()
        self.assertEqual(self.facts(conversation)["fcr_state"], "no")  # within 14 days: not FCR any more

    def test_two_replies_before_the_first_resolution_is_not_fcr(self):
        conversation = self.customer_writes("2026-11-02 09:00:00")
        self.agent_replies(conversation, "2026-11-02 09:30:00")
        self.agent_replies(conversation, "2026-11-02 09:45:00")
        self.agent_resolves(conversation, "2026-11-02 10:00:00")
        self.assertEqual(conversation.fcr_state, "no")
        self.settle("2026-11-20 10:00:00")
        self.assertEqual(self.facts(conversation)["fcr_state"], "no")

    # ------------------------------------------------------------ business hours
    def test_business_hours_follow_the_team_calendar(self):
        calendar = self.madrid_calendar()
        # Friday 16:00 UTC (17:00 in Madrid), answered Monday 08:30 UTC (09:30 in Madrid),
        # resolved Monday 10:00 UTC (11:00 in Madrid).
        conversation = self.customer_writes("2026-11-06 16:00:00")
        self.agent_replies(conversation, "2026-11-09 08:30:00")
        self.agent_resolves(conversation, "2026-11-09 10:00:00")
        self.assertEqual(conversation.agent_response_hours, 64.5)
        self.assertFalse(conversation.agent_response_business_hours, "no calendar: no business hours")
        self.team.with_user(self.manager).resource_calendar_id = calendar
        self.recompute_business_hours()
        self.assertEqual(conversation.agent_response_business_hours, 1.5)  # Fri 17-18, Mon 9-9:30
        self.assertEqual(conversation.first_resolution_business_hours, 3.0)  # Fri 17-18, Mon 9-11
        self.assertEqual(conversation.resolution_business_hours, 3.0)
        self.assertEqual(conversation.first_resolution_hours, 66.0)

    def test_new_working_hours_apply_in_batches_by_the_scheduled_action(self):
        conversations = self.env["omnichannel.conversation"]
        for when, phone in (("16:00", "+34600100211"), ("16:30", "+34600100212"), ("17:00", "+34600100213")):
            conversation = self.customer_writes(f"2026-11-06 {when}:00", phone=phone)  # a Friday, 17:00 in Madrid
            self.agent_replies(conversation, "2026-11-09 08:30:00")  # Monday, 9:30 in Madrid
            conversations |= conversation
        self.assertEqual(conversations.mapped("agent_response_business_hours"), [0.0, 0.0, 0.0])
        cron = self.env.ref("omnichannel_reports.ir_cron_omnichannel_business_hours")
        triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])

        self.team.with_user(self.manager).resource_calendar_id = self.madrid_calendar()
        self.env.flush_all()
        conversations.invalidate_recordset()
        self.assertEqual(
            conversations.mapped("agent_response_business_hours"), [0.0, 0.0, 0.0], "not in the manager's request"
        )
        self.assertTrue(self.team.omni_business_hours_pending)
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]) - triggers, "cron triggered")

        self.assertEqual(self.recompute_business_hours(limit=2), 1, "one conversation left for the next run")
        self.assertEqual(conversations.mapped("agent_response_business_hours"), [1.5, 1.0, 0.0])
        self.assertEqual(self.recompute_business_hours(limit=2), 0)
        self.assertEqual(conversations.mapped("agent_response_business_hours"), [1.5, 1.0, 0.5])
        self.assertFalse(self.team.omni_business_hours_pending)

        # a conversation whose dates change still gets its business hours at once
        self.agent_resolves(conversations[0], "2026-11-09 10:00:00")
        self.assertEqual(conversations[0].resolution_business_hours, 3.0)

    # ------------------------------------------------------------ install on existing data
    def test_recompute_from_history_matches_live_facts(self):
        one_touch = self.customer_writes("2026-11-02 09:00:00", phone="+34600100201")
        self.agent_replies(one_touch, "2026-11-02 09:30:00")
        self.agent_resolves(one_touch, "2026-11-02 10:00:00")
        reopened = self.customer_writes("2026-11-02 09:00:00", phone="+34600100202")
        self.agent_replies(reopened, "2026-11-02 09:15:00")
        self.agent_replies(reopened, "2026-11-02 09:20:00")
        self.agent_resolves(reopened, "2026-11-02 10:00:00")
        self.customer_writes("2026-11-04 08:00:00", phone="+34600100202")
        unanswered = self.customer_writes("2026-11-02 09:00:00", phone="+34600100203")
        conversations = one_touch | reopened | unanswered
        self.team.resource_calendar_id = self.madrid_calendar()
        with freeze_time("2026-11-20 10:00:00"):
            self.env.flush_all()
            self.env.cr.execute(
                """UPDATE omnichannel_conversation
                      SET agent_reply_count = 0, first_agent_reply_date = NULL, second_agent_reply_date = NULL,
                          reopen_count = 0, first_reopen_date = NULL, agent_response_hours = NULL,
                          fcr_state = NULL, fcr = FALSE, agent_response_business_hours = NULL
                    WHERE id IN %s""",
                [tuple(conversations.ids)],
            )
            self.env["omnichannel.conversation"]._omni_recompute_kpis()
        self.assertEqual(
            [self.facts(c) for c in conversations],
            [
                {
                    "agent_reply_count": 1,
                    "first_agent_reply_date": datetime(2026, 11, 2, 9, 30),
                    "agent_response_hours": 0.5,
                    "reopen_count": 0,
                    "fcr_state": "yes",
                    "fcr": True,
                },
                {
                    "agent_reply_count": 2,
                    "first_agent_reply_date": datetime(2026, 11, 2, 9, 15),
                    "agent_response_hours": 0.25,
                    "reopen_count": 1,
                    "fcr_state": "no",
                    "fcr": False,
                },
                {
                    "agent_reply_count": 0,
                    "first_agent_reply_date": False,
                    "agent_response_hours": 0.0,
                    "reopen_count": 0,
                    "fcr_state": False,
                    "fcr": False,
                },
            ],
        )
        self.assertEqual(reopened.first_reopen_date, datetime(2026, 11, 4, 8, 0))
        # Teams with working hours get them back too: 10:00 -> 10:30 in Madrid, a Monday.
        self.assertEqual(one_touch.agent_response_business_hours, 0.5)
