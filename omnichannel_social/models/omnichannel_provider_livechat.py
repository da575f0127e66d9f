from odoo import _, api, fields, models
from odoo.exceptions import AccessDenied, UserError

from .discuss_channel import NO_BRIDGE


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    channel_type = fields.Selection(
        selection_add=[("livechat", "Website Live Chat")], ondelete={"livechat": "set default"}
    )
    livechat_channel_id = fields.Many2one(
        "im_livechat.channel",
        string="Live Chat Channel",
        ondelete="set null",
        index="btree_not_null",
        copy=False,
        help="Odoo's live chat channel whose sessions become conversations here. Archive this channel to "
        "stop recording them; the live chat itself is not affected.",
    )

    _sql_constraints = [
        (
            "livechat_channel_unique",
            "UNIQUE(livechat_channel_id)",
            "Another omnichannel channel already records this live chat channel.",
        ),
    ]


class OmnichannelProviderLivechat(models.AbstractModel):
    """Odoo's own live chat: nothing comes by webhook and nothing is sent from here, since Odoo
    delivers the operators' replies. An agent answering from the conversation's chatter has the
    reply posted into the live chat session, while the visitor is still there."""

    _name = "omnichannel.provider.livechat"
    _inherit = "omnichannel.provider"
    _description = "Odoo Live Chat"
    _channel_types = ("livechat",)

    @api.model
    def _verify_webhook(self, channel, httprequest):
        raise AccessDenied(_("Live chat sessions come from Odoo itself, never through a webhook."))

    @api.model
    def _session(self, conversation):
        """The live chat session (discuss.channel) a conversation records: its thread key."""
        key = conversation.thread_key or ""
        if not key.isdigit():
            return self.env["discuss.channel"]
        session = self.env["discuss.channel"].sudo().browse(int(key)).exists()
        return session if session.channel_type == "livechat" else self.env["discuss.channel"]

    @api.model
    def _check_reply(self, conversation, message):
        session = self._session(conversation)
        if not session or not session.livechat_active:
            raise UserError(_("The visitor has left this live chat: a reply can no longer reach them through it."))

    @api.model
    def _send(self, conversation, message):
        """Post the agent's reply into the session, where the visitor reads it; return the
        session message's key, the one the bridge records it under."""
        session = self._session(conversation)
        attachments = message.attachment_ids.sudo()
        copies = attachments.browse(
            [attachment.copy({"res_model": "discuss.channel", "res_id": session.id}).id for attachment in attachments]
        )
        posted = session.with_context(**{NO_BRIDGE: True}, mail_create_nosubscribe=True).message_post(
            author_id=message.author_id.id,
            body=message.body,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            attachment_ids=copies.ids,
        )
        return f"{session.id}:{posted.id}"

    @api.model
    def _test_connection(self, channel):
        livechat = channel.livechat_channel_id.sudo()
        if not livechat:
            raise UserError(_("Choose the live chat channel whose sessions this channel records."))
        return _(
            "Live chat channel %(name)s: %(operators)s operators, %(available)s available now.",
            name=livechat.name,
            operators=len(livechat.user_ids),
            available=len(livechat.available_operator_ids),
        )
