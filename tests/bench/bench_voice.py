#!/usr/bin/env python3
"""Benchmark of the voice path (Asterisk ARI) through the real listener process (``make bench``).

On the bench database that bench_ingest.py builds (1,000,000 partners and 1,000,000 interactions),
with ``omnichannel_voip`` installed and up to date, it starts the local ARI server
(``omnichannel_voip/tests/fake_ari.py``) on 127.0.0.1, points an Asterisk channel at it (a team of
agents with extensions), and starts the listener as README and ``make run`` start it
(``python -m odoo --addons-path=… omnichannel-ari -c odoo.conf -d <db>``, a process of its own).
Then:

- throughput: ``--calls`` calls played by ``--lines`` concurrent lines (inbound answered, inbound
  missed, click-to-dial style outbound calls answered / not answered / busy; from bench customers'
  stored numbers in national, E.164 and 00 form, and from new numbers), each a real ARI event
  sequence waiting in Stasis for the listener's ``/continue``: events per second from the first
  frame sent until every call's row in ``omnichannel_call`` is ended; exactly once: one call row
  and one timeline row per call, inbox rows = distinct relevant events, no failed or pending
  delivery, the outcome the PBX played, known customers found, one contact per new number, one
  screen pop per agent whose phone rang;
- screen-pop latency: ``--pops`` inbound calls one at a time, each ringing another agent, from the
  moment the ARI server sends the frame of the agent's ringing (the first event the parser reads as
  "ringing for extension X") to the bus message being committed and NOTIFYed (``LISTEN imbus`` on a
  separate connection, channel ``["<db>", "res.partner", <agent's partner id>]``): p50 and p95.

Only 127.0.0.1 is contacted. Exits 0 whatever the figures.
"""

import argparse
import base64
import http.client
import importlib.util
import itertools
import json
import os
import queue
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from bench_ingest import BUILT_KEY, CODE_KEY, REF_PREFIX, STATE_KEY, national_number
from benchlib import code_digest, odoo_cli, percentile, read_params, say, say_targets, stepper

ROOT = Path(__file__).resolve().parents[2]
step = stepper("voice")
MODULES = ["omnichannel_base", "omnichannel_voip"]
VOICE_CODE_KEY = "omnichannel.bench_voice_code"  # digest of MODULES' code the database was updated with
RUNS_KEY = "omnichannel.bench_voice_runs"  # run counter: fresh numbers and call ids each run
CHANNEL_NAME = "Bench Asterisk (voice bench)"
TEAM_NAME = "Bench phones"
AGENT_LOGIN = "bench_voice_agent_{:02d}"
EXTENSION = "7{:03d}"
ARI_USER, ARI_PASSWORD, ARI_APP = "omni", "secret", "omnichannel"
OUTBOUND_CONTEXT = "omnichannel-outbound"
DID = "910000000"
TARGET_POP_P95_MS = 300
SCREEN_POP = "omnichannel_voip/screen_pop"
NO_PROGRESS_TIMEOUT = 120  # seconds without a call ending before giving up


# --------------------------------------------------------------------------- database
def ensure_modules(odoo, args):
    """The bench database, with omnichannel_voip installed and both modules at the current code.
    Returns the number of bench partners, or None when the database is missing."""
    from odoo.service import db as db_service

    if args.db not in db_service.list_dbs(True):
        say(f"[voice] {args.db} does not exist: `make bench` (bench_ingest.py) builds it first; nothing measured.")
        return None
    params = read_params(odoo, args.db, "omnichannel.bench_")
    if not params or params.get(STATE_KEY) != "built":
        say(f"[voice] {args.db} is not a complete bench database (bench_ingest.py builds one); nothing measured.")
        return None
    partners = int(params[BUILT_KEY].split(":")[0])
    conn = odoo.sql_db.db_connect(args.db)
    with conn.cursor() as cr:
        cr.execute("SELECT state FROM ir_module_module WHERE name = 'omnichannel_voip'")
        voip = (cr.fetchone() or [None])[0]
    odoo.sql_db.close_db(args.db)
    digest = code_digest(MODULES)
    base_current = params.get(CODE_KEY) == code_digest(["omnichannel_base"])
    if voip != "installed":
        with step(f"installing omnichannel_voip in {args.db} (and updating omnichannel_base)"):
            odoo_cli(args.config, "-d", args.db, "-i", "omnichannel_voip", "-u", "omnichannel_base")
    elif params.get(VOICE_CODE_KEY) != digest:
        modules = MODULES if not base_current else ["omnichannel_voip"]
        with step(f"updating {', '.join(modules)} in {args.db} (their code changed since the last run)"):
            odoo_cli(args.config, "-d", args.db, "-u", ",".join(modules))
    else:
        return partners
    from odoo.modules.registry import Registry

    with Registry(args.db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param(VOICE_CODE_KEY, digest)
        # omnichannel_base is up to date too: bench_ingest.py need not update it again
        env["ir.config_parameter"].set_param(CODE_KEY, code_digest(["omnichannel_base"]))
    return partners


def set_up(odoo, registry, ari_url, agents):
    """``agents`` users with extensions 7001…, a team, and the Asterisk channel pointed at
    ``ari_url`` (the only active Asterisk channel we own). Returns what the run needs."""
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        run = int(env["ir.config_parameter"].get_param(RUNS_KEY, 0)) + 1
        env["ir.config_parameter"].set_param(RUNS_KEY, run)
        spain = env.ref("base.es")
        group = env.ref("omnichannel_base.group_omnichannel_user")
        Users = env["res.users"].with_context(active_test=False, no_reset_password=True)
        users = []
        for n in range(1, agents + 1):
            login = AGENT_LOGIN.format(n)
            user = Users.search([("login", "=", login)]) or Users.create(
                {
                    "name": f"Bench Phone Agent {n:02d}",
                    "login": login,
                    "email": f"{login}@example.com",
                    "groups_id": [(6, 0, [group.id])],
                }
            )
            user.write({"active": True, "omni_extension": EXTENSION.format(n)})
            users.append(user)
        team = env["omnichannel.team"].search([("name", "=", TEAM_NAME)], limit=1) or env["omnichannel.team"].create(
            {"name": TEAM_NAME}
        )
        Channel = env["omnichannel.channel"].with_context(active_test=False)
        channel = Channel.search([("name", "=", CHANNEL_NAME)], limit=1) or Channel.create(
            {"name": CHANNEL_NAME, "channel_type": "voice", "provider": "asterisk"}
        )
        channel.write(
            {
                "active": True,
                "provider": "asterisk",
                "country_id": spain.id,
                "team_id": team.id,
                "ari_url": ari_url,
                "ari_user": ARI_USER,
                "ari_password": ARI_PASSWORD,
                "ari_app": ARI_APP,
                "ari_endpoint_template": "PJSIP/{extension}",
                "ari_outbound_context": OUTBOUND_CONTEXT,
            }
        )
        others = Channel.search([("provider", "=", "asterisk"), ("active", "=", True), ("id", "!=", channel.id)])
        cr.execute("SHOW fsync")
        fsync = cr.fetchone()[0]
        cr.execute("SHOW synchronous_commit")
        synchronous_commit = cr.fetchone()[0]
        return {
            "run": run,
            "channel_id": channel.id,
            "team_id": team.id,
            "agents": [
                {"id": u.id, "partner_id": u.partner_id.id, "extension": u.omni_extension, "name": u.name}
                for u in users
            ],
            "other_channels": others.mapped("name"),
            "durability": f"fsync={fsync}, synchronous_commit={synchronous_commit}",
        }


def set_team(odoo, registry, setup, agents):
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["omnichannel.team"].browse(setup["team_id"]).member_ids = [(6, 0, [a["id"] for a in agents])]


def sql(registry, query, params=None):
    with registry.cursor() as cr:
        cr.execute(query, params or [])
        return cr.fetchall()


def max_id(registry, table):
    return sql(registry, f"SELECT COALESCE(max(id), 0) FROM {table}")[0][0]  # noqa: S608 (our table names)


# --------------------------------------------------------------------------- the ARI server, timed
def bench_ari(fake, ari_events):
    """The local ARI server, noting when each events frame is written to the WebSocket (and, while
    ``watch`` is on, which frame first says that a call rings for an agent)."""

    class Handler(fake._Handler):
        def _frame(self, opcode, payload):
            if opcode == 0x1:
                self.ari.on_frame(payload)
            super()._frame(opcode, payload)

    class BenchAri(fake.FakeAri):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.frames = 0
            self.first_frame = self.last_frame = None
            self.watch = False
            self.rings = {}  # linkedid -> (perf_counter, extension): the first frame of an agent's ringing
            self.rang = threading.Condition()

        def start(self):  # FakeAri.start, with the timed handler
            handler = type("Handler", (Handler,), {"ari": self})
            self._server = fake.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self._server.daemon_threads = True
            threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-ari", daemon=True).start()

        # A real Asterisk stamps each event with its own clock, in real time; the test server's clock
        # jumps by the ringing and talk times instead (tests do not sleep), so that thousands of calls
        # played at once would be stamped hours ahead, and refused as dated in the future.
        def advance(self, seconds):
            pass

        def _tick(self):
            with self._lock:
                self.clock = max(datetime.now(UTC).replace(tzinfo=None), self.clock + timedelta(milliseconds=1))
                return self.clock

        def on_frame(self, payload):
            moment = time.perf_counter()
            self.frames += 1
            if self.first_frame is None:
                self.first_frame = moment
            self.last_frame = moment
            if not self.watch:
                return
            event = json.loads(payload)
            options = {"outbound_context": OUTBOUND_CONTEXT, "endpoint_template": "PJSIP/{extension}"}
            for update in ari_events.parse_event(event, 0, **options):
                if update["state"] == "ringing" and update["agent_extension"]:
                    with self.rang:
                        self.rings.setdefault(update["call_key"], (moment, update["agent_extension"]))
                        self.rang.notify_all()

        def mark(self):
            """Start counting frames afresh."""
            self.frames, self.first_frame, self.last_frame = 0, None, None

    return BenchAri


def originate(ari, params, variables):
    """``POST /ari/channels`` as the provider's ``_originate`` sends it (click-to-dial)."""
    host, port = ari._server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    auth = base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
    try:
        conn.request(
            "POST",
            "/ari/channels?" + urlencode(params),
            body=json.dumps({"variables": variables}),
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"originate answered {response.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


# --------------------------------------------------------------------------- the listener process
class Listener:
    """``python -m odoo --addons-path=… omnichannel-ari -c <conf> -d <db>``, as README and
    ``make run`` start it; its log goes to ``logfile``."""

    def __init__(self, odoo, config, db, logfile, jit=True):
        self.cmd = [
            sys.executable,
            "-m",
            "odoo",
            f"--addons-path={odoo.tools.config['addons_path']}",
            "omnichannel-ari",
            "-c",
            config,
            "-d",
            db,
            "--logfile",
            str(logfile),
        ]
        self.logfile = logfile
        self.env = dict(os.environ)
        if not jit:
            self.env["PGOPTIONS"] = f"{self.env.get('PGOPTIONS', '')} -c jit=off".strip()
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        return self

    def __exit__(self, *exc):
        self.stop()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group
            self.proc.wait(10)

    def log_lines(self, pattern):
        try:
            text = Path(self.logfile).read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if re.search(pattern, line)]


# --------------------------------------------------------------------------- the bus
class BusWatcher:
    """``LISTEN imbus`` on its own connection to the database Odoo notifies on ("postgres"), noting
    when each notification arrives and the channels it names."""

    def __init__(self, odoo):
        import psycopg2

        _name, dsn = odoo.sql_db.connection_info_for("postgres")
        self.conn = psycopg2.connect(**dsn)
        self.conn.autocommit = True
        self.conn.cursor().execute("LISTEN imbus")
        self.notes = queue.Queue()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="bench-imbus", daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping.is_set():
            if select.select([self.conn], [], [], 0.2) == ([], [], []):
                continue
            self.conn.poll()
            moment = time.perf_counter()
            while self.conn.notifies:
                note = self.conn.notifies.pop(0)
                try:
                    channels = json.loads(note.payload)
                except ValueError:
                    continue
                self.notes.put((moment, channels))

    def drain(self):
        while True:
            try:
                self.notes.get_nowait()
            except queue.Empty:
                return

    def close(self):
        self.stopping.set()
        self.thread.join(2)
        self.conn.close()


# --------------------------------------------------------------------------- what is played
class Callers:
    """Who calls or is called: a bench customer (their stored number, written as trunks present it:
    national, E.164 or 00-prefixed), or a new number (Lisbon landlines, +351 21x xxx xxx, a range
    the bench database never holds; 100,000 fresh ones per run)."""

    def __init__(self, rng, run, partners):
        self.rng, self.partners = rng, partners
        start = (run % 99) * 100000
        self.numbers = (f"35121{n:07d}" for n in range(start, start + 100000))
        self.turn = itertools.count()

    def next(self, known_share=0.5):
        """(kind, bench index or None, number as the trunk gives it, E.164)"""
        if self.rng.random() < known_share:
            i = self.rng.randint(1, self.partners)
            digits = str(national_number(i))
            shown = (digits, f"+34{digits}", f"0034{digits}")[next(self.turn) % 3]
            return "known", i, shown, f"+34{digits}"
        number = next(self.numbers)
        return "new", None, (f"+{number}", f"00{number}")[next(self.turn) % 2], f"+{number}"


def plan_calls(rng, callers, count, setup, ring):
    """``count`` calls: 45 % inbound answered, 25 % inbound missed, 30 % outbound (70 % answered,
    15 % not answered, 15 % busy)."""
    team = setup["agents"][:ring]
    calls = []
    for k in range(count):
        draw = rng.random()
        kind, index, shown, e164 = callers.next()
        agent = rng.choice(team)
        if draw < 0.45:
            calls.append({"type": "inbound answered", "answer": agent["extension"]})
        elif draw < 0.70:
            calls.append({"type": "inbound missed", "answer": None})
        else:
            customer = rng.choices(["answer", "noanswer", "busy"], [70, 15, 15])[0]
            calls.append({"type": f"outbound {customer}", "customer": customer, "agent": agent["extension"],
                          "key": f"omni-bench-{setup['run']}-{k}"})  # fmt: skip
        calls[-1].update(kind=kind, index=index, shown=shown, e164=e164)
    return calls


def play(ari, call, ring_seconds=2, talk_seconds=8):
    """Play one call on the ARI server and wait for its end; returns the call with its linkedid and
    the outcome the PBX played."""
    if call["type"].startswith("inbound"):
        run = ari.inbound(
            caller=call["shown"], did=DID, answer=call["answer"], ring_seconds=ring_seconds, talk_seconds=talk_seconds
        )
    else:
        ari.originate_plan(
            call["e164"], customer=call["customer"], ring_seconds=ring_seconds, talk_seconds=talk_seconds
        )
        originate(
            ari,
            {
                "endpoint": f"PJSIP/{call['agent']}",
                "extension": call["e164"],
                "context": OUTBOUND_CONTEXT,
                "priority": 1,
                "callerId": call["e164"],
                "timeout": 30,
                "channelId": call["key"],
            },
            {"OMNI_DIAL_KEY": call["key"], "__OMNI_CALL": "outbound"},
        )
        run = next(r for r in reversed(ari.runs) if r.linkedid == call["key"])
    run.wait(timeout=NO_PROGRESS_TIMEOUT)
    call["linkedid"] = run.linkedid
    legs = run.channels[1:]
    if call["type"].startswith("inbound"):
        call["played"] = "answered" if any(leg.state == "Up" for leg in legs) else "missed"
        call["rang"] = len([leg for leg in legs if re.match(r"PJSIP/7\d{3}-", leg.name) and "/7999-" not in leg.name])
    else:
        call["played"] = {"answer": "answered", "noanswer": "no_answer", "busy": "busy"}[call["customer"]]
        call["rang"] = 0
    return call


# --------------------------------------------------------------------------- throughput
def listener_lost(listener, ari):
    """Why the listener can no longer be measured (it exited, or its events WebSocket is gone:
    calls would then leave Stasis unrouted), or None."""
    if not listener.alive():
        return f"the listener process exited (code {listener.proc.returncode}; see {listener.logfile})"
    if not ari.connected():
        return "the listener's events WebSocket is closed"
    return None


def measure_throughput(odoo, registry, args, setup, ari, ari_events, calls, listener):
    before = {t: max_id(registry, t) for t in ("omnichannel_inbox", "omnichannel_call", "bus_bus", "res_partner")}
    events_before = len(ari.events)
    ari.mark()
    counter = itertools.count()
    failures = []
    abort = threading.Event()
    budget_end = time.perf_counter() + args.max_seconds

    def line():
        while not abort.is_set() and time.perf_counter() < budget_end and (k := next(counter)) < len(calls):
            try:
                play(ari, calls[k])
            except Exception as exc:  # noqa: BLE001 (reported)
                failures.append(f"call {k} ({calls[k]['type']}): {exc}")

    started = time.perf_counter()
    threads = [threading.Thread(target=line, name=f"bench-line-{n}") for n in range(args.lines)]
    for thread in threads:
        thread.start()
    keys, lost = [], None
    ended_at, progress, last_ended = None, time.perf_counter(), -1
    while True:
        time.sleep(0.25)
        lost = listener_lost(listener, ari)
        if lost:
            abort.set()
            say(f"[voice] {lost}: throughput not measured")
            break
        done = all(not t.is_alive() for t in threads)
        keys = [c["linkedid"] for c in calls if c.get("linkedid")]
        ended = sql(
            registry,
            "SELECT count(*) FROM omnichannel_call WHERE channel_id = %s AND state = 'ended' AND call_key = ANY(%s)",
            [setup["channel_id"], keys],
        )[0][0]
        now = time.perf_counter()
        if ended != last_ended:
            last_ended, progress = ended, now
        if done and ended == len(keys):
            ended_at = now
            break
        if now - progress > NO_PROGRESS_TIMEOUT:
            say(f"[voice] no call ended for {NO_PROGRESS_TIMEOUT} s: {ended}/{len(keys)} ended; giving up")
            break
    for thread in threads:
        thread.join()
    frames, first_frame = ari.frames, ari.first_frame
    # the listener may still be storing the last events (after every row is ended): let it drain
    quiet_since, stored = time.perf_counter(), -1
    while not lost and time.perf_counter() - quiet_since < 2 and time.perf_counter() - started < 3600:
        time.sleep(0.25)
        now_stored = sql(
            registry, "SELECT count(*) FROM omnichannel_inbox WHERE id > %s", [before["omnichannel_inbox"]]
        )[0][0]
        pending = sql(
            registry,
            "SELECT count(*) FROM omnichannel_inbox WHERE id > %s AND state = 'pending'",
            [before["omnichannel_inbox"]],
        )[0][0]
        if now_stored != stored or pending:
            stored, quiet_since = now_stored, time.perf_counter()
    sent = ari.events[events_before:]
    options = {"outbound_context": OUTBOUND_CONTEXT, "endpoint_template": "PJSIP/{extension}"}
    relevant = {ari_events.event_key(setup["channel_id"], e) for e in sent if ari_events.is_relevant(e, **options)}
    result = {
        "calls": len(calls),
        "cut": len(keys) < len(calls) and not failures and not lost,
        "lost_listener": lost,
        "played": len(keys),
        "failures": failures,
        "frames": frames,
        "relevant": len(relevant),
        "span": (ended_at - first_frame) if ended_at and first_frame and not lost else None,
        "types": Counter(c["type"] for c in calls if c.get("linkedid")),
    }
    result.update(check_calls(registry, setup, calls, before))
    span = result["span"]
    result["fps"] = frames / span if span else 0
    result["eps"] = result["inbox_rows"] / span if span else 0
    result["cps"] = len(keys) / span if span else 0
    return result


def check_calls(registry, setup, calls, before):
    """Exactly-once figures of the calls played, from the database."""
    played = [c for c in calls if c.get("linkedid")]
    keys = [c["linkedid"] for c in played]
    rows = sql(
        registry,
        """SELECT c.id, c.call_key, c.state, c.outcome, c.direction, c.partner_id, c.partner_known, p.ref,
                  c.interaction_id,
                  (SELECT count(*) FROM omnichannel_interaction i
                    WHERE i.res_model = 'omnichannel.call' AND i.res_id = c.id),
                  (SELECT count(*) FROM omnichannel_call_popped_rel r WHERE r.omnichannel_call_id = c.id)
             FROM omnichannel_call c LEFT JOIN res_partner p ON p.id = c.partner_id
            WHERE c.channel_id = %s AND c.call_key = ANY(%s)""",
        [setup["channel_id"], keys],
    )
    by_key = {row[1]: row for row in rows}
    new_rows = sql(
        registry, "SELECT count(*) FROM omnichannel_call WHERE channel_id = %s AND id > %s",
        [setup["channel_id"], before["omnichannel_call"]],
    )[0][0]  # fmt: skip
    inbox = dict(
        sql(
            registry,
            "SELECT state, count(*) FROM omnichannel_inbox WHERE id > %s AND channel_id = %s GROUP BY state",
            [before["omnichannel_inbox"], setup["channel_id"]],
        )
    )
    pops_bus = sql(
        registry,
        "SELECT count(*) FROM bus_bus WHERE id > %s AND message LIKE %s",
        [before["bus_bus"], f'%"type":"{SCREEN_POP}"%'],
    )[0][0]
    wrong_outcome, not_ended, no_timeline, timeline_dupes, known_ok, known, pops, pops_expected = 0, 0, 0, 0, 0, 0, 0, 0
    new_partners, new_numbers = set(), set()
    examples = []
    for call in played:
        row = by_key.get(call["linkedid"])
        if row is None:
            continue
        _id, _key, state, outcome, _direction, partner_id, partner_known, ref, interaction_id, timeline, popped = row
        not_ended += state != "ended"
        if outcome != call["played"]:
            wrong_outcome += 1
            if len(examples) < 3:
                examples.append(f"{call['type']} {call['linkedid']}: {outcome} (played {call['played']})")
        no_timeline += not interaction_id or timeline == 0
        timeline_dupes += max(0, timeline - 1)
        pops += popped
        pops_expected += call["rang"]
        if call["kind"] == "known":
            known += 1
            known_ok += ref == f"{REF_PREFIX}{call['index']}" and bool(partner_known)
        else:
            new_numbers.add(call["e164"])
            if partner_id and not partner_known and not (ref or "").startswith(REF_PREFIX):
                new_partners.add(partner_id)
    return {
        "rows": len(rows),
        "lost": len(keys) - len(rows),
        "stray_rows": new_rows - len(rows),
        "not_ended": not_ended,
        "wrong_outcome": wrong_outcome,
        "outcome_examples": examples,
        "no_timeline": no_timeline,
        "timeline_dupes": timeline_dupes,
        "inbox": inbox,
        "inbox_rows": sum(inbox.values()),
        "known": known,
        "known_ok": known_ok,
        "new_numbers": len(new_numbers),
        "new_contacts": len(new_partners),
        "pops": pops,
        "pops_expected": pops_expected,
        "pops_bus": pops_bus,
    }


# --------------------------------------------------------------------------- screen pop latency
def measure_pops(odoo, registry, args, setup, ari, callers, rng, listener):
    agents = setup["agents"]
    by_extension = {a["extension"]: a for a in agents}
    bus = BusWatcher(odoo)
    latencies, unmatched, examples = [], 0, []
    db = registry.db_name
    try:
        ari.watch = True
        for k in range(args.pops):
            lost = listener_lost(listener, ari)
            if lost:
                say(f"[voice] {lost}: screen pops measured on {k} calls only")
                break
            agent = agents[k % len(agents)]
            set_team(odoo, registry, setup, [agent])  # this call rings this agent (unless their contact's owner)
            kind, index, shown, e164 = callers.next()
            bus_before = max_id(registry, "bus_bus")
            bus.drain()
            answer = agent["extension"] if k % 3 else None  # two in three answered, one missed
            run = ari.inbound(caller=shown, did=DID, answer=answer)
            run.reached("stasis", timeout=30)
            linkedid = run.linkedid
            deadline = time.perf_counter() + 15
            with ari.rang:
                while linkedid not in ari.rings and time.perf_counter() < deadline:
                    ari.rang.wait(0.5)
            ring = ari.rings.get(linkedid)
            found = None
            if ring:
                ring_at, extension = ring
                target = [db, "res.partner", by_extension[extension]["partner_id"]]
                while time.perf_counter() < deadline and not found:
                    try:
                        moment, channels = bus.notes.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    if moment >= ring_at and target in channels:
                        # committed before the NOTIFY: the screen pop's row is there if this is it
                        pop = sql(
                            registry,
                            "SELECT id FROM bus_bus WHERE id > %s AND channel = %s AND message LIKE %s",
                            [bus_before, json.dumps(target, separators=(",", ":")), f'%"type":"{SCREEN_POP}"%'],
                        )
                        if pop:
                            found = moment - ring_at
            if found is None:
                unmatched += 1
                if len(examples) < 3:
                    examples.append(f"call {k} ({linkedid}): {'no ringing frame' if not ring else 'no screen pop'}")
            else:
                latencies.append(found * 1000)
            run.wait(timeout=NO_PROGRESS_TIMEOUT)
            wait_ended(registry, setup, linkedid)
    finally:
        ari.watch = False
        bus.close()
    result = {"count": args.pops, "matched": len(latencies), "unmatched": unmatched, "examples": examples}
    if latencies:
        result.update(
            p50=percentile(latencies, 50), p95=percentile(latencies, 95), max=max(latencies), min=min(latencies)
        )
    return result


def wait_ended(registry, setup, key, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sql(
            registry,
            "SELECT state FROM omnichannel_call WHERE channel_id = %s AND call_key = %s",
            [setup["channel_id"], key],
        )
        if rows and rows[0][0] == "ended":
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- report
def report(args, setup, partners, listener, tp, pops):
    say()
    say(
        f"=== voice bench: {args.db}, {partners:,} partners ({setup['durability']}); listener process "
        f"omnichannel-ari{' (its PostgreSQL sessions with jit=off)' if args.no_jit else ''}; "
        f"code sha256 {code_digest(MODULES)[:12]}; load average {setup['load_before']:.1f}-{os.getloadavg()[0]:.1f} ==="
    )
    targets = []
    if tp:
        say()
        say(
            f"ARI events through the listener into the database: {tp['played']:,} calls on {args.lines} concurrent "
            f"lines, inbound ringing a team of {args.ring} agent(s)"
            + (f" (of {tp['calls']:,} planned: no new call after {args.max_seconds:.0f} s)" if tp["cut"] else "")
        )
        say("  " + ", ".join(f"{n} {t}" for t, n in sorted(tp["types"].items())))
        if tp["span"]:
            say(
                f"  {tp['frames']:,} events sent in {tp['span']:.1f} s (first frame until every call row is ended): "
                f"{tp['fps']:.0f} events/s received, {tp['eps']:.0f} events/s stored and processed "
                f"({tp['inbox_rows']:,} relevant), {tp['cps']:.1f} calls/s"
            )
        else:
            say(f"  never complete: {tp['lost_listener'] or 'not every call row ended'}")
        say()
        say("Exactly once")
        say(
            f"  {'calls':>6}{'call rows':>10}{'lost':>6}{'stray':>6}{'not ended':>10}{'outcome ≠ PBX':>14}"
            f"{'no timeline':>12}{'timeline dupl.':>15}{'inbox rows':>11}{'distinct events':>16}{'failed':>7}"
            f"{'pending':>8}{'known found':>12}{'contacts/new':>13}{'pops':>10}"
        )
        say(
            f"  {tp['played']:>6,}{tp['rows']:>10,}{tp['lost']:>6}{tp['stray_rows']:>6}{tp['not_ended']:>10}"
            f"{tp['wrong_outcome']:>14}{tp['no_timeline']:>12}{tp['timeline_dupes']:>15}{tp['inbox_rows']:>11,}"
            f"{tp['relevant']:>16,}{tp['inbox'].get('failed', 0):>7}{tp['inbox'].get('pending', 0):>8}"
            f"{tp['known_ok']:>6,}/{tp['known']:<5,}{tp['new_contacts']:>6,}/{tp['new_numbers']:<6,}"
            f"{tp['pops']:>5,}/{tp['pops_expected']:<4,}"
        )
        say(
            "  distinct events: relevant events sent (ari_events.is_relevant), by event key; pops: screen pops "
            f"recorded / agents' phones that rang on inbound calls ({tp['pops_bus']:,} bus messages)"
        )
        for example in tp["outcome_examples"]:
            say(f"  e.g. {example}")
        for failure in tp["failures"][:3]:
            say(f"  call not played: {failure}")
        ok = (
            tp["lost"] == 0
            and tp["stray_rows"] == 0
            and tp["not_ended"] == 0
            and tp["no_timeline"] == 0
            and tp["timeline_dupes"] == 0
            and tp["inbox_rows"] == tp["relevant"]
            and not tp["inbox"].get("failed")
            and not tp["inbox"].get("pending")
            and not tp["failures"]
        )
        targets.append(
            (
                ok,
                f"exactly once: {tp['rows']:,} call rows for {tp['played']:,} calls ({tp['lost']} lost, "
                f"{tp['stray_rows']} stray), {tp['played'] - tp['no_timeline']:,} with one timeline row "
                f"({tp['timeline_dupes']} duplicates), {tp['inbox_rows']:,} inbox rows for {tp['relevant']:,} distinct "
                f"events, {tp['inbox'].get('failed', 0)} failed, {tp['inbox'].get('pending', 0)} pending",
            )
        )
        targets.append(
            (
                tp["wrong_outcome"] == 0 and tp["known_ok"] == tp["known"] and tp["new_contacts"] == tp["new_numbers"]
                and tp["pops"] == tp["pops_expected"],
                f"calls as played: {tp['wrong_outcome']} outcomes unlike the PBX's, {tp['known_ok']}/{tp['known']} "
                f"known customers found, {tp['new_contacts']} contacts for {tp['new_numbers']} new numbers, "
                f"{tp['pops']}/{tp['pops_expected']} screen pops",
            )
        )  # fmt: skip
    if pops:
        say()
        say(
            f"Screen pop: {pops['count']} inbound calls one at a time, each ringing another agent; from the ARI frame "
            "of the agent's ringing to the bus notification committed and NOTIFYed (LISTEN imbus)"
        )
        if pops["matched"]:
            say(
                f"  p50 {pops['p50']:.0f} ms, p95 {pops['p95']:.0f} ms, min {pops['min']:.0f} ms, "
                f"max {pops['max']:.0f} ms"
                f" ({pops['matched']} measured, {pops['unmatched']} without a screen pop within 15 s)"
            )
        for example in pops["examples"]:
            say(f"  e.g. {example}")
        p95 = pops.get("p95")
        targets.append(
            (
                p95 is not None and p95 <= TARGET_POP_P95_MS and not pops["unmatched"],
                f"screen pop p95 <= {TARGET_POP_P95_MS} ms: "
                + (f"{p95:.0f} ms" if p95 is not None else "not measured")
                + (f" ({pops['unmatched']} calls without a pop)" if pops["unmatched"] else ""),
            )
        )
    closed = sum(
        int(m.group(1))
        for line in listener.log_lines(r"call\(s\) ended while disconnected")
        if (m := re.search(r": (\d+) call\(s\) ended", line))
    )
    if closed:
        say()
        say(
            f"The listener's reconciliation ended {closed} call(s) itself (no channel left on the PBX), before or "
            "instead of their own events: their end time is the listener's clock, and a ringing event read after "
            "that pops nobody"
        )
    errors = listener.log_lines(r" (ERROR|CRITICAL) ")
    connects = listener.log_lines(r"ARI listener of channel \d+ connected")
    say()
    say(
        f"Listener log: {len(connects)} connection(s), {len(errors)} ERROR lines"
        + (f", e.g. {errors[0][:200]}" if errors else "")
        + f" ({listener.logfile})"
    )
    say()
    say_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="odoo.conf")
    parser.add_argument("--db", default="omnichannel_bench")
    parser.add_argument(
        "--calls", type=int, default=3000, help="calls planned for the throughput (default 3000; see --max-seconds)"
    )
    parser.add_argument("--lines", type=int, default=8, help="calls in progress at once (default 8)")
    parser.add_argument("--ring", type=int, default=2, help="agents an inbound call rings (default 2)")
    parser.add_argument("--pops", type=int, default=100, help="calls for the screen-pop latency (default 100)")
    parser.add_argument("--agents", type=int, default=20, help="agents with extensions (default 20)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=420,
        help="no new throughput call after this many seconds (default 420: the whole bench within ~10 minutes)",
    )
    parser.add_argument(
        "--no-jit",
        action="store_true",
        help="reference: the listener's PostgreSQL sessions without JIT compilation (PGOPTIONS=-c jit=off)",
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args([arg for arg in sys.argv[1:] if arg != "--"])
    if args.calls < 0 or args.pops < 0 or args.lines < 1 or args.ring < 1 or args.agents < max(2, args.ring):
        parser.error("--lines, --ring at least 1; --agents at least 2 and --ring; --calls, --pops not negative")

    import odoo
    from odoo.modules.registry import Registry

    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    started = time.perf_counter()
    partners = ensure_modules(odoo, args)
    if partners is None:
        return 0
    fake = load_tool(ROOT / "omnichannel_voip" / "tests" / "fake_ari.py", "fake_ari")
    ari_events = load_tool(ROOT / "omnichannel_voip" / "tools" / "ari_events.py", "ari_events")
    BenchAri = bench_ari(fake, ari_events)
    logdir = Path(tempfile.mkdtemp(prefix="bench-voice-"))
    with BenchAri(user=ARI_USER, password=ARI_PASSWORD, app=ARI_APP) as ari:
        # the listener is backlogged under load: a call waits in Stasis until it is continued
        ari.stasis_timeout = 300
        ari.default_dial = "PJSIP/7999"  # the dialplan's fallback (nobody): only when the listener does not route
        registry = Registry(args.db)
        setup = set_up(odoo, registry, ari.url, args.agents)
        rng = random.Random(args.seed * 1000 + setup["run"])
        callers = Callers(rng, setup["run"], partners)
        setup["load_before"] = os.getloadavg()[0]
        say(f"[voice] run #{setup['run']} on {args.db} ({setup['durability']}); ARI server at {ari.url}")
        if setup["other_channels"]:
            say(
                "[voice] note: the listener also follows the database's other Asterisk channels: "
                + ", ".join(setup["other_channels"])
            )
        set_team(odoo, registry, setup, setup["agents"][: args.ring])
        tp = pops = None
        with Listener(odoo, args.config, args.db, logdir / "listener.log", jit=not args.no_jit) as listener:
            with step("starting the listener (omnichannel-ari) until it is connected"):
                deadline = time.monotonic() + 180
                while not ari.connected() and listener.alive() and time.monotonic() < deadline:
                    time.sleep(0.1)
            if not ari.connected():
                say(f"[voice] the listener did not connect; see {listener.logfile}; nothing measured")
            else:
                if args.calls:
                    calls = plan_calls(rng, callers, args.calls, setup, args.ring)
                    with step(f"throughput: {args.calls} calls on {args.lines} lines"):
                        tp = measure_throughput(odoo, registry, args, setup, ari, ari_events, calls, listener)
                    if tp["span"]:
                        say(
                            f"[voice]   {tp['fps']:.0f} events/s received, {tp['eps']:.0f} stored/s, "
                            f"{tp['cps']:.1f} calls/s"
                        )
                if args.pops:
                    with step(f"screen-pop latency: {args.pops} calls one at a time"):
                        pops = measure_pops(odoo, registry, args, setup, ari, callers, rng, listener)
            set_team(odoo, registry, setup, setup["agents"][: args.ring])
        report(args, setup, partners, listener, tp, pops)
    say(f"[voice] total {time.perf_counter() - started:.0f} s")
    return 0


def load_tool(path, name):
    """A module of the add-ons imported by path (the local ARI server, the pure event parser):
    their packages import Odoo's test tools or the ORM."""
    spec = importlib.util.spec_from_file_location(f"omnichannel_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    sys.exit(main())
