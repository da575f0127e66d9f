from odoo import fields, models


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    channel_type = fields.Selection(
        selection_add=[("voice", "Phone")],
        ondelete={"voice": "set default"},
    )
    voice_answered_action = fields.Selection(
        [("resolve", "Resolve the conversation"), ("continue", "Keep the conversation open")],
        string="After an Answered Call",
        default="resolve",
        required=True,
        help="An answered call is the agent's answer to the customer: it resolves their conversation, or the "
        "conversation stays open for a follow-up (a quotation to send, a delivery to check).",
    )
    call_count = fields.Integer(compute="_compute_call_count", groups="omnichannel_base.group_omnichannel_user")

    def _compute_call_count(self):
        counts = dict(
            self.env["omnichannel.call"]._read_group([("channel_id", "in", self.ids)], ["channel_id"], ["__count"])
        )
        for channel in self:
            channel.call_count = counts.get(channel, 0)

    def action_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_voip.action_omnichannel_call")
        action["domain"] = [("channel_id", "=", self.id)]
        return action
