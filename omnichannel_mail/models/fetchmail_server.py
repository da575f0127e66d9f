from odoo import fields, models


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    omnichannel_channel_id = fields.Many2one(
        "omnichannel.channel",
        string="Omnichannel Channel",
        domain=[("channel_type", "=", "email")],
        ondelete="set null",
        help="Mail fetched from this mailbox opens or continues conversations on this email channel.",
    )
