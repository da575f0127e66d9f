import base64
import binascii
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id

from ..tools.identifiers import email_spellings
from ..tools.jobs import trigger
from .omnichannel_interaction import DIALOGUE_KINDS, DIRECTIONS, KINDS

DEFAULT_MAX_BODY_CHARS = 65536
MAX_BATCH = 1000
SENDER_KEYS = ("provider_id", "phone", "email")  # in the order they identify someone best
# Written by Odoo from their document (sale, stock, account, point_of_sale), never sent by a channel.
BUSINESS_KINDS = {"order", "delivery", "invoice", "payment", "pos_order"}
MAX_KEY_CHARS = 255  # external_id, thread_key, sender identifiers, file names
MAX_ATTACHMENTS = 50
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks drift; a date further ahead is a wrong one
OLDEST_DATE = datetime(1970, 1, 1)


def _is_empty(value):
    """Absent, as JSON null, Python's None or False, or an empty string (not 0)."""
    return value is None or value is False or value == ""


def _is_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def _shown(value):
    """``value`` quoted in an error message: short, with NUL and surrogates escaped."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int) and abs(value) < 10**18 or isinstance(value, float):
        return repr(value)
    return {int: "a large number", dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


class OmnichannelIngest(models.AbstractModel):
    """The single entry point through which every channel records what customers do.

    ``ingest(events)`` takes one event or a list of them (dicts) and returns the
    ``omnichannel.interaction`` of each, in order. An event:

    - ``channel_id`` (required): an ``omnichannel.channel`` id;
    - ``external_id``: the provider's id of the event; (channel, external_id) is unique,
      so a redelivered event returns the existing interaction and writes nothing;
      text of at most 255 characters, or an integer (42 and "42" are the same id), as is
      ``thread_key``;
    - ``direction``: inbound (default), outbound or internal;
    - ``kind``: message (default), email, call, visit, note; the back-office kinds (order,
      delivery, invoice, payment, pos_order) only with the ``res_model``/``res_id`` of their
      document, which only server code gives;
    - ``date``: a datetime or an ISO 8601 string; naive means UTC; default now; from 1970
      to at most 5 minutes ahead;
    - ``sender``: {phone, email, provider_id, name}; or ``partner_id`` when known;
    - ``body`` (text), ``summary``, ``thread_key``, ``attachments``
      ([{name, mimetype, datas (base64)}]), ``res_model``/``res_id`` of a source record,
      ``conversation_id``, ``user_id``, ``mail_message_id``.

    Every event is validated before anything is written: a bad one raises a
    ``ValidationError`` naming its field, and nothing of the call is kept.
    """

    _name = "omnichannel.ingest"
    _description = "Omnichannel Ingestion"

    @api.model
    @api.returns("omnichannel.interaction")  # over RPC, the ids
    def ingest(self, events):
        # Channels call it as the system; over Odoo's RPC only managers may push events,
        # since an event can speak for any customer, agent or conversation.
        if not self.env.su and not self.env.user.has_group("omnichannel_base.group_omnichannel_manager"):
            raise AccessError(_("Only Omnichannel managers may push events into the ingest service."))
        if isinstance(events, dict):
            events = [events]
        elif isinstance(events, (str, bytes, int, float)) or events is None:
            raise ValidationError(_("Send one event (an object) or a list of them, not %s.", _shown(events)))
        events = list(events)
        if len(events) > MAX_BATCH:
            raise ValidationError(
                _("%(count)s events in one call; send at most %(max)s at a time.", count=len(events), max=MAX_BATCH)
            )
        channels = self._active_channels(events)
        prepared = [self._prepare_event(raw, position, channels) for position, raw in enumerate(events, 1)]
        with self.env.cr.savepoint():
            ids = self._ingest_prepared(prepared)
        return self.env["omnichannel.interaction"].browse(ids)

    # ------------------------------------------------------------ validation
    def _invalid(self, position, field, message):
        return ValidationError(
            _("Event %(position)s, %(field)s: %(message)s", position=position, field=field, message=message)
        )

    def _active_channels(self, events):
        """{id: channel} of the active channels the events name, read in one query."""
        ids = set()
        for event in events:
            channel_id = event.get("channel_id") if isinstance(event, dict) else None
            channel_id = channel_id.id if isinstance(channel_id, models.BaseModel) else channel_id
            if _is_id(channel_id):
                ids.add(channel_id)
        channels = self.env["omnichannel.channel"].sudo().browse(ids).exists()
        return {channel.id: channel for channel in channels if channel.active}

    @api.model
    def _prepare_event(self, raw, position, channels):
        """Check and normalise one event; raise ValidationError naming the field at fault.

        Nothing here writes, so a refused event leaves no trace. Text that PostgreSQL or
        UTF-8 cannot hold (a NUL character, an unpaired surrogate) is refused, never cleaned.
        """
        if not isinstance(raw, dict):
            raise self._invalid(position, "event", _("expected an object, got %s", _shown(raw)))
        channel_id = raw.get("channel_id")
        if isinstance(channel_id, models.BaseModel):
            channel_id = channel_id.id
        if _is_empty(channel_id):
            raise self._invalid(position, "channel_id", _("every event needs the channel it came through"))
        channel = channels.get(channel_id) if _is_id(channel_id) else None
        if not channel:
            raise self._invalid(position, "channel_id", _("no active channel has the id %s", _shown(channel_id)))
        event = {
            "position": position,
            "channel": channel,
            "direction": self._check_choice(raw.get("direction"), "direction", DIRECTIONS, "inbound", position),
            "kind": self._check_choice(raw.get("kind"), "kind", KINDS, "message", position),
            "date": self._parse_date(raw.get("date"), position),
            "thread_key": self._check_key(raw.get("thread_key"), "thread_key", position),
            "external_id": self._check_key(raw.get("external_id"), "external_id", position),
            "conversation_id": self._check_id(raw.get("conversation_id"), "conversation_id", position),
            "user_id": self._check_id(raw.get("user_id"), "user_id", position),
            "mail_message_id": self._check_id(raw.get("mail_message_id"), "mail_message_id", position),
        }
        self._check_source(raw, event)
        event["body"] = self._check_text(raw.get("body"), "body", position)
        event["summary"] = self._check_text(raw.get("summary"), "summary", position)
        event["attachments"] = self._check_attachments(raw.get("attachments"), position)
        self._prepare_sender(raw, event)
        return event

    def _check_choice(self, value, field, selection, default, position):
        if _is_empty(value):
            return default
        if not isinstance(value, str) or value not in dict(selection):
            raise self._invalid(
                position,
                field,
                _("%(value)s is not one of %(allowed)s", value=_shown(value), allowed=", ".join(dict(selection))),
            )
        return value

    def _check_key(self, value, field, position):
        """A provider's key (external_id, thread_key): text of at most 255 characters, or an
        integer, read as its decimal text so that 42 and "42" are the same key."""
        if _is_empty(value):
            return None
        value = self._integer_as_text(value, field, position)
        if not isinstance(value, str):
            raise self._invalid(position, field, _("must be a string or an integer, not %s", _shown(value)))
        return self._check_string(value.strip(), field, position, MAX_KEY_CHARS) or None

    def _integer_as_text(self, value, field, position):
        if not isinstance(value, int) or isinstance(value, bool):
            return value
        if abs(value) >= 10**MAX_KEY_CHARS:
            raise self._invalid(position, field, _("more than %(max)s digits", max=MAX_KEY_CHARS))
        return str(value)

    def _check_id(self, value, field, position):
        """A record id given by server code (the API removes these fields): a positive integer."""
        if isinstance(value, models.BaseModel):
            value = value.id
        if _is_empty(value):
            return None
        if not _is_id(value):
            raise self._invalid(position, field, _("must be a record id, not %s", _shown(value)))
        return value

    def _check_source(self, raw, event):
        """The document of a back-office event. Orders, deliveries, invoices and payments are
        put on the timeline by Odoo from the document itself, never by a channel's client."""
        position = event["position"]
        res_model, res_id = raw.get("res_model"), self._check_id(raw.get("res_id"), "res_id", position)
        if _is_empty(res_model):
            res_model = None
        elif not isinstance(res_model, str) or res_model not in self.env or not self.env[res_model]._auto:
            raise self._invalid(position, "res_model", _("%s is not a model", _shown(res_model)))
        if bool(res_model) != bool(res_id):
            raise self._invalid(position, "res_model" if res_id else "res_id", _("give both res_model and res_id"))
        if res_model and not self.env[res_model].sudo().browse(res_id).exists():
            raise self._invalid(position, "res_id", _("no %(model)s has the id %(id)s", model=res_model, id=res_id))
        if event["kind"] in BUSINESS_KINDS and not res_model:
            raise self._invalid(
                position,
                "kind",
                _(
                    "%(kind)r events are recorded by Odoo from the document itself (res_model and "
                    "res_id), not sent by a channel; use one of %(allowed)s",
                    kind=event["kind"],
                    allowed=", ".join(kind for kind, _label in KINDS if kind not in BUSINESS_KINDS),
                ),
            )
        event["res_model"], event["res_id"] = res_model, res_id

    def _check_string(self, value, field, position, max_chars=None):
        """``value`` if it is text PostgreSQL can store, of at most ``max_chars`` characters."""
        if not isinstance(value, str):
            raise self._invalid(position, field, _("must be text, not %s", _shown(value)))
        if max_chars and len(value) > max_chars:
            raise self._invalid(
                position, field, _("%(size)s characters; at most %(max)s", size=len(value), max=max_chars)
            )
        if "\x00" in value:
            raise self._invalid(
                position, field, _("contains a NUL character (\\u0000), which cannot be stored; remove it")
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self._invalid(
                position,
                field,
                _("contains an unpaired UTF-16 surrogate (such as \\ud800), which is not Unicode text; remove it"),
            ) from None
        return value

    def _check_text(self, value, field, position):
        if _is_empty(value):
            return None
        limit = int(
            self.env["ir.config_parameter"].sudo().get_param("omnichannel.max_body_chars", DEFAULT_MAX_BODY_CHARS)
        )
        if isinstance(value, str) and len(value) > limit:
            raise self._invalid(
                position,
                field,
                _(
                    "%(size)s characters is over the limit of %(limit)s (System Parameter "
                    "'omnichannel.max_body_chars'); send long content as an attachment",
                    size=len(value),
                    limit=limit,
                ),
            )
        return self._check_string(value, field, position)

    def _check_attachments(self, attachments, position):
        if _is_empty(attachments) or attachments == []:
            return []
        if not isinstance(attachments, list):
            raise self._invalid(position, "attachments", _("must be a list of {name, mimetype, datas}"))
        if len(attachments) > MAX_ATTACHMENTS:
            raise self._invalid(
                position,
                "attachments",
                _("%(count)s files; at most %(max)s", count=len(attachments), max=MAX_ATTACHMENTS),
            )
        checked = []
        for index, attachment in enumerate(attachments, 1):
            field = f"attachments[{index}]"
            if not isinstance(attachment, dict) or _is_empty(attachment.get("name")) or not attachment.get("datas"):
                raise self._invalid(position, field, _("needs a name and base64 datas"))
            name = self._check_string(attachment["name"], f"{field}.name", position, MAX_KEY_CHARS)
            mimetype = attachment.get("mimetype")
            mimetype = None if _is_empty(mimetype) else self._check_string(mimetype, f"{field}.mimetype", position, 255)
            datas = attachment["datas"]
            try:
                if not isinstance(datas, str):
                    raise TypeError
                base64.b64decode(datas, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise self._invalid(position, f"{field}.datas", _("is not valid base64")) from None
            checked.append({"name": name, "mimetype": mimetype, "datas": datas})
        return checked

    def _parse_date(self, value, position):
        """A naive UTC datetime; refuses dates before 1970 or more than a few minutes ahead."""
        if _is_empty(value):
            return fields.Datetime.now()
        not_a_date = self._invalid(
            position, "date", _("%s is not an ISO 8601 date-time such as 2026-11-23T10:15:00Z", _shown(value))
        )
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str) and len(value) <= 64:
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise not_a_date from None
        else:
            raise not_a_date
        if parsed.tzinfo:
            try:
                parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
            except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
                raise not_a_date from None
        parsed = parsed.replace(microsecond=0)
        now = fields.Datetime.now()
        if parsed > now + FUTURE_TOLERANCE:
            raise self._invalid(
                position,
                "date",
                _(
                    "%(date)s UTC is in the future (it is %(now)s UTC); send when the event happened",
                    date=parsed,
                    now=now.replace(microsecond=0),
                ),
            )
        if parsed < OLDEST_DATE:
            raise self._invalid(position, "date", _("%(date)s is before 1970", date=parsed))
        return parsed

    def _prepare_sender(self, raw, event):
        """Fill event['partner_id'] (known partner) or event['identities'] (ordered (kind, value))."""
        position, channel = event["position"], event["channel"]
        event["partner_id"] = partner_id = self._check_id(raw.get("partner_id"), "partner_id", position)
        sender = raw.get("sender")
        if _is_empty(sender):
            sender = {}
        if not isinstance(sender, dict):
            raise self._invalid(position, "sender", _("must be an object with phone, email, provider_id or name"))
        Identity = self.env["omnichannel.identity"]
        identities = []
        for key in SENDER_KEYS:
            value = sender.get(key)
            if _is_empty(value):
                continue
            field = f"sender.{key}"
            if key != "email":
                value = self._integer_as_text(value, field, position)  # a Telegram chat id, say
            value = self._check_string(value, field, position, MAX_KEY_CHARS)
            kind = {"provider_id": "external", "phone": "phone", "email": "email"}[key]
            if kind == "external":
                value = f"{channel.channel_type}:{value}"
            try:
                identities.append((kind, Identity._normalize(kind, value, channel.country_id.code)))
            except ValueError as exc:
                raise self._invalid(position, field, str(exc)) from None
        name = sender.get("name")
        if not _is_empty(name):
            self._check_string(name, "sender.name", position)
        event["identities"] = identities
        event["sender_name"] = (name or "").strip()[:128] or None
        if not partner_id and not identities:
            raise self._invalid(position, "sender", _("no usable identifier: give a phone, an email or a provider_id"))

    # ------------------------------------------------------------ writing
    def _ingest_prepared(self, events):
        Interaction = self.env["omnichannel.interaction"].sudo()
        Interaction.flush_model()
        result = [None] * len(events)
        keyed = [e for e in events if e["external_id"]]
        existing = {}
        if keyed:
            keys = list({(e["channel"].id, e["external_id"]) for e in keyed})
            # A join on unnest() plans in constant time; a row-value IN list plans one branch per key.
            self.env.cr.execute(
                """SELECT i.channel_id, i.external_id, i.id
                     FROM omnichannel_interaction i
                     JOIN unnest(%s::int[], %s::varchar[]) AS k(channel_id, external_id)
                       ON i.channel_id = k.channel_id AND i.external_id = k.external_id
                    WHERE i.external_id IS NOT NULL""",
                [[key[0] for key in keys], [key[1] for key in keys]],
            )
            existing = {(channel_id, ext): id_ for channel_id, ext, id_ in self.env.cr.fetchall()}
        todo, first_of_key = [], {}
        for event in events:
            key = (event["channel"].id, event["external_id"]) if event["external_id"] else None
            if key in existing:
                result[event["position"] - 1] = existing[key]
            elif key and key in first_of_key:
                event["same_as"] = first_of_key[key]  # a duplicate inside this very batch
            else:
                if key:
                    first_of_key[key] = event
                todo.append(event)
        if todo:
            self._resolve_partners(todo)
            self._touch_partners(todo)
            self._route_conversations(todo)
            self._post_messages(todo)
            self._insert_interactions(todo)
        for event in events:
            if result[event["position"] - 1] is None:
                result[event["position"] - 1] = (event.get("same_as") or event)["interaction_id"]
        return result

    def _resolve_partners(self, events):
        """Give each event a partner: known by one of its identities, by a partner field, or new."""
        Identity = self.env["omnichannel.identity"].sudo()
        Partner = self.env["res.partner"].sudo()
        by_company = defaultdict(list)
        for event in events:
            if not event["partner_id"]:
                by_company[event["channel"].company_id].append(event)
        for company, company_events in by_company.items():
            claims = []
            pairs = {pair for event in company_events for pair in event["identities"]}
            indexed = {pair: partner_id for pair, (_id, partner_id) in Identity._lookup(pairs, company).items()}
            known = dict(indexed)
            if pairs - set(known):
                known.update(self._match_partner_fields(pairs - set(known), company))
            # Senders nobody knows become contacts: one per identifier, created in one batch.
            new_partner_of, newcomers = {}, []
            for event in company_events:
                if any(p in known or p in new_partner_of for p in event["identities"]):
                    continue
                for pair in event["identities"]:
                    new_partner_of[pair] = len(newcomers)
                newcomers.append(event)
            created = self._create_partners(newcomers)
            new_partner_of = {pair: created[index].id for pair, index in new_partner_of.items()}
            claimed = set(indexed)
            for event in company_events:
                partner_id = next(
                    (
                        known.get(p) or new_partner_of.get(p)
                        for p in event["identities"]
                        if p in known or p in new_partner_of
                    )
                )
                for pair in event["identities"]:
                    # Index what we learnt, unless that identifier is another contact's.
                    if pair not in claimed and known.get(pair, partner_id) == partner_id:
                        claimed.add(pair)
                        claims.append((partner_id, *pair, event["channel"]))
                event["partner_id"] = partner_id
            if claims:
                # Claimed now, so that the next company's lookup finds the shared contacts
                # this one just created rather than create them again.
                partners = Partner.browse({c[0] for c in claims})
                company_of = {p.id: p.company_id.id or None for p in partners}
                Identity._claim(
                    [(pid, kind, value, company_of[pid], "channel", channel.id) for pid, kind, value, channel in claims]
                )
        partners = Partner.browse({e["partner_id"] for e in events}).exists()
        unknown = {e["partner_id"] for e in events} - set(partners.ids)
        if unknown:
            event = next(e for e in events if e["partner_id"] in unknown)
            raise self._invalid(event["position"], "partner_id", _("no contact has the id %r", event["partner_id"]))
        commercial = {p.id: p.commercial_partner_id.id for p in partners}
        for event in events:
            event["commercial_partner_id"] = commercial[event["partner_id"]]

    def _match_partner_fields(self, pairs, company):
        """Partners whose email or phone/mobile fields hold one of ``pairs``, for identities not yet indexed.

        Only contacts ``company`` may see (shared ones, its own and its parent companies');
        as with identities, the nearest company's contact wins, then the oldest.
        """
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        visible = company.sudo().parent_ids.ids or company.ids
        company_domain = [("company_id", "in", [False, *visible])]

        def nearest_first(partners):
            rank = {company_id: rank for rank, company_id in enumerate(visible, 1)}
            return partners.sorted(lambda partner: (-rank.get(partner.company_id.id, 0), partner.id))

        found = {}
        spelled = {spelling: value for kind, value in pairs if kind == "email" for spelling in email_spellings(value)}
        if spelled:
            domain = [("email_normalized", "in", list(spelled))] + company_domain
            for partner in nearest_first(Partner.search(domain)):
                found.setdefault(("email", spelled[partner.email_normalized]), partner.id)
        phones = [value for kind, value in pairs if kind == "phone"]
        if phones:
            for partner in nearest_first(Partner.search([("phone_sanitized", "in", phones)] + company_domain)):
                found.setdefault(("phone", partner.phone_sanitized), partner.id)
        return found

    def _create_partners(self, events):
        """New contacts for the senders of ``events``, named from their provider profile.

        Shared between companies, as Odoo's contacts are, unless the channel keeps its new
        contacts in its company.
        """
        vals_list = []
        for event in events:
            values = dict(event["identities"])
            name = (
                event["sender_name"]
                or values.get("email")
                or values.get("phone")
                or values.get("external", "").split(":", 1)[-1]
            )
            vals_list.append(
                {
                    "name": name,
                    "phone": values.get("phone"),
                    "email": values.get("email"),
                    "company_id": event["channel"].company_id.id if event["channel"].new_contacts_restricted else False,
                    "omni_source_channel_id": event["channel"].id,
                }
            )
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_context(tracking_disable=True, mail_create_nolog=True, omni_skip_identity_sync=True)
        )
        if not vals_list:
            return Partner
        # Defaults are the same for the whole batch: compute them once, not per contact.
        defaults = Partner.default_get([name for name, field in Partner._fields.items() if field.store])
        return Partner.create([{**defaults, **vals} for vals in vals_list])

    def _touch_partners(self, events):
        """Record the last contact, and serialise concurrent ingests of one customer.

        Updating the partner row makes a concurrent transaction touching the same
        customer wait, then fail with a serialization error and be retried, so two
        first messages of one customer never open two conversations.
        """
        last = defaultdict(lambda: datetime.min)
        for event in events:
            last[event["partner_id"]] = max(last[event["partner_id"]], event["date"])
        self.env["res.partner"].flush_model(["omni_last_contact_date"])
        self.env.cr.execute(
            f"""UPDATE res_partner p
                   SET omni_last_contact_date = GREATEST(p.omni_last_contact_date, v.date)
                  FROM (VALUES {", ".join(["%s"] * len(last))}) AS v(id, date)
                 WHERE p.id = v.id""",
            list(last.items()),
        )
        self.env["res.partner"].invalidate_model(["omni_last_contact_date"])

    def _route_conversations(self, events):
        """Dialogue events join the customer's open conversation on the channel, or open one."""
        Conversation = self.env["omnichannel.conversation"].sudo()
        for event in events:
            event["conversation"] = Conversation.browse(event["conversation_id"] or [])
        dialogue = sorted(
            (e for e in events if e["kind"] in DIALOGUE_KINDS and e["direction"] != "internal"),
            key=lambda e: e["date"],
        )
        pending = [e for e in dialogue if not e["conversation"]]
        opening, channel_of = defaultdict(list), {}  # key of a conversation to open -> its messages
        if pending:
            key_of = {id(e): (e["partner_id"], e["channel"].id, e["thread_key"]) for e in pending}
            current = self._conversations_by_key(key_of.values(), resolved=False)
            for event in pending:
                key = key_of[id(event)]
                if key not in current and (key in opening or event["direction"] == "inbound"):
                    channel_of[key] = event["channel"]
                    opening[key].append((event["direction"], event["date"]))
                    event["opens"] = True
            if opening:
                current.update(self._reopen_or_open(channel_of, opening))
            for event in pending:
                event["conversation"] = current.get(key_of[id(event)], Conversation)
        joined = defaultdict(list)  # conversation that existed -> its new messages
        # A caller that registers its outbound events itself, later (a call counts as the agent's
        # answer once answered, not when dialled), asks with the context key omnichannel_unregistered.
        unregistered = self.env.context.get("omnichannel_unregistered")
        for event in dialogue:
            if unregistered and event["direction"] == "outbound":
                continue
            if event["conversation"] and not event.get("opens"):
                joined[event["conversation"]].append((event["direction"], event["date"]))
        for conversation, messages in joined.items():
            # The chatter shows the messages themselves; tracking their effect on the
            # state too would double the writes of every message.
            conversation.with_context(tracking_disable=True)._register_messages(messages)

    def _conversations_by_key(self, keys, resolved):
        """{(partner, channel, thread key): conversation} of the open, or last resolved, ones."""
        Conversation = self.env["omnichannel.conversation"].sudo()
        Conversation.flush_model()
        rows = self.env.execute_query(self._conversation_by_key_query(list(set(keys)), resolved))
        # One recordset, so that reading one conversation's fields reads them all (prefetch).
        conversation_of = {conversation.id: conversation for conversation in Conversation.browse([r[3] for r in rows])}
        return {
            (partner_id, channel_id, thread_key or None): conversation_of[conversation_id]
            for partner_id, channel_id, thread_key, conversation_id in rows
        }

    def _conversation_by_key_query(self, keys, resolved):
        """One index probe per key (omnichannel_conversation_one_open, _last_resolved): a
        customer with years of resolved conversations costs what a new one does."""
        return SQL(
            """SELECT k.partner_id, k.channel_id, k.thread_key, c.id
                 FROM unnest(%s::int[], %s::int[], %s::varchar[]) AS k(partner_id, channel_id, thread_key)
                 CROSS JOIN LATERAL (
                       SELECT id FROM omnichannel_conversation c
                        WHERE c.partner_id = k.partner_id AND c.channel_id = k.channel_id
                          AND COALESCE(c.thread_key, '') = k.thread_key AND %s
                     ORDER BY c.resolved_date DESC NULLS LAST, c.id DESC
                        LIMIT 1) AS c""",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] or "" for k in keys],
            SQL("c.state = 'resolved'") if resolved else SQL("c.state != 'resolved'"),
        )

    def _reopen_or_open(self, channel_of_key, messages_of):
        """Conversations for keys with none open: the last resolved one reopened, if the
        channel says so, else a new one created in one batch, each in the state its
        ``messages_of[key]`` lead to."""
        Conversation = self.env["omnichannel.conversation"].sudo().with_context(tracking_disable=True)
        reopenable = [key for key, channel in channel_of_key.items() if channel.reopen_policy == "reopen"]
        result = self._conversations_by_key(reopenable, resolved=True) if reopenable else {}
        for key, conversation in result.items():
            current = {field: conversation[field] for field in Conversation.MESSAGE_FIELDS}
            values = Conversation._values_after_messages(dict(current, state="open"), messages_of[key])
            conversation.write(dict(values, resolved_date=False))  # a reopening shows in the chatter
        new_keys = [key for key in channel_of_key if key not in result]
        # Nobody follows a conversation for having opened it: ingest runs as the system, or as
        # the public user of a webhook. Its agent follows once assigned.
        created = Conversation.with_context(mail_create_nolog=True, mail_create_nosubscribe=True).create(
            [
                {
                    "partner_id": key[0],
                    "channel_id": key[1],
                    "thread_key": key[2],
                    **Conversation._values_after_messages({}, messages_of[key]),
                }
                for key in new_keys
            ]
        )
        result.update(zip(new_keys, created))
        return result

    def _post_messages(self, events):
        """Put each dialogue event's text in its conversation's chatter, in one batch."""
        to_post = [
            e for e in events if e["conversation"] and (e["body"] or e["attachments"]) and not e["mail_message_id"]
        ]
        if not to_post:
            return
        comment = self.env.ref("mail.mt_comment")
        for event in to_post:
            # Customers write inbound messages; outbound ones are the agent's, or ours.
            user = self.env["res.users"].browse(event["user_id"]) if event["user_id"] else self.env.user
            event["author_id"] = event["partner_id"] if event["direction"] == "inbound" else user.partner_id.id
        authors = self.env["res.partner"].browse({e["author_id"] for e in to_post})
        email_from = {author.id: author.email_formatted for author in authors}
        Message = self.env["mail.message"].sudo()
        defaults = Message.default_get([name for name, field in Message._fields.items() if field.store])
        messages = Message.create(
            [
                {
                    **defaults,
                    "model": "omnichannel.conversation",
                    "res_id": event["conversation"].id,
                    "record_name": event["conversation"].name,
                    "message_type": "comment",
                    "subtype_id": comment.id,
                    "author_id": event["author_id"],
                    "email_from": email_from[event["author_id"]],
                    "reply_to": False,  # answers go back through the channel, not by email
                    "message_id": generate_tracking_message_id("omnichannel"),
                    "body": Markup("<p>%s</p>")
                    % Markup("<br/>").join(escape(line) for line in (event["body"] or "").splitlines()),
                    "date": event["date"],
                }
                for event in to_post
            ]
        )
        Attachment = self.env["ir.attachment"].sudo()
        for event, message in zip(to_post, messages):
            event["mail_message_id"] = message.id
            if event["attachments"]:
                message.attachment_ids = Attachment.create(
                    [
                        dict(attachment, res_model="omnichannel.conversation", res_id=event["conversation"].id)
                        for attachment in event["attachments"]
                    ]
                )
        # As message_post would: the conversation's followers (its agent among them) get an Odoo
        # inbox notification or an email, as each of them prefers. Conversations nobody follows
        # (no agent yet) are skipped with one query for the whole batch.
        inbound = [(event, message) for event, message in zip(to_post, messages) if event["direction"] == "inbound"]
        followed = (
            self.env["mail.followers"]
            .sudo()
            ._read_group(
                [
                    ("res_model", "=", "omnichannel.conversation"),
                    ("res_id", "in", list({event["conversation"].id for event, _message in inbound})),
                ],
                ["res_id"],
            )
        )
        followed = {res_id for (res_id,) in followed}
        # Emails are queued, not sent when this transaction commits: neither a webhook batch nor
        # an API call waits for the mail server (one connection per message), and Odoo's mail
        # queue, woken here, sends them seconds later rather than at its next hourly run.
        notified = [(event, message) for event, message in inbound if event["conversation"].id in followed]
        for event, message in notified:
            event["conversation"].with_context(mail_notify_force_send=False)._notify_thread(message)
        if notified:
            trigger(self.env, "mail.ir_cron_mail_scheduler_action")

    def _insert_interactions(self, events):
        """Write the timeline rows, in one statement.

        ON CONFLICT makes a concurrent delivery of the same event fail with a
        serialization error under REPEATABLE READ, so its transaction is retried and
        then returns the row written here: never two rows for one event.
        """
        rows = [
            {
                "partner_id": event["partner_id"],
                "commercial_partner_id": event["commercial_partner_id"],
                "channel_id": event["channel"].id,
                "channel_type": event["channel"].channel_type,
                "company_id": event["channel"].company_id.id,
                "kind": event["kind"],
                "direction": event["direction"],
                "date": event["date"],
                "summary": self._summary(event),
                "conversation_id": event["conversation"].id or None,
                "mail_message_id": event["mail_message_id"],
                "user_id": event["user_id"],
                "res_model": event["res_model"],
                "res_id": event["res_id"],
                "external_id": event["external_id"],
            }
            for event in events
        ]
        ids = self.env["omnichannel.interaction"]._insert_rows(rows)
        if len(ids) != len(rows):
            # Only reachable outside REPEATABLE READ; refuse rather than lose the order of ids.
            raise ValidationError(_("Some of these events were recorded by another transaction meanwhile; retry."))
        for event, interaction_id in zip(events, ids):
            event["interaction_id"] = interaction_id

    def _summary(self, event):
        text = event["summary"] or event["body"] or ", ".join(a["name"] for a in event["attachments"]) or ""
        first_line = " ".join(text.split())
        return first_line[:200] + ("…" if len(first_line) > 200 else "") or None
