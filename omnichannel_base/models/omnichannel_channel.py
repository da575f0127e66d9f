import secrets

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError


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
    reopen_policy = fields.Selection(
        [("reopen", "Reopen the last conversation"), ("new", "Start a new conversation")],
        string="Message After Resolution",
        required=True,
        default="reopen",
        help="What a customer's message does when their last conversation here is resolved.",
    )
    api_token = fields.Char(
        string="API Token",
        copy=False,
        groups="base.group_system",
        help="Bearer token for POST /omnichannel/api/v1/events.",
    )
    color = fields.Integer()
    conversation_ids = fields.One2many("omnichannel.conversation", "channel_id")
    conversation_count = fields.Integer(compute="_compute_conversation_count")

    _sql_constraints = [
        ("api_token_unique", "UNIQUE(api_token)", "Two channels cannot share an API token."),
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

    @api.model_create_multi
    def create(self, vals_list):
        channels = super().create(vals_list)
        if any("api_token" in vals for vals in vals_list):
            self.env.registry.clear_cache()
        return channels

    def write(self, vals):
        res = super().write(vals)
        if {"api_token", "active"} & set(vals):
            self.env.registry.clear_cache()
        return res

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    # ------------------------------------------------------------ provider
    def _provider(self):
        """The AbstractModel implementing this channel's protocol (``omnichannel.provider.<type>``)."""
        self.ensure_one()
        name = f"omnichannel.provider.{self.channel_type}"
        return self.env[name] if name in self.env else self.env["omnichannel.provider"]

    # ------------------------------------------------------------ API token
    def action_generate_api_token(self):
        for channel in self:
            channel.sudo().api_token = secrets.token_urlsafe(32)

    @tools.ormcache()
    def _api_token_map(self):
        channels = self.sudo().search([("api_token", "!=", False)])
        return {channel.api_token: channel.id for channel in channels}

    @api.model
    def _find_by_api_token(self, token):
        """The active channel whose token is ``token``, compared in constant time, or an empty recordset."""
        if not token:
            return self.browse()
        for known, channel_id in self._api_token_map().items():
            if secrets.compare_digest(known.encode(), token.encode()):
                return self.browse(channel_id)
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
