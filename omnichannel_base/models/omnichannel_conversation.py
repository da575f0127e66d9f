from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

STATES = [("new", "New"), ("open", "Open"), ("pending", "Pending"), ("resolved", "Resolved")]


def _hours_field(help_text):
    """A duration of the conversation in hours, stored for reports, which average it."""
    return fields.Float(compute="_compute_durations", store=True, precompute=True, aggregator="avg", help=help_text)


class OmnichannelConversation(models.Model):
    """A dialogue with one customer on one channel. Its chatter holds the messages."""

    _name = "omnichannel.conversation"
    _description = "Conversation"
    _inherit = ["rating.mixin", "mail.activity.mixin"]
    _order = "last_message_date desc, id desc"

    name = fields.Char(compute="_compute_name", store=True, readonly=False, precompute=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, tracking=True)
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, precompute=True, index=True, string="Customer Company"
    )
    channel_id = fields.Many2one("omnichannel.channel", required=True, index=True, ondelete="restrict")
    channel_type = fields.Selection(related="channel_id.channel_type", store=True, precompute=True)
    company_id = fields.Many2one(related="channel_id.company_id", store=True, precompute=True, index=True)
    team_id = fields.Many2one(
        "omnichannel.team",
        compute="_compute_team_id",
        store=True,
        precompute=True,
        readonly=False,
        index=True,
        tracking=True,
        domain="[('company_id', '=', company_id)]",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Assigned To",
        index=True,
        tracking=True,
        domain=[("share", "=", False)],
    )
    state = fields.Selection(STATES, required=True, default="new", index=True, tracking=True)
    thread_key = fields.Char(help="Provider thread the conversation follows, e.g. an email thread.", copy=False)
    lang = fields.Selection(related="partner_id.lang", string="Language")
    first_inbound_date = fields.Datetime(string="First Message", readonly=True, copy=False)
    last_inbound_date = fields.Datetime(
        string="Last Customer Message", readonly=True, copy=False, help="Opens the messaging window of some channels."
    )
    reply_window_end = fields.Datetime(
        compute="_compute_reply_window_end",
        help="Until when free-form replies may be sent, on channels that limit them (WhatsApp: 24 hours "
        "after the customer's last message). Empty when the channel has no such limit.",
    )
    reply_window_open = fields.Boolean(compute="_compute_reply_window_end")
    reply_window_note = fields.Char(compute="_compute_reply_window_end")
    failed_outbox_count = fields.Integer(string="Messages Not Sent", compute="_compute_failed_outbox_count")
    last_message_date = fields.Datetime(string="Last Message", readonly=True, copy=False, index=True)
    first_response_date = fields.Datetime(string="First Response", readonly=True, copy=False)
    resolved_date = fields.Datetime(string="Resolved On", readonly=True, copy=False)
    first_resolved_date = fields.Datetime(
        string="First Resolved On", readonly=True, copy=False, help="Kept when the conversation is reopened."
    )
    first_response_hours = _hours_field("Hours from first message to first answer.")
    resolution_hours = _hours_field("Hours from first message to the last resolution.")
    first_resolution_hours = _hours_field("Hours from first message to the first resolution, whatever happened after.")
    interaction_ids = fields.One2many("omnichannel.interaction", "conversation_id")
    # Computed with the INSERT, not by an UPDATE of every new conversation right after it.
    rating_last_value = fields.Float(compute="_compute_rating_last_value", store=True, precompute=True)
    color = fields.Integer(related="channel_id.color")

    def init(self):
        # At most one unresolved conversation per customer, channel and thread.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS omnichannel_conversation_one_open
               ON omnichannel_conversation (partner_id, channel_id, COALESCE(thread_key, ''))
               WHERE state != 'resolved'"""
        )
        # A message after resolution reopens (or follows) the last resolved conversation.
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_conversation_last_resolved
               ON omnichannel_conversation (partner_id, channel_id, COALESCE(thread_key, ''),
                                            resolved_date DESC NULLS LAST, id DESC)
               WHERE state = 'resolved'"""
        )

    @api.depends("partner_id.name", "channel_id.name")
    def _compute_name(self):
        for conversation in self:
            conversation.name = " · ".join(filter(None, [conversation.partner_id.name, conversation.channel_id.name]))

    @api.depends("channel_id")
    def _compute_team_id(self):
        for conversation in self:
            conversation.team_id = conversation.team_id or conversation.channel_id.team_id

    @api.depends("first_inbound_date", "first_response_date", "resolved_date", "first_resolved_date")
    def _compute_durations(self):
        def hours(start, end):
            return (end - start).total_seconds() / 3600 if start and end else 0.0

        for conversation in self:
            conversation.first_response_hours = hours(conversation.first_inbound_date, conversation.first_response_date)
            conversation.resolution_hours = hours(conversation.first_inbound_date, conversation.resolved_date)
            conversation.first_resolution_hours = hours(
                conversation.first_inbound_date, conversation.first_resolved_date
            )

    @api.depends("last_inbound_date", "channel_id")
    @api.depends_context("uid")
    def _compute_reply_window_end(self):
        now = fields.Datetime.now()
        for conversation in self:
            provider = conversation.channel_id._provider()
            hours = provider._window_hours(conversation.channel_id)
            end = (
                conversation.last_inbound_date + timedelta(hours=hours)
                if hours and conversation.last_inbound_date
                else False
            )
            conversation.reply_window_end = end
            conversation.reply_window_open = not hours or bool(end and end > now)
            conversation.reply_window_note = (
                provider._window_note(conversation.channel_id, hours, end, conversation.reply_window_open, now)
                if hours
                else False
            )

    def _compute_failed_outbox_count(self):
        counts = dict(
            self.env["omnichannel.outbox"]._read_group(
                [("conversation_id", "in", self.ids), ("state", "=", "failed")], ["conversation_id"], ["__count"]
            )
        )
        for conversation in self:
            conversation.failed_outbox_count = counts.get(conversation, 0)

    def action_view_failed_outbox(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_base.action_omnichannel_outbox")
        action["domain"] = [("conversation_id", "=", self.id), ("state", "=", "failed")]
        action["context"] = {}
        return action

    @api.model_create_multi
    def create(self, vals_list):
        conversations = super().create(vals_list)
        conversations.filtered(lambda c: not c.user_id and c.team_id)._assign_from_team()
        return conversations

    def write(self, vals):
        if vals.get("state") == "resolved" and not vals.get("resolved_date"):
            # Resolving from the kanban or a mass edit: only the ones that were not resolved yet
            # get today's date; the others keep theirs.
            already = self.filtered(lambda c: c.state == "resolved")
            if already:
                return super(OmnichannelConversation, already).write(vals) and (self - already).write(vals)
            vals = dict(vals, resolved_date=fields.Datetime.now())
        if vals.get("resolved_date") and "first_resolved_date" not in vals:
            first_time = self.filtered(lambda c: not c.first_resolved_date)
            if first_time and first_time != self:
                return super(OmnichannelConversation, self - first_time).write(vals) and first_time.write(
                    dict(vals, first_resolved_date=vals["resolved_date"])
                )
            if first_time:
                vals = dict(vals, first_resolved_date=vals["resolved_date"])
        return super().write(vals)

    def _assign_from_team(self):
        """Each conversation goes to its team's least busy member, counting those given out here:
        one count, then one write and one subscription per agent (a batch of webhook deliveries
        opens dozens of conversations at once)."""
        load = self.team_id._agent_load()
        assigned = defaultdict(list)
        for conversation in self:
            agent = conversation.team_id._pick_agent(load)
            if agent:
                load[agent] = load.get(agent, 0) + 1
                assigned[agent].append(conversation.id)
        for agent, ids in assigned.items():
            conversations = self.browse(ids)
            conversations.user_id = agent
            # Ingest assigns without tracking, which skips Odoo's auto-subscription of the
            # responsible: the agent follows, to be notified of the customer's messages.
            conversations.message_subscribe(partner_ids=agent.partner_id.ids)

    # ------------------------------------------------------------ actions
    def action_assign_to_me(self):
        self.write({"user_id": self.env.user.id})
        self.filtered(lambda c: c.state == "new").state = "open"

    def action_set_pending(self):
        self._check_not_resolved()
        self.state = "pending"

    def action_resolve(self):
        self._check_not_resolved()
        self.write({"state": "resolved", "resolved_date": fields.Datetime.now()})

    def action_reopen(self):
        for conversation in self:
            if conversation.state != "resolved":
                continue
            conversation._check_can_reopen()
            conversation.write({"state": "open", "resolved_date": False})

    def _check_not_resolved(self):
        if any(c.state == "resolved" for c in self):
            raise UserError(_("This conversation is resolved. Reopen it first."))

    def _check_can_reopen(self):
        other = self.search_count(
            [
                ("id", "!=", self.id),
                ("partner_id", "=", self.partner_id.id),
                ("channel_id", "=", self.channel_id.id),
                ("thread_key", "=", self.thread_key),
                ("state", "!=", "resolved"),
            ]
        )
        if other:
            raise UserError(
                _(
                    "%(customer)s already has an open conversation on %(channel)s; continue there instead.",
                    customer=self.partner_id.name,
                    channel=self.channel_id.name,
                )
            )

    # ------------------------------------------------------------ messages
    MESSAGE_FIELDS = ("state", "last_message_date", "first_inbound_date", "first_response_date", "last_inbound_date")

    @api.model
    def _values_after_messages(self, current, messages):
        """The state and dates a conversation at ``current`` reaches after ``messages``
        [(direction, date)], taken in date order."""
        state, last = current.get("state") or "new", current.get("last_message_date")
        first_inbound, first_response = current.get("first_inbound_date"), current.get("first_response_date")
        last_inbound = current.get("last_inbound_date")
        for direction, date in sorted(messages, key=lambda m: m[1]):
            last = max(last or date, date)
            if direction == "inbound":
                first_inbound = first_inbound or date
                last_inbound = max(last_inbound or date, date)
                state = "open" if state == "pending" else state
            else:
                if first_inbound and not first_response:
                    first_response = max(date, first_inbound)
                state = "open" if state == "new" else state
        return dict(zip(self.MESSAGE_FIELDS, (state, last, first_inbound, first_response, last_inbound), strict=True))

    def _register_messages(self, messages):
        """Record ``messages`` [(direction, date)]: dates, first response and state."""
        self.ensure_one()
        values = self._values_after_messages({field: self[field] for field in self.MESSAGE_FIELDS}, messages)
        changed = {field: value for field, value in values.items() if self[field] != value}
        if changed:
            self.write(changed)

    def _message_post_after_hook(self, message, msg_vals):
        """An agent's chatter reply (not an internal note) goes to the customer through the channel."""
        result = super()._message_post_after_hook(message, msg_vals)
        is_reply = (
            message.message_type == "comment"
            and message.subtype_id == self.env.ref("mail.mt_comment")
            and message.author_id != self.partner_id
            and not self.env.context.get("omnichannel_ingesting")
            and not self.env.context.get("omnichannel_no_send")  # sent otherwise (a template, say)
        )
        if is_reply:
            channel = self.channel_id
            channel._check_can_send()
            self.env["omnichannel.consent"]._check_can_send(self.partner_id, channel)
            provider = channel._provider()
            provider._check_reply(self, message)
            if provider._uses_outbox:
                # Sent after the agent's transaction commits: a provider that is down never fails the reply.
                payload = provider._outbox_payload(self, message)
                self.env["omnichannel.outbox"]._enqueue(self, message, payload, message.preview)
                return result
            external_id = provider._send(self, message)
            self.env["omnichannel.ingest"].sudo().ingest(
                [
                    {
                        "channel_id": channel.id,
                        "partner_id": self.partner_id.id,
                        "external_id": external_id or f"mail.message:{message.id}",
                        "direction": "outbound",
                        "kind": "message",
                        "date": message.date,
                        "body": message.preview,
                        "conversation_id": self.id,
                        "user_id": self.env.user.id,
                        "mail_message_id": message.id,
                    }
                ]
            )
        return result
