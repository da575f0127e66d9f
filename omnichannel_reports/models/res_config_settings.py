from odoo import fields, models

from .omnichannel_conversation import DEFAULT_FCR_REOPEN_DAYS, FCR_REOPEN_DAYS_PARAM
from .omnichannel_csat import CSAT_DELAY_PARAM, CSAT_ENABLED_PARAM, DEFAULT_CSAT_DELAY_MINUTES


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    omni_fcr_reopen_days = fields.Integer(
        string="FCR Reopen Window (Days)",
        config_parameter=FCR_REOPEN_DAYS_PARAM,
        default=DEFAULT_FCR_REOPEN_DAYS,
        help="A resolved conversation reopened within these days is not a first-contact resolution.",
    )
    # Surveys are on unless switched off: a Boolean config_parameter would read "not set" as off.
    omni_csat_enabled = fields.Boolean(
        string="Satisfaction Surveys",
        help="Send each customer one satisfaction survey on their channel after their conversation is resolved.",
    )
    omni_csat_delay_minutes = fields.Integer(
        string="Survey Delay (Minutes)",
        config_parameter=CSAT_DELAY_PARAM,
        default=DEFAULT_CSAT_DELAY_MINUTES,
        help="How long after the resolution the survey goes out.",
    )

    def get_values(self):
        values = super().get_values()
        values["omni_csat_enabled"] = self.env["omnichannel.conversation"]._omni_csat_enabled()
        return values

    def set_values(self):
        Conversation = self.env["omnichannel.conversation"]
        window = Conversation._fcr_window()
        super().set_values()
        if Conversation._fcr_window() != window:
            Conversation.sudo()._omni_recompute_fcr()  # every FCR by the new window, not only the pending ones
        self.env["ir.config_parameter"].sudo().set_param(CSAT_ENABLED_PARAM, str(bool(self.omni_csat_enabled)))
