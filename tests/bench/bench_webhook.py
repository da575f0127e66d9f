#!/usr/bin/env python3
"""Benchmark of the webhook path (WhatsApp, then Telegram and SMS) on a real Odoo server (``make bench``).

On the bench database that bench_ingest.py builds (1,000,000 partners and 1,000,000 interactions),
with ``omnichannel_social`` installed and up to date, it starts ``odoo-bin`` on 127.0.0.1 with
1, 2 and 4 HTTP workers (and cron workers), and measures on each, with concurrent clients:

- Odoo's HTTP floor: a trivial JSON route of Odoo's own (``/web/webclient/version_info``);
- the events API, one event per request (ingested inside the request);
- WhatsApp Cloud API webhooks signed as Meta signs them, one message each, new and repeat senders,
  part of them delivered a second time in shuffled order (byte-identical, or the same message
  serialized again): deliveries acknowledged per second and their latency, then messages fully
  ingested per second by the inbox cron job, from the first request until the last message is on
  its timeline; unique messages stored, duplicates, lost, contacts created per new sender;
- the same for Telegram updates and Twilio SMS webhooks (``--other-providers``): acknowledgements,
  messages ingested per second, and exactly once (an update_id or MessageSid stored once, whatever
  the bytes of its redelivery);
- agents' replies through the outbox, sent by the cron job to a local Graph API server
  (``omnichannel_social/tests/fake_graph.py``): each sent exactly once.

The WhatsApp channel's team has one agent, who gets each new conversation, follows it and is notified of
every customer message by email, sent by Odoo's mail queue to a local SMTP server
(``omnichannel_mail/tests/smtp_server.py``); ``--no-team`` measures the same without a team.
Only 127.0.0.1 is contacted. Exits 0 whatever the figures.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import importlib.util
import itertools
import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from bench_ingest import BUILT_KEY, CODE_KEY, REF_PREFIX, STATE_KEY, fmt, national_number
from benchlib import code_digest, odoo_cli, percentile, read_params, say, say_targets, stepper

ROOT = Path(__file__).resolve().parents[2]
step = stepper("webhook")
MODULES = ["omnichannel_base", "omnichannel_social"]
WEBHOOK_CODE_KEY = "omnichannel.bench_webhook_code"  # digest of MODULES' code the database was updated with
RUNS_KEY = "omnichannel.bench_webhook_runs"  # run counter: fresh wamids, numbers and external ids each run
PHONE_NUMBER_ID = "109000000000042"  # the bench channel's (Meta's id of the business number)
WABA_ID = "109000000000001"
DISPLAY_NUMBER = "34910000042"
APP_SECRET = "bench-app-secret"
ACCESS_TOKEN = "bench-access-token"
CHANNEL_NAME = "Bench WhatsApp (webhook bench)"
TEAM_NAME = "Bench WhatsApp care"
API_CHANNEL_NAME = "Bench Events API (webhook bench)"
TELEGRAM_CHANNEL_NAME = "Bench Telegram (webhook bench)"
TELEGRAM_TOKEN = "123456789:bench-bot-token"
TELEGRAM_SECRET = "bench-telegram-secret"
SMS_CHANNEL_NAME = "Bench SMS (webhook bench)"
TWILIO_ACCOUNT_SID = "AC" + "b" * 32
TWILIO_AUTH_TOKEN = "bench-twilio-auth-token"
TWILIO_FROM = "+34910000043"
AGENT_LOGIN = "bench_webhook_agent"
FLOOR_URL = "/web/webclient/version_info"
EVENTS_URL = "/omnichannel/api/v1/events"
TARGET_MPS, TARGET_ACK_P95_MS = 80, 100
TARGET_WORKERS = 2  # the configuration the throughput and latency targets are for
GROWTH = 1.05  # "throughput grows with workers": each step at least 5 % more
NO_PROGRESS_TIMEOUT = 180  # seconds without a new message on a timeline before giving up
TEXTS = (
    "Hola, ¿tenéis disponibilidad esta semana?",
    "¿A qué hora abrís el sábado?",
    "Quiero cambiar la talla del pedido",
    "Gracias, todo perfecto 👍",
    "¿Me enviáis la factura, por favor?",
)


# --------------------------------------------------------------------------- database
def ensure_modules(odoo, args):
    """The bench database, with omnichannel_social installed and both modules at the current code.
    Returns the number of bench partners, or None when the database is missing."""
    from odoo.service import db as db_service

    if args.db not in db_service.list_dbs(True):
        say(f"[webhook] {args.db} does not exist: `make bench` (bench_ingest.py) builds it first; nothing measured.")
        return None
    params = read_params(odoo, args.db, "omnichannel.bench_")
    if not params or params.get(STATE_KEY) != "built":
        say(f"[webhook] {args.db} is not a complete bench database (bench_ingest.py builds one); nothing measured.")
        return None
    partners = int(params[BUILT_KEY].split(":")[0])
    conn = odoo.sql_db.db_connect(args.db)
    with conn.cursor() as cr:
        cr.execute("SELECT state FROM ir_module_module WHERE name = 'omnichannel_social'")
        social = (cr.fetchone() or [None])[0]
    odoo.sql_db.close_db(args.db)
    digest = code_digest(MODULES)
    if social != "installed":
        with step(f"installing omnichannel_social in {args.db} (and updating omnichannel_base)"):
            odoo_cli(args.config, "-d", args.db, "-i", "omnichannel_social", "-u", "omnichannel_base")
    elif params.get(WEBHOOK_CODE_KEY) != digest:
        with step(f"updating {', '.join(MODULES)} in {args.db} (their code changed since the last run)"):
            odoo_cli(args.config, "-d", args.db, "-u", ",".join(MODULES))
    else:
        return partners
    from odoo.modules.registry import Registry

    with Registry(args.db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param(WEBHOOK_CODE_KEY, digest)
        # omnichannel_base was updated too: bench_ingest.py need not update it again
        env["ir.config_parameter"].set_param(CODE_KEY, code_digest(["omnichannel_base"]))
    return partners


def set_up(odoo, registry, graph_url, with_team=True):
    """The WhatsApp channel (signed with APP_SECRET, sending through ``graph_url``), an API channel
    with a fresh token, and an agent of the WhatsApp channel's team (conversations are assigned to
    them, and they follow them), or no team when ``with_team`` is false. Returns what the run needs."""
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param("omnichannel_social.graph_url", graph_url)
        run = int(env["ir.config_parameter"].get_param(RUNS_KEY, 0)) + 1
        env["ir.config_parameter"].set_param(RUNS_KEY, run)
        company = env.company
        agent = env["res.users"].with_context(active_test=False).search([("login", "=", AGENT_LOGIN)])
        if not agent:
            agent = (
                env["res.users"]
                .with_context(no_reset_password=True)
                .create(
                    {
                        "name": "Bench Agent",
                        "login": AGENT_LOGIN,
                        "email": "bench.agent@example.com",
                        "groups_id": [(6, 0, [env.ref("omnichannel_base.group_omnichannel_user").id])],
                    }
                )
            )
        Channel = env["omnichannel.channel"].with_context(active_test=False)
        team = env["omnichannel.team"].search([("name", "=", TEAM_NAME)], limit=1) or env["omnichannel.team"].create(
            {"name": TEAM_NAME, "member_ids": [(6, 0, agent.ids)]}
        )
        channel = Channel.search([("wa_phone_number_id", "=", PHONE_NUMBER_ID)]) or Channel.create(
            {
                "name": CHANNEL_NAME,
                "channel_type": "whatsapp",
                "wa_phone_number_id": PHONE_NUMBER_ID,
                "wa_business_account_id": WABA_ID,
            }
        )
        channel.write(
            {
                "active": True,
                "team_id": team.id if with_team else False,
                "wa_access_token": ACCESS_TOKEN,
                "wa_app_secret": APP_SECRET,
            }
        )
        flavors = {}
        telegram = Channel.search([("name", "=", TELEGRAM_CHANNEL_NAME)], limit=1) or Channel.create(
            {"name": TELEGRAM_CHANNEL_NAME, "channel_type": "telegram"}
        )
        telegram.write(
            {
                "active": True,
                "team_id": team.id if with_team else False,
                "tg_bot_token": TELEGRAM_TOKEN,
                "tg_secret_token": TELEGRAM_SECRET,
            }
        )
        flavors["telegram"] = {
            "channel_id": telegram.id,
            "webhook_path": f"/omnichannel/webhook/{telegram.provider}/{telegram.sudo().webhook_key}",
            "next_update": 0,
        }
        sms = Channel.search([("name", "=", SMS_CHANNEL_NAME)], limit=1) or Channel.create(
            {"name": SMS_CHANNEL_NAME, "channel_type": "sms"}
        )
        sms.write(
            {
                "active": True,
                "team_id": team.id if with_team else False,
                "twilio_account_sid": TWILIO_ACCOUNT_SID,
                "twilio_auth_token": TWILIO_AUTH_TOKEN,
                "twilio_from_number": TWILIO_FROM,
            }
        )
        flavors["sms"] = {
            "channel_id": sms.id,
            "webhook_path": f"/omnichannel/webhook/{sms.provider}/{sms.sudo().webhook_key}",
        }
        api_channel = Channel.search([("name", "=", API_CHANNEL_NAME)], limit=1) or Channel.create(
            {"name": API_CHANNEL_NAME, "channel_type": "api"}
        )
        api_token = f"bench-{run}-{random.SystemRandom().getrandbits(64):016x}"
        api_channel.write({"active": True, "api_token": api_token})
        cr.execute("SELECT id FROM res_partner WHERE ref = %s", [f"{REF_PREFIX}1"])
        first_partner_id = cr.fetchone()[0]
        for flavor in flavors.values():
            flavor["first_partner_id"] = first_partner_id
        cr.execute("SHOW fsync")
        fsync = cr.fetchone()[0]
        cr.execute("SHOW synchronous_commit")
        synchronous_commit = cr.fetchone()[0]
        return {
            "run": run,
            "company_id": company.id,
            "channel_id": channel.id,
            "webhook_path": f"/omnichannel/webhook/whatsapp_cloud/{channel.sudo().webhook_key}",
            "api_channel_id": api_channel.id,
            "api_token": api_token,
            "agent_id": agent.id,
            "first_partner_id": first_partner_id,
            "durability": f"fsync={fsync}, synchronous_commit={synchronous_commit}",
            "flavors": flavors,
        }


def sql(registry, query, params=None):
    with registry.cursor() as cr:
        cr.execute(query, params or [])
        return cr.fetchall()


def max_id(registry, table):
    return sql(registry, f"SELECT COALESCE(max(id), 0) FROM {table}")[0][0]  # noqa: S608 (our table names)


# --------------------------------------------------------------------------- the server
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    """``odoo-bin`` with ``workers`` HTTP workers and ``crons`` cron workers on 127.0.0.1,
    serving only ``db``; its log goes to ``logfile``."""

    def __init__(self, odoo, config, db, workers, crons, logfile, smtp_port):
        self.odoo_bin = Path(odoo.__file__).resolve().parent.parent / "odoo-bin"
        self.config, self.db, self.workers, self.crons, self.logfile = config, db, workers, crons, logfile
        self.smtp_port = smtp_port
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        cmd = [
            sys.executable,
            str(self.odoo_bin),
            "-c",
            self.config,
            # -d alone serves that database only; a --db-filter would make every request without a
            # session (every webhook) open a new connection to list the databases (service/db.py list_dbs)
            "-d",
            self.db,
            "--workers",
            str(self.workers),
            "--max-cron-threads",
            str(self.crons),
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.port),
            "--gevent-port",
            str(free_port()),
            # Odoo's mail queue sends the agents' notification emails to the bench's SMTP server
            "--smtp",
            "127.0.0.1",
            "--smtp-port",
            str(self.smtp_port),
            "--email-from",
            "notifications@bench.example.com",
            "--log-level",
            "warn",
            # the cron jobs' starts and ends, with their timestamps: where the background time goes
            "--log-handler",
            "odoo.addons.base.models.ir_cron:INFO",
            "--logfile",
            str(self.logfile),
        ]
        if not self.odoo_bin.exists():
            raise RuntimeError(f"{self.odoo_bin} not found: odoo-bin must sit next to the odoo package")
        self.proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"odoo-bin exited with {self.proc.returncode}; see {self.logfile}")
            try:
                if post(self.port, FLOOR_URL, jsonrpc_body(0), {"Content-Type": "application/json"}, 5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"odoo-bin did not answer on port {self.port} within 180 s; see {self.logfile}")

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group: the server and its workers
            self.proc.wait(10)


# --------------------------------------------------------------------------- HTTP load
def post(port, path, body, headers, timeout=60):
    """One request on a new connection (Odoo answers HTTP/1.0 and closes, as it does for Meta)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def jsonrpc_body(i):
    return json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}, "id": i}).encode()


def run_load(port, requests, clients):
    """Send ``requests`` [(path, body, headers)] from ``clients`` threads, each taking the next one
    as soon as its previous one is answered. Returns [(sent, answered, status)] in request order."""
    results = [None] * len(requests)
    counter = itertools.count()

    def client():
        while (i := next(counter)) < len(requests):
            path, body, headers = requests[i]
            start = time.perf_counter()
            try:
                status = post(port, path, body, headers)[0]
            except OSError as exc:
                status = exc.__class__.__name__
            results[i] = (start, time.perf_counter(), status)

    threads = [threading.Thread(target=client, name=f"bench-client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def summarize(results):
    latencies = [end - start for start, end, _status in results]
    first, last = min(r[0] for r in results), max(r[1] for r in results)
    statuses = Counter(r[2] for r in results)
    return {
        "count": len(results),
        "ok": statuses.get(200, 0),
        "errors": {status: n for status, n in statuses.items() if status != 200},
        "first": first,
        "last": last,
        "rps": len(results) / (last - first),
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "max": max(latencies) * 1000,
    }


# --------------------------------------------------------------------------- what is sent
class Senders:
    """Who writes: an existing bench customer, a new number, or someone who already wrote in this run."""

    def __init__(self, rng, run, partners):
        self.rng, self.partners, self.used = rng, partners, []
        # Portuguese mobiles (+351 91x xxx xxx), a range the bench database never holds;
        # 100,000 fresh ones per run.
        start = (run % 99) * 100000
        self.numbers = (f"35191{n:07d}" for n in range(start, start + 100000))

    def next(self):
        """(kind, index of the bench customer or None, wa_id, name)"""
        draw = self.rng.random()
        if draw < 0.4:
            i = self.rng.randint(1, self.partners)
            sender = ("existing", i, f"34{national_number(i)}", f"Bench Customer {i}")
        elif draw < 0.7 or not self.used:
            wa_id = next(self.numbers)
            sender = ("new", None, wa_id, f"Cliente {wa_id[-4:]}")
        else:
            kind, i, wa_id, name = self.rng.choice(self.used)
            sender = ("repeat" if kind != "existing" else "existing", i, wa_id, name)
        self.used.append(sender)
        return sender


def sign(body):
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def webhook_payload(wamid, wa_id, name, text, timestamp):
    """One inbound text message, as Meta's WhatsApp Cloud API delivers it."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
                            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid,
                                    "timestamp": str(timestamp),
                                    "text": {"body": text},
                                    "type": "text",
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def make_deliveries(rng, senders, setup, tag, count, redeliver):
    """(messages, deliveries): ``count`` deliveries in shuffled order, of which a share
    ``redeliver / (1 + redeliver)`` sends a message again: half byte-identical, half serialized again."""
    unique = max(1, round(count / (1 + redeliver)))
    now = int(datetime.now(timezone.utc).timestamp())
    messages, deliveries = [], []
    for k in range(unique):
        kind, index, wa_id, name = senders.next()
        wamid = f"wamid.BENCH{setup['run']:04d}{tag}N{k:06d}"
        # the wamid in the text too: a chatter message stored twice shows as two identical bodies
        payload = webhook_payload(wamid, wa_id, name, f"{TEXTS[k % len(TEXTS)]} [{wamid}]", now)
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()  # as Meta sends it
        messages.append(
            {"ext": wamid, "marker": wamid[:-6], "kind": kind, "index": index, "sender": wa_id, "payload": payload}
        )
        deliveries.append(("original", body))
    again = rng.sample(range(unique), count - unique)
    identical = set(again[: len(again) // 2])
    for k in again:
        if k in identical:
            deliveries.append(("identical", deliveries[k][1]))
        else:  # the same message, other bytes: another digest, so a second inbox row
            body = json.dumps(messages[k]["payload"], indent=1, sort_keys=True, ensure_ascii=True).encode()
            deliveries.append(("reserialized", body))
    rng.shuffle(deliveries)
    headers = lambda body: {  # noqa: E731
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": sign(body),
    }
    requests = [(setup["webhook_path"], body, headers(body)) for _kind, body in deliveries]
    return messages, requests, Counter(kind for kind, _body in deliveries)


def make_telegram_deliveries(rng, senders, setup, tag, count, redeliver):
    """Telegram updates (Bot API ``Update`` objects with a private text message), sent with the
    channel's secret token; a redelivered update is the same ``update_id``, byte-identical or
    serialized again (Telegram retries an update until it is acknowledged)."""
    flavor = setup["flavors"]["telegram"]
    unique = max(1, round(count / (1 + redeliver)))
    now = int(datetime.now(timezone.utc).timestamp())
    messages, deliveries = [], []
    for k in range(unique):
        kind, _index, wa_id, name = senders.next()
        # Telegram knows no bench customer: every sender is new, or one who wrote before in this run.
        # User ids above 2**32, as Telegram's newer accounts have.
        user_id = 5_000_000_000 + int(wa_id[-9:])
        update_id = setup["run"] * 10_000_000 + flavor["next_update"]
        flavor["next_update"] += 1
        message_id = 100_000 + k
        marker = f"TG{setup['run']:04d}{tag}"
        payload = {
            "update_id": update_id,
            "message": {
                "message_id": message_id,
                "from": {"id": user_id, "is_bot": False, "first_name": name, "language_code": "es"},
                "chat": {"id": user_id, "first_name": name, "type": "private"},
                "date": now,
                "text": f"{TEXTS[k % len(TEXTS)]} [{marker}N{k:06d}]",
            },
        }
        messages.append(
            {
                "ext": f"{user_id}:{message_id}",
                "marker": marker,
                "kind": "new" if kind != "repeat" else "repeat",
                "index": None,
                "sender": str(user_id),
                "payload": payload,
            }
        )
        deliveries.append(("original", json.dumps(payload, ensure_ascii=False).encode()))
    again = rng.sample(range(unique), count - unique)
    identical = set(again[: len(again) // 2])
    for k in again:
        if k in identical:
            deliveries.append(("identical", deliveries[k][1]))
        else:
            body = json.dumps(messages[k]["payload"], indent=1, sort_keys=True).encode()
            deliveries.append(("reserialized", body))
    rng.shuffle(deliveries)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    requests = [(flavor["webhook_path"], body, headers) for _kind, body in deliveries]
    return messages, requests, Counter(kind for kind, _body in deliveries)


def twilio_signature(url, params, token=TWILIO_AUTH_TOKEN):
    """``X-Twilio-Signature`` as Twilio computes it: HMAC-SHA1 of the URL and the sorted POST fields."""
    data = url + "".join(f"{key}{value}" for key, value in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def make_sms_deliveries(rng, senders, setup, tag, count, redeliver, port):
    """Inbound SMS as Twilio posts them (form-encoded, ``X-Twilio-Signature``), from bench
    customers (their stored number, so the known contact must be found), new and repeat numbers;
    a redelivery is the same MessageSid, in the same or another field order."""
    flavor = setup["flavors"]["sms"]
    unique = max(1, round(count / (1 + redeliver)))
    url = f"http://127.0.0.1:{port}{flavor['webhook_path']}"
    messages, deliveries = [], []
    for k in range(unique):
        kind, index, wa_id, name = senders.next()
        sid = f"SM{setup['run']:04d}{tag}{k:06d}".ljust(34, "0")[:34]
        marker = f"SMS{setup['run']:04d}{tag}"
        params = [
            ("ToCountry", "ES"),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", f"{TEXTS[k % len(TEXTS)]} [{marker}N{k:06d}]"),
            ("FromCountry", "ES" if wa_id.startswith("34") else "PT"),
            ("To", TWILIO_FROM),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", TWILIO_ACCOUNT_SID),
            ("From", f"+{wa_id}"),
            ("ApiVersion", "2010-04-01"),
        ]
        messages.append(
            {"ext": sid, "marker": marker, "kind": kind, "index": index, "sender": f"+{wa_id}", "params": params}
        )
        deliveries.append(("original", params))
    again = rng.sample(range(unique), count - unique)
    identical = set(again[: len(again) // 2])
    for k in again:
        params = messages[k]["params"]
        deliveries.append(("identical", params) if k in identical else ("reserialized", list(reversed(params))))
    rng.shuffle(deliveries)
    requests = [
        (
            flavor["webhook_path"],
            urlencode(params).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1",
                "X-Twilio-Signature": twilio_signature(url, params),
            },
        )
        for _kind, params in deliveries
    ]
    return messages, requests, Counter(kind for kind, _params in deliveries)


def make_events(senders, setup, tag, count):
    """``count`` events API requests, one message each, from the same mix of senders."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {setup['api_token']}"}
    requests = []
    for k in range(count):
        kind, index, wa_id, name = senders.next()
        if index is not None:  # a bench customer, in another format than the stored one
            phone = fmt(wa_id[2:], ("E.164", "spaced", "national", "00")[k % 4])
        else:
            phone = f"+{wa_id[:3]} {wa_id[3:6]} {wa_id[6:9]} {wa_id[9:]}"
        event = {
            "external_id": f"bench-webhook-{setup['run']}-{tag}-{k}",
            "kind": "message",
            "sender": {"phone": phone, "name": name},
            "body": TEXTS[k % len(TEXTS)],
        }
        requests.append((EVENTS_URL, json.dumps(event, ensure_ascii=False).encode(), headers))
    return requests


# --------------------------------------------------------------------------- measures
def measure_webhook(registry, server, setup, messages, requests, kinds, clients):
    """``setup``: the channel measured ({"channel_id", ...}); ``messages`` what its deliveries carry."""
    """Send the deliveries, and poll the database until every message is on a timeline."""
    wait_for_empty_inbox(registry)
    before = {
        table: max_id(registry, table) for table in ("omnichannel_interaction", "omnichannel_inbox", "mail_message")
    }
    unique = len(messages)
    done = threading.Event()
    box = {}

    def load():
        box["results"] = run_load(server.port, requests, clients)
        done.set()

    started = time.perf_counter()
    thread = threading.Thread(target=load, name="bench-load")
    thread.start()
    progress, last_count, last_change, stalled, drained_at, last_pending = [], -1, started, False, None, None
    while True:
        rows, distinct = sql(
            registry,
            """SELECT count(*), count(DISTINCT external_id) FROM omnichannel_interaction
                WHERE channel_id = %s AND id > %s AND external_id = ANY(%s)""",
            [setup["channel_id"], before["omnichannel_interaction"], [m["ext"] for m in messages]],
        )[0]
        now = time.perf_counter()
        progress.append((now - started, distinct))
        if distinct != last_count:
            last_count, last_change = distinct, now
        if done.is_set() and distinct >= unique and not drained_at:
            pending = sql(
                registry,
                "SELECT count(*) FROM omnichannel_inbox WHERE channel_id = %s AND id > %s AND state = 'pending'",
                [setup["channel_id"], before["omnichannel_inbox"]],
            )[0][0]
            if not pending:
                drained_at = now - started
            elif pending != last_pending:  # the redeliveries left are progress too
                last_pending, last_change = pending, now
        if drained_at:
            break
        if now - last_change > NO_PROGRESS_TIMEOUT and done.is_set():
            stalled = distinct < unique
            break
        time.sleep(0.1)
    thread.join()
    ack = summarize(box["results"])
    ingested_at = next((t for t, count in progress if count >= unique), None)
    # The longest wait between two observed increases: a cron worker left asleep shows here.
    increases = [t for (t, c), (_t0, c0) in zip(progress[1:], progress, strict=False) if c > c0]
    gaps = [b - a for a, b in zip(increases, increases[1:], strict=False)]
    result = {
        "ack": ack,
        "unique": unique,
        "kinds": kinds,
        "ingested_at": ingested_at,
        "stalled": stalled,
        "longest_gap": max(gaps, default=0.0),
        "mps": unique / ingested_at if ingested_at else None,
        "ack_started": ack["first"] - started,
        "drained_at": drained_at,
    }
    result.update(check_exactly_once(registry, setup, messages, before))
    return result


def wait_for_empty_inbox(registry, timeout=NO_PROGRESS_TIMEOUT):
    """Deliveries left by an interrupted run are processed first, not counted with this one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sql(registry, "SELECT count(*) FROM omnichannel_inbox WHERE state = 'pending'")[0][0]:
            return
        time.sleep(0.5)


def check_exactly_once(registry, setup, messages, before):
    rows = sql(
        registry,
        """SELECT external_id, partner_id, mail_message_id FROM omnichannel_interaction
            WHERE channel_id = %s AND id > %s""",
        [setup["channel_id"], before["omnichannel_interaction"]],
    )
    per_wamid = Counter(external_id for external_id, _p, _m in rows)
    expected = {m["ext"] for m in messages}
    partner_of = defaultdict(set)
    for external_id, partner_id, _m in rows:
        partner_of[external_id].add(partner_id)
    by_wamid = {m["ext"]: m for m in messages}
    contacts_per_sender = defaultdict(set)
    existing_ok = existing = 0
    for wamid, partner_ids in partner_of.items():
        message = by_wamid.get(wamid)
        if not message:
            continue
        contacts_per_sender[message["sender"]] |= partner_ids
        if message["index"] is not None:
            existing += 1
            existing_ok += partner_ids == {setup["first_partner_id"] + message["index"] - 1}
    new_senders = {m["sender"] for m in messages if m["index"] is None}
    chatter, chatter_distinct = sql(
        registry,
        """SELECT count(*), count(DISTINCT body) FROM mail_message
            WHERE id > %s AND model = 'omnichannel.conversation' AND body LIKE %s""",
        [before["mail_message"], f"%{messages[0]['marker']}%"],
    )[0]
    inbox = dict(
        sql(
            registry,
            "SELECT state, count(*) FROM omnichannel_inbox WHERE channel_id = %s AND id > %s GROUP BY state",
            [setup["channel_id"], before["omnichannel_inbox"]],
        )
    )
    return {
        "stored": len(set(per_wamid) & expected),
        "duplicates": sum(n - 1 for n in per_wamid.values()) + chatter - chatter_distinct,
        "lost": len(expected - set(per_wamid)),
        "chatter": chatter,
        "inbox": inbox,
        "new_senders": len(new_senders),
        "new_contacts": sum(len(contacts_per_sender[sender]) for sender in new_senders),
        "existing": existing,
        "existing_ok": existing_ok,
    }


def measure_outbox(odoo, registry, graph, setup, replies, rng):
    """Agents reply in ``replies`` conversations of this run (each reply its own committed
    transaction, as in the web client); the cron job sends them; each must reach Meta once."""
    conversation_ids = [
        row[0]
        for row in sql(
            registry,
            """SELECT DISTINCT conversation_id FROM omnichannel_interaction
                WHERE channel_id = %s AND external_id LIKE %s AND conversation_id IS NOT NULL""",
            [setup["channel_id"], f"wamid.BENCH{setup['run']:04d}%"],
        )
    ]
    conversation_ids = rng.sample(sorted(conversation_ids), min(replies, len(conversation_ids)))
    from odoo.service.model import retrying  # noqa: PLC0415 (Odoo is imported once the config is parsed)

    before = max_id(registry, "omnichannel_outbox")
    sent_before = len(graph.sent)
    started = time.perf_counter()
    for n, conversation_id in enumerate(conversation_ids):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, setup["agent_id"], {})
            # as a web request: tried again when PostgreSQL refuses it for a concurrent update
            retrying(
                lambda env=env, conversation_id=conversation_id, n=n: (
                    env["omnichannel.conversation"]
                    .browse(conversation_id)
                    .message_post(
                        body=f"Gracias por escribirnos, le respondemos enseguida ({n}).",
                        message_type="comment",
                        subtype_xmlid="mail.mt_comment",
                    )
                ),
                env,
            )
    queued_in = time.perf_counter() - started
    last_change, last_left = time.perf_counter(), None
    while True:
        states = dict(
            sql(
                registry,
                "SELECT state, count(*) FROM omnichannel_outbox WHERE id > %s AND channel_id = %s GROUP BY state",
                [before, setup["channel_id"]],
            )
        )
        left = states.get("queued", 0) + states.get("sending", 0)
        now = time.perf_counter()
        if left != last_left:
            last_left, last_change = left, now
        if not left or now - last_change > NO_PROGRESS_TIMEOUT:
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    rows = sql(
        registry,
        "SELECT key, state, external_id FROM omnichannel_outbox WHERE id > %s AND channel_id = %s",
        [before, setup["channel_id"]],
    )
    sends = Counter(p.get("biz_opaque_callback_data") for p in graph.sent[sent_before:])
    return {
        "replies": len(conversation_ids),
        "rows": len(rows),
        "states": Counter(state for _key, state, _ext in rows),
        "duplicates": sum(n - 1 for key, n in sends.items() if key),
        "lost": sum(1 for key, _state, _ext in rows if key not in sends),
        "queued_in": queued_in,
        "elapsed": elapsed,
        "sps": len(rows) / elapsed if elapsed else 0.0,
    }


def cron_activity(logfile, since):
    """From the server log: inbox cron runs (start, seconds) and the records each processed."""
    runs, records = [], 0
    pattern = re.compile(
        r"^(\S+ \S+),(\d{3}) \d+ INFO \S+ odoo\.addons\.base\.models\.ir_cron: Job '([^']+)' "
        r".*?(done in ([\d.]+)s|processed (\d+) records)"
    )
    for line in Path(logfile).read_text(errors="replace").splitlines():
        match = pattern.match(line)
        if not match or "webhook deliveries" not in match.group(3):
            continue
        stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
        stamp += int(match.group(2)) / 1000
        if stamp < since:
            continue
        if match.group(5):
            runs.append(float(match.group(5)))
        elif match.group(6):
            records += int(match.group(6))
    return {"calls": len(runs), "busy": sum(runs), "records": records}


def server_errors(logfile):
    lines = Path(logfile).read_text(errors="replace").splitlines()
    return [line for line in lines if re.match(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ", line)]


LABELS = {"whatsapp": "WhatsApp", "telegram": "Telegram", "sms": "SMS (Twilio)"}


def measure_workers(odoo, registry, args, setup, graph, smtp, workers, rng, senders):
    logfile = Path(tempfile.gettempdir()) / f"bench_webhook_{args.db}_{workers}w.log"
    logfile.write_text("")
    tag = f"W{workers}"
    messages, webhook_requests, kinds = make_deliveries(rng, senders, setup, tag, args.deliveries, args.redeliver)
    event_requests = make_events(senders, setup, tag, args.events)
    floor_requests = [(FLOOR_URL, jsonrpc_body(i), {"Content-Type": "application/json"}) for i in range(args.floor)]
    result = {"workers": workers, "logfile": logfile, "load_before": os.getloadavg()[0]}
    with (
        step(f"odoo-bin with {workers} HTTP worker(s), {args.crons} cron worker(s)"),
        OdooServer(odoo, args.config, args.db, workers, args.crons, logfile, smtp.port) as server,
    ):
        # warm-up, not measured: every worker answers the floor and the events API a few times
        run_load(server.port, floor_requests[: 4 * workers], args.clients)
        run_load(server.port, make_events(senders, setup, tag + "warm", 2 * workers), args.clients)
        say(f"[webhook]   floor: {len(floor_requests):,} requests to {FLOOR_URL} ...")
        result["floor"] = summarize(run_load(server.port, floor_requests, args.clients))
        say(f"[webhook]   events API: {len(event_requests):,} requests of one event ...")
        result["events"] = summarize(run_load(server.port, event_requests, args.clients))
        say(
            f"[webhook]   webhook: {len(webhook_requests):,} deliveries of {len(messages):,} messages "
            f"({kinds['identical']} byte-identical and {kinds['reserialized']} re-serialized redeliveries) ..."
        )
        since, emails_before = time.time(), len(smtp.messages)
        result["webhook"] = measure_webhook(registry, server, setup, messages, webhook_requests, kinds, args.clients)
        result["cron"] = cron_activity(logfile, since - 1)
        result["others"] = {}
        for name in args.providers:
            if name == "telegram":
                other = make_telegram_deliveries(rng, senders, setup, tag, args.other_deliveries, args.redeliver)
            else:
                other = make_sms_deliveries(
                    rng, senders, setup, tag, args.other_deliveries, args.redeliver, server.port
                )
            other_messages, other_requests, other_kinds = other
            say(
                f"[webhook]   {LABELS[name]} webhook: {len(other_requests):,} deliveries of "
                f"{len(other_messages):,} messages ..."
            )
            result["others"][name] = measure_webhook(
                registry, server, setup["flavors"][name], other_messages, other_requests, other_kinds, args.clients
            )
        if args.replies:
            say(f"[webhook]   outbox: {args.replies} agents' replies ...")
            result["outbox"] = measure_outbox(odoo, registry, graph, setup, args.replies, rng)
        result["emails"] = len(smtp.messages) - emails_before
        result["emails_queued"] = sql(registry, "SELECT count(*) FROM mail_mail WHERE state = 'outgoing'")[0][0]
    result["errors"] = server_errors(logfile)
    result["load_after"] = os.getloadavg()[0]
    w = result["webhook"]
    say(
        f"[webhook]   {w['ack']['rps']:.0f} deliveries acknowledged/s (p95 {w['ack']['p95']:.0f} ms), "
        f"{w['mps'] or 0:.0f} messages ingested/s, duplicates {w['duplicates']}, lost {w['lost']}"
    )
    return result


# --------------------------------------------------------------------------- report
def report(args, setup, partners, results):
    say()
    say(
        f"=== webhook bench: {args.db}, {partners:,} partners ({setup['durability']}); "
        f"{args.clients} clients, {args.crons} cron workers; code sha256 {code_digest(MODULES)[:12]} ==="
    )
    say(
        "WhatsApp channel without a team: no agent is assigned to its conversations, follows or is notified"
        if args.no_team
        else "WhatsApp channel with a team of one agent, who gets each new conversation and follows it: each "
        "customer message notifies them (by email, Odoo's default for a new user)"
    )
    say()
    say("Throughput and latency (requests from the first sent to the last answered; each request a new connection)")
    say(
        f"  {'HTTP workers':<14}{'path':<34}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'errors':>8}{'vs floor':>10}"
    )
    for r in results:
        floor = r["floor"]["rps"]
        rows = [
            ("HTTP floor (version_info)", r["floor"]),
            ("events API, 1 event/request", r["events"]),
            ("WhatsApp webhook, acknowledged", r["webhook"]["ack"]),
        ]
        for label, s in rows:
            errors = sum(s["errors"].values())
            say(
                f"  {r['workers']:<14}{label:<34}{s['count']:>9,}{s['rps']:>8.0f}{s['p50']:>8.1f}{s['p95']:>8.1f}"
                f"{s['p99']:>8.1f}{errors:>8}{s['rps'] / floor:>9.0%}"
            )
        w = r["webhook"]
        mps = f"{w['mps']:.0f}" if w["mps"] else "never complete"
        say(
            f"  {r['workers']:<14}{'WhatsApp webhook, fully ingested':<34}{w['unique']:>9,}{mps:>8}"
            f"{'':>32}{(w['mps'] or 0) / floor:>9.0%}"
        )
    say()
    say("WhatsApp messages: from the first request until the last message is on its timeline")
    say(
        f"  {'HTTP workers':<14}{'deliveries':>11}{'messages':>9}{'acked in':>10}{'ingested in':>12}"
        f"{'msgs/s':>8}{'drained in':>11}{'longest wait':>13}{'cron busy':>10}{'per delivery':>13}{'load':>11}"
    )
    for r in results:
        w, cron = r["webhook"], r["cron"]
        ack_span = w["ack"]["last"] - w["ack"]["first"]
        ingested = f"{w['ingested_at']:.1f} s" if w["ingested_at"] else "stalled"
        drained = f"{w['drained_at']:.1f} s" if w["drained_at"] else "not yet"
        per_delivery = cron["busy"] / cron["records"] * 1000 if cron["records"] else 0
        load = f"{r['load_before']:.1f}-{r['load_after']:.1f}"
        say(
            f"  {r['workers']:<14}{w['ack']['count']:>11,}{w['unique']:>9,}{ack_span:>8.1f} s{ingested:>12}"
            f"{w['mps'] or 0:>8.0f}{drained:>11}{w['longest_gap']:>11.1f} s{cron['busy']:>8.1f} s"
            f"{per_delivery:>10.1f} ms{load:>11}"
        )
    say(
        "  drained in: until the inbox has no delivery left to process (re-serialized redeliveries included); "
        "cron busy: time in the inbox job's calls (server log); per delivery: that time over the deliveries "
        "it processed; load: the machine's 1-minute load average before and after"
    )
    say()
    say("Exactly once")
    say(
        f"  {'HTTP workers':<14}{'unique stored':>14}{'duplicates':>11}{'lost':>6}{'chatter msgs':>13}"
        f"{'inbox rows':>11}{'failed':>7}{'new senders':>12}{'contacts':>9}{'known found':>12}"
    )
    for r in results:
        w = r["webhook"]
        rows = sum(w["inbox"].values())
        say(
            f"  {r['workers']:<14}{w['stored']:>14,}{w['duplicates']:>11}{w['lost']:>6}{w['chatter']:>13,}"
            f"{rows:>11,}{w['inbox'].get('failed', 0):>7}{w['new_senders']:>12,}{w['new_contacts']:>9,}"
            f"{w['existing_ok']:>6,}/{w['existing']:<5,}"
        )
    say(
        "  inbox rows expected: deliveries minus byte-identical redeliveries (a re-serialized one is a "
        "second row, recognised by its wamid at ingestion)"
    )
    others = [(r, name, o) for r in results for name, o in r.get("others", {}).items()]
    if others:
        say()
        say(
            "Telegram and SMS webhooks (after WhatsApp's, same server; Telegram updates with the secret token, "
            "SMS form-encoded and signed as Twilio signs)"
        )
        say(
            f"  {'HTTP workers':<14}{'provider':<14}{'deliveries':>11}{'acks/s':>8}{'p95 ms':>8}{'messages':>9}"
            f"{'msgs/s':>8}{'stored':>8}{'dupl.':>6}{'lost':>5}{'inbox rows':>11}{'failed':>7}{'new senders':>12}"
            f"{'contacts':>9}{'known found':>12}"
        )
        for r, name, o in others:
            say(
                f"  {r['workers']:<14}{LABELS[name]:<14}{o['ack']['count']:>11,}{o['ack']['rps']:>8.0f}"
                f"{o['ack']['p95']:>8.1f}{o['unique']:>9,}{o['mps'] or 0:>8.0f}{o['stored']:>8,}{o['duplicates']:>6}"
                f"{o['lost']:>5}{sum(o['inbox'].values()):>11,}{o['inbox'].get('failed', 0):>7}"
                f"{o['new_senders']:>12,}{o['new_contacts']:>9,}{o['existing_ok']:>6,}/{o['existing']:<5,}"
            )
        say(
            "  inbox rows expected: the unique messages (a redelivery, whatever its bytes, has the update_id or "
            "MessageSid of a stored one); known found: SMS from bench customers' stored numbers matched to them"
        )
    if not args.no_team:
        say()
        say(
            "Agent's notification emails (one per customer message in a conversation they follow), sent by Odoo's "
            "mail queue to the bench's SMTP server while the run lasted"
        )
        for r in results:
            say(
                f"  {r['workers']} HTTP workers: {r['emails']:,} received, "
                f"{r['emails_queued']:,} still queued when the server stopped"
            )
    if any("outbox" in r for r in results):
        say()
        say("Outbox: agents' replies, sent by the cron job to the local Graph API server")
        say(
            f"  {'HTTP workers':<14}{'replies':>8}{'sent':>6}{'failed':>7}{'sent twice':>11}{'never sent':>11}"
            f"{'sent/s':>8}"
        )
        for r in results:
            o = r.get("outbox")
            if o:
                say(
                    f"  {r['workers']:<14}{o['replies']:>8}{o['states'].get('sent', 0):>6}"
                    f"{o['states'].get('failed', 0):>7}{o['duplicates']:>11}{o['lost']:>11}{o['sps']:>8.1f}"
                )
    for r in results:
        if r["errors"]:
            say(
                f"  server log with {r['workers']} workers: {len(r['errors'])} ERROR lines, e.g. {r['errors'][0][:200]}"
            )
            say(f"    ({r['logfile']})")
    say()
    targets = []
    chosen = next((r for r in results if r["workers"] == TARGET_WORKERS), results[0])
    w = chosen["webhook"]
    label = f"{chosen['workers']} HTTP workers"
    targets.append(
        (
            (w["mps"] or 0) >= TARGET_MPS,
            f"{label}: >= {TARGET_MPS} messages/s sustained, first request to last message on its timeline: "
            f"{w['mps'] or 0:.0f}",
        )
    )
    targets.append(
        (
            w["ack"]["p95"] <= TARGET_ACK_P95_MS,
            f"{label}: acknowledgement p95 <= {TARGET_ACK_P95_MS} ms: {w['ack']['p95']:.0f} ms",
        )
    )
    for r in results:
        w, o = r["webhook"], r.get("outbox")
        ok = (
            w["duplicates"] == 0
            and w["lost"] == 0
            and not w["ack"]["errors"]
            and w["inbox"].get("failed", 0) == 0
            and w["new_contacts"] == w["new_senders"]
            and w["existing_ok"] == w["existing"]
        )
        text = (
            f"{r['workers']} HTTP workers: inbox exactly once: {w['duplicates']} duplicates, {w['lost']} lost, "
            f"{sum(w['ack']['errors'].values())} refused deliveries, {w['inbox'].get('failed', 0)} failed, "
            f"{w['new_contacts']} contacts for {w['new_senders']} new senders"
        )
        targets.append((ok, text))
        if o:
            targets.append(
                (
                    o["duplicates"] == 0 and o["lost"] == 0 and o["states"].get("sent", 0) == o["replies"],
                    f"{r['workers']} HTTP workers: outbox exactly once: {o['states'].get('sent', 0)}/{o['replies']} "
                    f"sent, {o['duplicates']} sent twice, {o['lost']} never sent",
                )
            )
    for r, name, o in others:
        ok = (
            o["duplicates"] == 0
            and o["lost"] == 0
            and not o["ack"]["errors"]
            and o["inbox"].get("failed", 0) == 0
            and sum(o["inbox"].values()) == o["unique"]
            and o["new_contacts"] == o["new_senders"]
            and o["existing_ok"] == o["existing"]
        )
        targets.append(
            (
                ok,
                f"{r['workers']} HTTP workers: {LABELS[name]} exactly once: {o['duplicates']} duplicates, "
                f"{o['lost']} lost, {sum(o['ack']['errors'].values())} refused, {o['inbox'].get('failed', 0)} failed, "
                f"{sum(o['inbox'].values())} inbox rows for {o['unique']} messages, "
                f"{o['new_contacts']} contacts for {o['new_senders']} new senders",
            )
        )
    if len(results) > 1:
        acks = [r["webhook"]["ack"]["rps"] for r in results]
        mps = [r["webhook"]["mps"] or 0 for r in results]
        grows = all(b >= a * GROWTH for a, b in zip(acks, acks[1:], strict=False))
        steps = " -> ".join(f"{r['workers']}: {a:.0f}" for r, a in zip(results, acks, strict=True))
        steps_mps = " -> ".join(f"{m:.0f}" for m in mps)
        targets.append(
            (
                grows,
                f"acknowledgements/s grow with HTTP workers (each step >= +{GROWTH - 1:.0%}): {steps} "
                f"(ingested/s {steps_mps})",
            )
        )
    say_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="odoo.conf")
    parser.add_argument("--db", default="omnichannel_bench")
    parser.add_argument("--workers", default="1,2,4", help="HTTP worker counts to measure (default 1,2,4)")
    parser.add_argument("--crons", type=int, default=2, help="cron workers (default 2, Odoo's default)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--deliveries", type=int, default=3000, help="webhook deliveries per worker count")
    parser.add_argument("--redeliver", type=float, default=0.3, help="share of messages delivered twice (0.3)")
    parser.add_argument("--events", type=int, default=600, help="events API requests per worker count")
    parser.add_argument("--floor", type=int, default=2000, help="floor requests per worker count")
    parser.add_argument("--replies", type=int, default=200, help="agents' replies through the outbox (0: none)")
    parser.add_argument(
        "--no-team",
        action="store_true",
        help="reference: the WhatsApp channel without a team, so no agent is assigned, follows, or is notified",
    )
    parser.add_argument(
        "--other-providers",
        default="telegram,sms",
        help="webhooks measured after WhatsApp's, with each worker count: telegram, sms (default both; '' for none)",
    )
    parser.add_argument(
        "--other-deliveries", type=int, default=2000, help="deliveries per other provider and worker count (2000)"
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args([arg for arg in sys.argv[1:] if arg != "--"])
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if not workers or min(workers) < 1 or args.crons < 1 or args.clients < 1 or args.deliveries < 2:
        parser.error("--workers, --crons, --clients need at least 1; --deliveries at least 2")
    if not 0 <= args.redeliver <= 1:
        parser.error("--redeliver: between 0 and 1")
    args.providers = [name.strip() for name in args.other_providers.split(",") if name.strip()]
    if set(args.providers) - {"telegram", "sms"} or args.other_deliveries < 2:
        parser.error("--other-providers: telegram and/or sms; --other-deliveries at least 2")

    import odoo
    from odoo.modules.registry import Registry

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's log of every email received

    # stopped (make interrupted, a timeout): leave through the context managers, which stop odoo-bin
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    started = time.perf_counter()
    partners = ensure_modules(odoo, args)
    if partners is None:
        return 0
    fake_graph, smtp_server = (
        load_test_tool("omnichannel_social", "fake_graph"),
        load_test_tool("omnichannel_mail", "smtp_server"),
    )
    with fake_graph.FakeGraph(access_token=ACCESS_TOKEN) as graph, smtp_server.LocalSmtpServer() as smtp:
        registry = Registry(args.db)
        setup = set_up(odoo, registry, graph.url, with_team=not args.no_team)
        rng = random.Random(args.seed * 1000 + setup["run"])
        senders = Senders(rng, setup["run"], partners)
        say(f"[webhook] run #{setup['run']} on {args.db} ({setup['durability']}); Graph API at {graph.url}")
        results = []
        for count in workers:
            try:
                results.append(measure_workers(odoo, registry, args, setup, graph, smtp, count, rng, senders))
            except RuntimeError as exc:
                say(f"[webhook] {count} HTTP workers: not measured: {exc}")
    if results:
        report(args, setup, partners, results)
    say(f"[webhook] total {time.perf_counter() - started:.0f} s")
    return 0


def load_test_tool(addon, name):
    """``<addon>/tests/<name>.py`` (the local Graph API, the local SMTP server), imported by path:
    the tests packages import Odoo's test tools."""
    path = ROOT / addon / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"omnichannel_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    sys.exit(main())
