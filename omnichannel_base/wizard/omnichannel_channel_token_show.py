from odoo import fields, models


class OmnichannelChannelTokenShow(models.AbstractModel):
    """Shows a channel's new API token, once: only its hash is kept (as res.users.apikeys.show)."""

    _name = "omnichannel.channel.token.show"
    _description = "New Channel API Token"

    id = fields.Id()  # the form's onchange, which fills in the token, needs it
    token = fields.Char(readonly=True)
