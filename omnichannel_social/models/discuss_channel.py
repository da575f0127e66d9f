"""Odoo's website live chat (im_livechat) as an omnichannel channel.

Odoo's live chat keeps doing everything it does: sessions, operators, chatbots, ratings. The
bridge only records what happens in a session through ``omnichannel.ingest``: the visitor's
messages inbound, the operators' and the chatbot's outbound, on one conversation per session
(its thread key is the session id), with the session's rating as the conversation's CSAT.

It runs inside the live chat's own requests and never fails them: its work happens in a
savepoint, and an error is logged, not raised (Odoo's retry on a serialization failure aside).
Whatever was not recorded is caught up at the session's next message, since each run records
all of the session's messages not recorded yet.
"""

import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, html2plaintext

_logger = logging.getLogger(__name__)

# Context key: a message posted into the session by the bridge itself (an agent's reply from
# the conversation's chatter), already recorded on the conversation.
NO_BRIDGE = "omnichannel_livechat_no_bridge"
MAX_ATTACHMENTS = 50  # as omnichannel.ingest takes at most


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    omni_partner_id = fields.Many2one(
        "res.partner",
        string="Identified Visitor",
        readonly=True,
        groups="base.group_user",
        help="The contact the live chat visitor turned out to be (their logged-in website visitor record, or an "
        "email or phone they gave that no other contact has); until then, an anonymous visitor is a contact of "
        "their own.",
    )
    omni_conversation_id = fields.Many2one(
        "omnichannel.conversation",
        string="Conversation",
        compute="_compute_omni_conversation_id",
        groups="omnichannel_base.group_omnichannel_user",
    )

    def _compute_omni_conversation_id(self):
        for session in self:
            session.omni_conversation_id = session._omni_conversation()

    # ------------------------------------------------------------ hooks in Odoo's live chat
    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        if self.channel_type == "livechat" and self.livechat_channel_id and not self.env.context.get(NO_BRIDGE):
            self._omni_safely(self._omni_record_messages)
            if msg_vals.get("rating_id"):  # the visitor's end-of-chat rating (/im_livechat/feedback)
                self._omni_safely(self._omni_record_rating, msg_vals["rating_id"])
        return result

    def _close_livechat_session(self, **kwargs):
        result = super()._close_livechat_session(**kwargs)
        if self.livechat_channel_id:
            self._omni_safely(self._omni_resolve)
        return result

    def _email_livechat_transcript(self, email):
        result = super()._email_livechat_transcript(email)
        if self.livechat_channel_id and not self.env.user._is_internal():  # the visitor's own address
            self._omni_safely(self._omni_identify, "email", email)
        return result

    # ------------------------------------------------------------ the bridge
    def _omni_safely(self, method, *args):
        """Run a bridge step without ever failing the live chat request around it.

        Odoo's pending work is flushed first, so that after a failure only the bridge's own
        changes are dropped (the transaction's cache cleared, not its pre-commit hooks, which
        hold the bus notifications of the message just posted)."""
        self.env.flush_all()
        try:
            with self.env.cr.savepoint(flush=False):
                method(*args)
                self.env.flush_all()
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise  # Odoo serves the request again
        except Exception:
            self.env.transaction.clear()
            _logger.exception("omnichannel: live chat session %s, %s failed", self.id, method.__name__)

    def _omni_channel(self):
        return self.livechat_channel_id._omni_channel() if self.livechat_channel_id else self.env["omnichannel.channel"]

    def _omni_conversation(self, channel=None):
        """The conversation recording this session (the last one, were there several)."""
        self.ensure_one()
        channel = channel or self.sudo()._omni_channel()
        if not channel:
            return self.env["omnichannel.conversation"]
        return (
            self.env["omnichannel.conversation"]
            .sudo()
            .search([("channel_id", "=", channel.id), ("thread_key", "=", str(self.id))], order="id desc", limit=1)
        )

    def _omni_visitor(self):
        """The session's visitor: their mail.guest, or the partner of a logged-in portal user."""
        for member in self.channel_member_ids:
            if member.guest_id:
                return member.guest_id
            partner = member.partner_id
            users = partner.with_context(active_test=False).user_ids
            if partner != self.livechat_operator_id and users and all(user.share for user in users):
                return partner
        return None

    @api.model
    def _omni_guest_name(self, guest):
        return f"{guest.name} #{guest.id}"

    def _omni_customer(self, visitor, channel):
        """Who the events are about: ``partner_id`` once the visitor is known, else the guest as
        a provider identity (a contact of their own, until identified)."""
        partner = self.omni_partner_id
        if not partner and "livechat_visitor_id" in self._fields:  # website_livechat, when installed
            partner = self.livechat_visitor_id.partner_id
            if partner:
                self._omni_link_partner(partner, channel)
        if not partner and visitor._name == "res.partner":
            partner = visitor
        if partner:
            return {"partner_id": partner.id}
        return {"sender": {"provider_id": str(visitor.id), "name": self._omni_guest_name(visitor)}}

    def _omni_pending_messages(self, channel):
        """The session's messages not recorded yet, oldest first: one indexed query."""
        self.env["mail.message"].flush_model(["model", "res_id", "message_type"])
        self.env["omnichannel.interaction"].flush_model(["channel_id", "external_id"])
        rows = self.env.execute_query(
            SQL(
                """SELECT m.id FROM mail_message m
                    WHERE m.model = 'discuss.channel' AND m.res_id = %(session)s AND m.message_type = 'comment'
                      AND NOT EXISTS (SELECT 1 FROM omnichannel_interaction i
                                       WHERE i.channel_id = %(channel)s AND i.external_id = %(prefix)s || m.id)
                 ORDER BY m.id""",
                session=self.id,
                channel=channel.id,
                prefix=f"{self.id}:",
            )
        )
        return self.env["mail.message"].sudo().browse([row[0] for row in rows])

    def _omni_record_messages(self):
        """Record the session's messages through ``omnichannel.ingest``. Nothing is recorded
        before the visitor's first message (a chatbot's greeting alone is no conversation);
        from then on, everything, the greeting included."""
        session = self.sudo()
        channel = session._omni_channel()
        visitor = session._omni_visitor()
        if not channel.active or not visitor:
            return
        messages = session._omni_pending_messages(channel)
        if not messages:
            return
        customer = session._omni_customer(visitor, channel)
        visitor_field = "author_guest_id" if visitor._name == "mail.guest" else "author_id"
        rows = []
        for message in messages:
            body = html2plaintext(message.body or "").strip()
            attachments = [
                {"name": attachment.name, "mimetype": attachment.mimetype, "datas": attachment.datas.decode()}
                for attachment in message.attachment_ids[:MAX_ATTACHMENTS]
                if attachment.datas
            ]
            if not body and not attachments:
                continue  # a message emptied by its author
            inbound = message[visitor_field] == visitor
            agent = message.author_id.user_ids.filtered(lambda user: not user.share)[:1]
            event = {
                "channel_id": channel.id,
                "external_id": f"{session.id}:{message.id}",
                "direction": "inbound" if inbound else "outbound",
                "date": message.date,
                "body": body or None,
                "attachments": attachments,
                "thread_key": str(session.id),
                "user_id": agent.id if not inbound and agent else None,
                **customer,
            }
            rows.append((message, event))
        inbound = [row for row in rows if row[1]["direction"] == "inbound"]
        conversation = session._omni_conversation(channel)
        if not conversation and not inbound:
            return
        # A conversation opens on the visitor's message: theirs first, then what joins it.
        batches = [rows] if conversation else [inbound, [row for row in rows if row not in inbound]]
        Ingest = self.env["omnichannel.ingest"].sudo()
        for batch in filter(None, batches):
            interactions = Ingest.ingest([event for _message, event in batch])
            conversation = interactions[-1:].conversation_id or conversation
            for (message, event), interaction in zip(batch, interactions, strict=True):
                copy = interaction.mail_message_id
                if event["direction"] == "outbound" and copy and copy.author_id != message.author_id:
                    # A chatbot has no user: its copy in the chatter is signed by its partner too.
                    copy.write({"author_id": message.author_id.id, "email_from": message.author_id.email_formatted})
        agent = next((event["user_id"] for _message, event in rows if event["user_id"]), None)
        if conversation and agent and not conversation.user_id:
            # The operator who answers is the conversation's agent; not a follower, so as not to
            # be told twice of what the live chat already shows them.
            conversation.with_context(tracking_disable=True).user_id = agent

    def _omni_record_rating(self, rating_id):
        """The visitor's rating of the session, as the conversation's CSAT (its rating.mixin)."""
        rating = self.env["rating.rating"].sudo().browse(rating_id).exists()
        conversation = self._omni_conversation()
        if not rating or not conversation:
            return
        Rating = self.env["rating.rating"].sudo()
        values = {
            "rating": rating.rating,
            "feedback": rating.feedback,
            "consumed": True,
            "is_internal": False,
            "partner_id": conversation.partner_id.id,
            "rated_partner_id": rating.rated_partner_id.id,
        }
        csat = Rating.search(
            [("res_model", "=", "omnichannel.conversation"), ("res_id", "=", conversation.id)], limit=1
        )
        if csat:
            csat.write(values)
        else:
            csat = Rating.create(
                dict(
                    values,
                    res_model_id=self.env["ir.model"]._get_id("omnichannel.conversation"),
                    res_id=conversation.id,
                )
            )
        # The stored CSAT reads ratings in SQL by res_model, a related field stored at flush: after it.
        Rating.flush_model()
        conversation._compute_rating_last_value()
        body = _("Live chat rated %(rating)s out of 5.", rating=int(rating.rating))
        if rating.feedback:
            body = Markup("%s<br/>%s") % (body, rating.feedback)
        conversation.message_post(
            author_id=conversation.partner_id.id,
            body=body,
            message_type="notification",
            subtype_xmlid="mail.mt_note",
            rating_id=csat.id,
        )

    def _omni_resolve(self):
        """The visitor left: the session is over, and so is its conversation."""
        conversation = self._omni_conversation()
        if conversation and conversation.state != "resolved":
            conversation.action_resolve()

    # ------------------------------------------------------------ identifying the visitor
    def _omni_guest_partner(self, guest, channel):
        """The contact the guest's identity leads to, if the bridge met them already."""
        pair = ("external", f"{channel.channel_type}:{guest.id}")
        found = self.env["omnichannel.identity"].sudo()._lookup({pair}, channel.company_id)
        return self.env["res.partner"].sudo().browse(found[pair][1] if pair in found else [])

    @api.model
    def _omni_is_anonymous(self, partner):
        """A contact the bridge made for a guest, who has not said who they are yet."""
        return (
            partner.omni_source_channel_id.channel_type == "livechat"
            and not partner.with_context(active_test=False).user_ids
            and not (partner.email or partner.phone or partner.mobile)
        )

    def _omni_link_partner(self, partner, channel):
        """The visitor is ``partner`` (a logged-in website visitor's contact, or one made from what
        they gave): their anonymous contact, and with it their conversations and timeline, merges
        into ``partner`` (Odoo's merge, which the base module extends to identities and
        conversations); later messages are recorded for ``partner``."""
        session = self.sudo()
        visitor = session._omni_visitor()
        if visitor and visitor._name == "mail.guest":
            anonymous = session._omni_guest_partner(visitor, channel)
            if anonymous and anonymous != partner and self._omni_is_anonymous(anonymous):
                moved = self.env["omnichannel.conversation"].sudo().search([("partner_id", "=", anonymous.id)])
                self.env.flush_all()
                self.env["base.partner.merge.automatic.wizard"].sudo()._merge(
                    (anonymous | partner).ids, dst_partner=partner, extra_checks=False
                )
                self.env.invalidate_all()
                moved._compute_name()  # named after the anonymous contact, whom the merge moved in SQL
        if session.omni_partner_id != partner:
            session.omni_partner_id = partner

    def _omni_identify(self, kind, value):
        """The visitor gave an email or a phone number (a chatbot question, the transcript form):
        their anonymous contact gets it, else a new contact does. One that already identifies
        another contact is only noted in the conversation: a guest proves nothing by typing it."""
        session = self.sudo()
        channel = session._omni_channel()
        visitor = session._omni_visitor()
        if not channel or not visitor or visitor._name != "mail.guest":
            return  # a logged-in visitor is known already
        Identity = self.env["omnichannel.identity"].sudo()
        try:
            value = Identity._normalize(kind, html2plaintext(value or "").strip(), channel.country_id.code)
        except ValueError:
            return
        pair = (kind, value)
        found = Identity._lookup({pair}, channel.company_id)
        partner_id = found[pair][1] if pair in found else None
        if not partner_id:
            partner_id = self.env["omnichannel.ingest"]._match_partner_fields({pair}, channel.company_id).get(pair)
        Partner = self.env["res.partner"].sudo()
        partner = Partner.browse(partner_id)
        anonymous = session._omni_guest_partner(visitor, channel)
        if partner and partner != anonymous:
            # Anyone can type anyone's email or number: a guest's word is no proof, so their chat
            # neither joins that customer's timeline nor merges into them (as Odoo's chatbot,
            # which gives a public visitor a new contact rather than an existing one).
            session._omni_note_claim(partner, value, channel)
            return
        if not partner:
            if anonymous and self._omni_is_anonymous(anonymous):
                values = {kind: value}
                if anonymous.name == self._omni_guest_name(visitor):
                    values["name"] = value
                anonymous.write(values)
                partner = anonymous
            else:
                partner = Partner.create(
                    {
                        "name": value,
                        kind: value,
                        "company_id": channel.company_id.id if channel.new_contacts_restricted else False,
                        "omni_source_channel_id": channel.id,
                    }
                )
        session._omni_link_partner(partner, channel)

    def _omni_note_claim(self, partner, value, channel):
        """Tell the agents, in the session's conversation, who the visitor says they are."""
        conversation = self._omni_conversation(channel)
        if not conversation:
            return
        conversation.message_post(
            author_id=self.env.ref("base.partner_root").id,
            body=_(
                "The visitor says they are %(customer)s (%(value)s). This is not verified, so the chat stays "
                "on the visitor's own contact; once you know it is them, merge the two contacts.",
                customer=partner.display_name,
                value=value,
            ),
            message_type="notification",
            subtype_xmlid="mail.mt_note",
        )


class ChatbotScriptStep(models.Model):
    _inherit = "chatbot.script.step"

    def _process_answer(self, discuss_channel, message_body):
        """The visitor answered the chatbot's email or phone question: they are identified."""
        next_step = super()._process_answer(discuss_channel, message_body)
        kind = {"question_email": "email", "question_phone": "phone"}.get(self.step_type)
        if kind and discuss_channel.livechat_channel_id:
            discuss_channel._omni_safely(discuss_channel._omni_identify, kind, message_body)
        return next_step
