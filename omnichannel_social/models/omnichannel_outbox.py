from odoo import fields, models


class OmnichannelOutbox(models.Model):
    _inherit = "omnichannel.outbox"

    # The chatter reads each reply's outbox row through its timeline row (mail.message._omnichannel_deliveries).
    interaction_id = fields.Many2one(index="btree_not_null")
