"""Twilio Programmable Voice webhooks: the signature, the form fields as call updates, and TwiML.
Pure Python, no ORM.

Twilio posts ``application/x-www-form-urlencoded`` forms (tests/data/twilio/README.md lists the
documents each shape comes from):

- the **voice webhook** of the number ("A call comes in"): ``CallSid``, ``AccountSid``, ``From``,
  ``To``, ``CallStatus=ringing``, ``Direction=inbound``, ``CallerName`` (with CNAM lookup)…; it
  is answered with TwiML (:func:`dial_twiml`);
- **status callbacks** (the number's "Call status changes" URL, the ``StatusCallback`` of a call
  we create, the ``statusCallback`` of each ``<Number>``/``<Client>`` we dial): the same fields
  with ``CallStatus`` (initiated, ringing, in-progress, completed, busy, no-answer, failed,
  canceled), ``CallDuration`` once completed, ``Timestamp`` (RFC 2822), ``SequenceNumber``,
  ``CallbackSource=call-progress-events``, and ``ParentCallSid`` on a dialed leg;
- the **<Dial> action** request when the dialed leg ends: ``DialCallStatus`` (completed, answered,
  busy, no-answer, failed, canceled), ``DialCallSid``, ``DialCallDuration``;
- the **recording status callback**: ``RecordingSid``, ``RecordingUrl``, ``RecordingStatus``
  (in-progress, completed, absent, failed), ``RecordingDuration``, ``RecordingChannels``.

The URLs we give Twilio carry our own query (signed with the rest, as Twilio signs the URL it
calls): ``call`` (the call's key: the parent CallSid of an inbound call, our dial key of a
click-to-dial), ``dir`` (``in``/``out``: a dialed leg's own ``Direction`` is always
``outbound-dial``) and ``step`` (``dial``: the <Dial> action; ``leg``: a dialed leg's status;
``recording``; ``status``: the StatusCallback of a call we created; ``connect``: the TwiML of a
click-to-dial once the agent answered, with ``to``, the customer's number).

``X-Twilio-Signature`` is Programmable Messaging's: ``omnichannel_base/tools/twilio_signature.py``.
"""

import email.utils
import re
from datetime import timezone
from urllib.parse import urlencode
from xml.etree import ElementTree

from odoo.addons.omnichannel_base.tools.twilio_signature import is_authentic, signature, url_variants  # noqa: F401

MAX_SID_CHARS = 64  # Twilio's are 34 ("CA" + 32 hex); compatible providers use UUIDs
MAX_ADDRESS_CHARS = 128  # E.164 is 16; "client:<identity>" and SIP addresses are longer
MAX_URL_CHARS = 2000
MAX_TARGETS = 10  # <Number>s Twilio dials at once in one <Dial>
SID = re.compile(r"^[A-Za-z0-9_.:-]+$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

CALL_STATUSES = {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "failed",
                 "canceled"}  # fmt: skip
ENDED_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
DIAL_STATUSES = {"completed", "answered", "busy", "no-answer", "failed", "canceled"}
RECORDING_STATUSES = {"in-progress", "completed", "absent", "failed", "processing", "paused", "stopped"}
# What an unanswered outbound attempt means (canceled: hung up on our side before an answer).
OUTCOMES = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "no_answer"}
STEPS = {"dial", "leg", "recording", "status", "connect"}
# Caller IDs of a withheld number: the words carriers pass, and the numbers Twilio substitutes
# for them (ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN, UNAVAILABLE spelled on a keypad).
WITHHELD = {"", "anonymous", "restricted", "private", "unknown", "unavailable", "blocked", "withheld",
            "+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"}  # fmt: skip
DIAL_EVENTS = "initiated ringing answered completed"


class PayloadError(ValueError):
    """The form cannot be used at all (the reason in str)."""


# ------------------------------------------------------------------ reading
def first_values(pairs):
    form = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def is_incoming_call(form, query):
    """Whether a request on the console's URL is the voice webhook of a new inbound call (to be
    answered with the <Dial>), rather than a status callback or one of our own callbacks."""
    return (
        not query.get("step")
        and bool(form.get("CallSid"))
        and (form.get("Direction") or "inbound") == "inbound"
        and (form.get("CallStatus") or "ringing") in ("ringing", "queued")
        and not form.get("ParentCallSid")
        and not form.get("CallbackSource")
        and not form.get("DialCallStatus")
        and not form.get("RecordingSid")
    )


def read_form(pairs, query):
    """The call updates one delivery says (see ``omnichannel.call._apply_updates``), without
    ``channel_id``; ``date`` is Twilio's ``Timestamp`` when it gave one, else None (the provider
    uses the delivery's reception). ``pairs``: the form; ``query``: our URL's query (dict).
    Raises PayloadError."""
    form = first_values(pairs)
    step = _text(query, "step", 20)
    if step and step not in STEPS:
        raise PayloadError(f"unknown step {step[:20]!r} in the callback URL")
    call_sid = _sid(form, "CallSid")
    parent_sid = _sid(form, "ParentCallSid")
    key = _sid(query, "call") or parent_sid or call_sid
    if not key:
        raise PayloadError("no CallSid")
    direction = {"in": "inbound", "out": "outbound"}.get(query.get("dir"))
    twilio_direction = (_text(form, "Direction", 40) or "").lower()
    if not direction and not parent_sid and step not in ("leg", "dial", "recording"):
        direction = {"inbound": "inbound", "outbound-api": "outbound"}.get(twilio_direction)
    base = {
        "call_key": key,
        "date": timestamp(form.get("Timestamp")),
        "direction": direction,
        "customer_number": None,
        "withheld": False,
        "customer_name": None,
        "our_number": None,
        "agent_extension": None,
        "state": None,
        "outcome": None,
        "cause": None,
        "cause_text": None,
        "talk_seconds": None,
        "recording": None,
    }
    if step == "recording" or (form.get("RecordingSid") and not form.get("DialCallStatus") and not step):
        return _recording(form, base)
    if step == "dial" or form.get("DialCallStatus"):
        return _dial_action(form, base)
    status = (_text(form, "CallStatus", 40) or "").lower()
    if status not in CALL_STATUSES:
        raise PayloadError(f"unknown CallStatus {status[:40]!r}" if status else "no CallStatus")
    if parent_sid or step == "leg" or twilio_direction == "outbound-dial":
        return _leg(form, base, status)
    return _parent(form, base, status, query, step)


def _recording(form, base):
    status = (_text(form, "RecordingStatus", 40) or "").lower()
    if status not in RECORDING_STATUSES:
        raise PayloadError(f"unknown RecordingStatus {status[:40]!r}" if status else "no RecordingStatus")
    if status != "completed":
        return []
    recording_sid = _sid(form, "RecordingSid")
    url = _text(form, "RecordingUrl", MAX_URL_CHARS)
    if not recording_sid or not url or not url.startswith(("https://", "http://")):
        raise PayloadError("a completed recording without RecordingSid or RecordingUrl")
    return [dict(base, recording={"ref": url, "name": f"{recording_sid}.mp3", "mimetype": "audio/mpeg"})]


def _dial_action(form, base):
    status = (_text(form, "DialCallStatus", 40) or "").lower()
    if status not in DIAL_STATUSES:
        raise PayloadError(f"unknown DialCallStatus {status[:40]!r}" if status else "no DialCallStatus")
    # Our action TwiML is empty: the call ends with the <Dial>.
    update = dict(base, state="ended", cause_text=status)
    if status in ("completed", "answered"):
        update.update(outcome="answered", talk_seconds=_seconds(form.get("DialCallDuration")))
    elif base["direction"] == "outbound":
        update["outcome"] = OUTCOMES[status]
    # An inbound <Dial> nobody answered: the core derives "missed".
    return [update]


def _leg(form, base, status):
    """A leg we dialed: an agent for an inbound call, the customer for a click-to-dial."""
    to = _address(form, "To")
    outbound = base["direction"] == "outbound"
    update = dict(base)
    if outbound:
        update.update(customer_number=to, our_number=_address(form, "From"))
    else:
        update["agent_extension"] = to
    if status in ("queued", "initiated"):
        return []
    if status == "ringing":
        update["state"] = "ringing"
    elif status == "in-progress":
        update["state"] = "answered"
    elif status == "completed":
        update.update(state="ended", cause_text=status, talk_seconds=_seconds(form.get("CallDuration")))
    elif outbound:
        update.update(state="ended", outcome=OUTCOMES[status], cause_text=status)
    else:
        # One agent of several did not answer: the call goes on ringing the others; the
        # <Dial> action and the parent call's status say how it ended.
        return []
    return [update]


def _parent(form, base, status, query, step):
    """The call itself: the customer's inbound call, or the agent's leg of a click-to-dial."""
    update = dict(base)
    if base["direction"] == "outbound":
        update.update(agent_extension=_address(form, "To"), our_number=_address(form, "From"))
        if step == "connect":
            update["customer_number"] = _address(query, "to")
        if status in ENDED_STATUSES:
            update.update(state="ended", cause_text=status)
            if status != "completed":
                update["outcome"] = OUTCOMES[status]  # the agent's phone never took the call
        return [update]
    caller = (form.get("From") or "").strip()
    if caller.lower() in WITHHELD or caller.lower().startswith("anonymous"):
        update["withheld"] = True
    else:
        update["customer_number"] = _address(form, "From")
    update.update(our_number=_address(form, "To"), customer_name=_text(form, "CallerName", 128))
    if status in ("ringing", "queued"):
        update["state"] = "ringing"
    elif status in ENDED_STATUSES:
        update.update(state="ended", cause_text=status)
    return [update]


def _text(form, name, limit):
    value = form.get(name)
    if value is None:
        return None
    value = value.strip()
    if "\x00" in value:
        raise PayloadError(f"{name} holds a NUL character")
    if len(value) > limit:
        raise PayloadError(f"{name} is longer than {limit} characters")
    return value or None


def _sid(form, name):
    value = _text(form, name, MAX_SID_CHARS)
    if value and not SID.match(value):
        raise PayloadError(f"{name} is not a call id: {value[:80]!r}")
    return value


def _address(form, name):
    """A phone number, ``client:<identity>`` or SIP address as Twilio gives it."""
    value = _text(form, name, MAX_ADDRESS_CHARS)
    if value and any(ord(char) < 32 for char in value):
        raise PayloadError(f"{name} holds control characters")
    return value


def _seconds(value):
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 9 else None


def timestamp(value):
    """Twilio's ``Timestamp`` (RFC 2822) as a naive UTC datetime, or None."""
    if not value or len(value) > 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when if 2000 <= when.year <= 2100 else None


# ------------------------------------------------------------------ TwiML
def callback_url(webhook_url, **query):
    """Our webhook URL with ``query`` (None values left out), for Twilio to call back."""
    query = {name: value for name, value in query.items() if value is not None}
    return f"{webhook_url}?{urlencode(query)}" if query else webhook_url


def response(*elements):
    root = ElementTree.Element("Response")
    root.extend(elements)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root, encoding="unicode")


def empty_twiml():
    return response()


def reject_twiml(reason="busy"):
    """Refuse the call unanswered (not billed): the caller hears busy (or "rejected")."""
    return response(ElementTree.Element("Reject", {"reason": reason}))


def dial_twiml(targets, *, action, leg_callback, timeout=30, caller_id=None, recording_callback=None):
    """``<Dial>`` of ``targets`` at once (E.164 numbers, ``client:<identity>``, ``sip:`` addresses),
    the first to answer gets the call. ``action`` is requested when the dialed call ends;
    ``leg_callback`` receives each leg's initiated, ringing, answered and completed events;
    with ``recording_callback`` the call is recorded from the answer, both sides on their own
    channel, and the recording announced there."""
    attributes = {"action": action, "method": "POST", "timeout": str(int(timeout))}
    if caller_id:
        attributes["callerId"] = caller_id
    if recording_callback:
        attributes.update(
            record="record-from-answer-dual",
            recordingStatusCallback=recording_callback,
            recordingStatusCallbackMethod="POST",
            recordingStatusCallbackEvent="completed",
        )
    dial = ElementTree.Element("Dial", attributes)
    leg = {"statusCallbackEvent": DIAL_EVENTS, "statusCallback": leg_callback, "statusCallbackMethod": "POST"}
    for target in list(dict.fromkeys(targets))[:MAX_TARGETS]:
        if target.startswith("client:"):
            noun = ElementTree.SubElement(dial, "Client", leg)
            noun.text = target.removeprefix("client:")
        elif target.startswith(("sip:", "sips:")):
            noun = ElementTree.SubElement(dial, "Sip", leg)
            noun.text = target
        else:
            noun = ElementTree.SubElement(dial, "Number", leg)
            noun.text = target
    return response(dial)
