import json
import logging
import uuid

from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError

from odoo.addons.omnichannel_base.tools.provider import ProviderError

_logger = logging.getLogger(__name__)

OUTCOMES = [
    ("answered", "Answered"),
    ("missed", "Missed"),
    ("busy", "Busy"),
    ("no_answer", "No Answer"),
    ("failed", "Failed"),
]
STATES = [("dialing", "Dialing"), ("ringing", "Ringing"), ("answered", "In Progress"), ("ended", "Ended")]
STATE_RANK = {"dialing": 0, "ringing": 1, "answered": 2, "ended": 3}
# Q.850 causes an unanswered outbound call ends with (Asterisk's HANGUPCAUSE, ARI's ChannelDestroyed.cause).
CAUSE_BUSY = 17
CAUSES_NO_ANSWER = {18, 19}
CAUSES_NOT_FAILED = {0, 16, 31}  # unknown, normal clearing, normal unspecified: hung up, not a failure
POP_INTERACTIONS = 5
SCREEN_POP = "omnichannel_voip/screen_pop"


def _talk(env, seconds):
    minutes, seconds = divmod(int(seconds or 0), 60)
    if minutes:
        return env._("%(minutes)s min %(seconds)02d s", minutes=minutes, seconds=seconds)
    return env._("%(seconds)s s", seconds=seconds)


class OmnichannelCall(models.Model):
    """A phone call with a customer, on any phone system: one row per call, however many legs
    and events it has (Asterisk's linkedid, Twilio's parent CallSid).

    Providers only translate their events into updates (``_apply_updates``); this model keeps
    the facts, the call's timeline row and its conversation in step, pops the call up on the
    agent's screen and leaves a "Call back" activity for missed calls.
    """

    _name = "omnichannel.call"
    _description = "Phone Call"
    _order = "start_date desc, id desc"
    # Searched by the caller's name or number (a _rec_name of display_name would search itself forever).
    _rec_names_search = ["partner_id.name", "customer_number"]

    channel_id = fields.Many2one("omnichannel.channel", required=True, readonly=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="channel_id.company_id", store=True, index=True)
    call_key = fields.Char(
        required=True,
        readonly=True,
        help="The phone system's id for the whole call (Asterisk linkedid, Twilio CallSid).",
    )
    dial_key = fields.Char(readonly=True, copy=False, help="Our id for a call placed from Odoo (click-to-dial).")
    direction = fields.Selection([("inbound", "Incoming"), ("outbound", "Outgoing")], readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True, index="btree_not_null")
    partner_known = fields.Boolean(
        string="Known Number", readonly=True, help="The number belonged to a contact before this call."
    )
    customer_number = fields.Char(string="Number", readonly=True)
    withheld = fields.Boolean(string="Number Withheld", readonly=True)
    our_number = fields.Char(string="Our Number", readonly=True, help="The number the customer called, or showed.")
    user_id = fields.Many2one("res.users", string="Agent", readonly=True, index="btree_not_null")
    state = fields.Selection(STATES, default="ringing", required=True, readonly=True)
    outcome = fields.Selection(OUTCOMES, readonly=True)
    provider_outcome = fields.Selection(OUTCOMES, readonly=True, help="The outcome the phone system stated, if any.")
    hangup_cause = fields.Integer(readonly=True, help="Q.850 cause code the call ended with.")
    hangup_cause_text = fields.Char(string="Hang-up Cause", readonly=True)
    start_date = fields.Datetime(string="Started", readonly=True, index=True)
    ring_date = fields.Datetime(string="Rang", readonly=True)
    answer_date = fields.Datetime(string="Answered", readonly=True)
    end_date = fields.Datetime(string="Ended", readonly=True)
    talk_seconds = fields.Integer(string="Talk Time (s)", readonly=True, aggregator="sum")
    provider_talk_seconds = fields.Integer(readonly=True, help="The talk time the phone system stated, if any.")
    talk_time = fields.Char(compute="_compute_talk_time")
    note = fields.Text(help="What the agent noted during or after the call: shown on the timeline.")
    interaction_id = fields.Many2one("omnichannel.interaction", readonly=True, ondelete="set null")
    conversation_id = fields.Many2one("omnichannel.conversation", readonly=True, ondelete="set null")
    recording_attachment_id = fields.Many2one("ir.attachment", compute="_compute_recording", string="Recording")
    popped_user_ids = fields.Many2many("res.users", "omnichannel_call_popped_rel", readonly=True)
    pending_recordings = fields.Text(readonly=True, help="Recordings announced during the call, fetched once it ends.")

    _sql_constraints = [("call_key_unique", "UNIQUE(channel_id, call_key)", "A call is recorded once per channel.")]

    def init(self):
        # The listener's periodic check reads a channel's calls still in progress: few, among millions.
        tools.create_index(
            self.env.cr,
            "omnichannel_call_open_index",
            self._table,
            ["channel_id"],
            where="state IN ('dialing', 'ringing', 'answered')",
        )

    @api.depends("direction", "customer_number", "partner_id.name", "start_date")
    def _compute_display_name(self):
        directions = dict(self._fields["direction"]._description_selection(self.env))
        for call in self:
            who = call.partner_id.name or call.customer_number or _("Unknown caller")
            call.display_name = f"{directions.get(call.direction) or _('Call')} · {who}"

    @api.depends("talk_seconds")
    def _compute_talk_time(self):
        for call in self:
            call.talk_time = _talk(call.env, call.talk_seconds) if call.talk_seconds else False

    def _compute_recording(self):
        media = (
            self.env["omnichannel.media"]
            .sudo()
            .search([("interaction_id", "in", self.interaction_id.ids), ("state", "=", "done"), ("kind", "=", "file")])
        )
        attachment_of = {m.interaction_id.id: m.attachment_id for m in media}
        for call in self:
            call.recording_attachment_id = attachment_of.get(call.interaction_id.id, False)

    # ------------------------------------------------------------ applying provider updates
    @api.model
    def _apply_updates(self, updates):
        """Apply what providers said about calls (see the "calls" key of parsed deliveries).

        Each call's updates are merged in date order into its row; a repeated or late update
        changes nothing that a former one settled, so redelivery and disorder leave the same row.
        """
        by_call = {}
        for update in updates:
            by_call.setdefault((update["channel_id"], str(update["call_key"])), []).append(update)
        for (channel_id, call_key), items in by_call.items():
            items.sort(key=lambda u: u["date"])
            call = self._lock_or_create(channel_id, call_key)
            call._merge(items)

    def _lock_or_create(self, channel_id, call_key):
        """The call's row, locked for this transaction; created when it is new. Two workers
        creating it at once: the second's INSERT waits, then does nothing and locks the first's."""
        self.flush_model()
        self.env.cr.execute(
            """INSERT INTO omnichannel_call (channel_id, company_id, call_key, state, create_uid, write_uid,
                                             create_date, write_date)
               SELECT c.id, c.company_id, %s, 'ringing', %s, %s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                 FROM omnichannel_channel c WHERE c.id = %s
               ON CONFLICT (channel_id, call_key) DO NOTHING""",
            [call_key, self.env.uid, self.env.uid, channel_id],
        )
        self.env.cr.execute(
            "SELECT id FROM omnichannel_call WHERE channel_id = %s AND call_key = %s FOR UPDATE", [channel_id, call_key]
        )
        row = self.env.cr.fetchone()
        if not row:
            raise UserError(_("No channel has the id %(id)s.", id=channel_id))
        return self.browse(row[0])

    def _merge(self, updates):
        self.ensure_one()
        self.invalidate_recordset()
        before = {
            "state": self.state,
            "answer_date": self.answer_date,
            "end_date": self.end_date,
            "user_id": self.user_id,
            "outcome": self.outcome,
        }
        values = {}
        agent_ringing = self.env["res.users"]
        for update in updates:
            date = update["date"]
            state = update.get("state")
            current = {**self._read_facts(), **values}
            if not current["start_date"] or date < current["start_date"]:
                values["start_date"] = date
            if update.get("direction") and not current["direction"]:
                values["direction"] = update["direction"]
            if update.get("withheld") and not current["customer_number"]:
                values["withheld"] = True
            if update.get("customer_number") and not current["customer_number"]:
                values["customer_number"] = update["customer_number"]
                values["withheld"] = False
            if update.get("our_number") and not current["our_number"]:
                values["our_number"] = update["our_number"]
            agent = self.env["res.users"]
            if update.get("agent_extension"):
                agent = self.env["res.users"]._omni_user_of_extension(self.channel_id, update["agent_extension"])
            if agent and (not current["user_id"] or state == "answered"):
                values["user_id"] = agent.id
            if state == "ringing":
                if not current["ring_date"] or date < current["ring_date"]:
                    values["ring_date"] = date
                agent_ringing |= agent
            elif state == "answered":
                if not current["answer_date"] or date < current["answer_date"]:
                    values["answer_date"] = date
            elif state == "ended":
                if not current["end_date"] or date > current["end_date"]:
                    values["end_date"] = date
            if state and STATE_RANK[state] > STATE_RANK[current["state"]]:
                values["state"] = state
            if update.get("outcome"):
                # The answered one wins: a leg that answered makes the call answered, whatever the others said.
                if current["provider_outcome"] != "answered":
                    values["provider_outcome"] = update["outcome"]
            if update.get("cause") is not None and (state == "ended" or not current["hangup_cause"]):
                values["hangup_cause"] = update["cause"]
                values["hangup_cause_text"] = update.get("cause_text") or False
            elif update.get("cause_text") and not current["hangup_cause_text"]:
                values["hangup_cause_text"] = update["cause_text"]
            if update.get("talk_seconds") is not None:
                values["provider_talk_seconds"] = max(
                    int(update["talk_seconds"]), current["provider_talk_seconds"] or 0
                )
            if update.get("customer_name"):
                values.setdefault("_customer_name", update["customer_name"])
            if update.get("recording"):
                values.setdefault("_recordings", []).append(update["recording"])
        customer_name = values.pop("_customer_name", None)
        recordings = values.pop("_recordings", [])
        if values:
            self.write(values)
        self._settle_outcome()
        if not self.interaction_id and (self.customer_number or self.withheld or self.partner_id):
            self._record_on_timeline(customer_name)
        elif self.interaction_id:
            self.interaction_id._set_summary(self._summary(), self.user_id.id or None)
        if recordings:
            self.pending_recordings = json.dumps(json.loads(self.pending_recordings or "[]") + recordings)
        if self.interaction_id and self.pending_recordings and self.state == "ended":
            # Fetched once the call is over: the phone system writes the file until the hang-up.
            media = [(self.interaction_id, recording) for recording in json.loads(self.pending_recordings)]
            self.env["omnichannel.media"].sudo()._enqueue(media)
            self.pending_recordings = False
        self._after_change(before, agent_ringing)

    def _read_facts(self):
        return {
            "start_date": self.start_date,
            "direction": self.direction,
            "customer_number": self.customer_number,
            "our_number": self.our_number,
            "user_id": self.user_id.id,
            "ring_date": self.ring_date,
            "answer_date": self.answer_date,
            "end_date": self.end_date,
            "state": self.state,
            "provider_outcome": self.provider_outcome,
            "hangup_cause": self.hangup_cause,
            "hangup_cause_text": self.hangup_cause_text,
            "provider_talk_seconds": self.provider_talk_seconds,
        }

    def _settle_outcome(self):
        """The outcome from the facts: answered if anyone answered; a missed call for an
        unanswered incoming one; busy, no answer or failed for an unanswered outgoing one."""
        values = {}
        if self.answer_date or self.provider_outcome == "answered":
            outcome = "answered" if self.state == "ended" or self.answer_date else False
        elif self.state != "ended":
            outcome = False
        elif self.direction != "outbound":
            outcome = "missed"
        elif self.provider_outcome:
            outcome = self.provider_outcome
        elif self.hangup_cause == CAUSE_BUSY:
            outcome = "busy"
        elif self.hangup_cause in CAUSES_NO_ANSWER or self.hangup_cause in CAUSES_NOT_FAILED:
            outcome = "no_answer"
        else:
            outcome = "failed"
        if outcome != self.outcome:
            values["outcome"] = outcome
        # From the facts every time (an earlier answer read late moves it), unless the system said.
        talk = self.provider_talk_seconds
        if not talk and self.state == "ended" and self.answer_date and self.end_date:
            talk = max(0, int((self.end_date - self.answer_date).total_seconds()))
        if (talk or 0) != self.talk_seconds:
            values["talk_seconds"] = talk or 0
        if values:
            self.write(values)

    def _summary(self):
        """The call's line on the timeline, in the company's language."""
        self = self.with_context(lang=self.company_id.partner_id.lang or self.env.lang)
        incoming = self.direction != "outbound"
        if self.outcome == "answered" or (self.state == "answered"):
            head = _("Incoming call") if incoming else _("Outgoing call")
        elif self.outcome == "missed":
            head = _("Missed call")
        elif self.outcome:
            head = (
                _("Outgoing call")
                + " · "
                + dict(self._fields["outcome"]._description_selection(self.env))[self.outcome]
            )
        else:
            head = (
                (_("Incoming call") if incoming else _("Outgoing call"))
                + " · "
                + (_("dialing") if self.state == "dialing" else _("ringing"))
            )
        parts = [head]
        if self.state == "answered":
            parts.append(_("in progress"))
        if self.talk_seconds:
            parts.append(_talk(self.env, self.talk_seconds))
        if self.user_id:
            parts.append(self.user_id.name)
        if self.note:
            parts.append(" ".join(self.note.split())[:120])
        return " · ".join(parts)

    def _record_on_timeline(self, customer_name=None):
        """The call's timeline row, through ingest: it finds (or creates) the contact by the number,
        joins the customer's open conversation on the channel (or opens one for an incoming call)."""
        channel = self.channel_id.sudo()
        event = {
            "channel_id": channel.id,
            "external_id": self.call_key,
            "direction": self.direction or "inbound",
            "kind": "call",
            # A phone system's clock ahead of Odoo's must not refuse the call (ingest takes no future dates).
            "date": min(self.start_date or fields.Datetime.now(), fields.Datetime.now()),
            "summary": self._summary(),
            "user_id": self.user_id.id or None,
            "res_model": self._name,
            "res_id": self.id,
        }
        if self.conversation_id:
            event["conversation_id"] = self.conversation_id.id
        number = None
        if self.customer_number and not self.partner_id:
            try:
                number = self.env["omnichannel.identity"]._normalize(
                    "phone", self.customer_number, channel.country_id.code
                )
            except ValueError:
                _logger.info(
                    "Call %s: %r is not a phone number; kept as an unknown caller", self.id, self.customer_number
                )
        if self.partner_id:
            event["partner_id"] = self.partner_id.id
        elif not number:
            # Withheld, or not a number anyone can call back: the unknown caller's timeline.
            event["partner_id"] = self.env.ref("omnichannel_voip.partner_withheld").id
            event["thread_key"] = f"call:{self.call_key}"  # one conversation per such call
        else:
            event["sender"] = {"phone": number, "name": customer_name}
            known = self.env["omnichannel.identity"].sudo()._lookup([("phone", number)], channel.company_id)
            self.partner_known = bool(known)
        # An outgoing call joins the conversation, but is the agent's response only once answered.
        unregistered = event["direction"] == "outbound"
        ingest = self.env["omnichannel.ingest"].sudo().with_context(omnichannel_unregistered=unregistered)
        interaction = ingest.ingest([event])
        self.write(
            {
                "interaction_id": interaction.id,
                "partner_id": interaction.partner_id.id,
                "conversation_id": interaction.conversation_id.id,
                "partner_known": self.partner_known or bool(self.partner_id and event.get("partner_id")),
            }
        )

    # ------------------------------------------------------------ what follows a change
    def _after_change(self, before, agent_ringing):
        self.ensure_one()
        if self.state != "ended" and self.direction != "outbound":
            for agent in agent_ringing:
                self._screen_pop(agent)
        conversation = self.conversation_id.sudo()
        if self.answer_date and not before["answer_date"] and conversation:
            if self.user_id and (not conversation.user_id or conversation.state == "new"):
                # Whoever answers takes the conversation the call opened (the team had guessed).
                conversation.user_id = self.user_id
            # The answer is the agent's response, whichever side called: an unanswered call back is not.
            conversation.with_context(tracking_disable=True)._register_messages([("outbound", self.answer_date)])
        if self.state == "ended" and (before["state"] != "ended" or self.outcome != before["outcome"]):
            # Again when the outcome changed: the answer of a call may be read after its end.
            self._after_end()

    def _after_end(self):
        conversation = self.conversation_id.sudo()
        if self.outcome == "answered":
            self._close_call_backs()
            if conversation and conversation.state != "resolved" and self.channel_id.voice_answered_action == "resolve":
                conversation.write({"state": "resolved", "resolved_date": self.end_date or fields.Datetime.now()})
        elif self.outcome == "missed" and conversation:
            if self.partner_id == self.env.ref("omnichannel_voip.partner_withheld"):
                if conversation.state != "resolved":
                    conversation.message_post(
                        body=_("Missed call from a withheld or unknown number: it cannot be called back."),
                        message_type="notification",
                        subtype_xmlid="mail.mt_note",
                    )
                    conversation.write({"state": "resolved", "resolved_date": self.end_date or fields.Datetime.now()})
            else:
                self._schedule_call_back()

    def _call_back_activities(self, partner, company=None):
        domain = [("partner_id", "=", partner.id)]
        if company:
            domain.append(("company_id", "=", company.id))
        conversations = self.env["omnichannel.conversation"].sudo().search(domain)
        return (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "omnichannel.conversation"),
                    ("res_id", "in", conversations.ids),
                    ("activity_type_id", "=", self.env.ref("omnichannel_voip.activity_type_call_back").id),
                ]
            )
        )

    def _schedule_call_back(self):
        """One "Call back" activity per customer waiting for one, however many times they called;
        none when they were spoken to after this call (its events read late)."""
        conversation = self.conversation_id.sudo()
        spoken_since = self.sudo().search_count(
            [
                ("partner_id", "=", self.partner_id.id),
                ("company_id", "=", self.company_id.id),
                ("outcome", "=", "answered"),
                ("answer_date", ">", self.start_date),
            ]
        )
        if spoken_since:
            return
        team = conversation.team_id or self.channel_id.team_id
        user = (
            self.user_id
            or conversation.user_id
            or team.user_id
            or team.member_ids[:1]
            or self.env.ref("base.user_admin")
        )
        # In the agent's time zone: they read it.
        when = fields.Datetime.context_timestamp(self.with_user(user), self.start_date or fields.Datetime.now())
        line = _(
            "Missed call at %(time)s from %(number)s",
            time=when.strftime("%Y-%m-%d %H:%M"),
            number=self._formatted_number(),
        )
        existing = self._call_back_activities(self.partner_id, self.company_id)
        if existing:
            activity = existing[0]
            activity.note = (activity.note or "") + Markup("<p>%s</p>") % line
            return
        conversation.activity_schedule(
            "omnichannel_voip.activity_type_call_back",
            user_id=user.id,
            summary=_("Call back %(who)s", who=self.partner_id.name or self.customer_number),
            note=Markup("<p>%s</p>") % line,
        )

    def _close_call_backs(self):
        """An answered call with the customer, either way, is the call back they were waiting for,
        unless they missed another call after it (events of an older call arriving late)."""
        if not self.partner_id or self.partner_id == self.env.ref("omnichannel_voip.partner_withheld"):
            return
        answered = self.answer_date or self.end_date
        missed_since = self.sudo().search_count(
            [
                ("partner_id", "=", self.partner_id.id),
                ("company_id", "=", self.company_id.id),
                ("outcome", "=", "missed"),
                ("start_date", ">", answered),
            ]
        )
        pending = self._call_back_activities(self.partner_id, self.company_id)
        if pending and not missed_since:
            when = fields.Datetime.context_timestamp(self, answered).strftime("%Y-%m-%d %H:%M")
            pending.action_feedback(feedback=_("Spoken to on %(date)s (%(call)s).", date=when, call=self.display_name))

    # ------------------------------------------------------------ screen pop
    def _screen_pop(self, agent):
        """Tell ``agent``'s browser who is calling, once per call: through Odoo's bus, as the
        rest of the web client is told of new messages."""
        self.ensure_one()
        if not agent or agent in self.popped_user_ids or agent.share:
            return
        self.popped_user_ids = [fields.Command.link(agent.id)]
        agent.partner_id._bus_send(SCREEN_POP, self._screen_pop_payload(agent))

    def _screen_pop_payload(self, agent):
        """What ``agent`` sees of the caller: read with the agent's own access rights."""
        partner = self.partner_id.with_user(agent).with_context(lang=agent.lang)
        payload = {
            "call_id": self.id,
            "direction": self.direction or "inbound",
            "number": self._formatted_number(),
            "withheld": self.withheld,
            "channel": self.channel_id.name,
            "company_id": self.company_id.id,
            "note": self.note or "",
            "known": bool(self.partner_known),
            "partner": False,
            "interactions": [],
            "conversations": [],
        }
        if not partner or partner == self.env.ref("omnichannel_voip.partner_withheld"):
            return payload
        try:
            partner.check_access("read")
        except Exception:  # noqa: BLE001 (a contact of another company: the number only)
            return payload
        payload["partner"] = {
            "id": partner.id,
            "name": partner.name,
            "company": partner.parent_id.name or False,
        }
        if agent.has_group("omnichannel_base.group_omnichannel_user"):
            items = partner.omnichannel_timeline(limit=POP_INTERACTIONS + 1)["items"]
            payload["interactions"] = [
                {key: item[key] for key in ("id", "date", "summary", "icon", "channel_label", "kind_label")}
                for item in items
                if not (item["source"] and item["source"]["model"] == self._name and item["source"]["id"] == self.id)
            ][:POP_INTERACTIONS]
            conversations = (
                self.env["omnichannel.conversation"]
                .with_user(agent)
                .search([("partner_id", "=", partner.id), ("state", "!=", "resolved")], limit=10)
            )
            states = dict(conversations._fields["state"]._description_selection(partner.env))
            payload["conversations"] = [
                {
                    "id": c.id,
                    "name": c.display_name,
                    "state_label": states[c.state],
                    "channel": c.channel_id.name,
                    "user": c.user_id.name or False,
                }
                for c in conversations
            ]
        return payload

    def _formatted_number(self):
        if not self.customer_number:
            return False
        try:
            import phonenumbers  # noqa: PLC0415

            parsed = phonenumbers.parse(self.customer_number, self.channel_id.country_id.code or None)
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        except Exception:  # noqa: BLE001 (shown as the phone system gave it)
            return self.customer_number

    # ------------------------------------------------------------ user actions
    def action_open_contact(self):
        """The caller's contact, on its Timeline tab."""
        self.ensure_one()
        self.partner_id.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": self.partner_id.id,
            "views": [(False, "form")],
            "context": {},
        }

    def action_create_contact(self):
        """The contact made for the unknown number, open to be named and completed."""
        action = self.action_open_contact()
        action["context"] = dict(action["context"], form_view_initial_mode="edit")
        return action

    def action_omni_dial(self):
        """Call the customer of this call back."""
        self.ensure_one()
        return self.env["omnichannel.call"]._dial(
            self.partner_id, number=self.customer_number, channel=self.channel_id, conversation=self.conversation_id
        )

    def action_open_recording(self):
        self.ensure_one()
        if not self.recording_attachment_id:
            raise UserError(_("This call has no recording."))
        return {"type": "ir.actions.act_url", "url": f"/web/content/{self.recording_attachment_id.id}", "target": "new"}

    def write(self, vals):
        if not self.env.su and set(vals) - {"note"}:
            # Calls are the phone system's record: agents add their note, nothing else.
            raise AccessError(_("Only the note of a call can be changed."))
        result = super().write(vals)
        if "note" in vals:
            for call in self.sudo().filtered("interaction_id"):
                call.interaction_id._set_summary(call._summary())
        return result

    @api.model
    def _dial(self, partner, number=None, channel=None, conversation=None):
        """Place a call from the current agent to ``partner``: the agent's phone rings first, then
        the customer's. The call carries our own id (``dial_key``), which the phone system takes
        as its id: a request it receives twice places one call."""
        user = self.env.user
        if not user.has_group("omnichannel_base.group_omnichannel_user"):
            raise AccessError(_("Only Omnichannel users can place calls from Odoo."))
        if not user.omni_extension:
            raise UserError(_("Set your phone extension on your user preferences before calling from Odoo."))
        if channel and channel.channel_type != "voice":
            channel = False
        Channel = self.env["omnichannel.channel"]
        # The line of the company the agent works in, else one of their other companies'.
        channel = (
            channel
            or Channel.search([("channel_type", "=", "voice"), ("company_id", "=", self.env.company.id)], limit=1)
            or Channel.search([("channel_type", "=", "voice"), ("company_id", "in", self.env.companies.ids)], limit=1)
        )
        if not channel:
            raise UserError(_("No phone channel is set up: an administrator adds one in Omnichannel > Channels."))
        channel._check_can_send()
        number = number or partner.phone or partner.mobile
        if not number:
            raise UserError(_("%(name)s has no phone number.", name=partner.display_name))
        try:
            e164 = self.env["omnichannel.identity"]._normalize("phone", number, channel.country_id.code)
        except ValueError as exc:
            raise UserError(_("%(number)s cannot be called: %(error)s", number=number, error=exc)) from None
        self.env["omnichannel.consent"]._check_can_send(partner, channel)
        key = f"omni-{uuid.uuid4()}"
        now = fields.Datetime.now()
        call = self.sudo().create(
            {
                "channel_id": channel.id,
                "call_key": key,
                "dial_key": key,
                "direction": "outbound",
                "partner_id": partner.id,
                "partner_known": True,
                "customer_number": e164,
                "user_id": user.id,
                "state": "dialing",
                "start_date": now,
                "conversation_id": conversation.id if conversation and conversation.channel_id == channel else False,
            }
        )
        call._record_on_timeline()
        try:
            call.channel_id._provider()._originate(call)
        except ProviderError as exc:
            call.write(
                {
                    "state": "ended",
                    "end_date": fields.Datetime.now(),
                    "provider_outcome": "failed",
                    "hangup_cause_text": str(exc)[:200],
                }
            )
            call._settle_outcome()
            call.interaction_id._set_summary(call._summary())
            # Kept on the timeline as a failed call (raising would roll it back), and said plainly.
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "title": _("The call could not be placed"),
                    "message": _("The phone system refused it: %(error)s", error=exc),
                    "type": "danger",
                    "sticky": True,
                },
            }
        return call._dial_notification()

    def _dial_notification(self):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Calling %(who)s", who=self.partner_id.name or self.customer_number),
                "message": _(
                    "Your phone (%(ext)s) rings first; pick it up to call %(number)s.",
                    ext=self.user_id.omni_extension or "",
                    number=self._formatted_number(),
                ),
                "type": "info",
                "sticky": False,
            },
        }

    # ------------------------------------------------------------ timeline
    def _omni_timeline_details(self):
        """What the timeline shows of each call, read live."""
        outcomes = dict(self._fields["outcome"]._description_selection(self.env))
        states = dict(self._fields["state"]._description_selection(self.env))
        result = {}
        for call in self:
            details = [(_("Outcome"), outcomes[call.outcome] if call.outcome else states[call.state])]
            if call.talk_seconds:
                details.append((_("Talk time"), _talk(call.env, call.talk_seconds)))
            if call.user_id:
                details.append((_("Agent"), call.user_id.name))
            if call.customer_number:
                details.append((_("Number"), call._formatted_number()))
            elif call.withheld:
                details.append((_("Number"), _("Withheld")))
            if call.hangup_cause_text and call.outcome not in ("answered", False):
                details.append((_("Hang-up cause"), call.hangup_cause_text))
            if call.note:
                details.append((_("Note"), call.note))
            result[call.id] = details
        return result
