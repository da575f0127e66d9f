from odoo import fields, models


class PosConfig(models.Model):
    _inherit = "pos.config"

    omni_channel_id = fields.Many2one(
        "omnichannel.channel",
        string="Store Channel",
        domain="[('channel_type', '=', 'store'), ('company_id', '=', company_id)]",
        check_company=True,
        ondelete="set null",
        help="Visits, requests and complaints the cashiers log at this point of sale land on the customers' "
        "timelines through this channel. Left empty, a store channel named after the point of sale is "
        "created the first time one is logged.",
    )
    omni_show_context = fields.Boolean(
        string="Customer Context on Selection",
        default=True,
        help="Show the customer's omnichannel context (last interactions, open conversations, consent, "
        "orders) as soon as the cashier selects a customer.",
    )

    def _omni_store_channel(self):
        """The store channel of this point of sale, created (in its company) on first use."""
        self.ensure_one()
        if self.omni_channel_id:
            return self.omni_channel_id
        # Two tills of one shop asking at once must not make two channels: the second waits
        # here, then fails to serialise and its request is retried, and finds the channel.
        self.env.cr.execute("SELECT omni_channel_id FROM pos_config WHERE id = %s FOR NO KEY UPDATE", [self.id])
        self.invalidate_recordset(["omni_channel_id"])
        if self.omni_channel_id:
            return self.omni_channel_id
        config = self.sudo()
        channel = (
            self.env["omnichannel.channel"]
            .sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            .create({"name": config.name, "channel_type": "store", "company_id": config.company_id.id})
        )
        config.omni_channel_id = channel
        return channel
