import hashlib
import hmac
import logging
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..tools.provider import ProviderError

_logger = logging.getLogger(__name__)


def hash_api_token(token):
    """What is stored of an API token: its SHA-256, in hex. The token is 32 random bytes, so a
    plain hash is as strong as a slow one and lets the lookup be an indexed equality."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class OmnichannelChannel(models.Model):
    """One configured way customers reach the business: a WhatsApp number, a mailbox, a store…

    Channel modules add their type with ``selection_add`` and their provider as an
    AbstractModel ``omnichannel.provider.<type>`` (see ``omnichannel.provider``).
    """

    _name = "omnichannel.channel"
    _description = "Omnichannel Channel"
    _inherit = ["mail.thread"]
    _order = "sequence, name"

    name = fields.Char(required=True, translate=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    channel_type = fields.Selection(
        [("api", "API / Mobile app")],
        string="Type",
        required=True,
        default="api",
        tracking=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company, tracking=True
    )
    country_id = fields.Many2one(
        "res.country",
        compute="_compute_country_id",
        store=True,
        readonly=False,
        help="National phone numbers received on this channel are read as numbers of this country.",
    )
    team_id = fields.Many2one(
        "omnichannel.team",
        string="Default Team",
        domain="[('company_id', '=', company_id)]",
        help="Team that receives new conversations from this channel.",
    )
    new_contacts_restricted = fields.Boolean(
        string="Keep New Contacts in This Company",
        help="Contacts created for unknown senders on this channel belong to its company only. "
        "Otherwise they are shared between companies, as Odoo's contacts are by default.",
    )
    reopen_policy = fields.Selection(
        [("reopen", "Reopen the last conversation"), ("new", "Start a new conversation")],
        string="Message After Resolution",
        required=True,
        default="reopen",
        help="What a customer's message does when their last conversation here is resolved.",
    )
    provider = fields.Selection(
        selection="_selection_provider",
        compute="_compute_provider",
        store=True,
        readonly=False,
        precompute=True,
        tracking=True,
        help="Who carries this channel's messages. Several providers may serve one type of channel.",
    )
    webhook_key = fields.Char(
        copy=False,
        readonly=True,
        groups="base.group_system",
        help="Unguessable part of the webhook URL. Regenerate it if the URL leaked.",
    )
    webhook_url = fields.Char(
        string="Webhook URL",
        compute="_compute_webhook_url",
        groups="base.group_system",
        help="Give this URL to the provider: it sends the channel's messages and statuses there.",
    )
    opt_out_keywords = fields.Char(
        string="Opt-out Keywords",
        default="STOP, BAJA, UNSUBSCRIBE, CANCELAR",
        help="Comma-separated. A customer's message that is only one of these words records "
        "their opt-out from this channel: nothing more is sent to them here.",
    )
    opt_in_keywords = fields.Char(
        string="Opt-in Keywords",
        default="START, ALTA, UNSTOP",
        help="Comma-separated. A customer's message that is only one of these words records their opt-in again.",
    )
    api_token = fields.Char(
        string="API Token",
        compute="_compute_api_token",
        inverse="_inverse_api_token",
        groups="base.group_system",
        help="Bearer token for POST /omnichannel/api/v1/events. Write-only: only its hash is kept.",
    )
    api_token_hash = fields.Char(string="API Token Hash", copy=False, readonly=True, groups="base.group_system")
    has_api_token = fields.Boolean(string="Has an API Token", compute="_compute_has_api_token")
    color = fields.Integer()
    conversation_ids = fields.One2many("omnichannel.conversation", "channel_id")
    conversation_count = fields.Integer(compute="_compute_conversation_count")

    _sql_constraints = [
        ("api_token_unique", "UNIQUE(api_token_hash)", "Two channels cannot share an API token."),
        ("webhook_key_unique", "UNIQUE(webhook_key)", "Two channels cannot share a webhook key."),
    ]

    def init(self):
        # Channels made before webhooks existed get their own key (a column default would
        # give them all the same one).
        self.env.cr.execute("SELECT id FROM omnichannel_channel WHERE webhook_key IS NULL")
        for (channel_id,) in self.env.cr.fetchall():
            self.env.cr.execute(
                "UPDATE omnichannel_channel SET webhook_key = %s WHERE id = %s", [secrets.token_urlsafe(24), channel_id]
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.setdefault("webhook_key", secrets.token_urlsafe(24))
        return super().create(vals_list)

    @api.model
    def _selection_provider(self):
        # The model's name from ir.model, which is translated, rather than its _description.
        return [
            (self.env[name]._code(), self.env["ir.model"]._get(name).name or self.env[name]._description)
            for name in sorted(self.env.registry)
            if name.startswith("omnichannel.provider.")
        ]

    @api.depends("channel_type")
    def _compute_provider(self):
        """The first provider that carries the type, unless the one chosen carries it too."""
        for channel in self:
            if channel.provider and channel.channel_type in channel._provider()._channel_types:
                continue
            channel.provider = next(
                (
                    code
                    for code, _label in self._selection_provider()
                    if channel.channel_type in self.env[f"omnichannel.provider.{code}"]._channel_types
                ),
                False,
            )

    @api.depends("provider", "webhook_key")
    def _compute_webhook_url(self):
        base_url = self.get_base_url()
        for channel in self:
            key = channel.sudo().webhook_key
            channel.webhook_url = (
                f"{base_url}/omnichannel/webhook/{channel.provider}/{key}" if channel.provider and key else False
            )

    @api.depends("company_id.country_id")
    def _compute_country_id(self):
        for channel in self:
            channel.country_id = channel.company_id.country_id

    def _compute_conversation_count(self):
        counts = dict(
            self.env["omnichannel.conversation"]._read_group(
                [("channel_id", "in", self.ids)], ["channel_id"], ["__count"]
            )
        )
        for channel in self:
            channel.conversation_count = counts.get(channel, 0)

    # ------------------------------------------------------------ provider
    def _provider(self):
        """The AbstractModel implementing this channel's protocol (``omnichannel.provider.<code>``)."""
        self.ensure_one()
        for code in (self.provider, self.channel_type):  # email channels predate providers
            if code and f"omnichannel.provider.{code}" in self.env:
                return self.env[f"omnichannel.provider.{code}"]
        return self.env["omnichannel.provider"]

    @api.model
    def _find_by_webhook_key(self, provider, key):
        """The active channel of ``provider`` whose webhook key is ``key``, or an empty recordset."""
        if not key or not isinstance(key, str) or len(key) > 128 or "\x00" in key or "\x00" in provider:
            return self.browse()  # PostgreSQL cannot even compare a string holding NUL
        channel = self.sudo().search([("provider", "=", provider), ("webhook_key", "=", key)], limit=1)
        if channel and hmac.compare_digest(channel.webhook_key.encode(), key.encode()):
            return channel
        return self.browse()

    def action_regenerate_webhook_key(self):
        """A new webhook URL; the old one stops working now."""
        self.check_access("write")
        for channel in self:
            channel.sudo().webhook_key = secrets.token_urlsafe(24)

    def action_test_connection(self):
        """Ask the provider whether the channel's settings work; say what it answered."""
        self.ensure_one()
        self.check_access("write")
        try:
            found = self._provider()._test_connection(self)
        except ProviderError as exc:
            raise UserError(_("The provider refused the connection: %(error)s", error=exc)) from None
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Connection works"),
                "message": found,
                "type": "success",
                "sticky": False,
                # The form reloads, showing what the test read (bot username, page name, number...).
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _keyword_in(self, field, text):
        """Whether ``text`` is only one of the comma-separated keywords of ``field``."""
        words = {word.strip().casefold() for word in (self[field] or "").split(",") if word.strip()}
        return bool(text) and text.strip().strip(".!¡").strip().casefold() in words

    # ------------------------------------------------------------ API token
    def _compute_api_token(self):
        self.api_token = False  # never kept, so never read back

    def _inverse_api_token(self):
        """Setting a token (data files, scripts, tests) stores its hash only."""
        for channel in self:
            channel.sudo().api_token_hash = hash_api_token(channel.api_token) if channel.api_token else False
        self.invalidate_recordset(["api_token"])

    @api.depends("api_token_hash")
    def _compute_has_api_token(self):
        for channel in self:
            channel.has_api_token = bool(channel.sudo().api_token_hash)

    def action_generate_api_token(self):
        """Replace the channel's token by a new one, shown once: the old one stops working now."""
        self.ensure_one()
        self.check_access("write")  # whoever may configure the channel, not any employee over RPC
        token = secrets.token_urlsafe(32)
        self.sudo().api_token_hash = hash_api_token(token)
        _logger.info("API token of channel %s (#%s) replaced by user #%s", self.name, self.id, self.env.uid)
        return {
            "type": "ir.actions.act_window",
            "res_model": "omnichannel.channel.token.show",
            "name": _("API Token of %(channel)s", channel=self.name),
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_token": token},
        }

    @api.model
    def _find_by_api_token(self, token):
        """The active channel whose token is ``token``, or an empty recordset."""
        if not token or not isinstance(token, str) or len(token) > 256:
            return self.browse()
        digest = hash_api_token(token)
        channel = self.sudo().search([("api_token_hash", "=", digest)], limit=1)
        # The index finds the row; the comparison that decides is in constant time.
        if channel and hmac.compare_digest(channel.api_token_hash, digest):
            return self.browse(channel.id)
        return self.browse()

    def action_view_conversations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_base.action_omnichannel_inbox")
        action["domain"] = [("channel_id", "=", self.id)]
        action["context"] = {"default_channel_id": self.id}
        return action

    def _check_can_send(self):
        if not self.active:
            raise UserError(_("The channel %(name)s is archived: nothing can be sent through it.", name=self.name))
