import logging

from odoo import api, models

from ..tools import automatic_reason, delivery_report, keep_undecodable_parts

_logger = logging.getLogger(__name__)

CONVERSATION = "omnichannel.conversation"


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    @api.model
    def message_route(self, message, message_dict, model=None, thread_id=None, custom_values=None):
        # Odoo threads on References, and on In-Reply-To only when References is missing:
        # a client that keeps other References but answers our mail must thread as well.
        report = delivery_report(message)
        if report and report["type"] == "delivery-status" and report["actions"] and "failed" not in report["actions"]:
            # "Delayed", "delivered", "relayed": news about a mail still on its way, nothing to do.
            _logger.info("omnichannel: delivery report %s: %s", message_dict.get("message_id"), report["actions"])
            return []
        in_reply_to = (message_dict.get("in_reply_to") or "").strip()
        references = message_dict.get("references") or ""
        if in_reply_to and in_reply_to not in references:
            message_dict["references"] = f"{references} {in_reply_to}".strip()
        return super().message_route(
            message, message_dict, model=model, thread_id=thread_id, custom_values=custom_values
        )

    @api.model
    def _message_parse_extract_payload(self, message, message_dict, save_original=False):
        # Odoo stops on a part in a charset Python does not know: keep such parts as
        # attachments instead, so the mail and everything else in it still arrives.
        kept = keep_undecodable_parts(message)
        if kept:
            _logger.info("omnichannel: %s: parts kept as attachments: %s", message_dict.get("message_id"), kept)
        return super()._message_parse_extract_payload(message, message_dict, save_original=save_original)

    @api.model
    def _detect_is_bounce(self, message, message_dict):
        # Odoo takes any report for a bounce: read receipts and "delivery delayed" notices
        # would mark a message that was, or will be, delivered as failed.
        report = delivery_report(message)
        if report is not None and (
            report["type"] != "delivery-status" or (report["actions"] and "failed" not in report["actions"])
        ):
            return False
        return super()._detect_is_bounce(message, message_dict)

    @api.model
    def _routing_handle_bounce(self, email_message, message_dict):
        report = delivery_report(email_message) or {}
        reason = " ".join(filter(None, [report.get("status"), report.get("diagnostic")]))
        return super(MailThread, self.with_context(omnichannel_bounce_reason=reason))._routing_handle_bounce(
            email_message, message_dict
        )

    def _message_route_process(self, message, message_dict, routes):
        """Route mail to conversations as a customer would expect.

        - Machine-written mail (auto-replies, vacation notices, mailing lists) never
          opens or reopens a conversation: it is kept in the conversation it answers,
          or in its channel's chatter, and gets no answer.
        - A reply to a resolved conversation follows the channel's policy: it reopens
          that conversation, or starts a new one.
        - An agent answering a notification from their mail client answers the customer
          (Odoo mails the followers): it is no customer message.
        """
        reason = automatic_reason(message)
        if reason:
            _logger.info("omnichannel: %s is automatic mail (%s)", message_dict.get("message_id"), reason)
        author = self.env["res.partner"].sudo().browse(message_dict.get("author_id") or [])
        colleague = bool(author.user_ids.filtered(lambda user: not user.share))
        routes = [self._omni_mail_route(route, bool(reason), colleague) for route in routes or ()]
        context = {"omnichannel_automatic_mail": bool(reason), "omnichannel_colleague_mail": colleague}
        return super(MailThread, self.with_context(**context))._message_route_process(message, message_dict, routes)

    @api.model
    def _omni_mail_route(self, route, automatic, colleague):
        """The route of a mail, once automatic mail and our own colleagues' mail are set apart."""
        model, thread_id, custom_values, user_id, alias = route
        if model != CONVERSATION:
            return route
        Conversation = self.env[CONVERSATION].sudo()
        if thread_id:
            conversation = Conversation.browse(thread_id)
            customer_mail = not automatic and not colleague and conversation.channel_id.channel_type == "email"
            if conversation.state == "resolved" and customer_mail:
                values = {"channel_id": conversation.channel_id.id, "thread_key": conversation.thread_key}
                return (model, False, values, user_id, alias)
            return route
        if automatic:
            channel = Conversation.with_context(self.env.context)._omni_mail_channel(
                (custom_values or {}).get("channel_id")
            )
            return ("omnichannel.channel", channel.id, {}, user_id, alias)
        return route

    def _message_post_after_hook(self, message, msg_vals):
        """A customer's mail answering any Odoo document (a quotation, an invoice) stays on
        that document, as Odoo does, and shows on the customer's timeline, linked to it."""
        result = super()._message_post_after_hook(message, msg_vals)
        if (
            self.env.context.get("from_alias")
            and message.message_type == "email"
            and message.author_id
            and self._name not in (CONVERSATION, "omnichannel.channel")
            and not self.env.context.get("omnichannel_automatic_mail")
        ):
            self.env["omnichannel.interaction"]._record_document_mail(self, message)
        return result
