import secrets

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.omnichannel_base.tools.provider import ProviderError

GRAPH_URL_PARAM = "omnichannel_social.graph_url"


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
    # WhatsApp Cloud API settings (Meta's developer console, WhatsApp > API Setup). Secrets are
    # for administrators only; the ids are not secret.
    wa_phone_number_id = fields.Char(
        string="Phone Number ID",
        index="btree_not_null",
        copy=False,
        help="Meta's id of the business phone number (WhatsApp > API Setup), not the number itself.",
    )
    wa_business_account_id = fields.Char(
        string="WhatsApp Business Account ID", copy=False, help="Its message templates are synchronised from here."
    )
    wa_access_token = fields.Char(
        string="Access Token",
        copy=False,
        groups="base.group_system",
        help="A System User's permanent token with the whatsapp_business_messaging and "
        "whatsapp_business_management permissions.",
    )
    wa_app_secret = fields.Char(
        string="App Secret",
        copy=False,
        groups="base.group_system",
        help="App settings > Basic > App Secret: every delivery is checked against its signature.",
    )
    wa_verify_token = fields.Char(
        string="Verify Token",
        copy=False,
        groups="base.group_system",
        default=lambda self: secrets.token_urlsafe(16),
        help="Type the same text in Meta's webhook configuration: Meta sends it back to check the URL.",
    )
    wa_display_phone_number = fields.Char(string="Display Number", readonly=True, copy=False)
    wa_verified_name = fields.Char(string="Verified Name", readonly=True, copy=False)
    wa_quality_rating = fields.Char(string="Quality Rating", readonly=True, copy=False)
    wa_template_ids = fields.One2many("omnichannel.whatsapp.template", "channel_id", string="Templates")
    wa_template_count = fields.Integer(compute="_compute_wa_template_count", string="Template Count")

    _sql_constraints = [
        (
            "wa_phone_number_id_unique",
            "UNIQUE(wa_phone_number_id)",
            "Another channel already uses this WhatsApp phone number ID.",
        ),
    ]

    def _compute_wa_template_count(self):
        counts = dict(
            self.env["omnichannel.whatsapp.template"]._read_group(
                [("channel_id", "in", self.ids)], ["channel_id"], ["__count"]
            )
        )
        for channel in self:
            channel.wa_template_count = counts.get(channel, 0)

    @api.model
    def _graph_url(self):
        from ..tools.graph_client import DEFAULT_BASE_URL  # noqa: PLC0415

        return self.env["ir.config_parameter"].sudo().get_param(GRAPH_URL_PARAM) or DEFAULT_BASE_URL

    def action_sync_whatsapp_templates(self):
        """Fetch the account's message templates from Meta: new ones added, known ones updated,
        those Meta no longer has archived."""
        self.ensure_one()
        self.check_access("write")
        if not self.wa_business_account_id:
            raise UserError(_("Fill in the WhatsApp Business Account ID first."))
        try:
            found = self._provider()._fetch_templates(self)
        except ProviderError as exc:
            raise UserError(_("Meta refused to list the templates: %(error)s", error=exc)) from None
        counts = self.env["omnichannel.whatsapp.template"]._sync(self, found)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Templates synchronised"),
                "message": _(
                    "%(total)s templates: %(new)s new, %(archived)s no longer on Meta.",
                    total=len(found),
                    new=counts["new"],
                    archived=counts["archived"],
                ),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_view_whatsapp_templates(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_social.action_whatsapp_template")
        action["domain"] = [("channel_id", "=", self.id)]
        action["context"] = {"default_channel_id": self.id}
        return action
