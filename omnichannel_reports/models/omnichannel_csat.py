"""Satisfaction (CSAT) surveys: one per resolved conversation, on the customer's own channel.

A cron job sends the survey a configurable delay after the resolution, through the
conversation's chatter as any answer to the customer goes out: by email (a rating link of
Odoo's rating module, ``/rate/<token>/<score>``), or as a text message through the channel's
outbox (WhatsApp, Messenger, SMS…) with the same link. On messaging channels the customer may
also just answer with a digit from 1 to 5: ingest takes it as the rating, without reopening
the conversation. The rating lands on the conversation (``rating_last_value``, its chatter),
on the customer's timeline, and so in the reports.
"""

import logging
import re
from datetime import timedelta

from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

CSAT_ENABLED_PARAM = "omnichannel_reports.csat_enabled"
CSAT_DELAY_PARAM = "omnichannel_reports.csat_delay_minutes"
DEFAULT_CSAT_DELAY_MINUTES = 60
CSAT_BATCH = 200  # surveys per cron run; the job is called again at once while some are due
# A survey more than this late (the job stopped, surveys just switched on) is not sent: customers
# are not asked about conversations they have forgotten, nor the whole history at install.
CSAT_MAX_LATENESS = timedelta(days=1)
# How long a digit sent in the chat still answers the survey.
CSAT_ANSWER_DAYS = 7
CSAT_ANSWER = re.compile(r"\s*([1-5])\s*[.!]?\s*")
CSAT_SURVEY_STATES = [("sent", "Sent"), ("refused", "Not Sent")]


class OmnichannelConversation(models.Model):
    _inherit = "omnichannel.conversation"

    csat_survey_state = fields.Selection(
        CSAT_SURVEY_STATES,
        string="Survey",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Sent: the satisfaction survey went to the customer. Not Sent: the customer refuses messages "
        "on this channel (opt-out, blacklisted address) or the channel could not take it; the chatter "
        "says why. Either way, a conversation is surveyed once at most.",
    )

    # ------------------------------------------------------------ settings
    @api.model
    def _omni_csat_enabled(self):
        value = self.env["ir.config_parameter"].sudo().get_param(CSAT_ENABLED_PARAM)
        return value is False or value.strip().lower() not in ("0", "false", "")

    @api.model
    def _omni_csat_delay(self):
        value = self.env["ir.config_parameter"].sudo().get_param(CSAT_DELAY_PARAM)
        try:
            minutes = int(value) if value else DEFAULT_CSAT_DELAY_MINUTES
        except ValueError:
            minutes = DEFAULT_CSAT_DELAY_MINUTES
        return timedelta(minutes=max(minutes, 0))

    @api.model
    def _omni_csat_channels(self):
        """Channels that can carry a survey: email, and those whose provider sends through the
        outbox (every messaging channel, present and future). Live chat rates its sessions
        itself; calls, stores and the API channel have no way to write to the customer."""
        channels = self.env["omnichannel.channel"].sudo().search([])
        return channels.filtered(lambda c: c.channel_type == "email" or c._provider()._uses_outbox)

    # ------------------------------------------------------------ sending (cron)
    @api.model
    def _cron_send_csat_surveys(self, limit=CSAT_BATCH):
        """Send the surveys that are due, ``limit`` at most; report what is left to the cron."""
        if not self._omni_csat_enabled():
            return 0
        # As the system: the survey is nobody's reply (not an agent's, for the KPIs).
        Conversation = self.with_user(SUPERUSER_ID).sudo()
        channels = Conversation._omni_csat_channels()
        if not channels:
            return 0
        now = fields.Datetime.now()
        due_until = now - Conversation._omni_csat_delay()
        domain = [
            ("state", "=", "resolved"),
            ("csat_survey_state", "=", False),
            ("csat_survey_date", "=", False),
            ("resolved_date", "<=", due_until),
            ("resolved_date", ">=", due_until - CSAT_MAX_LATENESS),
            ("channel_id", "in", channels.ids),
        ]
        conversations = Conversation.search(domain, order="resolved_date, id", limit=limit)
        for conversation in conversations:
            conversation._omni_csat_send()
        remaining = Conversation.search_count(domain) if len(conversations) == limit else 0
        self.env["ir.cron"]._notify_progress(done=len(conversations), remaining=remaining)
        return len(conversations)

    def _omni_csat_send(self):
        """Survey the customer of this conversation, or record why not. Never twice."""
        self.ensure_one()
        if self.csat_survey_state or self.csat_survey_date:
            return False
        reason = self._omni_csat_refusal()
        if not reason:
            try:
                with self.env.cr.savepoint():
                    if self.channel_type == "email":
                        self._omni_csat_send_email()
                    else:
                        self._omni_csat_send_message()
            except UserError as error:  # a closed messaging window, a customer without an id there…
                reason = error.args[0]
        if reason:
            self.write({"csat_survey_state": "refused"})
            self.message_post(
                body=self.env._("Satisfaction survey not sent: %(reason)s", reason=reason),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
            return False
        self.write({"csat_survey_state": "sent", "csat_survey_date": fields.Datetime.now()})
        return True

    def _omni_csat_refusal(self):
        """Why the customer must not get the survey, or False."""
        partner, channel = self.partner_id, self.channel_id
        if self.env["omnichannel.consent"]._opted_out(partner, channel, marketing=True):
            return self.env._(
                "%(customer)s opted out of messages on %(channel)s.",
                customer=partner.display_name,
                channel=channel.name,
            )
        if self.channel_type == "email":
            if not partner.email_normalized:
                return self.env._("%(customer)s has no email address.", customer=partner.display_name)
            if (
                self.env["mail.blacklist"]
                .sudo()
                .search_count([("email", "=", partner.email_normalized), ("active", "=", True)], limit=1)
            ):
                return self.env._("%(customer)s's address is in the email blacklist.", customer=partner.display_name)
        return False

    def _omni_csat_author(self):
        """Who signs the survey: the conversation's agent, else the company."""
        return self.user_id.partner_id or (self.company_id or self.env.company).partner_id

    def _omni_csat_send_email(self):
        """The rating mail, posted as an answer to the customer: it goes out as the channel's mail
        (its reply-to, its thread) and shows on the timeline as ours."""
        template = self.env.ref("omnichannel_reports.mail_template_csat_survey")
        lang = self.partner_id.lang or None
        self.with_context(mail_notify_force_send=False).message_post_with_source(
            template.with_context(lang=lang) if lang else template,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            author_id=self._omni_csat_author().id,
            email_layout_xmlid="mail.mail_notification_light",
        )

    def _omni_csat_send_message(self):
        """The survey as a text message through the channel's outbox: a digit to answer in the chat,
        or the rating page."""
        url = self._omni_csat_url(3)  # the page preselects "okay": the customer picks their own score
        lang = self.partner_id.lang or self.env.lang
        text = self.with_context(lang=lang).env._(
            "How did we do? Answer with a number from 1 (very bad) to 5 (very good), or rate us here: %(url)s",
            url=url,
        )
        self.message_post(
            body=Markup("<p>%s</p>") % text,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            author_id=self._omni_csat_author().id,
        )

    def _omni_csat_url(self, score):
        """Odoo's rating page for this conversation's customer (one token, until rated)."""
        token = self._rating_get_access_token()
        return f"{self.get_base_url()}/rate/{token}/{score}"

    # ------------------------------------------------------------ answers
    def _omni_csat_awaits_answer(self):
        """Whether a digit from the customer now answers this conversation's survey."""
        self.ensure_one()
        return (
            self.csat_survey_state == "sent"
            and not self.rating_last_value
            and bool(self.csat_survey_date)
            and self.csat_survey_date >= fields.Datetime.now() - timedelta(days=CSAT_ANSWER_DAYS)
        )

    def _omni_csat_apply_answer(self, score):
        """The customer's in-chat answer, as the rating the survey link would have given."""
        self.ensure_one()
        rating = self.sudo().rating_ids.filtered(lambda r: r.partner_id == self.partner_id and not r.consumed)[:1]
        if not rating:
            token = self.sudo()._rating_get_access_token()
            rating = self.env["rating.rating"].sudo().search([("access_token", "=", token)], limit=1)
        return self.sudo().rating_apply(score, rating=rating)

    def rating_apply(self, rate, token=None, rating=None, feedback=None, subtype_xmlid=None, notify_delay_send=False):
        """Every rating of a conversation (its page, an in-chat digit) also goes on the customer's timeline."""
        rating = super().rating_apply(
            rate,
            token=token,
            rating=rating,
            feedback=feedback,
            subtype_xmlid=subtype_xmlid,
            notify_delay_send=notify_delay_send,
        )
        if len(self) == 1 and rating:
            self._omni_csat_record_rating(rating)
        return rating

    def _omni_csat_record_rating(self, rating):
        """A timeline row: the customer rated the conversation (once per rating and score)."""
        partner = self.partner_id
        summary = self.env._("Rated the conversation %(score)s out of 5", score=int(rating.rating))
        if rating.feedback:
            summary = f"{summary}: {rating.feedback}"
        self.env["omnichannel.interaction"].sudo()._insert_rows(
            [
                {
                    "partner_id": partner.id,
                    "commercial_partner_id": partner.commercial_partner_id.id,
                    "channel_id": self.channel_id.id,
                    "channel_type": self.channel_type,
                    "company_id": self.company_id.id,
                    "kind": "note",
                    "direction": "inbound",
                    "date": fields.Datetime.now(),
                    "summary": summary[:200],
                    "conversation_id": self.id,
                    "external_id": f"rating.rating:{rating.id}:{int(rating.rating)}",
                }
            ]
        )


class OmnichannelIngest(models.AbstractModel):
    """A customer's digit in the chat answers the survey of their last resolved conversation there."""

    _inherit = "omnichannel.ingest"

    def _route_conversations(self, events):
        self._omni_csat_match_answers(events)
        return super()._route_conversations(events)

    def _omni_csat_match_answers(self, events):
        """Join a customer's "4" to their resolved conversation awaiting its survey's answer,
        instead of reopening it (or opening a new one)."""
        candidates = [
            e
            for e in events
            if e["direction"] == "inbound"
            and e["kind"] == "message"
            and not e["conversation_id"]
            and not e["attachments"]
            and e["body"]
            and CSAT_ANSWER.fullmatch(e["body"])
        ]
        if not candidates:
            return
        key_of = {id(e): (e["partner_id"], e["channel"].id, e["thread_key"]) for e in candidates}
        keys = set(key_of.values())
        open_keys = set(self._conversations_by_key(keys, resolved=False))
        resolved = self._conversations_by_key(keys - open_keys, resolved=True) if keys - open_keys else {}
        for event in candidates:
            conversation = resolved.get(key_of[id(event)])
            if conversation and conversation._omni_csat_awaits_answer():
                event["conversation_id"] = conversation.id
                event["omni_csat_score"] = int(CSAT_ANSWER.fullmatch(event["body"]).group(1))

    def _post_messages(self, events):
        result = super()._post_messages(events)
        for event in events:
            if event.get("omni_csat_score") and event["conversation"]:
                event["conversation"]._omni_csat_apply_answer(event["omni_csat_score"])
        return result
