import re
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import fields, models
from odoo.exceptions import AccessError, UserError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.misc import formatLang
from odoo.tools.translate import LazyTranslate

from odoo.addons.omnichannel_base.models.omnichannel_ingest import _is_id
from odoo.addons.omnichannel_base.models.omnichannel_interaction import CHANNEL_ICONS, KIND_ICONS
from odoo.addons.omnichannel_base.models.res_partner import PREFERENCE_WINDOW_DAYS
from odoo.addons.omnichannel_base.tools.identifiers import normalize_phone

from .pos_order import PAID_STATES

_lt = LazyTranslate(__name__)

CONTEXT_INTERACTIONS = 8
CONTEXT_CONVERSATIONS = 10
CONTEXT_ORDERS = 5
CONTEXT_CARDS = 10
MIN_PHONE_DIGITS = 6
PHONE_SEARCH_OPERATORS = ("=", "ilike", "=ilike", "like")
MAX_NOTE_CHARS = 1000
# The client's uuid of a logged interaction: what a POS generates (uuid4), or any short key.
CLIENT_UUID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# How old a store interaction the POS kept while offline may be when it is sent.
MAX_LOG_AGE_DAYS = 30
# What the cashier logs -> how the timeline names it.
LOG_KINDS = {"visit": _lt("Visit"), "request": _lt("Request"), "complaint": _lt("Complaint")}
ORDER_ORIGINS = {"store": _lt("In store"), "online": _lt("Online")}


def _storable(text):
    """Whether ``text`` can be stored: Unicode (no lone surrogate), with no control character
    but line breaks and tabs (PostgreSQL refuses NUL)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(char) < 32 and char not in "\r\n\t" for char in text)


class ResPartner(models.Model):
    _inherit = "res.partner"

    omni_phone_search = fields.Char(
        string="Phone (Any Format)",
        compute="_compute_omni_phone_search",
        search="_search_omni_phone_search",
        help="Finds contacts by a phone number typed in any format, through their omnichannel identities.",
    )

    def _compute_omni_phone_search(self):
        self.omni_phone_search = False

    def _search_omni_phone_search(self, operator, value):
        """Contacts one of whose phone identities is ``value`` read as a phone number of the
        company's country: '+34 629 18 43 05', '629184305', '0034629184305' and '34629184305'
        are one number. Anything else finds nothing, never an error: the POS searches every
        field with what the cashier types, names included."""
        if operator not in PHONE_SEARCH_OPERATORS or not isinstance(value, str):
            return expression.FALSE_DOMAIN
        raw = value.replace("%", "").strip()
        digits = re.sub(r"\D", "", raw)
        if len(digits) < MIN_PHONE_DIGITS or len(raw) > 64:
            return expression.FALSE_DOMAIN
        region = self.env.company.country_id.code
        try:
            e164 = normalize_phone(raw, region)
        except ValueError:
            # Not a national number: digits said without their '+' ("34 629…") are an international one.
            try:
                e164 = normalize_phone(f"+{digits}", None)
            except ValueError:
                return expression.FALSE_DOMAIN
        found = self.env["omnichannel.identity"]._lookup([("phone", e164)], self.env.company)
        ids = sorted({partner_id for _identity_id, partner_id in found.values()})
        return [("id", "in", ids)] if ids else expression.FALSE_DOMAIN

    # ------------------------------------------------------------ POS: customer context
    def omnichannel_pos_context(self, config_id):
        """What the POS shows of this customer when the cashier selects them (see README).

        Cashiers need no Omnichannel group: the caller must be a POS user (or an Omnichannel
        agent) who may read the contact; the panel's data is then read as the system, limited
        to the user's current companies and to a few rows of each kind, by indexed queries
        (a customer with 100,000 interactions costs what a new one does).
        """
        config = self._omni_pos_check_access(config_id)
        companies = self.env.companies.ids
        partner = self.sudo()
        field = partner._omni_timeline_field()
        interactions = partner._omni_pos_interactions(field, companies)
        channel_labels = dict(
            self.env["omnichannel.interaction"]._fields["channel_type"]._description_selection(self.env)
        )
        last = interactions[0] if interactions else None
        preferred = partner._omni_pos_preferred_channel(field, companies)
        # Read, not made: opening the panel writes nothing (the channel is made by the first visit logged).
        channel = config.sudo().omni_channel_id
        return {
            "partner": {"id": partner.id, "name": partner.name or ""},
            "last_contact": {
                "date": last["date"] if last else False,
                "channel_type": last["channel_type"] if last else False,
                "channel_label": last["channel_label"] if last else False,
            },
            "preferred_channel": {"channel_type": preferred, "channel_label": channel_labels.get(preferred, preferred)}
            if preferred
            else False,
            "interactions": interactions,
            "conversations": partner._omni_pos_conversations(field, companies),
            "consents": partner._omni_pos_consents(companies),
            "orders": partner._omni_pos_orders(companies),
            "loyalty": partner._omni_pos_loyalty(config),
            # The store channel's own team first: the one a request usually goes to.
            "teams": [
                [team.id, team.name]
                for team in self.env["omnichannel.team"]
                .sudo()
                .search_fetch([("company_id", "=", config.company_id.id)], ["name"])
                .sorted(lambda team: team != channel.team_id)
            ],
            "default_team_id": channel.team_id.id or False,
            "store_channel": {"id": channel.id, "name": channel.name} if channel else False,
        }

    def _omni_pos_check_access(self, config_id):
        """The POS config of a context or log call by the current user on this contact, once
        the user may ask for it: a POS user or Omnichannel agent, who may read the contact,
        at a point of sale of one of their current companies."""
        _ = self.env._
        user = self.env.user
        if not (
            user.has_group("point_of_sale.group_pos_user") or user.has_group("omnichannel_base.group_omnichannel_user")
        ):
            raise AccessError(_("Only Point of Sale users can see a customer's context or log store interactions."))
        if len(self) != 1:
            raise UserError(_("Ask for one customer at a time, not %(count)s.", count=len(self)))
        self.check_access("read")
        config = self.env["pos.config"].sudo().browse(config_id if _is_id(config_id) else []).exists()
        if not config:
            raise UserError(_("No point of sale has the id %(id)r.", id=config_id))
        if config.company_id not in self.env.companies:
            raise AccessError(
                _("The point of sale %(name)s belongs to a company you are not working in.", name=config.name)
            )
        return config

    def _omni_pos_interactions(self, field, companies):
        """The last interactions on a channel, newest first: one probe of the timeline index."""
        Interaction = self.env["omnichannel.interaction"]
        rows = Interaction.sudo().search_fetch(
            [(field, "=", self.id), ("channel_id", "!=", False), ("company_id", "in", companies)],
            ["date", "channel_type", "kind", "direction", "summary"],
            order="date DESC, id DESC",
            limit=CONTEXT_INTERACTIONS,
        )
        channel_labels = dict(Interaction._fields["channel_type"]._description_selection(self.env))
        kind_labels = dict(Interaction._fields["kind"]._description_selection(self.env))
        return [
            {
                "id": row.id,
                "date": fields.Datetime.to_string(row.date),
                "channel_type": row.channel_type or False,
                "channel_label": channel_labels.get(row.channel_type, False),
                "icon": CHANNEL_ICONS.get(row.channel_type) or KIND_ICONS.get(row.kind, "fa-circle"),
                "kind_label": kind_labels.get(row.kind, row.kind),
                "direction": row.direction,
                "summary": row.summary or "",
            }
            for row in rows
        ]

    def _omni_pos_preferred_channel(self, field, companies):
        """The channel type this customer reached us on most in the last 12 months (ties: the
        most recent), as ``_omni_preferred_channel_query`` says, within ``companies``."""
        Interaction = self.env["omnichannel.interaction"]
        Interaction.flush_model()
        # The one query of the panel that reads many rows (a year of one customer's messages,
        # by the timeline index). On a big table the planner would JIT-compile it or start
        # parallel workers, which costs more than the scan itself (42 ms serial, 90 ms in
        # parallel, for 66,000 rows): neither for the rest of this short transaction.
        self.env.cr.execute("SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0")
        rows = self.env.execute_query(
            SQL(
                """SELECT channel_type FROM omnichannel_interaction
                    WHERE %(column)s = %(partner)s AND direction = 'inbound' AND channel_type IS NOT NULL
                      AND date >= %(since)s AND company_id = ANY(%(companies)s)
                 GROUP BY channel_type
                 ORDER BY COUNT(*) DESC, MAX(date) DESC
                    LIMIT 1""",
                column=SQL.identifier(field),
                partner=self.id,
                since=fields.Datetime.now() - timedelta(days=PREFERENCE_WINDOW_DAYS),
                companies=list(companies),
            )
        )
        return rows[0][0] if rows else False

    def _omni_pos_conversations(self, field, companies):
        Conversation = self.env["omnichannel.conversation"].sudo()
        conversations = Conversation.search_fetch(
            [(field, "=", self.id), ("state", "!=", "resolved"), ("company_id", "in", companies)],
            ["name", "channel_type", "state", "user_id", "team_id"],
            order="last_message_date DESC NULLS LAST, id DESC",
            limit=CONTEXT_CONVERSATIONS,
        )
        channel_labels = dict(Conversation._fields["channel_type"]._description_selection(self.env))
        state_labels = dict(Conversation._fields["state"]._description_selection(self.env))
        return [
            {
                "id": conversation.id,
                "name": conversation.name or "",
                "channel_type": conversation.channel_type or False,
                "channel_label": channel_labels.get(conversation.channel_type, False),
                "icon": CHANNEL_ICONS.get(conversation.channel_type, "fa-comments"),
                "state": conversation.state,
                "state_label": state_labels.get(conversation.state),
                "agent": conversation.user_id.name or False,
                "team": conversation.team_id.name or False,
            }
            for conversation in conversations
        ]

    def _omni_pos_consents(self, companies):
        """Per channel, where the customer stands, as ``omnichannel.consent._opted_out`` decides
        it: out of every message while their last choice for all messages is an opt-out (a
        later marketing choice does not lift it), else their last choice (the consent index
        gives both per channel)."""
        Consent = self.env["omnichannel.consent"].sudo()
        Consent.flush_model()
        rows = self.env.execute_query(
            SQL(
                """SELECT last.channel_id, last.opt, last.scope, last.date, every.opt, every.date
                     FROM (SELECT DISTINCT ON (channel_id) channel_id, opt, scope, date
                             FROM omnichannel_consent
                            WHERE partner_id = %(partner)s AND company_id = ANY(%(companies)s)
                         ORDER BY channel_id, date DESC, id DESC) AS last
                LEFT JOIN LATERAL (SELECT opt, date FROM omnichannel_consent
                                    WHERE partner_id = %(partner)s AND channel_id = last.channel_id
                                      AND scope = 'all'
                                 ORDER BY date DESC, id DESC
                                    LIMIT 1) AS every ON TRUE""",
                partner=self.id,
                companies=list(companies),
            )
        )
        channels = self.env["omnichannel.channel"].sudo().browse([row[0] for row in rows])
        channels.fetch(["name", "channel_type"])
        channel_labels = dict(channels._fields["channel_type"]._description_selection(self.env))
        opt_labels = dict(Consent._fields["opt"]._description_selection(self.env))
        _ = self.env._
        consents = []
        for (_channel_id, opt, scope, date, opt_for_all, date_for_all), channel in zip(rows, channels, strict=True):
            if opt_for_all == "out":
                opt, scope, date = "out", "all", date_for_all
            label = opt_labels.get(opt)
            if scope == "marketing":
                label = _("Opted Out of Marketing") if opt == "out" else _("Opted In to Marketing")
            consents.append(
                {
                    "channel_name": channel.name,
                    "channel_type": channel.channel_type,
                    "channel_label": channel_labels.get(channel.channel_type, False),
                    "opt": opt,
                    "opt_label": label,
                    "scope": scope,
                    "date": fields.Datetime.to_string(date),
                }
            )
        return consents

    def _omni_pos_orders(self, companies):
        """The last paid POS orders and confirmed sales orders, merged by date."""
        partner_domain = (
            [("partner_id", "child_of", self.id)]
            if self._omni_timeline_field() == "commercial_partner_id"
            else [("partner_id", "=", self.id)]
        )
        sources = [
            ("pos.order", "store", [("state", "in", PAID_STATES)]),
            ("sale.order", "online", [("state", "=", "sale")]),
        ]
        orders = []
        for model, origin, state_domain in sources:
            if model not in self.env:
                continue
            found = (
                self.env[model]
                .sudo()
                .search_fetch(
                    [*partner_domain, *state_domain, ("company_id", "in", companies)],
                    ["name", "date_order", "amount_total", "currency_id"],
                    order="date_order DESC, id DESC",
                    limit=CONTEXT_ORDERS,
                )
            )
            orders += [(order.date_order, origin, order) for order in found]
        orders.sort(key=lambda item: (item[0], item[2].id), reverse=True)
        return [
            {
                "model": order._name,
                "id": order.id,
                "name": order.name,
                "date": fields.Datetime.to_string(date),
                "amount": formatLang(self.env, order.amount_total, currency_obj=order.currency_id),
                "origin": origin,
                "origin_label": self.env._(ORDER_ORIGINS[origin]),
            }
            for date, origin, order in orders[:CONTEXT_ORDERS]
        ]

    def _omni_pos_loyalty(self, config):
        """The customer's cards holding points in programs of the shop's company; False when
        loyalty programs are not installed."""
        if "loyalty.card" not in self.env:
            return False
        today = fields.Date.context_today(self)
        cards = (
            self.env["loyalty.card"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", self.id),
                    ("points", ">", 0),
                    ("company_id", "in", [config.company_id.id, False]),
                    ("program_id.active", "=", True),
                    "|",
                    ("expiration_date", "=", False),
                    ("expiration_date", ">=", today),
                ],
                order="points DESC, id DESC",
                limit=CONTEXT_CARDS,
            )
        )
        return [{"program": card.program_id.name, "points": card.points_display, "code": card.code} for card in cards]

    # ------------------------------------------------------------ POS: logging a store interaction
    def omnichannel_pos_log(self, config_id, values):
        """Log what happened in the store: a visit, a request or a complaint, with a note.

        ``values`` = {"kind": "visit"|"request"|"complaint", "note", "team_id" (or False),
        "uuid" (the client's), "date" (optional, UTC: when the cashier logged it; never later
        than now)}. It lands on the customer's timeline through the shop's store
        channel, attributed to the cashier; with a team, it also opens a conversation for that
        team. The POS replays calls it made offline: a second call with the same uuid returns
        what the first one recorded. Returns {"interaction_id", "conversation_id" (or False)}.
        """
        config = self._omni_pos_check_access(config_id)
        kind, note, team, uuid, logged_at = self._omni_pos_log_values(config, values)
        channel = config._omni_store_channel()
        if not channel.sudo().active:
            raise UserError(
                self.env._(
                    "The store channel %(channel)s of %(shop)s is archived: restore it, or choose another "
                    "in the Point of Sale settings.",
                    channel=channel.sudo().name,
                    shop=config.name,
                )
            )
        external_id = f"pos-{uuid}"
        Interaction = self.env["omnichannel.interaction"].sudo()
        done = Interaction.search_fetch(
            [("channel_id", "=", channel.id), ("external_id", "=", external_id)],
            ["partner_id", "conversation_id"],
            limit=1,
        )
        if done.partner_id and done.partner_id != self:
            # Not a replay: ingest would return the other customer's row and drop this one.
            raise UserError(self.env._("This store interaction was already logged for another customer; log it again."))
        if done:
            return {"interaction_id": done.id, "conversation_id": done.conversation_id.id or False}
        # The same call delivered twice at once: the second waits here, then fails to serialise
        # (ingest updates this row), and its request is retried and finds the first's records.
        self.env["res.partner"].flush_model()
        self.env.cr.execute("SELECT 1 FROM res_partner WHERE id = %s FOR NO KEY UPDATE", [self.id])
        label = self.env._(LOG_KINDS[kind])
        summary = f"{label} · {note}" if note else label
        # When the cashier logged it: a till that was offline sends it later.
        now = min(logged_at or fields.Datetime.now(), fields.Datetime.now())
        conversation = self.env["omnichannel.conversation"]
        if team:
            Conversation = (
                self.env["omnichannel.conversation"]
                .sudo()
                .with_context(tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True)
            )
            conversation = Conversation.create(
                {
                    "partner_id": self.id,
                    "channel_id": channel.id,
                    "team_id": team.id,
                    "thread_key": external_id,
                    **Conversation._values_after_messages({}, [("inbound", now)]),
                }
            )
        interaction = (
            self.env["omnichannel.ingest"]
            .sudo()
            .ingest(
                {
                    "channel_id": channel.id,
                    "partner_id": self.id,
                    "external_id": external_id,
                    "kind": "visit",
                    "direction": "inbound",
                    "date": now,
                    "summary": summary,
                    "user_id": self.env.uid,
                    "conversation_id": conversation.id or None,
                }
            )
        )
        if conversation:
            # The team reads the whole request in the conversation, from the cashier, line by line.
            text = Markup(self.env._("%(kind)s logged at %(shop)s by %(cashier)s: %(note)s")) % {
                "kind": label,
                "shop": config.name,
                "cashier": self.env.user.name,
                "note": Markup("<br/>").join(escape(line) for line in note.splitlines()),
            }
            conversation.message_post(
                body=Markup("<p>%s</p>") % text, message_type="comment", subtype_xmlid="mail.mt_note"
            )
        return {"interaction_id": interaction.id, "conversation_id": conversation.id or False}

    def _omni_pos_log_values(self, config, values):
        """(kind, note, team, uuid, date or False) of a log call, or a UserError saying what is wrong."""
        _ = self.env._
        if not isinstance(values, dict):
            raise UserError(_("The store interaction needs its kind, note and uuid."))
        kind = values.get("kind")
        if kind not in LOG_KINDS:
            raise UserError(
                _(
                    "%(kind)r is not a kind of store interaction; choose %(kinds)s.",
                    kind=kind,
                    kinds=", ".join(_(label) for label in LOG_KINDS.values()),
                )
            )
        note = values.get("note") or ""
        if not isinstance(note, str):
            raise UserError(_("The note must be text."))
        note = note.strip()
        if not _storable(note):
            raise UserError(_("The note holds characters that cannot be stored; retype it."))
        if len(note) > MAX_NOTE_CHARS:
            raise UserError(
                _(
                    "The note has %(size)s characters; keep it under %(max)s.",
                    size=len(note),
                    max=MAX_NOTE_CHARS,
                )
            )
        team_id = values.get("team_id")
        team = self.env["omnichannel.team"]
        if team_id not in (None, False, 0, ""):
            team = team.sudo().browse(team_id if _is_id(team_id) else []).exists()
            if not team or not team.active or team.company_id != config.company_id:
                raise UserError(
                    _("No active team of %(company)s has the id %(id)r.", company=config.company_id.name, id=team_id)
                )
        if (kind != "visit" or team) and not note:
            raise UserError(_("Write down what the customer asked or complained about in the note."))
        uuid = values.get("uuid")
        if not isinstance(uuid, str) or not CLIENT_UUID_RE.fullmatch(uuid):
            raise UserError(_("The store interaction came without a valid uuid from the POS; log it again."))
        logged_at = values.get("date") or False
        if logged_at:
            try:
                logged_at = fields.Datetime.to_datetime(logged_at) if isinstance(logged_at, str) else None
            except ValueError:
                logged_at = None
            if not logged_at:
                raise UserError(_("The store interaction's date must read YYYY-MM-DD HH:MM:SS (UTC)."))
            if logged_at < fields.Datetime.now() - timedelta(days=MAX_LOG_AGE_DAYS):
                raise UserError(
                    _(
                        "The store interaction was logged more than %(days)s days ago; log it again.",
                        days=MAX_LOG_AGE_DAYS,
                    )
                )
        return kind, note, team, uuid, logged_at
