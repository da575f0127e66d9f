"""Asterisk ARI events as call updates. Pure Python, no ORM.

The listener receives every event of the PBX on ``/ari/events?app=<app>&subscribeAll=true``
(Asterisk's ``rest-api/api-docs/events.json``, models ``StasisStart``, ``StasisEnd``,
``ChannelStateChange``, ``Dial``, ``ChannelDestroyed``, ``ChannelHangupRequest``,
``ChannelVarset``, each with the ``Channel`` model of ``channels.json``). One event says something
about one leg (channel) of a call; ``parse_event`` turns it into the provider-neutral updates of
``omnichannel.call._apply_updates``, keyed by the call's ``linkedid`` (the ``uniqueid`` of the
call's first channel, shared by every leg).

The ``Channel`` model has no ``linkedid`` (Asterisk 20 and 22 alike): Asterisk adds it when
``ari.conf`` asks for it, ``[general] channelvars = CHANNEL(linkedid),OMNI_CALL``, as
``"channelvars": {"CHANNEL(linkedid)": "1732960000.12", "OMNI_CALL": "inbound"}`` on every
channel (``ast_channel_snapshot_to_json``; a variable that is not set is ``""``). A native
``linkedid`` field is read first, should a later Asterisk add one. ``OMNI_CALL`` is set by us on
our calls only (``__OMNI_CALL``, inherited by every leg they dial: by the listener after
``StasisStart``, and as an originate variable): it tells our calls from the PBX's internal ones
and gives each event its direction. Without those channel variables (``ari.conf`` left as is),
events are read as well as they can be: the channel's own id stands for the call (right for the
first leg of a call, the one Stasis sees) and a ``Dial`` counts for its caller's call; other
legs' events are then ignored.

Roles of the legs: an inbound call's first channel is the customer's and the channels it dials
are agents' phones; a click-to-dial call's first channel is the agent's phone (its id is our dial
key) and the channel it dials is the customer's.
"""

import hashlib
import json
import re
from datetime import UTC, datetime

LINKEDID_VAR = "CHANNEL(linkedid)"
MARKER_VAR = "OMNI_CALL"  # "inbound" | "outbound" on the legs of our calls
DIAL_KEY_PREFIX = "omni-"  # omnichannel.call._dial's keys: the originated channel's id
DIRECTIONS = ("inbound", "outbound")
RECORDING_VAR = "MIXMONITOR_FILENAME"
# The events that may say something about a call; the listener stores no other.
EVENT_TYPES = frozenset(
    {"StasisStart", "StasisEnd", "ChannelStateChange", "Dial", "ChannelDestroyed", "ChannelHangupRequest",
     "ChannelVarset"}
)  # fmt: skip
# ``Dial.dialstatus`` (app_dial's DIALSTATUS values) of a leg still being called: "" when the
# Dial starts, PROCEEDING once the far end took the call (SIP 100), RINGING and PROGRESS (180,
# 183) when the phone rings: only then does the call ring for that agent.
DIAL_CALLING = {"", "PROCEEDING", "RINGING", "PROGRESS"}
DIAL_RINGING = {"RINGING", "PROGRESS"}
# What an unanswered click-to-dial's customer leg ended with, by app_dial's DIALSTATUS (CANCEL:
# the agent hung up first; the core then reads the hang-up cause).
DIAL_OUTCOMES = {"BUSY": "busy", "NOANSWER": "no_answer", "CONGESTION": "failed", "CHANUNAVAIL": "failed"}
# Caller ids that hide the number (chan_pjsip's "anonymous", carriers' words); any id without a
# digit is withheld too.
WITHHELD = {"", "anonymous", "restricted", "private", "unavailable", "unknown", "withheld", "blocked"}
AUDIO_TYPES = {"wav": "audio/wav", "wav49": "audio/wav", "gsm": "audio/x-gsm", "mp3": "audio/mpeg",
               "ogg": "audio/ogg", "sln": "audio/basic", "ulaw": "audio/basic", "alaw": "audio/basic"}  # fmt: skip
TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\s*(Z|[+-]\d{2}:?\d{2})?$")
NUMBER = re.compile(r"^\+?\d+$")
CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d)?$")  # "PJSIP/1001-0000002a", "Local/x@ctx-00000001;1"


class PayloadError(ValueError):
    """The event cannot be read at all (the reason in str)."""


def parse_timestamp(value):
    """An ARI ``Date`` ("2026-11-30T10:00:00.123+0100", ``AST_ISO8601_FORMAT``) as naive UTC."""
    match = TIMESTAMP.match((value or "").strip()) if isinstance(value, str) else None
    if not match:
        raise PayloadError(f"timestamp {value!r} is not an ARI date")
    day, time, fraction, zone = match.groups()
    text = f"{day}T{time}.{(fraction or '0').ljust(6, '0')}"
    if zone and zone != "Z":
        text += zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    else:
        text += "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"timestamp {value!r} is not a date") from None
    return moment.astimezone(UTC).replace(tzinfo=None)


def channel_vars(channel):
    """The channel's ``channelvars``, names in upper case ({} when ari.conf asks for none)."""
    variables = channel.get("channelvars") if isinstance(channel, dict) else None
    if not isinstance(variables, dict):
        return {}
    return {str(name).strip().upper(): value for name, value in variables.items() if isinstance(value, str)}


def linkedid(channel):
    """The call's id as the channel states it: the native ``linkedid`` field, else the
    ``CHANNEL(linkedid)`` channel variable; None when neither is there."""
    if not isinstance(channel, dict):
        return None
    native = channel.get("linkedid")
    if isinstance(native, str) and native.strip():
        return native.strip()
    return channel_vars(channel).get(LINKEDID_VAR.upper(), "").strip() or None


def marker(channel):
    """``OMNI_CALL`` of the channel: "inbound"/"outbound" on our calls, "" on the PBX's other
    calls, None when ari.conf does not list it (nothing to tell them apart)."""
    variables = channel_vars(channel)
    if MARKER_VAR not in variables:
        return None
    value = variables[MARKER_VAR].strip().lower()
    return value if value in DIRECTIONS else ""


def extension_of(channel_name, template="PJSIP/{extension}"):
    """The agent's extension in a channel's name: "PJSIP/1001-0000002a" -> "1001", as the
    channel's endpoint template ("PJSIP/{extension}", "Local/{extension}@agents") names it."""
    name = (channel_name or "").strip()
    if "/" not in name:
        return None
    name = CHANNEL_SUFFIX.sub("", name)
    head, _sep, tail = (template or "").partition("{extension}")
    if head and tail and name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail):
        return name[len(head) : len(name) - len(tail)]
    if head and name.startswith(head) and len(name) > len(head):
        return name[len(head) :]
    return name.split("/", 1)[1] or None


def caller_number(channel):
    """(number, name, withheld) of the channel's caller id, the number cleaned of spaces and
    punctuation but otherwise as the trunk gave it (national, 00-prefixed or E.164)."""
    caller = channel.get("caller") if isinstance(channel.get("caller"), dict) else {}
    raw = str(caller.get("number") or "").strip()
    name = str(caller.get("name") or "").strip() or None
    number = re.sub(r"[\s().\-/]", "", raw)
    if raw.lower() in WITHHELD or not any(ch.isdigit() for ch in raw) or not NUMBER.match(number):
        return None, name if name and name.lower() not in WITHHELD else None, True
    return number, name, False


def dialed_number(channel):
    """The extension the channel is at in the dialplan, when it is a number (a DID, or the
    customer's number in the outbound context); None for "s", "h" and the like."""
    dialplan = channel.get("dialplan") if isinstance(channel.get("dialplan"), dict) else {}
    exten = str(dialplan.get("exten") or "").strip()
    return exten if NUMBER.match(exten) and len(exten.lstrip("+")) >= 3 else None


def recording_ref(filename):
    """(ref, name, mimetype) of a MixMonitor file, ``ref`` being its name for ARI's
    ``/recordings/stored/{name}/file``: the path below Asterisk's recording directory, without
    the extension ("/var/spool/asterisk/recording/1732960000.12.wav" -> "1732960000.12")."""
    path = (filename or "").strip()
    if not path:
        return None
    relative = path.split("/recording/", 1)[1] if "/recording/" in path else path.rsplit("/", 1)[-1]
    base = relative.rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if not dot or extension.lower() not in AUDIO_TYPES:
        stem, extension = base, "wav"  # MixMonitor's default format
        ref = relative
    else:
        ref = relative[: -len(extension) - 1]
    if not ref or ".." in ref.split("/"):
        return None
    return {"ref": ref, "name": f"{stem}.{extension}", "mimetype": AUDIO_TYPES.get(extension.lower(), "audio/wav")}


def event_key(channel_id, event):
    """The inbox key of an event: the same event (a replayed frame, a backfill read twice) has
    the same key, so it is stored once; any two different events differ. ARI events have no id,
    so the key is the event type and channel with a digest of the whole canonical JSON."""
    channel = event.get("channel") or event.get("peer") or {}
    channel_part = channel.get("id", "") if isinstance(channel, dict) else ""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"ari:{channel_id}:{event.get('type', '')}:{channel_part}:{digest}"


def is_relevant(event, **options):
    """Whether the listener should store ``event``: it says something about one of our calls."""
    try:
        return bool(parse_event(event, 0, **options))
    except PayloadError:
        return isinstance(event, dict) and event.get("type") in EVENT_TYPES


def parse_event(event, channel_id, *, outbound_context=None, endpoint_template="PJSIP/{extension}", default_date=None):
    """The call updates one ARI event carries (usually one, none for events about no call of
    ours). Raises PayloadError when ``event`` is no ARI event."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise PayloadError("not an ARI event (a JSON object with a type)")
    kind = event["type"]
    if kind not in EVENT_TYPES:
        return []
    if event.get("timestamp") is not None or default_date is None:
        date = parse_timestamp(event.get("timestamp"))
    else:
        date = default_date
    reader = _Reader(event, channel_id, date, outbound_context, endpoint_template)
    return getattr(reader, f"_{kind}")()


class _Reader:
    def __init__(self, event, channel_id, date, outbound_context, endpoint_template):
        self.event = event
        self.channel_id = channel_id
        self.date = date
        self.outbound_context = outbound_context
        self.template = endpoint_template or "PJSIP/{extension}"

    # ------------------------------------------------------------ helpers
    def channel(self, field="channel", required=True):
        channel = self.event.get(field)
        if channel is None and not required:
            return None
        if not isinstance(channel, dict) or not isinstance(channel.get("id"), str) or not channel["id"]:
            raise PayloadError(f"{self.event['type']} without a {field} (Channel with an id)")
        return channel

    def call_of(self, channel, caller=None):
        """(call key, whether ``channel`` is the call's first leg, direction or None), or None when
        the channel is on a call that is not ours, or nothing tells which call it is on.

        ``caller``: the channel that dialed ``channel`` (Dial events), whose word counts first."""
        found = marker(caller) if caller is not None and marker(caller) is not None else marker(channel)
        if found == "":
            return None
        # The dialing channel's word first: a call picked up from another phone (Pickup, *8) swaps
        # the picking phone's channel into the call, and its linkedid stays its own until bridged.
        key = (linkedid(caller) if caller is not None else None) or linkedid(channel)
        unlinked = key is None
        if unlinked:
            # No CHANNEL(linkedid): the leg Stasis and Dial see first stands for the call.
            key = (caller or channel)["id"]
        root = channel["id"] == key
        first = caller if caller is not None and caller["id"] == key else channel if root else None
        direction = found or ("outbound" if key.startswith(DIAL_KEY_PREFIX) else None)
        if not direction and first is not None and self.outbound_context:
            dialplan = first.get("dialplan") if isinstance(first.get("dialplan"), dict) else {}
            if dialplan.get("context") == self.outbound_context:
                direction = "outbound"
        if unlinked and found is None and direction is None and caller is None:
            return None  # any leg of any call: nothing says which, nor whether it is ours
        return key, root, direction

    def update(self, key, **values):
        update = {
            "channel_id": self.channel_id,
            "call_key": key,
            "date": self.date,
            "direction": None,
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
        update.update(values)
        return update

    def customer(self, channel):
        """What the inbound call's first leg says of the customer and the number they called."""
        number, name, withheld = caller_number(channel)
        return {
            "customer_number": number,
            "customer_name": name,
            "withheld": withheld,
            "our_number": dialed_number(channel),
        }

    def agent(self, channel):
        return extension_of(channel.get("name"), self.template)

    def cause(self):
        cause = self.event.get("cause")
        if isinstance(cause, bool) or not isinstance(cause, int):
            return None, None
        text = self.event.get("cause_txt")
        return cause, (text.strip()[:200] or None) if isinstance(text, str) else None

    # ------------------------------------------------------------ events
    def _StasisStart(self):
        """Our app's dialplan step: ``Stasis(<app>,inbound)`` on an incoming call's first leg,
        ``Stasis(<app>,outbound)`` on the agent's leg of a call out (its extension: the customer's number)."""
        channel = self.channel()
        args = self.event.get("args") if isinstance(self.event.get("args"), list) else []
        stated = str(args[0]).strip().lower() if args else ""
        found = self.call_of(channel)
        if found is None and stated not in DIRECTIONS:
            return []
        key, _root, direction = found or (linkedid(channel) or channel["id"], True, None)
        direction = stated if stated in DIRECTIONS else direction
        if direction == "outbound":
            return [
                self.update(
                    key,
                    direction="outbound",
                    customer_number=dialed_number(channel),
                    agent_extension=self.agent(channel),
                )
            ]
        if direction == "inbound":
            return [self.update(key, direction="inbound", state="ringing", **self.customer(channel))]
        return []

    def _StasisEnd(self):
        # The channel left our app to go on in the dialplan: nothing changed for the call.
        self.channel()
        return []

    def _ChannelStateChange(self):
        channel = self.channel()
        found = self.call_of(channel)
        if not found:
            return []
        key, root, direction = found
        state = channel.get("state")
        if root:
            if direction == "inbound" and state == "Ring":
                return [self.update(key, direction="inbound", state="ringing", **self.customer(channel))]
            if direction == "outbound" and state == "Ringing":  # the agent's phone rings first
                return [self.update(key, direction="outbound", state="ringing", agent_extension=self.agent(channel))]
            return []
        if direction == "inbound" and state in ("Ringing", "Up"):  # an agent's phone
            return [
                self.update(
                    key,
                    direction="inbound",
                    state="ringing" if state == "Ringing" else "answered",
                    agent_extension=self.agent(channel),
                )
            ]
        if direction == "outbound" and state in ("Ringing", "Up"):  # the customer's phone
            return [self.update(key, direction="outbound", state="ringing" if state == "Ringing" else "answered")]
        return []

    def _Dial(self):
        """A leg dialed by another: on an inbound call the caller is the customer's leg and the
        peer an agent's phone; on a call out the caller is the agent's leg, the peer the customer's.
        Without OMNI_CALL a Dial of unknown direction is read as inbound (what the inbound context
        dials), without claiming the direction."""
        peer = self.channel("peer")
        caller = self.channel("caller", required=False)
        status = self.event.get("dialstatus")
        if not isinstance(status, str):
            raise PayloadError("Dial without a dialstatus")
        found = self.call_of(peer, caller)
        if not found:
            return []
        key, _root, direction = found
        status = status.strip().upper()
        first = caller if caller is not None and caller["id"] == key else None
        if direction == "outbound":
            values = {"direction": "outbound"}
            if first is not None:
                values.update(agent_extension=self.agent(first), customer_number=dialed_number(first))
            if status in DIAL_CALLING:
                return [self.update(key, state="ringing", **values)]
            if status == "ANSWER":
                return [self.update(key, state="answered", outcome="answered", **values)]
            return [self.update(key, outcome=DIAL_OUTCOMES.get(status), **values)]
        values = {}
        if direction == "inbound":
            values = {"direction": "inbound", **(self.customer(first) if first is not None else {})}
        if status in DIAL_CALLING:
            agent = self.agent(peer) if status in DIAL_RINGING else None  # an agent on the phone never rings
            return [self.update(key, state="ringing", agent_extension=agent, **values)]
        if status == "ANSWER":
            return [self.update(key, state="answered", agent_extension=self.agent(peer), **values)]
        # That agent was busy, unavailable or did not answer: others may still; the call's end says.
        return [self.update(key, **values)] if values else []

    def _ChannelDestroyed(self):
        channel = self.channel()
        found = self.call_of(channel)
        if not found:
            return []
        key, root, direction = found
        cause, text = self.cause()
        if root:
            values = self.customer(channel) if direction == "inbound" else {}
            return [self.update(key, direction=direction, state="ended", cause=cause, cause_text=text, **values)]
        if direction == "outbound":
            # The customer's leg: its cause says why the call went nowhere (app_dial copies it to
            # the agent's leg, whose end comes next). The outcome is the Dial status's alone, so
            # that two events of a call never disagree, whatever order they are read in.
            return [self.update(key, direction="outbound", cause=cause, cause_text=text)]
        return []

    def _ChannelHangupRequest(self):
        channel = self.channel()
        found = self.call_of(channel)
        cause, text = self.cause()
        if not found or not found[1] or not cause:
            return []
        key, _root, direction = found
        return [self.update(key, direction=direction, cause=cause, cause_text=text)]

    def _ChannelVarset(self):
        if str(self.event.get("variable") or "").strip().upper() != RECORDING_VAR:
            return []
        channel = self.channel(required=False)
        if channel is None:
            return []  # a global variable
        found = self.call_of(channel)
        recording = recording_ref(self.event.get("value") if isinstance(self.event.get("value"), str) else "")
        if not found or not recording:
            return []
        key, _root, direction = found
        return [self.update(key, direction=direction, recording=recording)]
