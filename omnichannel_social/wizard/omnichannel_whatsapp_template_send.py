from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class OmnichannelWhatsappTemplateSend(models.TransientModel):
    """Send an approved template in a WhatsApp conversation: the only message allowed once the
    24-hour window is closed."""

    _name = "omnichannel.whatsapp.template.send"
    _description = "Send a WhatsApp Template"

    conversation_id = fields.Many2one("omnichannel.conversation", required=True, readonly=True)
    channel_id = fields.Many2one(related="conversation_id.channel_id")
    template_id = fields.Many2one(
        "omnichannel.whatsapp.template",
        required=True,
        domain="[('channel_id', '=', channel_id), ('status', '=', 'APPROVED')]",
    )
    values = fields.Text(
        compute="_compute_values",
        store=True,
        readonly=False,
        help="One line per variable: what replaces {{1}}, {{2}}…",
    )
    preview = fields.Text(compute="_compute_preview")

    @api.depends("template_id")
    def _compute_values(self):
        for wizard in self:
            wizard.values = (
                "\n".join(wizard.template_id._values_for(wizard.conversation_id)) if wizard.template_id else False
            )

    @api.depends("template_id", "values")
    def _compute_preview(self):
        for wizard in self:
            wizard.preview = wizard.template_id._render(wizard._value_list()) if wizard.template_id else False

    def _value_list(self):
        lines = (self.values or "").split("\n")
        return [(lines[i] if i < len(lines) else "").strip() for i in range(self.template_id.variable_count)]

    def action_send(self):
        self.ensure_one()
        conversation, template = self.conversation_id, self.template_id
        conversation.check_access("write")
        if template.channel_id != conversation.channel_id:
            raise UserError(_("The template %(name)s belongs to another channel.", name=template.display_name))
        if template.status != "APPROVED":
            raise UserError(_("Only templates Meta approved can be sent; %(name)s is not.", name=template.display_name))
        values = self._value_list()
        if any(not value for value in values):
            raise UserError(_("Fill in every variable of the template (one line each)."))
        channel = conversation.channel_id
        channel._check_can_send()
        marketing = template.category == "MARKETING"
        self.env["omnichannel.consent"]._check_can_send(conversation.partner_id, channel, marketing=marketing)
        text = template._render(values)
        message = conversation.with_context(omnichannel_no_send=True).message_post(
            body=Markup("<p>%s</p>") % text, message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.env["omnichannel.outbox"]._enqueue(
            conversation,
            message,
            {"type": "template", "template": template._payload(values), "text": text, "marketing": marketing},
            _("Template %(name)s: %(text)s", name=template.name, text=text)[:200],
        )
        return {"type": "ir.actions.act_window_close"}
