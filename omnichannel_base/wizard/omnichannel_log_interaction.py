from odoo import fields, models


class OmnichannelLogInteraction(models.TransientModel):
    """Put a phone call or a visit to the store, made outside any connected channel,
    on the customer's timeline."""

    _name = "omnichannel.log.interaction"
    _description = "Log a Call or Visit"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    kind = fields.Selection([("call", "Phone Call"), ("visit", "Store Visit")], required=True, default="call")
    direction = fields.Selection(
        [("inbound", "The customer reached us"), ("outbound", "We reached the customer")],
        required=True,
        default="inbound",
    )
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    summary = fields.Char(required=True, help="What it was about, in a line.")

    def action_log(self):
        self.ensure_one()
        partner = self.partner_id
        interaction = (
            self.env["omnichannel.interaction"]
            .sudo()
            .create(
                {
                    "partner_id": partner.id,
                    "commercial_partner_id": partner.commercial_partner_id.id,
                    "company_id": (partner.company_id or self.env.company).id,
                    "kind": self.kind,
                    "direction": self.direction,
                    "date": self.date,
                    "summary": self.summary,
                    "user_id": self.env.user.id,
                }
            )
        )
        interaction._notify_timeline({partner.id, partner.commercial_partner_id.id})
        return {"type": "ir.actions.act_window_close"}
