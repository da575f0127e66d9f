from odoo import _, models


class OmnichannelConversation(models.Model):
    _inherit = "omnichannel.conversation"

    def action_send_whatsapp_template(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Send a Template"),
            "res_model": "omnichannel.whatsapp.template.send",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_conversation_id": self.id},
        }
