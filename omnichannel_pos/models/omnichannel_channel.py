from odoo import fields, models


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    channel_type = fields.Selection(
        selection_add=[("store", "Store")],
        ondelete={"store": "set default"},
    )
