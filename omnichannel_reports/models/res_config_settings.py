from odoo import fields, models

from .omnichannel_conversation import DEFAULT_FCR_REOPEN_DAYS, FCR_REOPEN_DAYS_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    omni_fcr_reopen_days = fields.Integer(
        string="FCR Reopen Window (Days)",
        config_parameter=FCR_REOPEN_DAYS_PARAM,
        default=DEFAULT_FCR_REOPEN_DAYS,
        help="A resolved conversation reopened within these days is not a first-contact resolution.",
    )
