from odoo import api, models


class OmnichannelInteraction(models.Model):
    _inherit = "omnichannel.interaction"

    @api.model
    def _notify_delivery_states(self, interaction_ids):
        super()._notify_delivery_states(interaction_ids)
        self.env["mail.message"]._omnichannel_bus_send_deliveries(interaction_ids)
