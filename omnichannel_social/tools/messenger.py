"""Messenger Platform webhook deliveries (Facebook Pages and Instagram Direct) read into plain
items. Pure Python, no ORM.

Meta delivers both through the same contract: a JSON body ``{"object": "page" | "instagram",
"entry": [{"id": <page id or Instagram professional account id>, "time", "messaging": [...]}]}``,
each ``messaging`` element one event with ``sender.id``, ``recipient.id`` and a ``timestamp`` in
milliseconds. Page-scoped (PSID) and Instagram-scoped (IGSID) user ids play the same part.
Sources: Messenger Platform "Webhook Events Reference" (messages, message_echoes,
message_edits, message_reactions, message_deliveries, message_reads, messaging_postbacks) and
"Webhooks for Instagram Messaging" (messages with ``is_deleted``, ``is_echo``, story replies
and mentions, ``messaging_seen``, reactions, postbacks). Instagram apps using Instagram Login
may get the same events as ``changes`` (``{"field": "messages", "value": <event>}``): read too.

As for WhatsApp (tools/whatsapp.py): ignore what we do not know (keys, event kinds Meta adds
later, ``standby`` events of another app's thread), reject what we cannot use with the JSON
path of the first offending part. Produced texts carry no UI words; the Odoo side adds its
translated notes.

Items (``dict``), each with ``account_id`` (the entry's page or account id), ``customer`` (the
PSID or IGSID of the person on the other side) and ``date`` (naive UTC datetime)::

    {"type": "message", "external_id" (mid), "echo" (bool: the page's own message),
     "metadata" (what our send put in ``message.metadata``, echoed back, or None),
     "app_id" (the app that sent an echo, or None), "text" (or None),
     "attachments": [{"type" (image|video|audio|file|story_mention|share|…), "url", "title"}],
     "quick_reply" (payload or None), "reply_to" (mid or None),
     "story" (None or {"url", "id", "mention": bool}: a story replied to, or mentioning us),
     "unsupported" (bool), "referral" (ref/source or None)}
    {"type": "postback", "external_id" (mid or None), "title", "payload"}
    {"type": "edit", "external_id", "text", "count"}
    {"type": "delete", "external_id"}
    {"type": "reaction", "external_id" (mid reacted to), "emoji" ("" when removed), "reaction"}
    {"type": "delivery", "mids": [...], "watermark" (datetime or None)}
    {"type": "read", "mid" (or None), "watermark" (datetime or None)}
"""

import datetime
import re

from .whatsapp import MAX_ID_LENGTH, PayloadError, _json_type, _objects, _text

OBJECTS = ("page", "instagram")
# Change fields Instagram Login apps get messaging events under.
MESSAGING_FIELDS = (
    "messages",
    "messaging_postbacks",
    "messaging_seen",
    "message_reactions",
    "message_edits",
    "messaging_referral",
)
_MS_RE = re.compile(r"^\d{1,16}$")
__all__ = ["OBJECTS", "PayloadError", "parse_delivery"]


def parse_delivery(payload):
    """Read one webhook delivery (the decoded JSON body) into a list of items, in payload order."""
    if not isinstance(payload, dict):
        raise PayloadError(f"the delivery is a JSON {_json_type(payload)}, not an object")
    if payload.get("object") not in OBJECTS:
        raise PayloadError(f"object is {payload.get('object')!r}, not 'page' or 'instagram'")
    items = []
    for entry_path, entry in _objects(payload, "entry", "entry"):
        account_id = _id(entry.get("id"), entry_path + ".id")
        events = []
        if "messaging" in entry or "changes" not in entry:
            events.extend(_objects(entry, "messaging", entry_path + ".messaging"))
        for change_path, change in _objects(entry, "changes", entry_path + ".changes", optional=True):
            if change.get("field") in MESSAGING_FIELDS:
                if not isinstance(change.get("value"), dict):
                    raise PayloadError(f"{change_path}.value is not an object")
                events.append((change_path + ".value", change["value"]))
        for path, event in events:
            item = _read_event(event, path, account_id)
            if item:
                items.append(item)
    return items


def _read_event(event, path, account_id):
    message = event.get("message")
    echo = isinstance(message, dict) and message.get("is_echo") is True
    sender = _party(event, "sender", path)
    recipient = _party(event, "recipient", path, optional=True)
    customer = recipient if echo else sender
    if echo and not customer:
        raise PayloadError(f"{path}: an echo without recipient.id")
    if customer == account_id and not echo:
        return None  # our own account's read receipts and the like: nothing about a customer
    base = {"account_id": account_id, "customer": customer, "date": _date(event.get("timestamp"), path + ".timestamp")}
    if isinstance(message, dict):
        return _read_message(base, message, path + ".message", echo)
    if "message" in event:
        raise PayloadError(f"{path}.message is not an object")
    for key, reader in _READERS.items():
        content = event.get(key)
        if content is None:
            continue
        if not isinstance(content, dict):
            raise PayloadError(f"{path}.{key} is not an object")
        return reader(base, content, f"{path}.{key}")
    return None  # an event kind this addon does not use (referral, optin, handover, …)


def _read_message(base, message, path, echo):
    mid = _id(message.get("mid"), path + ".mid")
    if message.get("is_deleted") is True:
        return {**base, "type": "delete", "external_id": mid}
    item = {
        **base,
        "type": "message",
        "external_id": mid,
        "echo": echo,
        "metadata": _text(message.get("metadata")) if echo else None,
        "app_id": _text(message.get("app_id")),
        "text": _text(message.get("text")),
        "attachments": [],
        "quick_reply": None,
        "reply_to": None,
        "story": None,
        "unsupported": message.get("is_unsupported") is True,
        "referral": None,
    }
    quick_reply = message.get("quick_reply")
    if isinstance(quick_reply, dict):
        item["quick_reply"] = _text(quick_reply.get("payload"))
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict):
        item["reply_to"] = _optional_id(reply_to.get("mid"))
        story = reply_to.get("story")
        if isinstance(story, dict):
            item["story"] = {"url": _url(story.get("url")), "id": _text(story.get("id")), "mention": False}
    referral = message.get("referral")
    if isinstance(referral, dict):
        item["referral"] = _text(referral.get("ref")) or _text(referral.get("source"))
    attachments = message.get("attachments")
    if attachments is not None and not isinstance(attachments, list):
        raise PayloadError(f"{path}.attachments is not a list")
    for index, attachment in enumerate(attachments or []):
        if not isinstance(attachment, dict):
            raise PayloadError(f"{path}.attachments[{index}] is not an object")
        kind = _text(attachment.get("type")) or "file"
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
        url = _url(payload.get("url"))
        if kind == "story_mention":
            item["story"] = {"url": url, "id": _text(payload.get("id")), "mention": True}
            continue
        item["attachments"].append(
            {"type": kind, "url": url, "title": _text(attachment.get("title") or payload.get("title"))}
        )
    return item


def _read_postback(base, postback, path):
    return {
        **base,
        "type": "postback",
        "external_id": _optional_id(postback.get("mid")),
        "title": _text(postback.get("title")),
        "payload": _text(postback.get("payload")),
    }


def _read_edit(base, edit, path):
    count = edit.get("num_edit")
    return {
        **base,
        "type": "edit",
        "external_id": _id(edit.get("mid"), path + ".mid"),
        "text": _text(edit.get("text")) or "",
        "count": count if isinstance(count, int) and not isinstance(count, bool) else None,
    }


def _read_reaction(base, reaction, path):
    action = reaction.get("action")
    if action not in ("react", "unreact"):
        raise PayloadError(f"{path}.action: {action!r} is neither 'react' nor 'unreact'")
    emoji = _text(reaction.get("emoji")) or _text(reaction.get("reaction")) or ""
    return {
        **base,
        "type": "reaction",
        "external_id": _id(reaction.get("mid"), path + ".mid"),
        "emoji": emoji[:32] if action == "react" else "",
        "reaction": _text(reaction.get("reaction")),
    }


def _read_delivery(base, delivery, path):
    mids = delivery.get("mids")
    if mids is not None and not isinstance(mids, list):
        raise PayloadError(f"{path}.mids is not a list")
    watermark = delivery.get("watermark")
    return {
        **base,
        "type": "delivery",
        "mids": [_id(mid, f"{path}.mids[{index}]") for index, mid in enumerate(mids or [])],
        "watermark": _date(watermark, path + ".watermark") if watermark is not None else None,
    }


def _read_read(base, read, path):
    watermark = read.get("watermark")
    mid = _optional_id(read.get("mid"))
    if watermark is None and not mid:
        raise PayloadError(f"{path}: neither watermark nor mid")
    return {
        **base,
        "type": "read",
        "mid": mid,
        "watermark": _date(watermark, path + ".watermark") if watermark is not None else None,
    }


_READERS = {
    "postback": _read_postback,
    "message_edit": _read_edit,
    "reaction": _read_reaction,
    "delivery": _read_delivery,
    "read": _read_read,
}


# ---------------------------------------------------------------------------------------------
# small readers


def _party(event, key, path, optional=False):
    party = event.get(key)
    if not isinstance(party, dict) or party.get("id") is None:
        if optional:
            return None
        raise PayloadError(f"{path}: no {key}.id")
    return _id(party.get("id"), f"{path}.{key}.id")


def _id(value, path):
    text = _text(value)
    if not text:
        raise PayloadError(f"{path}: {value!r} is not an id")
    if len(text) > MAX_ID_LENGTH:
        raise PayloadError(f"{path}: {len(text)} characters, more than {MAX_ID_LENGTH}")
    return text.strip()


def _optional_id(value):
    text = _text(value)
    return text.strip() if text and len(text) <= MAX_ID_LENGTH else None


def _url(value):
    text = _text(value)
    return text if text and text.startswith(("https://", "http://")) and len(text) <= 4096 else None


def _date(raw, path):
    """Meta's milliseconds since 1970 (a number, sometimes a string) as a naive UTC datetime."""
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not _MS_RE.match(text):
        raise PayloadError(f"{path}: {raw!r} is not a time in milliseconds")
    try:
        return datetime.datetime.fromtimestamp(int(text) / 1000, datetime.timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{path}: {raw!r} is out of range") from None
