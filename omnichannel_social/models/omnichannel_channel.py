from odoo import fields, models


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    channel_type = fields.Selection(
        selection_add=[
            ("whatsapp", "WhatsApp"),
            ("messenger", "Messenger"),
            ("instagram", "Instagram"),
            ("telegram", "Telegram"),
            ("sms", "SMS"),
        ],
        ondelete={
            "whatsapp": "set default",
            "messenger": "set default",
            "instagram": "set default",
            "telegram": "set default",
            "sms": "set default",
        },
    )
