"""Twilio's Programmable Messaging webhooks: the signature and the form fields. Pure Python, no ORM.

Twilio posts ``application/x-www-form-urlencoded`` forms to the webhook URL: incoming SMS/MMS
(Twilio "Incoming message webhook": ``MessageSid``, ``AccountSid``, ``From``, ``To``, ``Body``,
``NumMedia``, ``MediaUrl{N}``, ``MediaContentType{N}``, ``SmsStatus=received``, ``OptOutType``
when Advanced Opt-Out is on) and the status callbacks of messages we sent (``MessageSid``,
``MessageStatus``, ``ErrorCode``, ``To``, ``From``…). Twilio adds fields without notice: unknown
ones are ignored, but every field is signed.

``X-Twilio-Signature`` (Twilio "Webhooks security"): base64 of HMAC-SHA1, keyed with the
account's Auth Token, of the full URL Twilio requested followed by each POST field's name and
value, fields sorted by name. A name given several times contributes each distinct value, in
sorted order, as Twilio's own helper libraries do.
"""

import re

from odoo.addons.omnichannel_base.tools.twilio_signature import is_authentic, signature, url_variants  # noqa: F401

# Statuses of a Message resource (Twilio "Message resource", status values) as our delivery
# states. Absent: accepted, scheduled, queued and sending (not yet with the carrier: the outbox
# already says "sent to the provider"), canceled (a scheduled message we never schedule).
STATES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",  # channels with read receipts (WhatsApp through Twilio, RCS)
    "undelivered": "failed",
    "failed": "failed",
}
INBOUND_STATUSES = {"received", "receiving"}
KNOWN_STATUSES = {*STATES, *INBOUND_STATUSES, "accepted", "scheduled", "queued", "sending", "canceled",
                  "partially_delivered"}  # fmt: skip
MAX_SID_CHARS = 64  # Twilio's are 34 ("SM" + 32 hex); compatible providers use UUIDs
MAX_MEDIA = 20  # Twilio allows 10 files per MMS
MAX_URL_CHARS = 2000
SID = re.compile(r"^[A-Za-z0-9_.:-]+$")


class PayloadError(ValueError):
    """The form cannot be used at all (the reason in str)."""


def parse_form(pairs):
    """Read one webhook form (pairs of name, value) as an item dict.

    ``{"type": "message", "external_id", "account_sid", "from", "to", "body", "num_segments",
    "media": [{"url", "mimetype"}], "opt_out_type" (STOP|START|HELP or None)}`` for an incoming
    message; ``{"type": "status", "external_id", "account_sid", "status" (Twilio's),
    "state" (ours, or None when it changes nothing), "error_code" (int or None),
    "error_message", "to", "from"}`` for a status callback. Raises PayloadError.
    """
    form = {}
    for name, value in pairs:
        form.setdefault(name, value)
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise PayloadError("no MessageSid")
    if len(sid) > MAX_SID_CHARS or not SID.match(sid):
        raise PayloadError(f"MessageSid is not a message id: {sid[:80]!r}")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    common = {"external_id": sid, "account_sid": form.get("AccountSid") or None}
    if status in INBOUND_STATUSES or (not status and ("Body" in form or "NumMedia" in form)):
        sender = (form.get("From") or "").strip()
        if not sender:
            raise PayloadError("an incoming message without From")
        opt_out_type = (form.get("OptOutType") or "").strip().upper() or None
        return {
            "type": "message",
            **common,
            "from": sender,
            "to": form.get("To") or None,
            "body": form.get("Body") or "",
            "media": _media(form),
            "opt_out_type": opt_out_type if opt_out_type in ("STOP", "START", "HELP") else None,
        }
    if status not in KNOWN_STATUSES:
        raise PayloadError(f"unknown MessageStatus {status[:40]!r}" if status else "neither a message nor a status")
    code = (form.get("ErrorCode") or "").strip()
    return {
        "type": "status",
        **common,
        "status": status,
        "state": STATES.get(status),
        "error_code": int(code) if code.isdigit() and len(code) < 10 and int(code) else None,
        "error_message": form.get("ErrorMessage") or None,
        "to": form.get("To") or None,
        "from": form.get("From") or None,
    }


def _media(form):
    """The files of an MMS: MediaUrl0..N with their MediaContentType0..N."""
    media = []
    for index in range(MAX_MEDIA):
        url = (form.get(f"MediaUrl{index}") or "").strip()
        if not url:
            if f"MediaUrl{index}" not in form:
                break
            continue
        if len(url) > MAX_URL_CHARS or not url.startswith(("https://", "http://")):
            raise PayloadError(f"MediaUrl{index} is not a URL")
        mimetype = (form.get(f"MediaContentType{index}") or "").split(";")[0].strip().lower()
        media.append({"url": url, "mimetype": mimetype if re.match(r"^[\w.+-]+/[\w.+-]+$", mimetype) else None})
    return media
