from odoo import api, models


class OmnichannelProviderEmail(models.AbstractModel):
    """Email goes out through Odoo's own notification mail, via the mail queue."""

    _name = "omnichannel.provider.email"
    _inherit = "omnichannel.provider"
    _description = "Odoo Mail Gateway"
    _channel_types = ("email",)

    @api.model
    def _send(self, conversation, message):
        # The chatter notifies followers by email right after this hook: a customer who
        # follows the conversation gets the reply, threaded on its Message-Id.
        conversation.message_subscribe(partner_ids=conversation.partner_id.ids)
        return message.message_id
