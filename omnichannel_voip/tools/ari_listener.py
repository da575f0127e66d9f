"""The Asterisk ARI listener: a long-running process beside Odoo (``odoo omnichannel-ari``).

One thread per active Asterisk channel of the database holds the channel's events WebSocket
(``/ari/events?app=<app>&subscribeAll=true``, websocket-client). Each event that says something
about a call (``ari_events.is_relevant``) is stored in the inbox as the webhook route stores a
delivery (``omnichannel.inbox._store``, key ``ari_events.event_key``: a replayed event is stored
once) and committed, then processed at once in this process (``omnichannel.inbox._process``), so
that the agent's screen pop leaves within milliseconds of the ringing event. When processing fails
the delivery stays pending and the inbox's cron job retries it, as any webhook delivery.

A ``StasisStart`` of our app (the dialplan's ``Stasis(<app>,inbound|outbound)``) holds the call
until we let it go: the provider's ``_ari_route(channel, event)`` names the variables to set
(``OMNI_DIAL``: whom to ring), ``__OMNI_CALL`` marks the call as ours (inherited by every leg), and
the channel continues in the dialplan whatever failed on the way: a call is never left stuck.

The connection is retried with exponential backoff (1 s doubling to 30 s, with jitter). On every
(re)connection the listener reads the channels back (``GET /channels``): channels still waiting in
our Stasis app are routed and continued, the others are fed as their current state, and the calls
of the channel still open here whose ``linkedid`` no longer has a channel are ended: nothing that
happened while the socket was down leaves a call missed or half-open.

The listener never does business work itself: it only hands events to the inbox, as queue_job's
runner hands jobs to Odoo.
"""

import json
import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import websocket

from odoo import SUPERUSER_ID, api, fields

from odoo.addons.omnichannel_base.tools.retry import retry_on_concurrency

from . import ari_events
from .ari_client import AriClient, AriError

_logger = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0  # seconds before the first reconnection
BACKOFF_CAP = 30.0
STABLE = 60.0  # a connection that lasted this long resets the backoff
RECV_TIMEOUT = 1.0  # how often a quiet socket checks whether it should stop
PING_INTERVAL = 20.0  # seconds between pings; one unanswered for half of this means the connection is dead
RECONCILE_INTERVAL = 120.0  # open calls without a channel are ended at least this often, not only on reconnect
DIALING_GRACE = timedelta(minutes=2)  # a click-to-dial row whose channel may not exist yet
PROVIDER = "asterisk"
OPEN_STATES = ("dialing", "ringing", "answered")


def ari_now():
    """Now, as an ARI ``Date`` in UTC."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class AriListener:
    """The events of one Asterisk channel (``omnichannel.channel`` ``channel_id``) of ``registry``.

    ``run()`` loops until ``stop()``; tests may instead call ``connect()``, ``resync()`` and
    ``pump(until=…)`` in their own thread."""

    def __init__(self, registry, channel_id, stop_event=None, backoff_cap=BACKOFF_CAP, timeout=(3.05, 10)):
        self.registry = registry
        self.channel_id = channel_id
        self.stopping = stop_event or threading.Event()
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.ws = None
        self.settings = None
        self.client = None
        self.stats = {"connections": 0, "events": 0, "stored": 0, "processed": 0, "routed": 0, "errors": 0}
        self.idle = threading.Event()
        self.suspects = set()  # open calls without a channel at the last periodic check
        self.touched = set()  # calls an event was read for since then

    # ------------------------------------------------------------ database access
    def _env_call(self, func):
        """``func(env)`` in a transaction of its own, committed (retried on concurrency errors)."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return retry_on_concurrency(env, lambda: func(env))

    def load(self):
        """The channel's ARI settings; None when the channel is gone, inactive or no longer Asterisk."""

        def read(env):
            channel = env["omnichannel.channel"].with_context(active_test=False).browse(self.channel_id).exists()
            if not channel or not channel.active or channel.provider != PROVIDER:
                return None
            return {
                "name": channel.name,
                "url": channel.ari_url,
                "user": channel.ari_user,
                "password": channel.ari_password,
                "app": channel.ari_app or "omnichannel",
                "endpoint_template": channel.ari_endpoint_template or "PJSIP/{extension}",
                "outbound_context": channel.ari_outbound_context or None,
            }

        self.settings = self._env_call(read)
        if self.settings:
            self.client = AriClient(
                self.settings["url"], self.settings["user"], self.settings["password"], self.timeout
            )
        return self.settings

    # ------------------------------------------------------------ the loop
    def stop(self):
        self.stopping.set()
        ws = self.ws
        if ws is not None:
            try:
                ws.close(timeout=1)
            except Exception:  # noqa: BLE001 (closing a socket that may be dead already)
                pass

    def run(self):
        backoff = BACKOFF_FIRST
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                if not self.load():
                    _logger.info(
                        "ARI listener of channel %s: not an active Asterisk channel, stopping", self.channel_id
                    )
                    return
                self.connect()
                backoff = BACKOFF_FIRST
                self.resync()
                self.pump()
            except Exception as exc:  # noqa: BLE001 (a listener outlives every failure)
                if self.stopping.is_set():
                    break
                self.stats["errors"] += 1
                level = (
                    logging.WARNING
                    if isinstance(exc, (AriError, OSError, websocket.WebSocketException))
                    else logging.ERROR
                )
                _logger.log(
                    level, "ARI listener of channel %s: %s", self.channel_id, exc, exc_info=level == logging.ERROR
                )
            finally:
                self.disconnect()
            if self.stopping.is_set():
                break
            if time.monotonic() - started > STABLE:
                backoff = BACKOFF_FIRST
            wait = min(backoff, self.backoff_cap) * random.uniform(0.8, 1.2)
            _logger.info("ARI listener of channel %s: reconnecting in %.1f s", self.channel_id, wait)
            self.stopping.wait(wait)
            backoff = min(backoff * 2, self.backoff_cap)

    def connect(self):
        settings = self.settings or self.load()
        url = self.client.events_url(settings["app"], subscribe_all=True)
        self.ws = websocket.create_connection(
            url,
            header=[self.client.auth_header()],
            timeout=max(self.timeout) if isinstance(self.timeout, tuple) else self.timeout,
        )
        self.ws.settimeout(RECV_TIMEOUT)
        self.stats["connections"] += 1
        _logger.info("ARI listener of channel %s connected to %s", self.channel_id, url.split("?", 1)[0])

    def disconnect(self):
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close(timeout=1)
            except Exception:  # noqa: BLE001
                pass

    def pump(self, until=None, timeout=None):
        """Handle events until the socket closes or ``stop()`` (or ``until()`` is true, or
        ``timeout`` seconds passed: for tests). Raises when the connection is lost, or looks
        lost: a ping that nothing answered within half a ping interval (a NAT or firewall that
        dropped the connection silently; Asterisk would meanwhile hold calls in Stasis)."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        last_ping = last_reconcile = last_frame = time.monotonic()
        while not self.stopping.is_set():
            if until is not None and until():
                return True
            now = time.monotonic()
            if deadline is not None and now > deadline:
                return False
            if last_ping > last_frame and now - last_ping > PING_INTERVAL / 2:
                raise websocket.WebSocketConnectionClosedException("no answer to our ping: the connection is dead")
            if now - last_ping > PING_INTERVAL:
                self.ws.ping()
                last_ping = now
            if now - last_reconcile > RECONCILE_INTERVAL:
                # Checked on a busy socket too. A call whose events were not ours to read (its
                # marker could not be set) or were lost would stay open: end it once Asterisk
                # has no channel for it.
                self.reconcile(confirm=True)
                last_reconcile = time.monotonic()
            try:
                self.idle.set()
                opcode, data = self.ws.recv_data(control_frame=True)  # pongs count as signs of life
            except websocket.WebSocketTimeoutException:
                continue
            finally:
                self.idle.clear()
            last_frame = time.monotonic()
            if self.ws is None or not self.ws.connected or opcode == websocket.ABNF.OPCODE_CLOSE:
                raise websocket.WebSocketConnectionClosedException("the events WebSocket closed")
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY) and data:
                self.handle_message(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)
        return False

    # ------------------------------------------------------------ events
    def handle_message(self, message):
        try:
            event = json.loads(message)
        except ValueError:
            _logger.warning("ARI listener of channel %s: a frame that is not JSON: %.200r", self.channel_id, message)
            return
        if isinstance(event, dict):
            self.handle_event(event)

    def handle_event(self, event, route=True):
        """Store the event if it matters, route a call waiting in our app, process the event."""
        self.stats["events"] += 1
        settings = self.settings
        options = {"outbound_context": settings["outbound_context"], "endpoint_template": settings["endpoint_template"]}
        waiting = (
            route
            and event.get("type") == "StasisStart"
            and event.get("application") == settings["app"]
            and isinstance(event.get("channel"), dict)
        )
        row_id = None
        for name in ("channel", "peer", "caller"):
            if isinstance(event.get(name), dict):
                self.touched.add(ari_events.linkedid(event[name]) or event[name].get("id"))
        try:
            if ari_events.is_relevant(event, **options):
                row_id = self._store(event)
        finally:
            if waiting:
                self.route(event)
        if row_id:
            self._process(row_id)
        return row_id

    def _store(self, event):
        body = json.dumps(event).encode()  # ASCII: a lone surrogate in a caller name cannot fail it
        key = ari_events.event_key(self.channel_id, event)

        def store(env):
            channel = env["omnichannel.channel"].browse(self.channel_id)
            # Not woken: processed here right after; the inbox job would only race us for it.
            return env["omnichannel.inbox"]._store(channel, body, "application/json", key=key, wake=False)

        row_id = self._env_call(store)
        if row_id:
            self.stats["stored"] += 1
        return row_id

    def _process(self, row_id):
        """Process the stored event now; on failure it stays pending for the inbox's cron job."""

        def process(env):
            env.cr.execute(
                "SELECT id FROM omnichannel_inbox WHERE id = %s AND state = 'pending' FOR UPDATE SKIP LOCKED",
                [row_id],
            )
            if env.cr.fetchone():  # else the cron job has it, or had it
                env["omnichannel.inbox"].browse(row_id)._process()
                return True
            return False

        try:
            if self._env_call(process):
                self.stats["processed"] += 1
        except Exception:  # noqa: BLE001 (the cron job retries the delivery)
            self.stats["errors"] += 1
            _logger.exception("ARI listener of channel %s: delivery %s left to the inbox job", self.channel_id, row_id)

    def route(self, event):
        """Set the provider's routing variables on a channel in our app and let it go on."""
        channel_id = event["channel"]["id"]
        args = event.get("args") if isinstance(event.get("args"), list) else []
        direction = str(args[0]).strip().lower() if args else ""
        variables = {}
        try:

            def ask(env):
                channel = env["omnichannel.channel"].browse(self.channel_id)
                provider = channel._provider()
                if not hasattr(provider, "_ari_route"):
                    return {}
                return provider._ari_route(channel, event) or {}

            variables = dict(self._env_call(ask))
        except Exception:  # noqa: BLE001 (the call goes on with the dialplan's fallback)
            self.stats["errors"] += 1
            _logger.exception("ARI listener of channel %s: no route for %s", self.channel_id, channel_id)
        if direction in ari_events.DIRECTIONS and not any(n.lstrip("_") == ari_events.MARKER_VAR for n in variables):
            variables["__" + ari_events.MARKER_VAR] = direction
        try:
            for name, value in variables.items():
                for attempt in (1, 2):
                    try:
                        self.client.set_variable(channel_id, name, "" if value is None else str(value))
                        break
                    except AriError as exc:
                        if exc.not_found:
                            return  # the caller hung up already
                        if exc.transient and attempt == 1:
                            continue  # setting a variable twice does no harm
                        _logger.warning("ARI listener: cannot set %s on %s: %s", name, channel_id, exc)
        finally:
            try:
                self.client.continue_in_dialplan(channel_id)
                self.stats["routed"] += 1
            except AriError as exc:
                if not (exc.not_found or exc.conflict):  # gone, or not in Stasis any more: nothing to free
                    self.stats["errors"] += 1
                    _logger.warning("ARI listener: cannot continue %s in the dialplan: %s", channel_id, exc)

    # ------------------------------------------------------------ after a (re)connection
    def resync(self):
        """Catch up with what happened while the socket was down (see the module's docstring)."""
        app = self.settings["app"]
        snapshots = [c for c in self.client.channels() if isinstance(c, dict) and c.get("id")]
        alive = set()
        for snapshot in snapshots:
            alive.add(ari_events.linkedid(snapshot) or snapshot["id"])
            dialplan = snapshot.get("dialplan") if isinstance(snapshot.get("dialplan"), dict) else {}
            stasis_args = str(dialplan.get("app_data") or "").split(",")
            event = {"timestamp": ari_now(), "channel": snapshot, "asterisk_id": "", "application": app}
            if dialplan.get("app_name") == "Stasis" and stasis_args[0].strip() == app:
                # It entered our app while nobody listened (or before its StasisStart was read): it waits.
                self.handle_event(dict(event, type="StasisStart", args=[a.strip() for a in stasis_args[1:]]))
            else:
                self.handle_event(dict(event, type="ChannelStateChange"), route=False)
        self.close_vanished(alive)

    def reconcile(self, confirm=False):
        """End the open calls whose linkedid has no channel any more (no synthetic events).

        ``confirm`` (the periodic check, on a live socket): a call whose channels are gone may
        only have its last events still unread on a busy socket. It is ended only when it was
        gone at the previous check too and no event about it was read since."""
        try:
            snapshots = [c for c in self.client.channels() if isinstance(c, dict) and c.get("id")]
        except AriError as exc:
            _logger.warning("ARI listener of channel %s: cannot list the channels: %s", self.channel_id, exc)
            return []
        alive = {ari_events.linkedid(c) or c["id"] for c in snapshots}
        if not confirm:
            return self.close_vanished(alive)
        confirmed = self.suspects - self.touched
        closed = self.close_vanished(alive, only=confirmed) if confirmed else []
        self.suspects = set(self._env_call(lambda env: self._vanished(env, alive))) - set(closed)
        self.touched = set()
        return closed

    def _vanished(self, env, alive):
        """Keys of the channel's open calls that Asterisk has no channel for."""
        now = fields.Datetime.now()
        calls = env["omnichannel.call"].search(
            [("channel_id", "=", self.channel_id), ("state", "in", OPEN_STATES), ("call_key", "not in", list(alive))]
        )
        return calls.filtered(lambda c: c.state != "dialing" or c.create_date < now - DIALING_GRACE).mapped("call_key")

    def close_vanished(self, alive, only=None):
        """End the channel's open calls whose linkedid has no channel any more (of ``only``, if given)."""
        now = fields.Datetime.now()

        def close(env):
            keys = self._vanished(env, alive)
            if only is not None:
                keys = [key for key in keys if key in only]
            if keys:
                env["omnichannel.call"]._apply_updates([self._ended(key, now) for key in keys])
            return keys

        closed = self._env_call(close)
        if closed:
            _logger.info(
                "ARI listener of channel %s: %s call(s) ended: Asterisk has no channel for them any more",
                self.channel_id,
                len(closed),
            )
        return closed

    def _ended(self, call_key, date):
        return {
            "channel_id": self.channel_id,
            "call_key": call_key,
            "date": date,
            "direction": None,
            "customer_number": None,
            "withheld": False,
            "customer_name": None,
            "our_number": None,
            "agent_extension": None,
            "state": "ended",
            "outcome": None,
            "cause": None,
            "cause_text": None,
            "talk_seconds": None,
            "recording": None,
        }


class AriSupervisor:
    """Keeps one listener thread per active Asterisk channel of ``registry``'s database, and
    follows channels being added, changed, archived (checked every ``interval`` seconds)."""

    def __init__(self, registry, interval=30.0):
        self.registry = registry
        self.interval = interval
        self.stopping = threading.Event()
        self.listeners = {}  # channel id -> (settings signature, listener, thread)

    def channels(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            channels = env["omnichannel.channel"].search([("provider", "=", PROVIDER), ("active", "=", True)])
            return {
                c.id: (
                    c.ari_url,
                    c.ari_user,
                    c.ari_password,
                    c.ari_app,
                    c.ari_endpoint_template,
                    c.ari_outbound_context,
                )
                for c in channels
            }

    def sync(self):
        try:
            wanted = self.channels()
        except Exception:  # noqa: BLE001 (the database may be restarting: try at the next round)
            _logger.exception("ARI listener: cannot read the Asterisk channels")
            return
        for channel_id, (signature, listener, thread) in list(self.listeners.items()):
            if wanted.get(channel_id) != signature or not thread.is_alive():
                listener.stop()
                thread.join(5)
                del self.listeners[channel_id]
        for channel_id, signature in wanted.items():
            if channel_id not in self.listeners and signature[0]:
                listener = AriListener(self.registry, channel_id)
                thread = threading.Thread(target=listener.run, name=f"omnichannel-ari-{channel_id}", daemon=True)
                thread.start()
                self.listeners[channel_id] = (signature, listener, thread)

    def run(self):
        _logger.info("ARI listener started on database %s", self.registry.db_name)
        while not self.stopping.is_set():
            self.sync()
            self.stopping.wait(self.interval)
        for _signature, listener, _thread in self.listeners.values():
            listener.stop()
        for _signature, _listener, thread in self.listeners.values():
            thread.join(5)
        _logger.info("ARI listener stopped")

    def stop(self):
        self.stopping.set()
