import hashlib
import hmac
import logging
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import UserError

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
    ]

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
        """The AbstractModel implementing this channel's protocol (``omnichannel.provider.<type>``)."""
        self.ensure_one()
        name = f"omnichannel.provider.{self.channel_type}"
        return self.env[name] if name in self.env else self.env["omnichannel.provider"]

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
