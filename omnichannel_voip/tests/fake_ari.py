"""A local stand-in for Asterisk's REST Interface (ARI, Asterisk 20/22), over real HTTP and a real
WebSocket on 127.0.0.1, so that the listener and the provider run their production code.

    with FakeAri() as ari:                       # user "omni", password "secret", app "omnichannel"
        ari.url                                  # http://127.0.0.1:<port>: the channel's ARI URL
        run = ari.inbound(caller="600123456", did="910000000")     # plays a call in a thread
        run.wait()                               # until it is over (run.linkedid: the call's id)
        ari.events                               # every event sent, as sent to the WebSocket

REST (``/ari``, HTTP basic auth, or ``?api_key=user:password``; 401 ``{"message": "Authentication
required"}`` otherwise), shaped as ``rest-api/api-docs/*.json`` (tests/data/ari/models.json):

- ``GET /ari/api-docs/resources.json``; ``GET /ari/asterisk/info`` (AsteriskInfo);
- ``GET /ari/channels`` (List[Channel]); ``GET|DELETE /ari/channels/{id}``;
- ``POST /ari/channels`` and ``POST /ari/channels/{id}`` (originate: ``endpoint``, ``extension``,
  ``context``, ``priority``, ``callerId``, ``timeout``, ``channelId``, body ``{"variables": {}}``;
  409 "Channel with given unique ID already exists" while a channel of that id lives);
- ``POST /ari/channels/{id}/continue``, ``GET|POST /ari/channels/{id}/variable`` (409 "Channel not
  in a Stasis application" as Asterisk answers for a channel outside Stasis);
- ``GET /ari/recordings/stored/{name}/file``.

Events: ``GET /ari/events?app=<app>&subscribeAll=true`` upgrades to a WebSocket (RFC 6455, text
frames of one event each). Every event carries ``type``, ``timestamp`` (``AST_ISO8601_FORMAT``,
"2026-11-30T10:00:00.123+0000"), ``asterisk_id`` and ``application``; channels carry
``channelvars`` for the variables named in ``channelvars`` (ari.conf ``[general] channelvars``,
default ``CHANNEL(linkedid),OMNI_CALL``), "" when unset, as ``ast_channel_snapshot_to_json`` does.

Calls are played as app_dial and chan_pjsip play them (see the scenario methods): a channel that
enters ``Stasis(<app>,...)`` waits in Stasis for ``/continue`` (the listener's job) when a
WebSocket of the app is connected, else sets ``STASISSTATUS=FAILED`` and goes on, as
app_stasis does in Asterisk 22. ``Dial(${OMNI_DIAL},30)`` rings the endpoints of ``OMNI_DIAL``
("PJSIP/1001&PJSIP/1002"), else ``default_dial``.

Faults: ``inject(method, path_regex, status=503, delay=…, times=…)`` for REST calls,
``drop_sockets()`` (closes every WebSocket without a close frame, as a network cut does),
``refuse_websockets(times, status)``, and ``hold`` points in scenarios (``run.reached(point)``,
``run.release()``) to act mid-call.
"""

import base64
import hashlib
import itertools
import json
import queue
import re
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

DATA = Path(__file__).resolve().parent / "data" / "ari"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ASTERISK_ID = "02:42:ac:11:00:02"
# ast_cause2str (main/channel.c), for the causes the scenarios use
CAUSES = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}
WAV = (
    b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00"
    b"data\x00\x00\x00\x00"
)


class Failure(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class _Rule:
    method: str
    pattern: re.Pattern
    times: int | None
    delay: float
    status: int | None
    body: bytes | None


@dataclass
class Channel:
    """One Asterisk channel, as ``ast_channel_snapshot`` holds it."""

    id: str
    name: str
    state: str
    caller: tuple  # (name, number)
    connected: tuple
    dialplan: list  # [context, exten, priority, app_name, app_data]
    creationtime: datetime
    linkedid: str
    variables: dict = field(default_factory=dict)  # name as set ("__OMNI_CALL") -> value
    in_stasis: str | None = None  # the app the channel is in
    hungup: bool = False  # DELETE /channels/{id}
    continued: threading.Event = field(default_factory=threading.Event)
    hangup: threading.Event = field(default_factory=threading.Event)

    def var(self, name):
        for set_name, value in self.variables.items():
            if set_name.lstrip("_") == name:
                return value
        return None


class _Session:
    def __init__(self, handler, apps, subscribe_all):
        self.handler = handler
        self.apps = apps
        self.subscribe_all = subscribe_all
        self.outbox = queue.Queue()
        self.closed = threading.Event()


class HungUp(Exception):
    """A leg of the call was hung up through ``DELETE /channels/{id}``: the call ends."""


class Run:
    """A call being played, in its own thread."""

    def __init__(self, ari, hold=()):
        self.ari = ari
        self.linkedid = None
        self.channels = []  # every leg, first first
        self.hold = set(hold)
        self.points = {}
        self._released = threading.Event()
        self.done = threading.Event()
        self.error = None
        self.thread = None

    def point(self, name):
        self.points.setdefault(name, threading.Event()).set()
        if name != "ended" and any(channel.hungup for channel in self.channels):
            raise HungUp()
        if name in self.hold:
            if not self._released.wait(30):
                raise TimeoutError(f"scenario held at {name!r} for 30 s")
            self._released.clear()

    def reached(self, name, timeout=10):
        """Wait until the scenario reaches ``name`` (ringing, answered, stasis, ended)."""
        event = self.points.setdefault(name, threading.Event())
        if not event.wait(timeout):
            raise TimeoutError(f"scenario did not reach {name!r} in {timeout} s (error: {self.error!r})")

    def release(self):
        self._released.set()

    def wait(self, timeout=15):
        if not self.done.wait(timeout):
            raise TimeoutError(f"scenario not over after {timeout} s (held at {sorted(self.points)}?)")
        if self.error:
            raise self.error
        return self


class FakeAri:
    """The fake Asterisk; use it as a context manager (it stops on exit)."""

    def __init__(self, user="omni", password="secret", app="omnichannel",
                 channelvars=("CHANNEL(linkedid)", "OMNI_CALL"), utc_offset=0):  # fmt: skip
        self.user, self.password, self.app = user, password, app
        self.channelvars = tuple(channelvars)
        self.tz = timedelta(minutes=utc_offset)  # the PBX's local time zone: timestamps carry its offset
        self.stasis_timeout = 5.0  # seconds a channel waits in Stasis for /continue
        self.default_dial = "PJSIP/1001"
        self.trunk = "trunk"
        self.inbound_context = "from-trunk"
        self.outbound_context = "omnichannel-outbound"
        self.agent_context = "from-internal"
        self.outbound_plans = {}  # customer number -> plan for originated calls (see originate_plan)
        self._lock = threading.RLock()
        self._server = None
        self._sessions = []
        self._seq = itertools.count(1)
        self._chan_seq = itertools.count(0x1A)
        self.reset()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, port=0):
        handler = type("Handler", (_Handler,), {"ari": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-ari", daemon=True).start()

    def stop(self):
        self.drop_sockets(clean=True)
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self):
        """Forget requests, events, channels, recordings and faults; set the clock back."""
        with self._lock:
            # Scenarios move the PBX's clock on by their ring and talk times without waiting for
            # them: start well in the past so that a test's calls never end in the future.
            self.clock = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=30)
            self.requests = []
            self.events = []  # (session apps, event) as sent
            self.channels = {}
            self.recordings = {}  # name -> (bytes, format)
            self.runs = []
            self._rules = []
            self._refuse_ws = []
            self.originated = []

    # ------------------------------------------------------------ test set-up
    def inject(self, method, path_pattern, *, status=None, delay=0, times=1, body=None):
        """The next ``times`` REST requests matching fail with ``status`` (Asterisk's
        ``{"message"}`` body, or a raw ``body``) and/or wait ``delay`` seconds first."""
        rule = _Rule(method.upper(), re.compile(path_pattern), times, delay, status, body)
        with self._lock:
            self._rules.append(rule)
        return rule

    def refuse_websockets(self, times=1, status=503):
        """The next ``times`` WebSocket upgrades are refused with ``status``."""
        with self._lock:
            self._refuse_ws.extend([status] * times)

    def drop_sockets(self, clean=False):
        """Cut every events WebSocket (no close frame unless ``clean``)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.handler.cut(clean)
        return len(sessions)

    def connected(self, app=None):
        with self._lock:
            return sum(1 for s in self._sessions if (app or self.app) in s.apps and not s.closed.is_set())

    def wait_connected(self, count=1, timeout=10, app=None):
        deadline = time.monotonic() + timeout
        while self.connected(app) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.connected(app)} WebSocket(s) of {app or self.app} after {timeout} s")
            time.sleep(0.01)

    def add_recording(self, name, content=WAV, fmt="wav"):
        with self._lock:
            self.recordings[name] = (content, fmt)

    # ------------------------------------------------------------ the model
    def now(self):
        with self._lock:
            return self.clock

    def advance(self, seconds):
        with self._lock:
            self.clock += timedelta(seconds=seconds)

    def _tick(self):
        with self._lock:
            self.clock += timedelta(milliseconds=3)
            return self.clock

    def timestamp(self, moment):
        local = moment + self.tz
        minutes = int(self.tz.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        offset = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + offset

    def snapshot(self, channel):
        """``ast_channel_snapshot_to_json``."""
        data = {
            "id": channel.id,
            "name": channel.name,
            "state": channel.state,
            "protocol_id": channel.variables.get("__protocol_id", ""),
            "caller": {"name": channel.caller[0], "number": channel.caller[1]},
            "connected": {"name": channel.connected[0], "number": channel.connected[1]},
            "accountcode": "",
            "dialplan": {
                "context": channel.dialplan[0],
                "exten": channel.dialplan[1],
                "priority": channel.dialplan[2],
                "app_name": channel.dialplan[3],
                "app_data": channel.dialplan[4],
            },
            "creationtime": self.timestamp(channel.creationtime),
            "language": "es",
        }
        if self.channelvars:
            values = {}
            for name in self.channelvars:
                if name.upper() == "CHANNEL(LINKEDID)":
                    values[name] = channel.linkedid
                elif name.upper() == "CHANNEL(UNIQUEID)":
                    values[name] = channel.id
                else:
                    values[name] = channel.var(name) or ""
            data["channelvars"] = values
        return data

    def new_channel(self, tech_resource, *, state, caller, connected=("", ""), dialplan, linkedid=None,
                    channel_id=None, variables=None, inherited=None):  # fmt: skip
        with self._lock:
            moment = self._tick()
            uniqueid = channel_id or f"{int(moment.replace(tzinfo=UTC).timestamp())}.{next(self._seq)}"
            channel = Channel(
                id=uniqueid,
                name=f"{tech_resource}-{next(self._chan_seq):08x}",
                state=state,
                caller=tuple(caller),
                connected=tuple(connected),
                dialplan=list(dialplan),
                creationtime=moment,
                linkedid=linkedid or uniqueid,
                variables={**(inherited or {}), **(variables or {})},
            )
            channel.variables["__protocol_id"] = secrets.token_hex(8) + "@127.0.0.1"
            self.channels[uniqueid] = channel
        self.emit("ChannelCreated", channel=channel)
        for name, value in (variables or {}).items():
            self.emit("ChannelVarset", channel=channel, variable=name, value=value)
        return channel

    def inherit(self, parent):
        """Variables a dialed channel inherits (``__VAR`` always, ``_VAR`` once, without its ``_``)."""
        inherited = {}
        for name, value in parent.variables.items():
            if name.startswith("__") and name != "__protocol_id":
                inherited[name] = value
            elif name.startswith("_") and not name.startswith("__"):
                inherited[name[1:]] = value
        return inherited

    def set_var(self, channel, name, value):
        with self._lock:
            channel.variables[name] = value
        self.emit("ChannelVarset", channel=channel, variable=name, value=value)

    def set_state(self, channel, state):
        with self._lock:
            channel.state = state
        self.emit("ChannelStateChange", channel=channel)

    def goto(self, channel, priority, app_name, app_data, context=None, exten=None):
        with self._lock:
            channel.dialplan = [
                context or channel.dialplan[0],
                exten or channel.dialplan[1],
                priority,
                app_name,
                app_data,
            ]
        self.emit("ChannelDialplan", channel=channel, dialplan_app=app_name, dialplan_app_data=app_data)

    def hangup_request(self, channel, cause=None, soft=False):
        extra = {}
        if cause:
            extra["cause"] = cause
        if soft:
            extra["soft"] = True
        self.emit("ChannelHangupRequest", channel=channel, **extra)

    def destroy(self, channel, cause):
        with self._lock:
            self.channels.pop(channel.id, None)
            channel.hangup.set()
        self.emit("ChannelDestroyed", channel=channel, cause=cause, cause_txt=CAUSES.get(cause, "Unknown"))

    def emit(self, kind, channel=None, **fields):
        """Send one event to every WebSocket that should get it, as res_stasis/app.c does."""
        with self._lock:
            moment = self._tick()
            event = {"type": kind, "timestamp": self.timestamp(moment)}
            for name, value in fields.items():
                event[name] = self.snapshot(value) if isinstance(value, Channel) else value
            if channel is not None:
                event["channel"] = self.snapshot(channel)
            event["asterisk_id"] = ASTERISK_ID
            for session in self._sessions:
                for app in session.apps:
                    if self._wants(session, app, kind, channel, fields):
                        sent = dict(event, application=app)
                        self.events.append(sent)
                        session.outbox.put(json.dumps(sent))
            return event

    def _wants(self, session, app, kind, channel, fields):
        if kind in ("StasisStart", "StasisEnd"):
            return app == self.app
        return session.subscribe_all or (channel is not None and channel.in_stasis == app)

    def stasis(self, channel, args, run):
        """``Stasis(<app>,args)``: wait for /continue when the app has a WebSocket."""
        self.goto(channel, channel.dialplan[2], "Stasis", ",".join([self.app, *args]))
        if not self.connected():
            self.set_var(channel, "STASISSTATUS", "FAILED")
            run.point("stasis")
            return False
        with self._lock:
            channel.in_stasis = self.app
            channel.continued.clear()
        self.emit("StasisStart", channel=channel, args=list(args))
        run.point("stasis")
        continued = channel.continued.wait(self.stasis_timeout)
        with self._lock:
            channel.in_stasis = None
        if not continued:
            run.stuck = True
        self.emit("StasisEnd", channel=channel)
        if channel.hungup:
            raise HungUp()
        self.set_var(channel, "STASISSTATUS", "SUCCESS")
        return continued

    def _dial_targets(self, channel):
        dial = channel.var("OMNI_DIAL") or self.default_dial
        return [part.strip() for part in dial.split("&") if part.strip()]

    # ------------------------------------------------------------ scenarios
    def _play(self, target, hold=(), **kwargs):
        run = Run(self, hold)
        run.stuck = False

        def body():
            try:
                target(run, **kwargs)
            except HungUp:
                for channel in run.channels:
                    if channel.id in self.channels:
                        self.destroy(channel, 16)
            except Exception as exc:  # noqa: BLE001 (reported by run.wait)
                run.error = exc
            finally:
                run.point("ended")
                run.done.set()

        run.thread = threading.Thread(target=body, name="fake-ari-call", daemon=True)
        with self._lock:
            self.runs.append(run)
        run.thread.start()
        return run

    def inbound(self, caller="600123456", *, caller_name="", did="910000000", answer="1001", busy=(),
                ring_seconds=6, talk_seconds=65, hangup_by="customer", record=False, hold=()):  # fmt: skip
        """An incoming call from the trunk: ``Stasis(<app>,inbound)``, ``Dial(${OMNI_DIAL},30)``.

        ``answer``: the extension that picks up (None: nobody, the caller hangs up after
        ``ring_seconds``: a missed call; "timeout": Dial gives up after 30 s, NOANSWER).
        ``busy``: extensions that answer busy (486, cause 17). ``caller`` "anonymous" (chan_pjsip's
        withheld caller id) or "" for a withheld number. ``record``: ``MixMonitor(${UNIQUEID}.wav)``
        before the Dial (``MIXMONITOR_FILENAME``), the file stored when the call ends."""
        return self._play(
            self._inbound, hold, caller=caller, caller_name=caller_name, did=did, answer=answer, busy=busy,
            ring_seconds=ring_seconds, talk_seconds=talk_seconds, hangup_by=hangup_by, record=record,
        )  # fmt: skip

    def _inbound(self, run, caller, caller_name, did, answer, busy, ring_seconds, talk_seconds, hangup_by, record):
        trunk = self.new_channel(
            f"PJSIP/{self.trunk}",
            state="Ring",
            caller=(caller_name, caller),
            dialplan=[self.inbound_context, did, 1, "", ""],
        )
        run.linkedid = trunk.id
        run.channels.append(trunk)
        self.stasis(trunk, ["inbound"], run)
        priority = 2
        if record:
            filename = f"/var/spool/asterisk/recording/{trunk.id}.wav"
            self.goto(trunk, priority, "MixMonitor", f"{trunk.id}.wav")
            self.set_var(trunk, "MIXMONITOR_FILENAME", filename)
            priority += 1
        targets = self._dial_targets(trunk)
        self.goto(trunk, priority, "Dial", f"{'&'.join(targets)},30")
        legs = []
        for target in targets:
            extension = target.split("/", 1)[-1]
            leg = self.new_channel(
                target,
                state="Down",
                caller=("", extension),
                connected=(caller_name, caller),
                dialplan=[self.agent_context, did, 1, "AppDial", "(Outgoing Line)"],
                linkedid=trunk.linkedid,
                inherited=self.inherit(trunk),
            )
            legs.append((extension, leg))
            run.channels.append(leg)
            self.emit("Dial", caller=trunk, peer=leg, forward="", dialstring=extension, dialstatus="")
        ringing = []
        for extension, leg in legs:
            if extension in busy:
                self.emit("Dial", caller=trunk, peer=leg, forward="", dialstring="", dialstatus="BUSY")
                self.destroy(leg, 17)
                continue
            self.set_state(leg, "Ringing")
            self.emit("Dial", caller=trunk, peer=leg, forward="", dialstring="", dialstatus="RINGING")
            ringing.append((extension, leg))
        if not ringing:  # every agent busy
            self.set_var(trunk, "DIALSTATUS", "BUSY")
            self.hangup_request(trunk, 17)
            self.destroy(trunk, 17)
            return
        self.set_state(trunk, "Ringing")
        run.point("ringing")
        winner = next((leg for extension, leg in ringing if extension == answer), None)
        if winner is None:
            if answer == "timeout":
                self.advance(30)
                status, cause = "NOANSWER", 16
            else:  # the caller hangs up while it rings
                self.advance(ring_seconds)
                self.hangup_request(trunk, 16)
                status, cause = "CANCEL", 16
            for _extension, leg in ringing:
                self.emit("Dial", caller=trunk, peer=leg, forward="", dialstring="", dialstatus=status)
                self.destroy(leg, cause)
            self.set_var(trunk, "DIALSTATUS", status)
            self.destroy(trunk, 16)
            return
        self.advance(ring_seconds)
        self.set_state(winner, "Up")
        self.emit("Dial", caller=trunk, peer=winner, forward="", dialstring="", dialstatus="ANSWER")
        for _extension, leg in ringing:
            if leg is not winner:
                self.emit("Dial", caller=trunk, peer=leg, forward="", dialstring="", dialstatus="CANCEL")
                self.destroy(leg, 26)
        self.set_state(trunk, "Up")
        run.point("answered")
        self.advance(talk_seconds)
        first, second = (trunk, winner) if hangup_by == "customer" else (winner, trunk)
        self.hangup_request(first, 16)
        self.hangup_request(second, 16, soft=True)
        self.set_var(trunk, "DIALSTATUS", "ANSWER")
        self.destroy(winner, 16)
        self.destroy(trunk, 16)
        if record:
            self.add_recording(trunk.id)

    def originate_plan(self, number, *, agent_answers=True, customer="answer", ring_seconds=5, talk_seconds=42,
                       hangup_by="customer", hold=()):  # fmt: skip
        """How the next originated calls to ``number`` (or "*") go: ``customer`` "answer",
        "noanswer" (Dial's 60 s run out), "busy" (486, cause 17), "rejected" (cause 21)."""
        self.outbound_plans[number] = {
            "agent_answers": agent_answers, "customer": customer, "ring_seconds": ring_seconds,
            "talk_seconds": talk_seconds, "hangup_by": hangup_by, "hold": hold,
        }  # fmt: skip

    def _originate(self, params, variables):
        endpoint = params.get("endpoint") or ""
        channel_id = params.get("channelId") or None
        if channel_id and len(channel_id) > 150:
            raise Failure(400, "Uniqueid length exceeds maximum of 150")
        if not endpoint:
            raise Failure(400, "Endpoint must be specified")
        if "/" not in endpoint:
            raise Failure(400, "Endpoint must be in the format technology/resource")
        if not params.get("app") and not params.get("extension"):
            raise Failure(400, "Application or extension must be specified")
        with self._lock:
            if channel_id and (channel_id in self.channels or params.get("otherChannelId") in self.channels):
                raise Failure(409, "Channel with given unique ID already exists")
            self.originated.append({"params": dict(params), "variables": dict(variables)})
        caller_id = params.get("callerId") or ""
        match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', caller_id)
        caller = (match.group(1), match.group(2)) if match else ("", caller_id)
        extension = params.get("extension") or ""
        channel = self.new_channel(
            endpoint,
            state="Down",
            caller=caller,
            dialplan=[params.get("context") or "default", extension, int(params.get("priority") or 1), "", ""],
            channel_id=channel_id,
            variables=variables,
        )
        answer = self.snapshot(channel)  # as it is when the HTTP answer leaves, before it rings
        plan = dict(self.outbound_plans.get(extension) or self.outbound_plans.get("*") or {})
        hold = plan.pop("hold", ())
        run = self._play(self._outbound, hold, channel=channel, timeout=int(params.get("timeout") or 30), **plan)
        run.linkedid = channel.id
        return answer

    def _outbound(self, run, channel, timeout, agent_answers=True, customer="answer", ring_seconds=5,
                  talk_seconds=42, hangup_by="customer"):  # fmt: skip
        run.channels.append(channel)
        self.set_state(channel, "Ringing")
        run.point("agent_ringing")
        if not agent_answers:
            self.advance(timeout)
            self.destroy(channel, 0)  # the originate timed out: ast_hangup without a cause
            return
        self.advance(2)
        self.set_state(channel, "Up")
        context, exten = channel.dialplan[0], channel.dialplan[1]
        self.stasis(channel, ["outbound"], run)
        self.goto(channel, 2, "Dial", f"PJSIP/{exten}@{self.trunk},60")
        leg = self.new_channel(
            f"PJSIP/{self.trunk}",
            state="Down",
            caller=channel.caller,
            connected=("", exten),
            dialplan=[context, exten, 1, "AppDial", "(Outgoing Line)"],
            linkedid=channel.linkedid,
            inherited=self.inherit(channel),
        )
        run.channels.append(leg)
        self.emit("Dial", caller=channel, peer=leg, forward="", dialstring=f"{exten}@{self.trunk}", dialstatus="")
        if customer in ("busy", "rejected"):
            cause = 17 if customer == "busy" else 21
            self.emit("Dial", caller=channel, peer=leg, forward="", dialstring="",
                      dialstatus="BUSY" if customer == "busy" else "CONGESTION")  # fmt: skip
            self.destroy(leg, cause)
            self.set_var(channel, "DIALSTATUS", "BUSY" if customer == "busy" else "CONGESTION")
            self.destroy(channel, cause)
            return
        self.set_state(leg, "Ringing")
        self.emit("Dial", caller=channel, peer=leg, forward="", dialstring="", dialstatus="RINGING")
        run.point("ringing")
        if customer == "noanswer":
            self.advance(60)
            self.emit("Dial", caller=channel, peer=leg, forward="", dialstring="", dialstatus="NOANSWER")
            self.destroy(leg, 16)  # hanguptree: the caller's cause, else Normal Clearing
            self.set_var(channel, "DIALSTATUS", "NOANSWER")
            self.destroy(channel, 16)
            return
        self.advance(ring_seconds)
        self.set_state(leg, "Up")
        self.emit("Dial", caller=channel, peer=leg, forward="", dialstring="", dialstatus="ANSWER")
        run.point("answered")
        self.advance(talk_seconds)
        first, second = (leg, channel) if hangup_by == "customer" else (channel, leg)
        self.hangup_request(first, 16)
        self.hangup_request(second, 16, soft=True)
        self.set_var(channel, "DIALSTATUS", "ANSWER")
        self.destroy(leg, 16)
        self.destroy(channel, 16)

    # ------------------------------------------------------------ REST
    def handle(self, method, path, query, body):
        """One REST request: (status, JSON-able or bytes, content type)."""
        if path == "/ari/api-docs/resources.json" and method == "GET":
            docs = json.loads((DATA / "resources.json").read_text())
            docs["basePath"] = f"{self.url}/ari"
            return 200, docs, None
        if path == "/ari/asterisk/info" and method == "GET":
            return 200, self._info(query.get("only")), None
        if path == "/ari/channels":
            if method == "GET":
                with self._lock:
                    return 200, [self.snapshot(c) for c in self.channels.values()], None
            if method == "POST":
                return 200, self._originate(query, _variables(body)), None
        match = re.match(r"^/ari/channels/([^/]+)(/continue|/variable)?$", path)
        if match:
            channel_id, action = unquote(match.group(1)), match.group(2)
            if method == "POST" and not action:
                return 200, self._originate(dict(query, channelId=channel_id), _variables(body)), None
            with self._lock:
                channel = self.channels.get(channel_id)
            if channel is None:
                raise Failure(404, "Channel not found")
            if not action and method == "GET":
                return 200, self.snapshot(channel), None
            if not action and method == "DELETE":
                reason = query.get("reason") or "normal"
                causes = {"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "answered_elsewhere": 26}
                if reason not in causes:
                    raise Failure(400, "Invalid reason for hangup provided")
                threading.Thread(target=self._hangup, args=(channel, causes[reason]), daemon=True).start()
                return 204, None, None
            if action == "/continue" and method == "POST":
                if channel.in_stasis is None:
                    raise Failure(409, "Channel not in a Stasis application")
                channel.continued.set()
                return 204, None, None
            if action == "/variable":
                variable = query.get("variable")
                if not variable:
                    raise Failure(400, "Variable name is required")
                if channel.in_stasis is None:
                    raise Failure(409, "Channel not in a Stasis application")
                if method == "POST":
                    self.set_var(channel, variable, query.get("value") or "")
                    return 204, None, None
                if method == "GET":
                    if variable.upper() == "CHANNEL(LINKEDID)":
                        return 200, {"value": channel.linkedid}, None
                    value = channel.var(variable)
                    if value is None:
                        raise Failure(404, "Provided variable was not found")
                    return 200, {"value": value}, None
        match = re.match(r"^/ari/applications/([^/]+)$", path)
        if match and method == "GET":
            app = unquote(match.group(1))
            if not self.connected(app):
                raise Failure(404, "Application not found")
            with self._lock:
                in_app = [c.id for c in self.channels.values() if c.in_stasis == app]
            return 200, {"name": app, "channel_ids": in_app, "bridge_ids": [], "endpoint_ids": [], "device_names": [],
                         "events_allowed": [], "events_disallowed": []}, None  # fmt: skip
        match = re.match(r"^/ari/recordings/stored/([^/]+)/file$", path)
        if match and method == "GET":
            with self._lock:
                found = self.recordings.get(unquote(match.group(1)))
            if not found:
                raise Failure(404, "Recording not found")
            content, fmt = found
            return 200, content, {"wav": "audio/wav", "gsm": "audio/x-gsm"}.get(fmt, "application/octet-stream")
        raise Failure(404, "Resource not found")

    def _hangup(self, channel, cause):
        channel.hungup = True
        self.hangup_request(channel, cause, soft=True)
        channel.continued.set()  # a channel in Stasis leaves it, and the scenario stops at its next step

    def _info(self, only):
        info = {
            "build": {"os": "Linux", "kernel": "6.1.0-18-amd64", "options": "BUILD_NATIVE, OPTIONAL_API",
                      "machine": "x86_64", "date": "2025-06-02 10:11:12 UTC", "user": "root"},
            "system": {"version": "22.4.1", "entity_id": ASTERISK_ID},
            "config": {"name": "", "default_language": "en", "setid": {"user": "asterisk", "group": "asterisk"}},
            "status": {"startup_time": self.timestamp(self.clock - timedelta(days=3)),
                       "last_reload_time": self.timestamp(self.clock - timedelta(hours=5))},
        }  # fmt: skip
        if only:
            wanted = set(only.split(","))
            info = {name: value for name, value in info.items() if name in wanted}
        return info

    def authorized(self, headers, query):
        header = headers.get("Authorization") or ""
        if header.startswith("Basic "):
            try:
                user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == (self.user, self.password)
        if query.get("api_key"):
            user, _sep, password = query["api_key"].partition(":")
            return (user, password) == (self.user, self.password)
        return False

    def rule_for(self, method, path):
        with self._lock:
            for rule in self._rules:
                if rule.method in (method, "*") and rule.pattern.search(path) and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None


def _variables(body):
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise Failure(400, "Failed to parse request body") from None
    variables = data.get("variables") if isinstance(data, dict) else None
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise Failure(400, "Each value in 'variables' must be a string or an object")
    result = {}
    for name, value in variables.items():
        if isinstance(value, dict):
            value = value.get("value")
        if not isinstance(value, str):
            raise Failure(400, "Each value in 'variables' must be a string or an object with 'value'")
        result[name] = value
    return result


class _Handler(BaseHTTPRequestHandler):
    ari = None  # set by FakeAri.start
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method):
        parts = urlsplit(self.path)
        path, query = parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.ari._lock:
            self.ari.requests.append({"method": method, "path": path, "query": query, "body": body})
        if path.endswith("/") and path != "/":
            return self._answer(404, {"message": f"ARI URLs do not end with a slash. Try {path.rstrip('/')}"})
        if not path.startswith("/ari/"):
            return self._answer(404, {"message": "Not found"})
        if not self.ari.authorized(self.headers, query):
            return self._answer(
                401,
                {"message": "Authentication required"},
                headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )
        if path == "/ari/events" and method == "GET":
            return self._websocket(query)
        rule = self.ari.rule_for(method, path)
        if rule:
            if rule.delay:
                time.sleep(rule.delay)
            if rule.status:
                if rule.body is not None:
                    return self._answer(rule.status, rule.body, content_type="text/html")
                return self._answer(rule.status, {"message": "Injected failure"})
        try:
            status, payload, content_type = self.ari.handle(method, path, query, body)
        except Failure as failure:
            return self._answer(failure.status, {"message": failure.message})
        self._answer(status, payload, content_type=content_type)

    def _answer(self, status, payload, content_type=None, headers=None):
        if isinstance(payload, (bytes, str)):
            data = payload if isinstance(payload, bytes) else payload.encode()
        elif payload is None:
            data = b""
        else:
            data = json.dumps(payload).encode()
            content_type = "application/json"
        self.send_response(status)
        if data or status != 204:
            self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Server", "Asterisk/22.4.1")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            if data:
                self.wfile.write(data)
        except OSError:  # the client gave up waiting (a timeout test)
            self.close_connection = True

    # ------------------------------------------------------------ the events WebSocket
    def _websocket(self, query):
        ari = self.ari
        if (self.headers.get("Upgrade") or "").lower() != "websocket" or not self.headers.get("Sec-WebSocket-Key"):
            return self._answer(400, {"message": "Not a WebSocket upgrade request"})
        if not query.get("app"):
            return self._answer(400, {"message": "HTTP request is missing param: [app]"})
        with ari._lock:
            refused = ari._refuse_ws.pop(0) if ari._refuse_ws else None
        if refused:
            return self._answer(refused, {"message": "Service Unavailable"})
        accept = base64.b64encode(
            hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest()
        ).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        if "ari" in (self.headers.get("Sec-WebSocket-Protocol") or ""):
            self.send_header("Sec-WebSocket-Protocol", "ari")
        self.end_headers()
        self.wfile.flush()
        apps = [app.strip() for app in query["app"].split(",") if app.strip()]
        self.session = _Session(self, apps, query.get("subscribeAll", "").lower() in ("true", "yes", "1"))
        self._write_lock = threading.Lock()
        with ari._lock:
            ari._sessions.append(self.session)
        threading.Thread(target=self._read_frames, daemon=True, name="fake-ari-ws-read").start()
        try:
            while not self.session.closed.is_set():
                try:
                    text = self.session.outbox.get(timeout=0.05)
                except queue.Empty:
                    continue
                self._frame(0x1, text.encode())
        except OSError:
            pass
        finally:
            self.session.closed.set()
            with ari._lock:
                if self.session in ari._sessions:
                    ari._sessions.remove(self.session)
            self.close_connection = True

    def _frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        size = len(payload)
        if size < 126:
            header += bytes([size])
        elif size < 65536:
            header += bytes([126]) + struct.pack("!H", size)
        else:
            header += bytes([127]) + struct.pack("!Q", size)
        with self._write_lock:
            self.wfile.write(header + payload)
            self.wfile.flush()

    def _read_frames(self):
        try:
            while not self.session.closed.is_set():
                head = self.rfile.read(2)
                if len(head) < 2:
                    break
                opcode, size = head[0] & 0x0F, head[1] & 0x7F
                if size == 126:
                    size = struct.unpack("!H", self.rfile.read(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", self.rfile.read(8))[0]
                mask = self.rfile.read(4) if head[1] & 0x80 else b"\x00\x00\x00\x00"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(size)))
                if opcode == 0x8:  # close
                    try:
                        self._frame(0x8, data[:2])
                    except OSError:
                        pass
                    break
                if opcode == 0x9:  # ping
                    self._frame(0xA, data)
        except (OSError, ValueError, struct.error):
            pass
        self.session.closed.set()

    def cut(self, clean):
        if clean:
            try:
                self._frame(0x8, struct.pack("!H", 1001))
            except OSError:
                pass
        self.session.closed.set()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
