from odoo import api, models


class ImLivechatChannel(models.Model):
    _inherit = "im_livechat.channel"

    @api.model_create_multi
    def create(self, vals_list):
        channels = super().create(vals_list)
        channels.sudo()._omni_create_channels()
        return channels

    @api.model
    def _omni_ensure_channels(self):
        """Give every live chat channel its omnichannel channel (module install and update)."""
        livechats = self.sudo().with_context(active_test=False).search([])
        linked = (
            self.env["omnichannel.channel"]
            .sudo()
            .with_context(active_test=False)
            .search([("livechat_channel_id", "in", livechats.ids)])
            .livechat_channel_id
        )
        (livechats - linked)._omni_create_channels()

    def _omni_create_channels(self):
        """One omnichannel channel per live chat channel. Live chat channels have no company:
        the channel takes its first operator's company, else the current one (the main company
        when the module is installed)."""
        return (
            self.env["omnichannel.channel"]
            .sudo()
            .create(
                [
                    {
                        "name": livechat.name,
                        "channel_type": "livechat",
                        "livechat_channel_id": livechat.id,
                        "company_id": (livechat.user_ids[:1].company_id or self.env.company).id,
                    }
                    for livechat in self
                ]
            )
        )

    def _omni_channel(self):
        """This live chat channel's omnichannel channel, archived or not; made if missing."""
        self.ensure_one()
        channel = (
            self.env["omnichannel.channel"]
            .sudo()
            .with_context(active_test=False)
            .search([("livechat_channel_id", "=", self.id)], limit=1)
        )
        return channel or self.sudo()._omni_create_channels()
