"""WhatsApp Cloud API webhook deliveries read into plain items. Pure Python, no ORM.

:func:`parse_delivery` turns one delivery (the JSON body Meta POSTs, object
``whatsapp_business_account``) into a list of items, in payload order: inbound messages,
statuses of our outbound messages, marketing opt-outs (``user_preferences``) and
account-level errors. :func:`wa_id_phones` gives the E.164 spellings a WhatsApp user id may
be stored under.

Shapes follow Meta's "messages webhook reference" (one page per message type) and the
"user_preferences webhook reference" of the WhatsApp Business Platform. The rule, as for
every provider here: ignore what we do not know (keys, change fields, status values Meta adds
later), reject what we cannot use. A delivery we cannot use raises :class:`PayloadError` with
the JSON path of the first offending part (``entry[0].changes[1].value.messages[2]: no id``);
nothing is dropped quietly, so one broken message fails its whole delivery, where it can be
seen, instead of vanishing. Optional, decorative parts (profile name, referral, context) of
the wrong type are treated as absent.

Produced texts carry no UI words: they hold what the customer sent (text, captions, the
titles of the buttons they tapped, locations, shared contacts, orders); the Odoo side adds
its own translated notes from ``message_type``, ``unsupported``, ``reaction`` and
``number_change``.

Items (``dict``)::

    {"type": "message", "phone_number_id", "display_phone_number", "external_id" (wamid),
     "date" (naive UTC datetime), "wa_id" (sender, digits), "user_id" (business-scoped user id
     or None), "name" (profile name or None), "message_type" (Meta's type), "body" (text or
     None), "media" (None or {"id", "mime_type", "filename", "caption", "sha256", "url",
     "voice", "animated"}), "reply_to" (wamid or None), "forwarded" (bool), "reaction" (None or
     {"message_id", "emoji"}; emoji "" when the reaction was removed), "number_change" (None or
     {"old_wa_id", "new_wa_id"}), "unsupported" (None, or Meta's type or error title),
     "referral" (click-to-WhatsApp ad dict or None), "reply_id" (id of the tapped button or list
     row, or a template button's payload), "referred_product" (None or {"catalog_id",
     "product_retailer_id"}), "errors" (list, as below)}
    {"type": "status", "phone_number_id", "external_id", "state" (sent|delivered|read|failed),
     "date", "recipient" (wa_id or None), "user_id", "errors": [{"code", "title", "message",
     "details"}], "callback_data" (biz_opaque_callback_data or None)}
    {"type": "preference", "phone_number_id", "wa_id", "user_id", "value" ("stop"|"resume"),
     "category", "date", "detail"}
    {"type": "error", "phone_number_id", "errors": [...]}

Status values: Meta's ``played`` (a voice message was played, 2026) is reported as ``read``;
other values are ignored. Preference values other than ``stop``/``resume`` are ignored too.
"""

import datetime
import json
import math
import re

import phonenumbers

WHATSAPP_OBJECT = "whatsapp_business_account"
STATES = ("sent", "delivered", "read", "failed")
_STATE_ALIASES = {"played": "read"}
PREFERENCE_VALUES = ("stop", "resume")
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_NUMBER_CHANGES = ("user_changed_number", "customer_changed_number")
_REFERRAL_KEYS = (
    "source_url",
    "source_id",
    "source_type",
    "body",
    "headline",
    "media_type",
    "image_url",
    "video_url",
    "thumbnail_url",
    "ctwa_clid",
)
_WA_ID_RE = re.compile(r"^\+?(\d{6,15})$")
_TIMESTAMP_RE = re.compile(r"^\d{1,12}$")
# PostgreSQL stores neither NUL characters nor unpaired surrogates (which JSON's "\udxxx" escapes
# can carry): they become U+FFFD, so that the customer's message still arrives, readable.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
# Ids are stored in unique indexes, which refuse values over about 2700 bytes; Meta's are under 100.
MAX_ID_LENGTH = 255


class PayloadError(ValueError):
    """The delivery cannot be used at all; ``str(err)`` names the offending part and why."""


# ---------------------------------------------------------------------------------------------
# wa_id -> stored phone numbers


def wa_id_phones(wa_id):
    """Return the E.164 spellings (``"+..."``) a customer with WhatsApp id ``wa_id`` may be
    stored under, the most likely first; ``[]`` when ``wa_id`` is no phone number at all
    (not a string of digits, more than 15 digits, or no country code behind it).

    A wa_id is usually the number in E.164 without ``+``. The documented exceptions (Meta's
    "WhatsApp user ID and phone number may not always match"; BSP notes on Brazil, Mexico and
    Argentina) are:

    * Mexico: accounts keep ``521`` + 10 digits although the mobile ``1`` was abolished in
      2019; the number is ``+52`` + 10 digits.
    * Argentina: mobiles are ``549`` + area + number. People store them with the ``9``
      (phonenumbers' E.164 for a mobile, and what ``0AA 15 …`` normalises to) or without it
      (``+54 AA …``, which reads as a landline).
    * Brazil: mobiles gained a ninth digit (9) in 2012-2016; older accounts outside areas
      11-19, 21, 22, 24, 27 and 28 kept the 8-digit id, and people may have kept the 8-digit
      number in their address books. Both spellings are returned, the 9-digit one first.

    Only spellings phonenumbers finds possible are returned.
    """
    match = _WA_ID_RE.match(wa_id) if isinstance(wa_id, str) else None
    if not match:
        return []
    digits = match.group(1)
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return []
    if phonenumbers.region_code_for_country_code(parsed.country_code) == phonenumbers.UNKNOWN_REGION:
        return []
    national = digits[len(str(parsed.country_code)) :]
    rule = _WA_ID_RULES.get(parsed.country_code)
    candidates = rule(national) if rule else []
    candidates = candidates or ["+" + digits]
    phones = [phone for phone in dict.fromkeys(candidates) if _possible(phone)]
    return phones or ["+" + digits]


def _mexico(national):
    if len(national) == 11 and national.startswith("1"):
        return ["+52" + national[1:]]
    return ["+52" + national]


def _argentina(national):
    if len(national) == 11 and national.startswith("9"):
        return ["+54" + national, "+54" + national[1:]]
    if len(national) == 10:
        return ["+54" + national, "+549" + national]
    return []


def _brazil(national):
    area, subscriber = national[:2], national[2:]
    if len(subscriber) == 9 and subscriber[0] == "9":
        return ["+55" + national, "+55" + area + subscriber[1:]]
    if len(subscriber) == 8 and subscriber[0] in "6789":
        return ["+55" + area + "9" + subscriber, "+55" + national]
    return []


_WA_ID_RULES = {52: _mexico, 54: _argentina, 55: _brazil}


def _possible(phone):
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return False


# ---------------------------------------------------------------------------------------------
# deliveries -> items


def parse_delivery(payload):
    """Read one webhook delivery (the decoded JSON body) into a list of items, in payload
    order. Change fields other than ``messages`` and ``user_preferences`` are ignored."""
    if not isinstance(payload, dict):
        raise PayloadError(f"the delivery is a JSON {_json_type(payload)}, not an object")
    if payload.get("object") != WHATSAPP_OBJECT:
        raise PayloadError(f"object is {payload.get('object')!r}, not {WHATSAPP_OBJECT!r}")
    items = []
    for entry_path, entry in _objects(payload, "entry", "entry"):
        for change_path, change in _objects(entry, "changes", entry_path + ".changes"):
            field = change.get("field")
            if not isinstance(field, str) or not field:
                raise PayloadError(f"{change_path}: no field")
            if field not in ("messages", "user_preferences"):
                continue
            value = change.get("value")
            value_path = change_path + ".value"
            if not isinstance(value, dict):
                raise PayloadError(f"{value_path} is not an object")
            items.extend(_read_value(value, value_path))
    return items


def _read_value(value, path):
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        raise PayloadError(f"{path}: no metadata")
    phone_number_id = _text(metadata.get("phone_number_id"))
    if not phone_number_id:
        raise PayloadError(f"{path}.metadata: no phone_number_id")
    business = {
        "phone_number_id": phone_number_id,
        "display_phone_number": _text(metadata.get("display_phone_number")),
    }
    contacts = _contacts(value.get("contacts"))
    items = []
    for message_path, message in _objects(value, "messages", path + ".messages", optional=True):
        items.append(_read_message(message, message_path, business, contacts))
    for status_path, status in _objects(value, "statuses", path + ".statuses", optional=True):
        item = _read_status(status, status_path, phone_number_id)
        if item:
            items.append(item)
    for pref_path, pref in _objects(value, "user_preferences", path + ".user_preferences", optional=True):
        item = _read_preference(pref, pref_path, phone_number_id)
        if item:
            items.append(item)
    errors = _errors(value, path)
    if errors:
        items.append({"type": "error", "phone_number_id": phone_number_id, "errors": errors})
    return items


def _read_message(message, path, business, contacts):
    external_id = _text(message.get("id"))
    if not external_id:
        raise PayloadError(f"{path}: no id")
    date = _date(message, path)
    user_id = _text(message.get("from_user_id"))
    if "from" not in message:
        # Since the 2026 usernames, Meta may leave out "from" and give only a business-scoped
        # user id; this addon finds customers by phone, so such a message cannot be placed.
        hint = f" (only business-scoped user id {user_id!r})" if user_id else ""
        raise PayloadError(f"{path}: no from{hint}")
    wa_id = _wa_id(message.get("from"), path + ".from")
    contact = contacts.get(wa_id) or (next(iter(contacts.values())) if len(contacts) == 1 else {})
    message_type = _text(message.get("type"))
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    item = {
        "type": "message",
        **business,
        "external_id": external_id,
        "date": date,
        "wa_id": wa_id,
        "user_id": user_id or contact.get("user_id"),
        "name": contact.get("name"),
        "message_type": message_type,
        "body": None,
        "media": None,
        "reply_to": _text(context.get("id")),
        "forwarded": bool(context.get("forwarded") or context.get("frequently_forwarded")),
        "reaction": None,
        "number_change": None,
        "unsupported": None,
        "referral": _referral(message.get("referral")),
        "reply_id": None,
        "referred_product": _referred_product(context.get("referred_product")),
        "errors": _errors(message, path),
    }
    reader = _CONTENT_READERS.get(message_type)
    content = message.get(message_type) if message_type else None
    if reader is None:
        item["unsupported"] = _unsupported_reason(message_type, content, item["errors"])
    else:
        reader(item, content if isinstance(content, dict) else {}, f"{path}.{message_type}", message)
    return item


def _read_text(item, content, path, message):
    item["body"] = _text(content.get("body"))


def _read_media(item, content, path, message):
    media_id = _text(content.get("id"))
    if not media_id:
        raise PayloadError(f"{path}: no id")
    _check_length(media_id, path + ".id")
    caption = _text(content.get("caption"))
    item["media"] = {
        "id": media_id,
        "mime_type": _text(content.get("mime_type")),
        "filename": _text(content.get("filename")),
        "caption": caption,
        "sha256": _text(content.get("sha256")),
        "url": _text(content.get("url")),
        "voice": content.get("voice") is True,
        "animated": content.get("animated") is True,
    }
    item["body"] = caption


def _read_location(item, content, path, message):
    lat, lon = _coordinate(content.get("latitude"), 90), _coordinate(content.get("longitude"), 180)
    place = ", ".join(part for part in (_text(content.get("name")), _text(content.get("address"))) if part)
    lines = []
    if lat is not None and lon is not None:
        lines.append(f"📍 {place or f'{lat}, {lon}'}")
        lines.append(f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}")
    elif place:
        lines.append(f"📍 {place}")
    url = _text(content.get("url"))
    if url and lines:
        lines.append(url)
    item["body"] = "\n".join(lines) or None


def _read_contacts(item, content, path, message):
    cards = message.get("contacts")
    lines = [_contact_line(card) for card in cards if isinstance(card, dict)] if isinstance(cards, list) else []
    item["body"] = "\n".join(line for line in lines if line) or None


def _contact_line(card):
    name = card.get("name") if isinstance(card.get("name"), dict) else {}
    full_name = _text(name.get("formatted_name")) or " ".join(
        part for part in (_text(name.get(key)) for key in ("first_name", "middle_name", "last_name")) if part
    )
    org = card.get("org") if isinstance(card.get("org"), dict) else {}
    company = _text(org.get("company"))
    if company:
        full_name = f"{full_name} ({company})" if full_name else company
    phones = [
        _text(phone.get("phone")) or ("+" + phone["wa_id"] if _text(phone.get("wa_id")) else None)
        for phone in _list_of_objects(card.get("phones"))
    ]
    emails = [_text(email.get("email")) for email in _list_of_objects(card.get("emails"))]
    return ", ".join(part for part in (full_name, *phones, *emails) if part)


def _read_reaction(item, content, path, message):
    message_id = _text(content.get("message_id"))
    if not message_id:
        raise PayloadError(f"{path}: no message_id")
    # Meta leaves "emoji" out when the customer removes their reaction.
    item["reaction"] = {"message_id": message_id, "emoji": _text(content.get("emoji")) or ""}


def _read_interactive(item, content, path, message):
    kind = _text(content.get("type"))
    reply = content.get(kind) if kind and isinstance(content.get(kind), dict) else None
    if kind in ("button_reply", "list_reply") and reply is not None:
        title, description = _text(reply.get("title")), _text(reply.get("description"))
        item["body"] = "\n".join(part for part in (title, description) if part) or None
        item["reply_id"] = _text(reply.get("id"))
    elif kind == "nfm_reply" and reply is not None:
        item["body"] = _text(_flow_response(reply.get("response_json")))
    else:
        item["unsupported"] = kind or "interactive"


def _flow_response(response_json):
    """One ``key: value`` line per answer of a completed WhatsApp Flow (its ``response_json``);
    the flow_token is ours, not the customer's."""
    if not isinstance(response_json, str) or not response_json.strip():
        return None
    try:
        answers = json.loads(response_json)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python reads
        return response_json
    if not isinstance(answers, dict):
        return response_json
    lines = [
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in answers.items()
        if key != "flow_token"
    ]
    return "\n".join(lines) or None


def _read_button(item, content, path, message):
    item["body"] = _text(content.get("text"))
    item["reply_id"] = _text(content.get("payload"))


def _read_order(item, content, path, message):
    lines = [_text(content.get("text"))]
    for product in _list_of_objects(content.get("product_items")):
        line = f"{_number(product.get('quantity'))} × {_text(product.get('product_retailer_id')) or '?'}"
        price = _number(product.get("item_price"))
        if price != "?":
            line += f" — {price} {_text(product.get('currency')) or ''}".rstrip()
        lines.append(line)
    item["body"] = "\n".join(line for line in lines if line) or None


def _read_system(item, content, path, message):
    kind = _text(content.get("type"))
    if kind not in _NUMBER_CHANGES:
        item["unsupported"] = kind or "system"
        return
    # Cloud API webhooks v12+ give the new id in "wa_id"; older ones in "new_wa_id" and the
    # previous one in "customer". The sender ("from") is the old number either way.
    new = content.get("wa_id") if "wa_id" in content else content.get("new_wa_id")
    if new is None:
        item["unsupported"] = kind
        return
    new_path = f"{path}.wa_id" if "wa_id" in content else f"{path}.new_wa_id"
    old = _wa_id(content["customer"], f"{path}.customer") if "customer" in content else item["wa_id"]
    item["number_change"] = {"old_wa_id": old, "new_wa_id": _wa_id(new, new_path)}


_CONTENT_READERS = {
    "text": _read_text,
    **dict.fromkeys(MEDIA_TYPES, _read_media),
    "location": _read_location,
    "contacts": _read_contacts,
    "reaction": _read_reaction,
    "interactive": _read_interactive,
    "button": _read_button,
    "order": _read_order,
    "system": _read_system,
}


def _unsupported_reason(message_type, content, errors):
    """Meta's name for what we cannot show: the inner type of an ``unsupported`` message
    (``poll_update``…), else the first error title (131051 "Message type unknown", 131060 "This
    message is currently unavailable"), else the message type itself."""
    if message_type == "unsupported" and isinstance(content, dict) and _text(content.get("type")):
        return _text(content.get("type"))
    titles = [error["title"] for error in errors if error["title"]]
    return titles[0] if titles else (message_type or "unknown")


def _read_status(status, path, phone_number_id):
    external_id = _text(status.get("id"))
    if not external_id:
        raise PayloadError(f"{path}: no id")
    _check_length(external_id, path + ".id")
    raw_state = _text(status.get("status"))
    if not raw_state:
        raise PayloadError(f"{path}: no status")
    date = _date(status, path)
    errors = _errors(status, path)
    state = _STATE_ALIASES.get(raw_state, raw_state)
    if state not in STATES:
        return None
    return {
        "type": "status",
        "phone_number_id": phone_number_id,
        "external_id": external_id,
        "state": state,
        "date": date,
        "recipient": _text(status.get("recipient_id")),
        "user_id": _text(status.get("recipient_user_id")),
        "errors": errors,
        "callback_data": _text(status.get("biz_opaque_callback_data")),
    }


def _read_preference(pref, path, phone_number_id):
    if "wa_id" not in pref:
        user_id = _text(pref.get("user_id"))
        hint = f" (only business-scoped user id {user_id!r})" if user_id else ""
        raise PayloadError(f"{path}: no wa_id{hint}")
    wa_id = _wa_id(pref.get("wa_id"), path + ".wa_id")
    value = _text(pref.get("value"))
    if not value:
        raise PayloadError(f"{path}: no value")
    date = _date(pref, path)
    if value not in PREFERENCE_VALUES:
        return None
    return {
        "type": "preference",
        "phone_number_id": phone_number_id,
        "wa_id": wa_id,
        "user_id": _text(pref.get("user_id")),
        "value": value,
        "category": _text(pref.get("category")),
        "date": date,
        "detail": _text(pref.get("detail")),
    }


# ---------------------------------------------------------------------------------------------
# small readers


def _objects(container, key, path, optional=False):
    """``(path, object)`` for each element of ``container[key]``, which must be a list of
    objects (or absent, when ``optional``)."""
    if key not in container and optional:
        return []
    elements = container.get(key)
    if not isinstance(elements, list):
        raise PayloadError(f"{path} is not a list" if key in container else f"{path} is missing")
    for index, element in enumerate(elements):
        if not isinstance(element, dict):
            raise PayloadError(f"{path}[{index}] is not an object")
    return [(f"{path}[{index}]", element) for index, element in enumerate(elements)]


def _errors(container, path):
    """Meta's ``errors`` array as ``[{"code", "title", "message", "details"}]``."""
    errors = []
    for _error_path, error in _objects(container, "errors", path + ".errors", optional=True):
        data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
        errors.append(
            {
                "code": _int(error.get("code")),
                "title": _text(error.get("title")),
                "message": _text(error.get("message")),
                "details": _text(data.get("details")),
            }
        )
    return errors


def _contacts(contacts):
    """Profile name and business-scoped id of each sender, by wa_id."""
    by_wa_id = {}
    for contact in _list_of_objects(contacts):
        profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
        wa_id = _text(contact.get("wa_id"))
        by_wa_id[wa_id.lstrip("+") if wa_id else None] = {
            "name": _text(profile.get("name")),
            "user_id": _text(contact.get("user_id")),
        }
    return by_wa_id


def _referral(referral):
    if not isinstance(referral, dict):
        return None
    result = {key: _text(referral.get(key)) for key in _REFERRAL_KEYS}
    welcome = referral.get("welcome_message")
    result["welcome_message"] = _text(welcome.get("text")) if isinstance(welcome, dict) else None
    return result


def _referred_product(product):
    if not isinstance(product, dict):
        return None
    return {
        "catalog_id": _text(product.get("catalog_id")),
        "product_retailer_id": _text(product.get("product_retailer_id")),
    }


def _wa_id(value, path):
    match = _WA_ID_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise PayloadError(f"{path}: {value!r} is not a WhatsApp id (6 to 15 digits)")
    return match.group(1)


def _date(container, path):
    """Meta's unix ``timestamp`` (a string of seconds; an integer in user_preferences) as a
    naive UTC datetime."""
    if "timestamp" not in container:
        raise PayloadError(f"{path}: no timestamp")
    raw = container["timestamp"]
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not _TIMESTAMP_RE.match(text):
        raise PayloadError(f"{path}.timestamp: {raw!r} is not a unix time")
    try:
        return datetime.datetime.fromtimestamp(int(text), datetime.timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{path}.timestamp: {raw!r} is out of range") from None


def _check_length(value, path):
    if len(value) > MAX_ID_LENGTH:
        raise PayloadError(f"{path}: {len(value)} characters, more than {MAX_ID_LENGTH}")


def _coordinate(value, bound):
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or abs(number) > bound:
        return None
    return f"{number:.6f}".rstrip("0").rstrip(".")


def _number(value):
    """A quantity or price as the customer would read it (``2``, ``7.99``), ``?`` if absent."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return "?"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(str(value).strip()) or "?"


def _text(value):
    """A non-empty string, or None. Ids Meta documents as strings may come as numbers."""
    if isinstance(value, str):
        return _UNSTORABLE_RE.sub("\ufffd", value) if value.strip() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _list_of_objects(value):
    return [element for element in value if isinstance(element, dict)] if isinstance(value, list) else []


def _json_type(value):
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__
