import logging
from datetime import datetime

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

from ..tools import message_key

_logger = logging.getLogger(__name__)


class OmnichannelConversation(models.Model):
    _inherit = "omnichannel.conversation"

    mail_ack_date = fields.Datetime(string="Acknowledged On", readonly=True, copy=False)
    lead_id = fields.Many2one("crm.lead", string="Lead", readonly=True, copy=False, index="btree_not_null")

    # ------------------------------------------------------------ mail gateway
    @api.model
    def message_new(self, msg_dict, custom_values=None):
        """A mail to the channel's alias or mailbox that answers nothing we know.

        It goes through the ingest service like any channel's event (the sender is found
        by email identity, or becomes a contact); the gateway then posts the mail itself,
        with its attachments, on the conversation returned.
        """
        values = custom_values or {}
        channel = self._omni_mail_channel(values.get("channel_id"))
        thread_key = values.get("thread_key") or message_key(msg_dict.get("message_id"))
        unknown = channel.mail_unknown_sender == "lead" and not self._omni_mail_sender_known(msg_dict, channel)
        try:
            conversation = self._omni_ingest_mail(msg_dict, channel, thread_key=thread_key).conversation_id
        except ValidationError as error:
            # Raising here would bounce the mail and disable the alias (or, fetched, lose it):
            # keep it on the channel instead, with why it opened no conversation.
            _logger.warning("omnichannel: %s kept on channel %s: %s", msg_dict.get("message_id"), channel.id, error)
            channel.message_post(
                body=self.env._("This mail opened no conversation: %(reason)s", reason=error.args[0]),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
            return channel
        if unknown:
            conversation._omni_create_lead(msg_dict)
        return conversation

    @api.model
    def _omni_mail_sender_known(self, msg_dict, channel):
        """Whether the sender of ``msg_dict`` is already a contact (by identity or email field)."""
        _name, email = tools.parse_contact_from_email(msg_dict.get("email_from") or "")
        Identity = self.env["omnichannel.identity"].sudo()
        try:
            pair = ("email", Identity._normalize("email", email))
        except ValueError:
            return False  # ingest says why
        company = channel.company_id or self.env.company
        return bool(
            Identity._lookup({pair}, company) or self.env["omnichannel.ingest"]._match_partner_fields({pair}, company)
        )

    def _omni_create_lead(self, msg_dict):
        """A lead for the unknown sender of this conversation's first mail."""
        name, email = tools.parse_contact_from_email(msg_dict.get("email_from") or "")
        self.lead_id = (
            self.env["crm.lead"]
            .sudo()
            .create(
                {
                    "name": msg_dict.get("subject") or self.env._("Email from %s", name or email),
                    "type": "lead",
                    "partner_id": self.partner_id.id,
                    "contact_name": name or False,
                    "email_from": email,
                    "description": msg_dict.get("body"),
                    "medium_id": self.env.ref("utm.utm_medium_email").id,
                    "company_id": self.company_id.id,
                    "user_id": False,
                }
            )
        )

    def message_update(self, msg_dict, update_vals=None):
        """A reply in one of our threads. Machine-written mail is kept in the chatter but
        changes nothing: no reopening, no new first message, no answer."""
        context = self.env.context
        if (
            self.channel_id.channel_type == "email"
            and not context.get("omnichannel_automatic_mail")
            and not context.get("omnichannel_colleague_mail")
        ):
            self._omni_ingest_mail(msg_dict, self.channel_id, conversation=self, thread_key=self.thread_key)
        return super().message_update(msg_dict, update_vals=update_vals)

    @api.model
    def _omni_mail_channel(self, channel_id=None):
        """The email channel of a mail: the alias's, or the fetched mailbox's."""
        channel = self.env["omnichannel.channel"].sudo().browse(channel_id or [])
        server_id = self.env.context.get("default_fetchmail_server_id")
        if not channel and server_id:
            channel = self.env["fetchmail.server"].sudo().browse(server_id).omnichannel_channel_id
        if not channel:
            raise ValidationError(
                self.env._("This mail reached no email channel: link its alias or mailbox to an Omnichannel channel.")
            )
        return channel

    def _omni_ingest_mail(self, msg_dict, channel, conversation=None, thread_key=None):
        name, email = tools.parse_contact_from_email(msg_dict.get("email_from") or "")
        event = {
            "channel_id": channel.id,
            "kind": "email",
            "direction": "inbound",
            "external_id": message_key(msg_dict.get("message_id")),
            "date": self._omni_mail_date(msg_dict.get("date")),
            "sender": {"email": email, "name": name or None},
            "summary": msg_dict.get("subject") or None,
            "thread_key": thread_key,
        }
        if conversation:
            event["conversation_id"] = conversation.id
        interaction = self.env["omnichannel.ingest"].sudo().with_context(omnichannel_ingesting=True).ingest(event)
        msg_dict["author_id"] = interaction.partner_id.id  # our identity of the sender is the author
        return interaction

    @api.model
    def _omni_mail_date(self, date):
        """When the mail happened: its Date header, unless the sender's clock is off (ahead of
        ours, or before 1970): then when it reached us. A mail is never refused for its date."""
        now = fields.Datetime.now()
        date = fields.Datetime.to_datetime(date) if date else None
        return date if date and datetime(1970, 1, 1) <= date <= now else now

    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        if self.env.context.get("omnichannel_colleague_mail") and message.message_type == "email":
            self._omni_record_colleague_reply(message)
        elif self.env.context.get("from_alias") and message.message_type == "email" and message.message_id:
            # The gateway posted the mail that ingest recorded: link the timeline row to it.
            self.env["omnichannel.interaction"]._link_mail_message(
                self.channel_id, message_key(message.message_id), message
            )
            self._omni_acknowledge()
        return result

    def _omni_record_colleague_reply(self, message):
        """An agent answered from their mail client: Odoo mails it to the followers, the
        customer among them; on the timeline it is that agent's answer."""
        agent = message.author_id.user_ids.filtered(lambda user: not user.share)[:1]
        self.env["omnichannel.ingest"].sudo().with_context(omnichannel_ingesting=True).ingest(
            [
                {
                    "channel_id": self.channel_id.id,
                    "partner_id": self.partner_id.id,
                    "external_id": message_key(message.message_id) or f"mail.message:{message.id}",
                    "direction": "outbound",
                    "kind": "email",
                    "date": message.date,
                    "summary": message.preview or message.subject,
                    "conversation_id": self.id,
                    "user_id": agent.id,
                    "mail_message_id": message.id,
                }
            ]
        )

    def _omni_acknowledge(self):
        """Send the channel's acknowledgement once, for the mail that opened the conversation."""
        template = self.channel_id.mail_ack_template_id
        if not template or self.mail_ack_date or self.env.context.get("omnichannel_automatic_mail"):
            return
        if len(self.interaction_ids.filtered(lambda i: i.direction == "inbound")) != 1:
            return  # joined or reopened: the customer heard from us already
        self.mail_ack_date = fields.Datetime.now()
        self.with_context(omnichannel_ingesting=True, omnichannel_acknowledgement=True).message_post_with_source(
            template,
            message_type="auto_comment",
            subtype_xmlid="mail.mt_comment",
            author_id=(self.company_id or self.env.company).partner_id.id,
        )

    # ------------------------------------------------------------ outgoing mail
    def _notify_get_reply_to(self, default=None):
        """Customers answer the channel's address (soporte@), not the catchall."""
        result = {}
        by_channel = self.sudo().grouped("channel_id")
        for channel, conversations in by_channel.items():
            if channel.channel_type == "email" and channel.alias_email:
                reply_to = channel._notify_get_reply_to(default=default)[channel.id]
                result.update(dict.fromkeys(conversations.ids, reply_to))
        others = self.filtered(lambda c: c.id not in result)
        if others:
            result.update(super(OmnichannelConversation, others)._notify_get_reply_to(default=default))
        return result

    def _notify_by_email_get_headers(self, headers=None):
        """Answer the customer's last mail explicitly: In-Reply-To is what many clients
        thread on, and Odoo only sets References."""
        headers = super()._notify_by_email_get_headers(headers=headers)
        if self.env.context.get("omnichannel_acknowledgement"):
            headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: auto-responders must not answer it
        if self and self.channel_id.channel_type == "email" and "In-Reply-To" not in headers:
            last_inbound = (
                self.env["mail.message"]
                .sudo()
                .search(
                    [
                        ("model", "=", self._name),
                        ("res_id", "=", self.id),
                        ("message_type", "=", "email"),
                        ("author_id", "=", self.partner_id.id),
                        ("message_id", "!=", False),
                    ],
                    order="date desc, id desc",
                    limit=1,
                )
            )
            if last_inbound:
                headers["In-Reply-To"] = last_inbound.message_id
        return headers
