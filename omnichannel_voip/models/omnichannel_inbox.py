from odoo import api, models


class OmnichannelInbox(models.Model):
    _inherit = "omnichannel.inbox"

    @api.model
    def _apply_more(self, merged):
        super()._apply_more(merged)
        if merged.get("calls"):
            self.env["omnichannel.call"].sudo()._apply_updates(merged["calls"])
