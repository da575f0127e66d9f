#!/usr/bin/env python3
"""Benchmark of the Point of Sale extension (``omnichannel_pos``) on the 1M-partner database (``make bench``).

It never changes bench_ingest.py's database (``--db``, ``omnichannel_bench``): it works on two copies
of it, made once with ``CREATE DATABASE … TEMPLATE`` and reused while they hold what this script builds:

- ``<db>_pos_ref``: the copy with ``point_of_sale`` and ``pos_loyalty`` installed (and what they
  auto-install), a shop ("Bench Shop": 500 POS products, cash and card), a cashier
  (``bench_pos_cashier``: internal user with Point of Sale / User only, no Omnichannel group) and a
  customer with 100,000 interactions over five years on seven channels (set-based SQL), grouped in
  conversations of 20 (the last one per channel open, for a team), consent choices per channel,
  300 paid POS orders and 3 refunds (through ``sync_from_ui``, in a session then closed), 300
  confirmed sale orders and a loyalty card; then a second session of the shop, opened by the
  cashier, which the measures load;
- ``<db>_pos``: a copy of ``<db>_pos_ref`` where ``omnichannel_pos`` is then installed (its backfill
  puts the POS orders on the timeline), the shop gets its store channel and the customer's
  channel-less visits become store visits on it.

The two copies therefore hold the same data, except what installing ``omnichannel_pos`` adds. It starts
one ``odoo-bin`` per copy on 127.0.0.1 (threaded by default, or ``--workers N``: see tests/bench/README.md
for why; no cron) and, as the cashier, over HTTP JSON-RPC (``/web/dataset/call_kw``, as the POS calls
the server):

- the customer context: ``res.partner.omnichannel_pos_context([customer], config)`` on ``<db>_pos``,
  p50 / p95 over ``--samples`` calls one at a time (target p95 <= 200 ms), with the server-side time and
  query count of the same call in this process (fresh cursor, cache cleared) and of the preferred-channel
  query alone;
- the POS start-up data load: ``pos.session.load_data([session], [])`` (what ``/pos/ui``'s data service
  asks first) on both copies, alternated ABBA over ``--load-runs`` rounds: medians, spreads, the paired
  difference with its 95 % bootstrap interval ("no measurable increase": the interval reaches 0), the
  queries and bytes of each; and, for reference, the ``/pos/ui`` page and its JavaScript bundle.

``--rebuild`` drops the two copies (never ``--db``) and builds them again. Exits 0 whatever the figures.
"""

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path

from bench_ingest import BUILT_KEY as SOURCE_BUILT_KEY
from bench_ingest import CODE_KEY as SOURCE_CODE_KEY
from bench_ingest import STATE_KEY as SOURCE_STATE_KEY
from bench_timeline import SUMMARIES, YEARS_DAYS
from benchlib import (
    code_digest,
    copy_database,
    drop_database,
    odoo_cli,
    others_on,
    percentile,
    read_params,
    say,
    say_targets,
    stepper,
)

ROOT = Path(__file__).resolve().parents[2]
step = stepper("pos")
MODULES = ["omnichannel_base", "omnichannel_pos"]
POS_MODULES = ["point_of_sale", "pos_loyalty"]  # installed in both copies
LAYOUT = "v3"  # bump when the data built changes
BUILT_KEY = "omnichannel.bench_pos_built"  # the layout, once the copy without omnichannel_pos is complete
WITH_KEY = "omnichannel.bench_pos_with"  # the layout, once omnichannel_pos is installed and set up (<db>_pos)
STATE_KEY = "omnichannel.bench_pos_state"  # set right after the copy: this database is ours
CODE_KEY = "omnichannel.bench_pos_code"  # digest(s) of the code the copy was last updated with
RUNS_KEY = "omnichannel.bench_pos_runs"
CASHIER_LOGIN = "bench_pos_cashier"
CASHIER_PASSWORD = "bench-pos-cashier"  # a local bench user on 127.0.0.1
AGENT_LOGIN = "bench_pos_agent{}"
CUSTOMER_REF = "BENCH-POS-CUSTOMER"
SHOP_NAME = "Bench Shop"
TEAM_NAME = "Bench Store Care"
PROGRAM_NAME = "Bench Points"
TARGET_CONTEXT_P95_MS = 200
CONVERSATION_LENGTH = 20
WARMUP = 10
LOAD_WARMUP = 3
REFUNDS = 3

# (share of the interactions, kind, channel type or None when logged by an agent, direction)
# "io": 55 % inbound, 45 % outbound. Channel-less visits become store visits in <db>_pos.
MIX = [
    (0.32, "message", "whatsapp", "io"),
    (0.08, "message", "messenger", "io"),
    (0.07, "message", "instagram", "io"),
    (0.04, "message", "telegram", "io"),
    (0.08, "message", "sms", "io"),
    (0.06, "message", "api", "io"),
    (0.15, "call", "voice", "io"),
    (0.04, "call", None, "io"),
    (0.05, "visit", None, "inbound"),
    (0.11, "note", None, "internal"),
]
CHANNEL_NAMES = {
    "whatsapp": "Bench POS WhatsApp",
    "messenger": "Bench POS Messenger",
    "instagram": "Bench POS Instagram",
    "telegram": "Bench POS Telegram",
    "sms": "Bench POS SMS",
    "api": "Bench POS App",
    "voice": "Bench POS Phone",
}


def layout(args, source_built):
    return f"{LAYOUT}:{args.interactions}:{args.orders}:{args.products}:{source_built}"


def base_digest():
    return code_digest(["omnichannel_base"])


def pos_digests():
    """What <db>_pos was updated with: omnichannel_base's digest, then omnichannel_pos's."""
    return f"{base_digest()}:{code_digest(['omnichannel_pos'])}"


# --------------------------------------------------------------------------- databases
def set_params(odoo, db, values):
    from odoo.modules.registry import Registry

    with Registry(db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        for key, value in values.items():
            env["ir.config_parameter"].set_param(key, value)


def ensure_databases(odoo, args):
    """The two copies, built or reused, at the current code. Returns (source params, built_now) or
    None when the source database is missing or incomplete."""
    from odoo.service import db as db_service

    dbs = db_service.list_dbs(True)
    if args.db not in dbs:
        say(f"[pos] {args.db} does not exist: `make bench` (bench_ingest.py) builds it first; nothing measured.")
        return None
    source = read_params(odoo, args.db, "omnichannel.bench_")
    if not source or source.get(SOURCE_STATE_KEY) != "built":
        say(f"[pos] {args.db} is not a complete bench database (bench_ingest.py builds one); nothing measured.")
        return None
    wanted = layout(args, source[SOURCE_BUILT_KEY])
    built = {}
    for db in (args.ref_db, args.pos_db):
        if db not in dbs:
            continue
        params = read_params(odoo, db, "omnichannel.bench_pos_")
        if not params:
            sys.exit(f"[pos] {db} exists and is not a POS bench copy; drop it or pick another --db.")
        if args.rebuild or params.get(BUILT_KEY) != wanted or (db == args.pos_db and params.get(WITH_KEY) != wanted):
            reason = "--rebuild" if args.rebuild else f"it holds {params.get(BUILT_KEY) or 'an unfinished build'}"
            with step(f"dropping {db} ({reason})"):
                drop_database(odoo, db)
        else:
            built[db] = params
    built_now = False
    if args.ref_db not in built:
        if args.pos_db in built:  # the pair is made from one build
            with step(f"dropping {args.pos_db} (its reference copy is built again)"):
                drop_database(odoo, args.pos_db)
            del built[args.pos_db]
        busy = others_on(odoo, args.db)
        if busy:
            say(f"[pos] {args.db} has {busy} other session(s) (another bench?): not copied now; nothing measured.")
            return None
        build_reference(odoo, args, source, wanted)
        built_now = True
    elif built[args.ref_db].get(CODE_KEY) != base_digest():
        with step(f"updating omnichannel_base in {args.ref_db} (its code changed since the last run)"):
            odoo_cli(args.config, "-d", args.ref_db, "-u", "omnichannel_base")
        set_params(odoo, args.ref_db, {CODE_KEY: base_digest()})
    if args.pos_db not in built:
        build_with_module(odoo, args, wanted)
        built_now = True
    elif built[args.pos_db].get(CODE_KEY) != pos_digests():
        base, _pos = (built[args.pos_db].get(CODE_KEY) or ":").split(":")
        modules = MODULES if base != base_digest() else ["omnichannel_pos"]
        with step(f"updating {', '.join(modules)} in {args.pos_db} (code changed since the last run)"):
            odoo_cli(args.config, "-d", args.pos_db, "-u", ",".join(modules))
        set_up_store(odoo, args.pos_db)
        set_params(odoo, args.pos_db, {CODE_KEY: pos_digests()})
    return source, built_now


def build_reference(odoo, args, source, wanted):
    total = time.perf_counter()
    with step(f"copying {args.db} into {args.ref_db} (CREATE DATABASE … TEMPLATE)"):
        copy_database(odoo, args.db, args.ref_db, STATE_KEY)
    update = [] if source.get(SOURCE_CODE_KEY) == base_digest() else ["-u", "omnichannel_base"]
    with step(
        f"installing {', '.join(POS_MODULES)} in {args.ref_db}" + (" (and updating omnichannel_base)" if update else "")
    ):
        odoo_cli(args.config, "-d", args.ref_db, "-i", ",".join(POS_MODULES), *update, "--without-demo=all")
    from odoo.modules.registry import Registry

    registry = Registry(args.ref_db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].init(force=True)  # a copy gets its own database uuid and secret
        cr.commit()
    build_data(odoo, registry, args)
    set_params(odoo, args.ref_db, {BUILT_KEY: wanted, STATE_KEY: "built", CODE_KEY: base_digest()})
    say(f"[pos] {args.ref_db} built in {time.perf_counter() - total:.0f} s")


def build_with_module(odoo, args, wanted):
    total = time.perf_counter()
    with step(f"copying {args.ref_db} into {args.pos_db}"):
        odoo.modules.registry.Registry.delete(args.ref_db)
        copy_database(odoo, args.ref_db, args.pos_db, STATE_KEY)
    with step(f"installing omnichannel_pos in {args.pos_db} (its backfill puts the POS orders on the timeline)"):
        odoo_cli(args.config, "-d", args.pos_db, "-i", "omnichannel_pos", "--without-demo=all")
    from odoo.modules.registry import Registry

    with Registry(args.pos_db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].init(force=True)
    set_up_store(odoo, args.pos_db)
    set_params(odoo, args.pos_db, {WITH_KEY: wanted, STATE_KEY: "built", CODE_KEY: pos_digests()})
    say(f"[pos] {args.pos_db} built in {time.perf_counter() - total:.0f} s")


# --------------------------------------------------------------------------- data
def build_data(odoo, registry, args):
    from odoo import Command, fields

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = env.company
        with step("cashier, agents, team, channels, customer, shop and products (ORM)"):
            Users = env["res.users"].with_context(no_reset_password=True, mail_create_nolog=True)
            cashier = Users.create(
                {
                    "name": "Bench POS Cashier",
                    "login": CASHIER_LOGIN,
                    "password": CASHIER_PASSWORD,
                    "tz": "Europe/Madrid",
                    "groups_id": [
                        Command.set([env.ref("base.group_user").id, env.ref("point_of_sale.group_pos_user").id])
                    ],
                }
            )
            agents = Users.create(
                [
                    {
                        "name": f"Bench Store Agent {n}",
                        "login": AGENT_LOGIN.format(n),
                        "groups_id": [Command.set([env.ref("omnichannel_base.group_omnichannel_user").id])],
                    }
                    for n in range(1, 4)
                ]
            )
            team = env["omnichannel.team"].create(
                {"name": TEAM_NAME, "member_ids": [Command.set(agents.ids)], "user_id": agents[0].id}
            )
            env["omnichannel.team"].create({"name": "Bench Online Care", "member_ids": [Command.set(agents.ids)]})
            types = dict(env["omnichannel.channel"]._fields["channel_type"]._description_selection(env))
            channels = env["omnichannel.channel"].create(
                [
                    {"name": name, "channel_type": channel_type, "team_id": team.id}
                    for channel_type, name in CHANNEL_NAMES.items()
                    if channel_type in types  # e.g. "voice" only where omnichannel_voip is installed
                ]
            )
            customer = (
                env["res.partner"]
                .with_context(mail_create_nolog=True)
                .create(
                    {
                        "name": "Bench POS Customer",
                        "ref": CUSTOMER_REF,
                        "email": "bench.pos.customer@example.com",
                        "phone": "+34 699 00 00 01",
                    }
                )
            )
            journal, payment_methods = env["pos.config"]._create_journal_and_payment_methods(
                cash_journal_vals={"name": "Cash Bench Shop", "show_on_dashboard": False}
            )
            categories = env["pos.category"].create([{"name": f"Bench Category {n}"} for n in range(1, 6)])
            products = env["product.product"].create(
                [
                    {
                        "name": f"Bench POS Product {n:04d}",
                        "type": "consu",
                        "available_in_pos": True,
                        "list_price": round(2 + (n * 7.31) % 120, 2),
                        "pos_categ_ids": [Command.set([categories[n % len(categories)].id])],
                        "barcode": f"BPOS{n:06d}",
                    }
                    for n in range(args.products)
                ]
            )
            config = env["pos.config"].create(
                {"name": SHOP_NAME, "journal_id": journal.id, "payment_method_ids": [Command.set(payment_methods)]}
            )
            cr.commit()

        with step(f"inserting {args.interactions:,} interactions of the customer (one INSERT … SELECT)"):
            by_type = {channel.channel_type: channel for channel in channels}
            mix = [row for row in MIX if row[2] is None or row[2] in by_type]
            scale = sum(row[0] for row in mix)
            cr.execute(
                """CREATE TEMP TABLE bench_mix
                          (lo float, hi float, kind text, channel_id int, channel_type text, dir text)"""
            )
            low = 0.0
            for share, kind, channel_type, direction in mix:
                channel = by_type.get(channel_type)
                high = 1.0 if (share, kind, channel_type, direction) == mix[-1] else low + share / scale
                cr.execute(
                    "INSERT INTO bench_mix VALUES (%s, %s, %s, %s, %s, %s)",
                    [low, high, kind, channel.id if channel else None, channel_type, direction],
                )
                low = high
            cr.execute("SELECT setseed(%s)", [(args.seed % 1000) / 1000.0])
            cr.execute(
                """
                INSERT INTO omnichannel_interaction
                       (partner_id, commercial_partner_id, channel_id, channel_type, company_id, kind,
                        direction, date, summary, user_id, external_id, create_uid, write_uid, create_date, write_date)
                SELECT %(partner)s, %(partner)s, channel_id, channel_type, %(company)s, kind, direction, date,
                       summary, CASE WHEN direction != 'inbound' THEN (%(agents)s::int[])[1 + g %% 3] END,
                       CASE WHEN channel_id IS NOT NULL THEN 'bench-pos-' || %(partner)s || '-' || g END,
                       1, 1, date, date
                  FROM (SELECT g, m.channel_id, m.channel_type, m.kind,
                               CASE m.dir WHEN 'io' THEN CASE WHEN s.r2 < 0.55 THEN 'inbound' ELSE 'outbound' END
                                          ELSE m.dir END AS direction,
                               s.date, (%(summaries)s::text[])[1 + g %% %(nsummaries)s] AS summary
                          FROM (SELECT g, random() AS r, random() AS r2,
                                       date_trunc('second', now() AT TIME ZONE 'UTC'
                                                  - random() * interval '%(days)s days') AS date
                                  FROM generate_series(1, %(n)s) AS g) AS s
                          JOIN bench_mix m ON s.r >= m.lo AND s.r < m.hi) AS e
                """,
                {
                    "partner": customer.id,
                    "company": company.id,
                    "agents": agents.ids,
                    "summaries": SUMMARIES,
                    "nsummaries": len(SUMMARIES),
                    "days": YEARS_DAYS,
                    "n": args.interactions,
                },
            )
            assert cr.rowcount == args.interactions, f"{cr.rowcount} interactions inserted"
            cr.execute("DROP TABLE bench_mix")

        with step(f"conversations of {CONVERSATION_LENGTH} channel interactions, the last per channel open (SQL)"):
            cr.execute(
                """CREATE TEMP TABLE bench_bucket AS
                   SELECT id, partner_id, channel_id, channel_type, company_id, date, direction, user_id,
                          (row_number() OVER (PARTITION BY channel_id ORDER BY date, id) - 1) / %s AS bucket
                     FROM omnichannel_interaction WHERE channel_id IS NOT NULL AND partner_id = %s""",
                [CONVERSATION_LENGTH, customer.id],
            )
            cr.execute(
                """
                INSERT INTO omnichannel_conversation
                       (partner_id, commercial_partner_id, channel_id, channel_type, company_id, user_id, team_id,
                        name, state, thread_key, first_inbound_date, last_inbound_date, last_message_date,
                        first_response_date, resolved_date, first_resolved_date,
                        first_response_hours, resolution_hours, first_resolution_hours, rating_last_value,
                        create_uid, write_uid, create_date, write_date)
                SELECT c.partner_id, c.partner_id, c.channel_id, c.channel_type, c.company_id,
                       CASE WHEN c.last AND c.channel_type = 'whatsapp' THEN NULL ELSE c.user_id END,
                       %(team)s, p.name || ' · ' || (ch.name ->> 'en_US'),
                       CASE WHEN NOT c.last THEN 'resolved' WHEN c.channel_type = 'whatsapp' THEN 'new'
                            ELSE 'open' END,
                       'bench-pos-' || c.bucket, c.first_in, c.last_in, c.last_date, c.first_out,
                       CASE WHEN NOT c.last THEN c.last_date END, CASE WHEN NOT c.last THEN c.last_date END,
                       extract(epoch FROM c.first_out - c.first_in) / 3600,
                       CASE WHEN NOT c.last THEN extract(epoch FROM c.last_date - c.first_in) / 3600 END,
                       CASE WHEN NOT c.last THEN extract(epoch FROM c.last_date - c.first_in) / 3600 END, 0,
                       1, 1, c.first_date, c.last_date
                  FROM (SELECT partner_id, channel_id, channel_type, company_id, bucket,
                               bucket = max(bucket) OVER (PARTITION BY channel_id) AS last,
                               max(user_id) AS user_id, min(date) AS first_date, max(date) AS last_date,
                               min(date) FILTER (WHERE direction = 'inbound') AS first_in,
                               max(date) FILTER (WHERE direction = 'inbound') AS last_in,
                               min(date) FILTER (WHERE direction = 'outbound') AS first_out
                          FROM bench_bucket GROUP BY partner_id, channel_id, channel_type, company_id, bucket) AS c
                  JOIN res_partner p ON p.id = c.partner_id
                  JOIN omnichannel_channel ch ON ch.id = c.channel_id
                """,
                {"team": team.id},
            )
            conversations = cr.rowcount
            cr.execute(
                """UPDATE omnichannel_interaction i SET conversation_id = c.id
                     FROM bench_bucket b
                     JOIN omnichannel_conversation c
                       ON c.partner_id = b.partner_id AND c.channel_id = b.channel_id
                      AND c.thread_key = 'bench-pos-' || b.bucket
                    WHERE i.id = b.id"""
            )
            cr.execute("DROP TABLE bench_bucket")
        say(f"[pos]   {conversations:,} conversations")

        with step("consent choices: three per channel, the last an opt-out on SMS (SQL)"):
            cr.execute(
                """
                INSERT INTO omnichannel_consent
                       (partner_id, channel_id, company_id, opt, scope, source, reason, date,
                        create_uid, write_uid, create_date, write_date)
                SELECT %(partner)s, ch.id, ch.company_id,
                       CASE WHEN k = 2 OR (k = 3 AND ch.channel_type = 'sms') THEN 'out' ELSE 'in' END,
                       'all', CASE WHEN k = 2 THEN 'keyword' ELSE 'agent' END,
                       CASE WHEN k = 2 THEN 'STOP' END,
                       now() AT TIME ZONE 'UTC' - (4 - k) * interval '200 days',
                       1, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                  FROM omnichannel_channel ch, generate_series(1, 3) AS k
                 WHERE ch.id IN %(channels)s
                """,
                {"partner": customer.id, "channels": tuple(channels.ids)},
            )
            cr.commit()

        with step(f"{args.orders} POS orders and {REFUNDS} refunds in a session of the shop, then closed (ORM)"):
            session = open_session(env, config, cashier)
            session.set_opening_control(0, None)
            now = fields.Datetime.now()
            rng = random.Random(args.seed)
            Order = env["pos.order"].with_user(cashier)
            ids = []
            for start in range(0, args.orders, 50):
                batch = [
                    ui_order(env, config, session, customer, cashier, rng, products, n, args.orders, now)
                    for n in range(start, min(start + 50, args.orders))
                ]
                ids += [order["id"] for order in Order.sync_from_ui(batch)["pos.order"]]
            orders = env["pos.order"].browse(ids)
            cash = config.payment_method_ids.filtered("is_cash_count")[:1]
            for order in orders[:REFUNDS]:
                refund = env["pos.order"].browse(order.refund()["res_id"])
                context = {"active_ids": refund.ids, "active_id": refund.id}
                env["pos.make.payment"].with_context(**context).create(
                    {"amount": refund.amount_total, "payment_method_id": cash.id}
                ).with_context(**context).check()
            cash_total = sum(
                session.order_ids.payment_ids.filtered(lambda p: p.payment_method_id == cash).mapped("amount")
            )
            session.post_closing_cash_details(cash_total)
            closed = session.close_session_from_ui()
            if not closed.get("successful", True):
                raise RuntimeError(f"closing the bench session failed: {closed}")
            cr.commit()

        with step(f"{args.orders} confirmed sale orders of the customer, dated over two years (ORM, then dates)"):
            service = env["product.product"].create(
                {"name": "Bench Online Item", "type": "service", "invoice_policy": "order", "list_price": 59.9}
            )
            sales = env["sale.order"].create(
                [
                    {
                        "partner_id": customer.id,
                        "user_id": agents[n % len(agents)].id,
                        "order_line": [Command.create({"product_id": service.id, "product_uom_qty": 1 + n % 4})],
                    }
                    for n in range(args.orders)
                ]
            )
            sales.action_confirm()
            env.flush_all()
            cr.execute(
                """UPDATE sale_order s
                      SET date_order = now() AT TIME ZONE 'UTC' - (d.k - 0.5) * interval '730 days' / %s
                     FROM (SELECT id, row_number() OVER (ORDER BY id DESC) AS k FROM sale_order WHERE id IN %s) d
                    WHERE s.id = d.id""",
                [args.orders, tuple(sales.ids)],
            )
            cr.commit()

        with step("loyalty program and the customer's card; the session the POS will load, opened by the cashier"):
            program = env["loyalty.program"].create(
                {
                    "name": PROGRAM_NAME,
                    "program_type": "loyalty",
                    "trigger": "auto",
                    "applies_on": "both",
                    "pos_config_ids": [Command.set(config.ids)],
                    "rule_ids": [Command.create({"reward_point_amount": 1, "reward_point_mode": "money"})],
                    "reward_ids": [
                        Command.create(
                            {
                                "reward_type": "discount",
                                "discount": 5,
                                "discount_mode": "percent",
                                "discount_applicability": "order",
                                "required_points": 200,
                            }
                        )
                    ],
                }
            )
            env["loyalty.card"].create({"program_id": program.id, "partner_id": customer.id, "points": 1234.5})
            open_session(env, config, cashier)
            cr.commit()

        with step("ANALYZE"):
            for table in (
                "omnichannel_interaction",
                "omnichannel_conversation",
                "omnichannel_consent",
                "pos_order",
                "pos_order_line",
                "pos_payment",
                "sale_order",
                "product_template",
                "product_product",
                "loyalty_card",
            ):
                cr.execute(f"ANALYZE {table}")
            cr.commit()


def open_session(env, config, cashier):
    """A session of the shop opened by the cashier, as the POS dashboard opens it."""
    config = config.with_user(cashier)
    config.open_ui()
    return config.current_session_id.sudo()


def ui_order(env, config, session, customer, cashier, rng, products, n, count, now):
    """An order as the POS front end sends it to ``sync_from_ui`` (point_of_sale/tests/common.py's
    create_ui_order_data), paid in cash or by card; order n of count, dated over the last two years."""
    from datetime import timedelta

    from odoo import fields

    lines, total, total_base = [], 0.0, 0.0
    fiscal_position = config.default_fiscal_position_id
    for product in rng.sample(list(products), rng.randint(1, 4)):
        qty = rng.randint(1, 3)
        taxes = fiscal_position.map_tax(product.taxes_id.filtered(lambda t: t.company_id == env.company))
        amounts = taxes.compute_all(product.lst_price, config.currency_id, qty) if taxes else None
        incl = amounts["total_included"] if amounts else product.lst_price * qty
        excl = amounts["total_excluded"] if amounts else product.lst_price * qty
        total, total_base = total + incl, total_base + excl
        lines.append(
            (
                0,
                0,
                {
                    "product_id": product.id,
                    "qty": qty,
                    "price_unit": product.lst_price,
                    "price_subtotal": excl,
                    "price_subtotal_incl": incl,
                    "discount": 0,
                    "tax_ids": [(6, 0, taxes.ids)],
                    "pack_lot_ids": [],
                },
            )
        )
    methods = config.payment_method_ids.filtered(lambda m: m.journal_id and not m.split_transactions)
    method = methods.filtered("is_cash_count")[:1] if n % 3 else (methods - methods.filtered("is_cash_count"))[:1]
    uuid = f"bench-pos-{n:05d}-{rng.randrange(10**8):08d}"
    date = now - timedelta(days=730 * (count - n) / (count + 1), hours=1)
    return {
        "amount_paid": total,
        "amount_return": 0,
        "amount_tax": total - total_base,
        "amount_total": total,
        "date_order": fields.Datetime.to_string(date),
        "fiscal_position_id": fiscal_position.id,
        "pricelist_id": config.pricelist_id.id,
        "name": f"Order {uuid}",
        "last_order_preparation_change": "{}",
        "lines": lines,
        "partner_id": customer.id,
        "session_id": session.id,
        "sequence_number": n + 1,
        "payment_ids": [(0, 0, {"amount": total, "name": fields.Datetime.now(), "payment_method_id": method.id})],
        "uuid": uuid,
        "user_id": cashier.id,
        "to_invoice": False,
    }


def set_up_store(odoo, db):
    """In <db>_pos: the shop's store channel (for the bench team), the customer's channel-less
    visits on it as store visits, the POS orders on the timeline (the backfill skips what is there)."""
    from odoo.modules.registry import Registry

    with Registry(db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        config = env["pos.config"].search([("name", "=", SHOP_NAME)], limit=1)
        team = env["omnichannel.team"].search([("name", "=", TEAM_NAME)], limit=1)
        customer = env["res.partner"].search([("ref", "=", CUSTOMER_REF)], limit=1)
        if hasattr(config, "_omni_store_channel"):
            channel = config._omni_store_channel()
        else:  # omnichannel_pos without its store channel yet
            Channel = env["omnichannel.channel"].with_context(active_test=False)
            channel = Channel.search([("name", "=", SHOP_NAME), ("channel_type", "=", "store")], limit=1)
            channel = channel or Channel.create({"name": SHOP_NAME, "channel_type": "store"})
            if "omni_channel_id" in config._fields:
                config.omni_channel_id = channel
        if not channel.team_id:
            channel.team_id = team
        cr.execute(
            """UPDATE omnichannel_interaction
                  SET channel_id = %s, channel_type = 'store', external_id = 'bench-pos-visit-' || id
                WHERE partner_id = %s AND kind = 'visit' AND channel_id IS NULL""",
            [channel.id, customer.id],
        )
        moved = cr.rowcount
        backfilled = 0
        if hasattr(env["pos.order"], "_omni_backfill_queries"):
            backfilled, _seconds = env["omnichannel.interaction"]._backfill_business_events(["pos.order"])
        cr.execute("ANALYZE omnichannel_interaction")
        cr.commit()
    if moved or backfilled:
        say(f"[pos]   {moved:,} visits moved to the store channel, {backfilled:,} POS order events backfilled")


# --------------------------------------------------------------------------- the servers
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    """``odoo-bin`` with ``workers`` HTTP workers (0: threaded) and no cron on 127.0.0.1, serving only
    ``db``; its log goes to ``logfile``, its standard error next to it."""

    def __init__(self, odoo, config, db, workers, logfile):
        self.odoo_bin = Path(odoo.__file__).resolve().parent.parent / "odoo-bin"
        self.config, self.db, self.workers, self.logfile = config, db, workers, logfile
        self.port = free_port()
        self.proc = None

    def __enter__(self):
        cmd = [
            sys.executable,
            str(self.odoo_bin),
            "-c",
            self.config,
            "-d",
            self.db,  # that database only (no db listing per request)
            "--workers",
            str(self.workers),
            "--max-cron-threads",
            "0",
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.port),
            "--gevent-port",
            str(free_port()),
            "--log-level",
            "warn",
            "--logfile",
            str(self.logfile),
        ]
        self.stderr = Path(str(self.logfile) + ".stderr")
        with open(self.stderr, "wb") as stderr:
            self.proc = subprocess.Popen(cmd, start_new_session=True, stdout=stderr, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"odoo-bin exited with {self.proc.returncode}; see {self.logfile}")
            try:
                body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}, "id": 0}).encode()
                headers = {"Content-Type": "application/json"}
                if request(self.port, "POST", "/web/webclient/version_info", body, headers, timeout=5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"odoo-bin on {self.db} did not answer within 180 s; see {self.logfile}")

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group: the server and its workers
            self.proc.wait(10)

    def errors(self):
        try:
            text = Path(self.logfile).read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if re.search(r" (ERROR|CRITICAL) ", line)]

    def crashes(self):
        """Tracebacks on standard error: e.g. a prefork server's gevent process failing to start,
        respawned by the master again and again."""
        try:
            text = self.stderr.read_text(errors="replace")
        except OSError:
            return 0, ""
        lines = text.splitlines()
        return text.count("Traceback (most recent call last)"), next((ln for ln in reversed(lines) if ln.strip()), "")


def request(port, method, path, body=None, headers=None, timeout=600):
    """One request on a new connection: (status, headers, body, seconds until the body is read)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheaders(), data, time.perf_counter() - start
    finally:
        conn.close()


class RpcError(Exception):
    pass


class Client:
    """A browser's session on a server: logged in, then JSON-RPC calls as the web client makes them."""

    def __init__(self, server, login, password):
        self.port, self.db = server.port, server.db
        self.cookie = ""
        self.ids = 0
        status, headers, data, _elapsed = request(
            self.port,
            "POST",
            "/web/session/authenticate",
            self._body({"db": self.db, "login": login, "password": password}),
            {"Content-Type": "application/json"},
        )
        reply = json.loads(data)
        if status != 200 or "error" in reply:
            raise RpcError(f"login as {login} on {self.db} failed: {reply.get('error', status)}")
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookie = SimpleCookie(value)
                if "session_id" in cookie:
                    self.cookie = f"session_id={cookie['session_id'].value}"
        self.uid = reply["result"]["uid"]
        self.context = dict(reply["result"].get("user_context") or {})

    def _body(self, params):
        self.ids += 1
        return json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": self.ids}).encode()

    def call(self, model, method, args, context=None):
        """(seconds, bytes, result) of ``/web/dataset/call_kw/<model>/<method>``."""
        body = self._body(
            {"model": model, "method": method, "args": args, "kwargs": {"context": {**self.context, **(context or {})}}}
        )
        status, _headers, data, elapsed = request(
            self.port,
            "POST",
            f"/web/dataset/call_kw/{model}/{method}",
            body,
            {"Content-Type": "application/json", "Cookie": self.cookie},
        )
        reply = json.loads(data)
        if status != 200 or "error" in reply:
            error = reply.get("error", {}) if isinstance(reply, dict) else {}
            message = (error.get("data") or {}).get("message") or error.get("message") or f"HTTP {status}"
            raise RpcError(f"{model}.{method}: {message}")
        return elapsed, len(data), reply["result"]

    def get(self, path):
        status, _headers, data, elapsed = request(self.port, "GET", path, headers={"Cookie": self.cookie})
        return status, elapsed, data


# --------------------------------------------------------------------------- measures
def bench_ids(registry):
    with registry.cursor() as cr:
        cr.execute("SELECT id FROM res_partner WHERE ref = %s", [CUSTOMER_REF])
        (partner,) = cr.fetchone()
        cr.execute("SELECT id FROM pos_config WHERE name = %s", [SHOP_NAME])
        (config,) = cr.fetchone()
        cr.execute(
            """SELECT s.id FROM pos_session s JOIN res_users u ON u.id = s.user_id
                WHERE s.config_id = %s AND s.state IN ('opening_control', 'opened') AND u.login = %s""",
            [config, CASHIER_LOGIN],
        )
        (session,) = cr.fetchone()
        cr.execute("SELECT id FROM res_users WHERE login = %s", [CASHIER_LOGIN])
        (uid,) = cr.fetchone()
        cr.execute(
            "SELECT count(*) FILTER (WHERE channel_id IS NOT NULL), count(*) FROM omnichannel_interaction "
            "WHERE partner_id = %s",
            [partner],
        )
        channel_rows, rows = cr.fetchone()
        cr.execute(
            "SELECT count(*) FILTER (WHERE amount_total >= 0), count(*) FILTER (WHERE amount_total < 0) "
            "FROM pos_order WHERE partner_id = %s",
            [partner],
        )
        paid, refunds = cr.fetchone()
        cr.execute("SELECT count(*) FROM sale_order WHERE partner_id = %s AND state = 'sale'", [partner])
        (sales,) = cr.fetchone()
        cr.execute(
            "SELECT count(*), count(*) FILTER (WHERE state != 'resolved') FROM omnichannel_conversation "
            "WHERE partner_id = %s",
            [partner],
        )
        conversations, open_conversations = cr.fetchone()
        cr.execute("SELECT count(*) FROM res_partner")
        (partners,) = cr.fetchone()
        cr.execute("SHOW jit")
        (jit,) = cr.fetchone()
    return {
        "partner": partner,
        "config": config,
        "session": session,
        "uid": uid,
        "timeline": rows,
        "channel_rows": channel_rows,
        "pos_orders": paid,
        "refunds": refunds,
        "sales": sales,
        "conversations": conversations,
        "open_conversations": open_conversations,
        "partners": partners,
        "jit": jit,
    }


def cashier_env(odoo, cr, uid):
    env = odoo.api.Environment(cr, uid, {})
    user = env["res.users"].browse(uid)
    return env(context={**user.context_get(), "allowed_company_ids": user.company_id.ids})


def timed(odoo, registry, uid, call, rounds):
    """[(seconds, queries)] of ``call(env)`` as the cashier, each in a fresh cursor with the ORM
    cache cleared, rolled back."""
    results = []
    for _turn in range(rounds):
        with registry.cursor() as cr:
            env = cashier_env(odoo, cr, uid)
            env.invalidate_all()
            queries = cr.sql_log_count
            start = time.perf_counter()
            result = call(env)
            json.dumps(result, default=str)  # the JSON-RPC response's encoding
            elapsed = time.perf_counter() - start
            results.append((elapsed, cr.sql_log_count - queries))
            cr.rollback()
    return results


def measure_context_server(odoo, registry, ids, rounds):
    """Server side of the context call (no HTTP), and the preferred-channel query alone."""
    from odoo.tools import SQL

    partner_id, config_id = ids["partner"], ids["config"]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        if not hasattr(env["res.partner"], "omnichannel_pos_context"):
            return None

    def context(env):
        return env["res.partner"].browse(partner_id).omnichannel_pos_context(config_id)

    def preferred(env):
        partner = env["res.partner"].browse(partner_id).sudo()
        return env.execute_query(partner._omni_preferred_channel_query(SQL.identifier("partner_id"), [partner_id]))

    try:
        timed(odoo, registry, ids["uid"], context, 3)
    except Exception as exc:  # the method under work: say why, measure the rest
        say(f"[pos]   the call fails in this process: {exc.__class__.__name__}: {exc}")
        return None
    calls = timed(odoo, registry, ids["uid"], context, rounds)
    prefs = timed(odoo, registry, ids["uid"], preferred, rounds)
    return {"calls": calls, "preferred": prefs}


def describe_context(ctx):
    """One line of what the context holds (for the reader: the call did real work)."""
    orders = ctx.get("orders") or []
    origins = {}
    for order in orders:
        origins[order.get("origin")] = origins.get(order.get("origin"), 0) + 1
    last = ctx.get("last_contact") or {}
    preferred = ctx.get("preferred_channel") or {}
    loyalty = ctx.get("loyalty")
    return (
        f"{len(ctx.get('interactions') or [])} interactions, {len(ctx.get('conversations') or [])} open conversations, "
        f"{len(ctx.get('consents') or [])} consents, {len(orders)} orders "
        f"({', '.join(f'{n} {o}' for o, n in sorted(origins.items(), key=str))}), "
        f"loyalty {'absent' if loyalty is False else f'{len(loyalty)} card(s)'}, "
        f"last contact {last.get('date') or '-'} {last.get('channel_type') or ''}, "
        f"preferred {preferred.get('channel_type') if preferred else '-'}, {len(ctx.get('teams') or [])} teams"
    )


def measure_context_http(client, ids, samples):
    """The context calls, each followed by a trivial call of the same session (``res.users.context_get``
    through the same route): the HTTP floor, under the same noise."""
    args = [[ids["partner"]], ids["config"]]
    try:
        _elapsed, size, first = client.call("res.partner", "omnichannel_pos_context", args)
    except RpcError as exc:
        return {"error": str(exc)}
    for _turn in range(WARMUP - 1):
        client.call("res.partner", "omnichannel_pos_context", args)
        client.call("res.users", "context_get", [])
    times, floor = [], []
    for _turn in range(samples):
        elapsed, size, _result = client.call("res.partner", "omnichannel_pos_context", args)
        times.append(elapsed * 1000)
        floor.append(client.call("res.users", "context_get", [])[0] * 1000)
    return {"times": times, "floor": floor, "bytes": size, "described": describe_context(first), "first": first}


def load_in_process(odoo, dbs, ids, rounds):
    """Server time and queries of ``load_data`` as the cashier in this process, on each copy
    ({name: db}), alternated, after a warm-up each."""
    from odoo.modules.registry import Registry

    registries = {name: Registry(db) for name, db in dbs.items()}

    def load(env):
        return env["pos.session"].browse(ids["session"]).load_data([])

    runs = {name: [] for name in dbs}
    for registry in registries.values():
        timed(odoo, registry, ids["uid"], load, 1)
    for turn in range(rounds):
        for name in list(dbs) if turn % 2 == 0 else list(dbs)[::-1]:
            runs[name] += timed(odoo, registries[name], ids["uid"], load, 1)
    return {
        name: {
            "seconds": statistics.median(r[0] for r in results),
            "queries": statistics.median(r[1] for r in results),
            "runs": len(results),
        }
        for name, results in runs.items()
    }


def compare_payloads(ref, pos):
    """What differs between the two load_data answers: models, fields, record counts."""
    notes = []
    for model in sorted(set(ref) | set(pos)):
        if model not in ref or model not in pos:
            notes.append(f"{model}: only {'with' if model in pos else 'without'} omnichannel_pos")
            continue
        a, b = ref[model], pos[model]
        # a model whose field list is empty sends all its fields: its records' keys say which
        keys_a = set(a.get("fields") or []) | {key for record in a.get("data") or [] for key in record}
        keys_b = set(b.get("fields") or []) | {key for record in b.get("data") or [] for key in record}
        added, removed = sorted(keys_b - keys_a), sorted(keys_a - keys_b)
        if added:
            notes.append(f"{model}: + fields {', '.join(added)}")
        if removed:
            notes.append(f"{model}: - fields {', '.join(removed)}")
        if len(a.get("data") or []) != len(b.get("data") or []):
            notes.append(f"{model}: {len(a.get('data') or [])} -> {len(b.get('data') or [])} records")
    return notes


def measure_load(clients, ids, runs):
    """load_data on both servers, ABBA: round r calls ref then pos when r is even, pos then ref when odd."""
    args = [ids["session"], []]
    results = {name: {"times": [], "bytes": 0} for name in clients}
    payloads = {}
    for name, client in clients.items():
        for _turn in range(LOAD_WARMUP):
            _elapsed, size, payloads[name] = client.call("pos.session", "load_data", args)
    for turn in range(runs):
        order = ["ref", "pos"] if turn % 2 == 0 else ["pos", "ref"]
        for name in order:
            elapsed, size, _result = clients[name].call("pos.session", "load_data", args)
            results[name]["times"].append(elapsed * 1000)
            results[name]["bytes"] = size
    results["notes"] = compare_payloads(payloads["ref"], payloads["pos"])
    results["models"] = {name: len(payload) for name, payload in payloads.items()}
    return results


def measure_page(clients, ids, runs):
    """/pos/ui (the HTML page, once the session is open) on both servers, ABBA, and its script bundle's size."""
    path = f"/pos/ui?config_id={ids['config']}"
    results = {name: {"times": []} for name in clients}
    pages = {}
    for name, client in clients.items():
        for _turn in range(LOAD_WARMUP):
            status, _elapsed, pages[name] = client.get(path)
            if status != 200:
                return {"error": f"/pos/ui answered {status} on {client.db}"}
    for turn in range(runs):
        for name in ["ref", "pos"] if turn % 2 == 0 else ["pos", "ref"]:
            _status, elapsed, _page = clients[name].get(path)
            results[name]["times"].append(elapsed * 1000)
    for name, client in clients.items():
        scripts = re.findall(rb'<script[^>]+src="([^"]*/web/assets/[^"]+\.js)"', pages[name])
        sizes = []
        for src in scripts:
            status, elapsed, body = client.get(src.decode())
            sizes.append((src.decode().rsplit("/", 1)[-1], len(body) if status == 200 else None, elapsed))
        results[name]["scripts"] = sizes
    return results


def spread(values):
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p25": percentile(values, 25),
        "p75": percentile(values, 75),
        "min": min(values),
        "max": max(values),
    }


def paired_difference(ref, pos, rng, resamples=4000):
    """Median of the per-round differences (pos - ref) and its 95 % bootstrap interval."""
    diffs = [b - a for a, b in zip(ref, pos, strict=True)]
    medians = sorted(statistics.median(rng.choices(diffs, k=len(diffs))) for _ in range(resamples))
    return statistics.median(diffs), medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


# --------------------------------------------------------------------------- report
def report(args, ids, source, built_now, server_ctx, ctx, load, load_q, page, loads, rng):
    say()
    mode = f"{args.workers} HTTP worker(s)" if args.workers else "threaded"
    say(
        f"=== POS bench: {args.pos_db} (with omnichannel_pos) and {args.ref_db} (without), copies of {args.db} "
        f"({ids['partners']:,} partners; {'built now' if built_now else 'reused'}); {mode} server each, no cron; "
        f"PostgreSQL jit={ids['jit']}; code sha256 {code_digest(MODULES)[:12]} ==="
    )
    say(
        f"Machine: {os.cpu_count()} cores shared with other work; load average {loads[0]:.1f} at start, "
        f"{loads[1]:.1f} before the context calls, {loads[2]:.1f} before the load runs, {loads[3]:.1f} at the end"
    )
    say(
        f"Customer: {ids['timeline']:,} timeline rows ({ids['channel_rows']:,} on channels), "
        f"{ids['conversations']:,} conversations ({ids['open_conversations']} open), {ids['pos_orders']} POS orders + "
        f"{ids['refunds']} refunds, {ids['sales']} sale orders"
    )
    targets = []
    say()
    say(
        "Customer context: res.partner.omnichannel_pos_context([customer], config) over HTTP JSON-RPC "
        "(/web/dataset/call_kw) as the cashier (Point of Sale / User only), one call at a time"
    )
    if "error" in ctx:
        say(f"  not measured: {ctx['error']}")
        targets.append((False, f"context p95 <= {TARGET_CONTEXT_P95_MS} ms: not measured ({ctx['error'][:120]})"))
    else:
        s = spread(ctx["times"])
        p95 = percentile(ctx["times"], 95)
        say(
            f"  {s['n']} calls: p50 {s['p50']:.1f} ms, p95 {p95:.1f} ms, min {s['min']:.1f} ms, max {s['max']:.1f} ms; "
            f"response {ctx['bytes']:,} bytes"
        )
        say(f"  answer: {ctx['described']}")
        say(
            f"  HTTP floor, res.users.context_get through the same route right after each call: p50 "
            f"{statistics.median(ctx['floor']):.1f} ms, p95 {percentile(ctx['floor'], 95):.1f} ms"
        )
        if server_ctx:
            calls = [c[0] * 1000 for c in server_ctx["calls"]]
            queries = statistics.median(c[1] for c in server_ctx["calls"])
            prefs = [c[0] * 1000 for c in server_ctx["preferred"]]
            say(
                f"  server side (this process, fresh cursor, cache cleared, JSON encoding): p50 "
                f"{statistics.median(calls):.1f} ms, p95 {percentile(calls, 95):.1f} ms, {queries:.0f} queries; "
                f"preferred-channel query alone p50 {statistics.median(prefs):.1f} ms, "
                f"p95 {percentile(prefs, 95):.1f} ms"
            )
        targets.append((p95 <= TARGET_CONTEXT_P95_MS, f"context p95 <= {TARGET_CONTEXT_P95_MS} ms: {p95:.1f} ms"))
    say()
    say(
        f"POS start-up data load: pos.session.load_data([session], []) over HTTP JSON-RPC as the cashier, "
        f"{len(load['ref']['times'])} rounds alternated ABBA (after {LOAD_WARMUP} warm-up calls each)"
    )
    say(f"  {'':<28}{'p50 ms':>9}{'p25-p75 ms':>16}{'min-max ms':>16}{'bytes':>11}{'models':>8}{'queries':>9}")
    for name, label in (("ref", "without omnichannel_pos"), ("pos", "with omnichannel_pos")):
        s = spread(load[name]["times"])
        quartiles, extremes = f"{s['p25']:.1f}-{s['p75']:.1f}", f"{s['min']:.1f}-{s['max']:.1f}"
        say(
            f"  {label:<28}{s['p50']:>9.1f}{quartiles:>16}{extremes:>16}"
            f"{load[name]['bytes']:>11,}{load['models'][name]:>8}{load_q[name]['queries']:>9.0f}"
        )
    diff, low, high = paired_difference(load["ref"]["times"], load["pos"]["times"], rng)
    base = statistics.median(load["ref"]["times"])
    say(
        f"  difference (with - without), median of the paired rounds: {diff:+.1f} ms ({diff / base:+.1%}), "
        f"95 % bootstrap interval {low:+.1f} to {high:+.1f} ms"
    )
    say(
        f"  server side (this process, no HTTP, {load_q['ref']['runs']} runs each alternated, median): "
        f"{load_q['ref']['seconds'] * 1000:.0f} ms without, {load_q['pos']['seconds'] * 1000:.0f} ms with"
    )
    say("  what differs in the answer: " + ("; ".join(load["notes"]) if load["notes"] else "nothing"))
    targets.append(
        (
            low <= 0,
            f"no measurable increase of the POS data load: {diff:+.1f} ms ({diff / base:+.1%}), "
            f"95 % interval {low:+.1f} to {high:+.1f} ms "
            f"({load_q['pos']['queries'] - load_q['ref']['queries']:+.0f} queries, "
            f"{load['pos']['bytes'] - load['ref']['bytes']:+,} bytes)",
        )
    )
    if page:
        say()
        if "error" in page:
            say(f"/pos/ui page: not measured: {page['error']}")
        else:
            a, b = spread(page["ref"]["times"]), spread(page["pos"]["times"])
            diff, low, high = paired_difference(page["ref"]["times"], page["pos"]["times"], rng)
            say(
                f"/pos/ui page (HTML), for reference: p50 {a['p50']:.1f} ms without, {b['p50']:.1f} ms with "
                f"({diff:+.1f} ms, 95 % interval {low:+.1f} to {high:+.1f} ms)"
            )
            for name, label in (("ref", "without"), ("pos", "with")):
                scripts = ", ".join(
                    f"{src} {size:,} bytes" if size is not None else f"{src} not served"
                    for src, size, _elapsed in page[name]["scripts"]
                )
                say(f"  its scripts {label}: {scripts or 'none found'}")
    say()
    say_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="odoo.conf")
    parser.add_argument("--db", default="omnichannel_bench", help="bench_ingest.py's database, copied (never changed)")
    parser.add_argument("--rebuild", action="store_true", help="drop the two copies and build them again")
    parser.add_argument("--interactions", type=int, default=100000, help="the customer's interactions (100,000)")
    parser.add_argument("--orders", type=int, default=300, help="the customer's POS orders, and sale orders (300)")
    parser.add_argument("--products", type=int, default=500, help="POS products of the shop (500)")
    parser.add_argument("--samples", type=int, default=200, help="timed context calls (200)")
    parser.add_argument("--server-samples", type=int, default=50, help="context calls timed in this process (50)")
    parser.add_argument("--load-runs", type=int, default=40, help="load_data rounds on each server (40)")
    parser.add_argument(
        "--workers", type=int, default=0, help="HTTP workers of each server (default 0: threaded; see README)"
    )
    parser.add_argument("--no-page", action="store_true", help="skip the /pos/ui page and its bundle")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args([arg for arg in sys.argv[1:] if arg != "--"])
    if args.interactions < 1000 or args.orders < REFUNDS + 5 or args.products < 5 or args.load_runs < 2:
        parser.error("--interactions >= 1000, --orders >= 10, --products >= 5, --load-runs >= 2")
    args.ref_db, args.pos_db = f"{args.db}_pos_ref", f"{args.db}_pos"

    import odoo
    from odoo.modules.registry import Registry

    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    ensured = ensure_databases(odoo, args)
    if ensured is None:
        return 0
    source, built_now = ensured
    registry = Registry(args.pos_db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        run = int(env["ir.config_parameter"].get_param(RUNS_KEY, 0)) + 1
        env["ir.config_parameter"].set_param(RUNS_KEY, run)
    ids = bench_ids(registry)
    say(f"[pos] run #{run} on {args.pos_db} and {args.ref_db}")
    with step(f"server side of the context call, {args.server_samples} calls in this process"):
        server_ctx = measure_context_server(odoo, registry, ids, args.server_samples)
    with step("load_data in this process, 10 runs on each copy"):
        load_q = load_in_process(odoo, {"ref": args.ref_db, "pos": args.pos_db}, ids, 10)
    logdir = Path(tempfile.mkdtemp(prefix="bench-pos-"))
    try:
        measured = measure_http(odoo, args, ids, logdir, loads)
    except (RuntimeError, RpcError, OSError) as exc:
        say(f"[pos] HTTP measures failed: {exc}; logs in {logdir}")
        return 0
    ctx, load, page, errors, crashes = measured
    report(args, ids, source, built_now, server_ctx, ctx, load, load_q, page, loads, random.Random(args.seed))
    for name, lines in errors.items():
        if lines:
            say(f"[pos] server log of {name}: {len(lines)} ERROR lines, e.g. {lines[0][:200]} ({logdir})")
    for name, (count, last) in crashes.items():
        if count:
            say(
                f"[pos] server of {name}: {count} tracebacks on standard error, the last ending "
                f"{last[:160]!r} ({logdir})"
            )
    say(f"[pos] total {time.perf_counter() - started:.0f} s")
    return 0


def measure_http(odoo, args, ids, logdir, loads):
    """The servers, and what is measured through them."""
    page = None
    with (
        step(f"odoo-bin on {args.pos_db} and on {args.ref_db}, {args.workers or 'threaded, no'} HTTP workers"),
        OdooServer(odoo, args.config, args.pos_db, args.workers, logdir / "pos.log") as pos_server,
        OdooServer(odoo, args.config, args.ref_db, args.workers, logdir / "ref.log") as ref_server,
    ):
        clients = {
            "ref": Client(ref_server, CASHIER_LOGIN, CASHIER_PASSWORD),
            "pos": Client(pos_server, CASHIER_LOGIN, CASHIER_PASSWORD),
        }
        loads.append(os.getloadavg()[0])
        with step(f"customer context: {args.samples} calls over HTTP"):
            ctx = measure_context_http(clients["pos"], ids, args.samples)
        loads.append(os.getloadavg()[0])
        with step(f"POS data load: {args.load_runs} rounds on each server"):
            load = measure_load(clients, ids, args.load_runs)
        if not args.no_page:
            with step(f"/pos/ui page: {args.load_runs} rounds on each server, then its scripts"):
                page = measure_page(clients, ids, args.load_runs)
        loads.append(os.getloadavg()[0])
        servers = (("ref", ref_server), ("pos", pos_server))
        errors = {name: server.errors() for name, server in servers}
        crashes = {name: server.crashes() for name, server in servers}
    return ctx, load, page, errors, crashes


if __name__ == "__main__":
    sys.exit(main())
