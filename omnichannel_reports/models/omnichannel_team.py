from odoo import fields, models


class OmnichannelTeam(models.Model):
    _inherit = "omnichannel.team"

    resource_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Working Hours",
        domain="['|', ('company_id', '=', False), ('company_id', '=', company_id)]",
        help="When set, response and resolution times are also measured in the working hours of this "
        "calendar (its time zone and public holidays).",
    )
