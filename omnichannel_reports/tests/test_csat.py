"""Satisfaction surveys: sent once, after the delay, on the customer's channel; refused to those
who opted out; the rating (its page, or a digit in the chat) lands on the conversation.

The customer writes through ingest (as a channel does); the agent resolves and reopens as
herself; the survey job runs as its cron would. Outgoing mail stays in Odoo's mail queue
(mail.mail), where the test reads it.
"""

import re
import unittest

from odoo.tests import HttpCase, freeze_time, tagged

RESOLVED = "2026-11-02 10:00:00"


@tagged("post_install", "-at_install")
class TestCsatSurveys(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.env.company.email = "hola@tienda.example.com"
        ICP = cls.env["ir.config_parameter"].sudo()
        ICP.set_param("omnichannel_reports.csat_enabled", "True")
        ICP.set_param("omnichannel_reports.csat_delay_minutes", "60")
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Ana Agente",
                "login": "ana.agente.csat",
                "email": "ana@tienda.example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "Care", "member_ids": [(6, 0, cls.agent.ids)]})
        types = dict(cls.env["omnichannel.channel"]._fields["channel_type"].selection)
        Channel = cls.env["omnichannel.channel"]
        cls.email = (
            Channel.create({"name": "Soporte", "channel_type": "email", "team_id": cls.team.id})
            if "email" in types
            else None
        )
        cls.whatsapp = (
            Channel.create({"name": "WhatsApp Tienda", "channel_type": "whatsapp", "team_id": cls.team.id})
            if "whatsapp" in types
            else None
        )
        cls.Conversation = cls.env["omnichannel.conversation"]

    # ------------------------------------------------------------ helpers
    def needs(self, channel):
        if not channel:
            raise unittest.SkipTest("needs the channel modules (omnichannel_mail, omnichannel_social)")
        return channel

    def customer_writes(self, channel, when, body="Hola, mi pedido no llega", **sender):
        sender = sender or ({"email": "lucia@example.com", "name": "Lucía"} if channel == self.email else {})
        sender = sender or {"phone": "+34600100200"}
        kind = "email" if channel == self.email else "message"
        with freeze_time(when):
            interaction = self.env["omnichannel.ingest"].ingest(
                {"channel_id": channel.id, "kind": kind, "body": body, "date": when, "sender": sender}
            )
            self.env.flush_all()
        return interaction.conversation_id

    def agent_resolves(self, conversation, when=RESOLVED):
        with freeze_time(when):
            conversation.with_user(self.agent).action_resolve()
            self.env.flush_all()

    def agent_reopens(self, conversation, when):
        with freeze_time(when):
            conversation.with_user(self.agent).action_reopen()
            self.env.flush_all()

    def run_cron(self, when):
        with freeze_time(when):
            sent = self.Conversation._cron_send_csat_surveys()
            self.env.flush_all()
        return sent

    def outbox(self, conversation):
        return self.env["omnichannel.outbox"].search([("conversation_id", "=", conversation.id)])

    def survey_mails(self, conversation):
        return self.env["mail.mail"].search(
            [
                ("model", "=", "omnichannel.conversation"),
                ("res_id", "=", conversation.id),
                ("recipient_ids", "in", conversation.partner_id.ids),
            ]
        )

    def notes(self, conversation):
        conversation.invalidate_recordset()
        return conversation.message_ids.filtered(lambda m: m.subtype_id == self.env.ref("mail.mt_note")).mapped(
            "preview"
        )

    # ------------------------------------------------------------ when
    def test_one_survey_after_the_delay_even_if_resolved_again(self):
        channel = self.needs(self.whatsapp)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)

        self.assertEqual(self.run_cron("2026-11-02 10:59:00"), 0, "59 minutes after: too early")
        self.assertFalse(conversation.csat_survey_date)
        self.assertFalse(self.outbox(conversation))

        self.assertEqual(self.run_cron("2026-11-02 11:01:00"), 1)
        self.assertEqual(conversation.csat_survey_state, "sent")
        self.assertEqual(str(conversation.csat_survey_date), "2026-11-02 11:01:00")
        self.assertEqual(len(self.outbox(conversation)), 1)

        self.assertEqual(self.run_cron("2026-11-02 11:11:00"), 0, "the next run sends nothing more")
        # Reopened by the agent, resolved again: the customer was asked already.
        self.agent_reopens(conversation, "2026-11-02 12:00:00")
        self.agent_resolves(conversation, "2026-11-02 12:10:00")
        self.run_cron("2026-11-02 13:20:00")
        self.assertEqual(len(self.outbox(conversation)), 1)
        self.assertEqual(str(conversation.csat_survey_date), "2026-11-02 11:01:00")
        self.assertEqual(conversation.state, "resolved")
        self.assertEqual(conversation.reopen_count, 1, "the survey reopened nothing")

    def test_delay_is_a_setting_and_surveys_can_be_switched_off(self):
        channel = self.needs(self.whatsapp)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("omnichannel_reports.csat_enabled", "False")
        self.assertEqual(self.run_cron("2026-11-02 12:00:00"), 0)
        ICP.set_param("omnichannel_reports.csat_enabled", "True")
        ICP.set_param("omnichannel_reports.csat_delay_minutes", "180")
        self.assertEqual(self.run_cron("2026-11-02 12:00:00"), 0, "2 hours after, with a 3-hour delay")
        self.assertEqual(self.run_cron("2026-11-02 13:00:00"), 1)
        # Settings show surveys on by default, the delay as set.
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.omni_csat_enabled)
        self.assertEqual(settings.omni_csat_delay_minutes, 180)

    def test_old_resolutions_are_not_surveyed(self):
        """Switching surveys on does not send them for the whole history."""
        channel = self.needs(self.whatsapp)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)
        self.assertEqual(self.run_cron("2026-11-04 10:00:00"), 0)
        self.assertFalse(conversation.csat_survey_state)

    # ------------------------------------------------------------ messaging channels
    def test_messaging_survey_goes_through_the_outbox_with_the_link(self):
        channel = self.needs(self.whatsapp)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        with freeze_time("2026-11-02 09:40:00"):
            conversation.with_user(self.agent).message_post(
                body="Ya está en camino", message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        self.agent_resolves(conversation)
        self.assertEqual(conversation.fcr_state, "pending")
        self.run_cron("2026-11-02 11:01:00")

        outbox = self.outbox(conversation).filtered(lambda o: "/rate/" in (o.payload or {}).get("text", ""))
        self.assertEqual(len(outbox), 1)
        self.assertEqual(outbox.state, "queued")
        rating = conversation.sudo().rating_ids.filtered(lambda r: not r.consumed)
        self.assertEqual(len(rating), 1)
        self.assertIn(f"/rate/{rating.access_token}/3", outbox.payload["text"])
        self.assertIn("1 (very bad) to 5 (very good)", outbox.payload["text"])
        # On the customer's timeline as a message we sent; not an agent's reply for the KPIs.
        self.assertEqual(outbox.interaction_id.direction, "outbound")
        self.assertEqual(outbox.interaction_id.partner_id, conversation.partner_id)
        self.assertEqual(conversation.agent_reply_count, 1)
        self.assertEqual(conversation.fcr_state, "pending")

    def test_a_digit_in_the_chat_answers_the_survey(self):
        channel = self.needs(self.whatsapp)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)
        self.run_cron("2026-11-02 11:01:00")

        answer = self.customer_writes(channel, "2026-11-02 11:20:00", body=" 4 ")
        self.assertEqual(answer, conversation, "the answer joins the surveyed conversation")
        conversation.invalidate_recordset()
        self.assertEqual(conversation.rating_last_value, 4)
        self.assertEqual(conversation.state, "resolved", "the answer does not reopen it")
        self.assertEqual(conversation.reopen_count, 0)
        rating = conversation.sudo().rating_ids
        self.assertEqual((len(rating), rating.consumed, rating.rating), (1, True, 4))
        self.assertEqual(rating.message_id.author_id, conversation.partner_id, "the rating is in the chatter")
        timeline = self.env["omnichannel.interaction"].search(
            [("conversation_id", "=", conversation.id), ("kind", "=", "note")]
        )
        self.assertEqual(timeline.mapped("summary"), ["Rated the conversation 4 out of 5"])
        items = conversation.partner_id.omnichannel_timeline()
        self.assertIn("Rated the conversation 4 out of 5", str(items))

        # Answered: the next "5" is a new message, reopening the conversation as usual.
        again = self.customer_writes(channel, "2026-11-02 11:30:00", body="5")
        self.assertEqual(again, conversation)
        self.assertEqual(conversation.state, "open")
        self.assertEqual(conversation.rating_last_value, 4)

    def test_a_digit_without_a_survey_is_a_message(self):
        channel = self.needs(self.whatsapp)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)
        self.customer_writes(channel, "2026-11-02 10:30:00", body="2")  # before the survey went out
        self.assertEqual(conversation.state, "open")
        self.assertFalse(conversation.rating_last_value)

    # ------------------------------------------------------------ refusals
    def test_no_survey_to_an_opted_out_customer(self):
        channel = self.needs(self.whatsapp)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)
        with freeze_time("2026-11-02 10:05:00"):
            self.env["omnichannel.consent"]._record(
                [
                    {
                        "partner_id": conversation.partner_id.id,
                        "channel_id": channel.id,
                        "opt": "out",
                        "source": "keyword",
                        "reason": "BAJA",
                    }
                ]
            )
        self.run_cron("2026-11-02 11:01:00")
        self.assertEqual(conversation.csat_survey_state, "refused")
        self.assertFalse(conversation.csat_survey_date)
        self.assertFalse(self.outbox(conversation))
        self.assertIn("Satisfaction survey not sent", " ".join(self.notes(conversation)))
        # Refused once: never tried again.
        self.run_cron("2026-11-02 11:11:00")
        self.assertEqual(len([n for n in self.notes(conversation) if "Satisfaction survey" in n]), 1)

    def test_no_survey_mail_to_a_blacklisted_address(self):
        channel = self.needs(self.email)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)
        self.env["mail.blacklist"].sudo()._add("lucia@example.com")
        self.run_cron("2026-11-02 11:01:00")
        self.assertEqual(conversation.csat_survey_state, "refused")
        self.assertFalse(self.survey_mails(conversation))
        self.assertIn("blacklist", " ".join(self.notes(conversation)))

    # ------------------------------------------------------------ email
    def test_email_survey_rating_link_rates_the_conversation(self):
        channel = self.needs(self.email)
        conversation = self.customer_writes(channel, "2026-11-02 09:30:00")
        self.agent_resolves(conversation)
        self.run_cron("2026-11-02 11:01:00")

        mail = self.survey_mails(conversation)
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.state, "outgoing")
        self.assertIn("how did we do?", mail.subject)
        links = re.findall(r'href="([^"]*/rate/([^/"]+)/5)"', str(mail.body_html))
        self.assertEqual(len(links), 1, mail.body_html)
        url, token = links[0]
        self.assertTrue(url.startswith(conversation.get_base_url()), "an absolute link, for a mail client")
        self.assertEqual(conversation.sudo().rating_ids.access_token, token)

        page = self.url_open(f"/rate/{token}/5")
        self.assertEqual(page.status_code, 200)
        csrf = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text).group(1)
        done = self.url_open(
            f"/rate/{token}/submit_feedback", data={"rate": 5, "csrf_token": csrf, "feedback": "¡Rapidísimos!"}
        )
        self.assertEqual(done.status_code, 200)

        conversation.invalidate_recordset()
        self.assertEqual(conversation.rating_last_value, 5)
        rating = conversation.sudo().rating_ids
        self.assertEqual((rating.rating, rating.consumed, rating.feedback), (5, True, "¡Rapidísimos!"))
        self.assertEqual(rating.message_id.model, "omnichannel.conversation")
        self.assertEqual(rating.message_id.res_id, conversation.id)
        self.assertEqual(conversation.state, "resolved")
        timeline = self.env["omnichannel.interaction"].search(
            [("conversation_id", "=", conversation.id), ("kind", "=", "note")]
        )
        self.assertEqual(timeline.summary, "Rated the conversation 5 out of 5: ¡Rapidísimos!")
