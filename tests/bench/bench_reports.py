#!/usr/bin/env python3
"""Benchmark of the reports (``omnichannel_reports``, issue 13) on the 1M-partner database (``make bench``).

It never changes bench_ingest.py's database (``--db``, ``omnichannel_bench``): it works on a copy,
``<db>_reports``, made once with ``CREATE DATABASE … TEMPLATE`` and reused while it holds what this
script builds (``ir.config_parameter`` ``omnichannel.bench_reports_*``):

- ``omnichannel_reports`` installed (its install hook computes the KPI facts of the conversations the
  copy already has), a second company, 10 teams (6 + 4) of 5 agents each (internal users in Omnichannel /
  User, members of their team, the first one its leader), a manager of both companies, 13 channels of
  several types;
- ``--conversations`` (200,000) conversations over 24 months, inserted with set-based SQL: states by age
  (recent ones still new, open or pending), 0 to 3 agent replies, automatic acknowledgements, reopens within
  and after the FCR window, surveys sent for 40 % of the resolved ones, half of them rated; the million
  interactions of bench_ingest.py become their messages (5 each: customer, acknowledgement or follow-up,
  agent replies), and the KPI columns are filled by the module's own ``_omni_recompute_kpis()``;
- sale orders for 70 % of the million customers over 3 years (1 to 9 each, ``--orders`` in all), a share
  of them invoiced (posted invoices linked to the order lines, as ``sale`` links them), plus invoices
  without an order and credit notes.

Then, each run:

- the six dashboard KPI queries of the spec (``_read_group`` on ``omnichannel.conversation.report``, the
  last 12 months), then the pivots and charts of the dashboard as shipped (read from its spreadsheet file,
  asked with ``read_group(..., lazy=False)`` as the web client does), as an agent (one company) and as a
  manager (both companies), warm, ``--samples`` repetitions each: p50 / p95 in ms against the 1 s target;
  EXPLAIN ANALYZE of the slowest query of each user. Without the report model, the spec's queries on
  ``omnichannel.conversation``'s own fields (``--model conversation`` forces that);
- ``res.partner._omni_rfm_recompute()`` for the million partners: a full run (every score rewritten:
  the reference day moves by one) and a run that changes nothing, in seconds (target <= 60 s), and the
  segments.

``--rebuild`` drops the copy (never ``--db``) and builds it again. Exits 0 whatever the figures.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from bench_ingest import BUILT_KEY as SOURCE_BUILT_KEY
from bench_ingest import CODE_KEY as SOURCE_CODE_KEY
from bench_ingest import REF_PREFIX
from bench_ingest import STATE_KEY as SOURCE_STATE_KEY
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
    sql_params,
    stepper,
)

ROOT = Path(__file__).resolve().parents[2]
step = stepper("reports")
MODULES = ["omnichannel_base", "omnichannel_reports"]
LAYOUT = "v1"  # bump when the data built changes
BUILT_KEY = "omnichannel.bench_reports_built"  # the layout, once the copy is complete
STATE_KEY = "omnichannel.bench_reports_state"  # set right after the copy: this database is ours
CODE_KEY = "omnichannel.bench_reports_code"  # digest of the code the copy was last updated with
RUNS_KEY = "omnichannel.bench_reports_runs"
RFM_DAY_KEY = "omnichannel.bench_reports_rfm_day"  # reference day of the scores stored by the last run
AGENT_LOGIN = "bench_reports_agent{:02d}"
MANAGER_LOGIN = "bench_reports_manager"
COMPANY_B = "Bench Reports Company B"
TARGET_KPI_MS = 1000
TARGET_RFM_S = 60
PER_CONVERSATION = 5  # interactions of bench_ingest.py per conversation
INVOICED_SHARE = 0.25  # of the confirmed orders
DIRECT_INVOICES = 0.06  # invoices without a sale order (a purchase of their own), per order
REFUNDS = 0.016  # credit notes, per order

# (company "A" or "B", channel type, share of the company's conversations, team index in the company)
CHANNELS = [
    ("A", "whatsapp", 0.32, 0),
    ("A", "messenger", 0.08, 1),
    ("A", "instagram", 0.08, 1),
    ("A", "telegram", 0.05, 2),
    ("A", "sms", 0.08, 2),
    ("A", "livechat", 0.12, 3),
    ("A", "voice", 0.15, 4),
    ("A", "api", 0.12, 5),
    ("B", "whatsapp", 0.40, 0),
    ("B", "instagram", 0.15, 1),
    ("B", "sms", 0.15, 2),
    ("B", "voice", 0.20, 3),
    ("B", "api", 0.10, 3),
]
TEAMS = {"A": 6, "B": 4}
TEAM_SIZE = 5
COMPANY_A_SHARE = 0.6

# The dashboard's queries (issue 13b spec): (name, extra domain, groupby, aggregates).
REPORT_QUERIES = [
    ("volume", [], ["date:month", "channel_type"], ["__count"]),
    ("response", [], [], ["first_response_hours:avg", "first_response_hours:median"]),
    ("resolution", [], [], ["resolution_hours:avg", "resolution_hours:median", "first_resolution_hours:avg"]),
    ("quality", [], [], ["fcr_rate:avg", "csat:avg", "response_rate:avg", "rated:sum", "surveyed:sum"]),
    ("backlog", [("state", "!=", "resolved")], ["state"], ["__count"]),
    (
        "agents",
        [],
        ["user_id"],
        ["__count", "first_response_hours:avg", "resolution_hours:avg", "fcr_rate:avg", "csat:avg"],
    ),
]
# The same on omnichannel.conversation's own columns (before the report model exists): no median, and
# the averages over every row (0 for "not yet"), so lighter than the report's but the same scans.
CONVERSATION_QUERIES = [
    ("volume", [], ["first_inbound_date:month", "channel_type"], ["__count"]),
    ("response", [], [], ["agent_response_hours:avg"]),
    ("resolution", [], [], ["resolution_hours:avg", "first_resolution_hours:avg"]),
    ("quality", [], ["fcr_state"], ["__count", "rating_last_value:avg", "reopen_count:sum"]),
    ("backlog", [("state", "!=", "resolved")], ["state"], ["__count"]),
    ("agents", [], ["user_id"], ["__count", "agent_response_hours:avg", "resolution_hours:avg"]),
]


def layout(args, source_built):
    return f"{LAYOUT}:{args.conversations}:{args.orders}:{source_built}"


def digest():
    return code_digest(MODULES)


# --------------------------------------------------------------------------- database
def ensure_database(odoo, args):
    """The copy, built or reused at the current code. Returns (source params, built now), or None."""
    from odoo.service import db as db_service

    dbs = db_service.list_dbs(True)
    if args.db not in dbs:
        say(f"[reports] {args.db} does not exist: `make bench` (bench_ingest.py) builds it first; nothing measured.")
        return None
    source = read_params(odoo, args.db, "omnichannel.bench_")
    if not source or source.get(SOURCE_STATE_KEY) != "built":
        say(f"[reports] {args.db} is not a complete bench database (bench_ingest.py builds one); nothing measured.")
        return None
    wanted = layout(args, source[SOURCE_BUILT_KEY])
    if args.reports_db in dbs:
        params = read_params(odoo, args.reports_db, "omnichannel.bench_reports_")
        if not params:
            sys.exit(
                f"[reports] {args.reports_db} exists and is not a reports bench copy; drop it or pick another --db."
            )
        if not args.rebuild and params.get(BUILT_KEY) == wanted:
            if params.get(CODE_KEY) != digest():
                try:
                    with step(f"updating {', '.join(MODULES)} in {args.reports_db} (code changed since the last run)"):
                        odoo_cli(args.config, "-d", args.reports_db, "-u", ",".join(MODULES))
                except subprocess.CalledProcessError:
                    say("[reports] the update failed (its error is above); nothing measured.")
                    return None
                sql_params(odoo, args.reports_db, {CODE_KEY: digest()})
            say(f"[reports] reusing {args.reports_db} ({BUILT_KEY} = {wanted}; --rebuild builds it again)")
            return source, False
        reason = "--rebuild" if args.rebuild else f"it holds {params.get(BUILT_KEY) or 'an unfinished build'}"
        with step(f"dropping {args.reports_db} ({reason})"):
            drop_database(odoo, args.reports_db)
    busy = others_on(odoo, args.db)
    if busy:
        say(f"[reports] {args.db} has {busy} other session(s) (another bench?): not copied now; nothing measured.")
        return None
    build(odoo, args, source, wanted)
    return source, True


def build(odoo, args, source, wanted):
    total = time.perf_counter()
    with step(f"copying {args.db} into {args.reports_db} (CREATE DATABASE … TEMPLATE)"):
        copy_database(odoo, args.db, args.reports_db, STATE_KEY)
    update = [] if source.get(SOURCE_CODE_KEY) == code_digest(["omnichannel_base"]) else ["-u", "omnichannel_base"]
    # The report view (omnichannel_conversation_report.init) reads omnichannel_team.resource_calendar_id, a
    # column of the same module that Odoo may create only after that view when installing: create it first.
    conn = odoo.sql_db.db_connect(args.reports_db)
    with closing(conn.cursor()) as cr:
        cr.execute("ALTER TABLE omnichannel_team ADD COLUMN IF NOT EXISTS resource_calendar_id int4")
        cr.commit()
    odoo.sql_db.close_db(args.reports_db)
    with step(
        f"installing omnichannel_reports in {args.reports_db}" + (" (and updating omnichannel_base)" if update else "")
    ):
        odoo_cli(args.config, "-d", args.reports_db, "-i", "omnichannel_reports", *update, "--without-demo=all")
    from odoo.modules.registry import Registry

    registry = Registry(args.reports_db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].init(force=True)  # a copy gets its own database uuid and secret
        cr.commit()
    build_service_data(odoo, registry, args)
    build_sales_data(odoo, registry, args)
    with closing(odoo.sql_db.db_connect(args.reports_db).cursor()) as cr:
        with step("VACUUM ANALYZE of the tables written"):
            cr._cnx.autocommit = True
            for table in (
                "omnichannel_conversation",
                "omnichannel_interaction",
                "sale_order",
                "sale_order_line",
                "account_move",
                "account_move_line",
                "sale_order_line_invoice_rel",
                "res_partner",
            ):
                cr.execute(f"VACUUM ANALYZE {table}")
    sql_params(odoo, args.reports_db, {BUILT_KEY: wanted, STATE_KEY: "built", CODE_KEY: digest()})
    say(f"[reports] {args.reports_db} built in {time.perf_counter() - total:.0f} s")


# --------------------------------------------------------------------------- service data
def build_service_data(odoo, registry, args):
    from odoo import Command

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        with step("second company, 50 agents in 10 teams, a manager, 13 channels (ORM)"):
            company_a = env.ref("base.main_company")
            # No country: with one, Odoo installs its localization at once (l10n_es, base_vat), which
            # computes VIES fields of the million contacts one batch at a time.
            company_b = env["res.company"].create({"name": COMPANY_B})
            companies = {"A": company_a, "B": company_b}
            Users = env["res.users"].with_context(no_reset_password=True, mail_create_nolog=True, tracking_disable=True)
            agent_group = env.ref("omnichannel_base.group_omnichannel_user")
            n = 0
            teams = {}
            for key, count in TEAMS.items():
                company = companies[key]
                teams[key] = env["omnichannel.team"]
                for t in range(count):
                    members = Users.create(
                        [
                            {
                                "name": f"Bench Reports Agent {n + m + 1:02d}",
                                "login": AGENT_LOGIN.format(n + m + 1),
                                "company_id": company.id,
                                "company_ids": [Command.set(company.ids)],
                                "tz": "Europe/Madrid",
                                "groups_id": [Command.set([agent_group.id])],
                            }
                            for m in range(TEAM_SIZE)
                        ]
                    )
                    n += TEAM_SIZE
                    teams[key] |= env["omnichannel.team"].create(
                        {
                            "name": f"Bench Reports Team {key}{t + 1}",
                            "company_id": company.id,
                            "member_ids": [Command.set(members.ids)],
                            "user_id": members[0].id,
                            "auto_assign": False,
                        }
                    )
            Users.create(
                {
                    "name": "Bench Reports Manager",
                    "login": MANAGER_LOGIN,
                    "company_id": company_a.id,
                    "company_ids": [Command.set([company_a.id, company_b.id])],
                    "tz": "Europe/Madrid",
                    "groups_id": [Command.set([env.ref("omnichannel_base.group_omnichannel_manager").id])],
                }
            )
            types = dict(env["omnichannel.channel"]._fields["channel_type"]._description_selection(env))
            channels = []
            for key, channel_type, share, team_index in CHANNELS:
                if channel_type not in types:
                    continue
                channel = env["omnichannel.channel"].create(
                    {
                        "name": f"Bench Reports {types[channel_type]} {key}",
                        "channel_type": channel_type,
                        "company_id": companies[key].id,
                        "team_id": teams[key][team_index].id,
                    }
                )
                channels.append((key, channel, share))
            cr.commit()

        cr.execute("SELECT min(id), count(*) FROM res_partner WHERE ref LIKE %s", [REF_PREFIX + "%"])
        first_partner, partner_count = cr.fetchone()
        cr.execute("SELECT count(*) FROM omnichannel_interaction WHERE external_id ~ '^bench-[0-9]+$'")
        bench_interactions = cr.fetchone()[0]
        n = min(args.conversations, partner_count)
        with step(f"{n:,} conversations over 24 months (one INSERT … SELECT)"):
            cr.execute(
                """CREATE TEMP TABLE bench_ch (company_id int, channel_id int, channel_type text, team_id int,
                                               kind text, lo float, hi float)"""
            )
            for key in companies:
                mine = [(channel, share) for k, channel, share in channels if k == key]
                scale, low = sum(share for _channel, share in mine), 0.0
                for i, (channel, share) in enumerate(mine):
                    high = 1.0 if i == len(mine) - 1 else low + share / scale
                    cr.execute(
                        "INSERT INTO bench_ch VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [
                            companies[key].id,
                            channel.id,
                            channel.channel_type,
                            channel.team_id.id,
                            "call" if channel.channel_type == "voice" else "message",
                            low,
                            high,
                        ],
                    )
                    low = high
            cr.execute("CREATE TEMP TABLE bench_team (company_id int, pos int, cnt int, team_id int, members int[])")
            for key, company_teams in teams.items():
                for pos, team in enumerate(company_teams):
                    cr.execute(
                        "INSERT INTO bench_team VALUES (%s, %s, %s, %s, %s)",
                        [companies[key].id, pos, len(company_teams), team.id, team.member_ids.ids],
                    )
            cr.execute("SELECT setseed(%s)", [(args.seed % 1000) / 1000.0])
            # One row per conversation with every date it needs: slot j (0..4) is its j-th interaction.
            # Hours after the first message: h1 an automatic acknowledgement (15 %) or a follow-up of the
            # customer, h2 the first agent reply (none while new), h3 / h4 a second and third reply or the
            # customer's; reopened ones are resolved after h2 and written to again days later (h3), within
            # the 7-day FCR window for 70 % of them.
            cr.execute(
                """
                CREATE TEMP TABLE bench_conv AS
                WITH s AS (
                    SELECT k, random() AS rc, random() AS rch, random() AS rt, random() AS rtp, random() AS ra,
                           random() AS rs, random() AS rr, random() AS rb, random() AS rro, random() AS rq,
                           random() AS rv, random() AS rv2, random() AS rx,
                           random() AS g1, random() AS g2, random() AS g3, random() AS g4, random() AS g5,
                           date_trunc('second', now() AT TIME ZONE 'UTC'
                                      - power(random(), 1.2) * interval '730 days') AS t0
                      FROM generate_series(1, %(n)s) AS k
                ), c AS (
                    SELECT s.*, ch.company_id, ch.channel_id, ch.channel_type, ch.kind,
                           CASE WHEN s.rt < 0.85 THEN ch.team_id ELSE t.team_id END AS team_id,
                           EXTRACT(EPOCH FROM now() AT TIME ZONE 'UTC' - s.t0) / 86400 AS age
                      FROM s
                      JOIN bench_ch ch ON ch.company_id = CASE WHEN s.rc < %(share_a)s THEN %(a)s ELSE %(b)s END
                                      AND s.rch >= ch.lo AND s.rch < ch.hi
                      JOIN bench_team t ON t.company_id = ch.company_id AND t.pos = floor(s.rtp * t.cnt)::int
                ), st AS (
                    SELECT c.*, tm.members[1 + floor(c.ra * array_length(tm.members, 1))::int] AS agent,
                           CASE WHEN age < 2 THEN CASE WHEN rs < 0.30 THEN 'new' WHEN rs < 0.65 THEN 'open'
                                                       WHEN rs < 0.80 THEN 'pending' ELSE 'resolved' END
                                WHEN age < 30 THEN CASE WHEN rs < 0.03 THEN 'new' WHEN rs < 0.10 THEN 'open'
                                                        WHEN rs < 0.20 THEN 'pending' ELSE 'resolved' END
                                ELSE CASE WHEN rs < 0.005 THEN 'new' WHEN rs < 0.015 THEN 'open'
                                          WHEN rs < 0.03 THEN 'pending' ELSE 'resolved' END
                           END AS state
                      FROM c JOIN bench_team tm ON tm.team_id = c.team_id
                ), r AS (
                    SELECT st.*,
                           CASE WHEN state = 'new' THEN 0 WHEN rr < 0.5 THEN 1 WHEN rr < 0.8 THEN 2
                                ELSE 3 END AS replies,
                           rb < 0.15 AS bot
                      FROM st
                ), h AS (
                    SELECT r.*,
                           replies >= 2 AND ((state = 'resolved' AND rro < 0.12) OR (state IN ('open', 'pending')
                                                                                     AND rro < 0.3)) AS reopened,
                           CASE WHEN bot THEN 0.003 ELSE 0.02 + 0.2 * g1 END AS h1,
                           0.03 + 24 * power(g2, 4) AS resp
                      FROM r
                ), hh AS (
                    SELECT h.*, h1 + resp AS h2,
                           CASE WHEN reopened THEN h1 + resp + 0.5 + 4 * g3 END AS hr,
                           CASE WHEN rq < 0.7 THEN 7 * 24 * g4 ELSE (7 + 60 * g4) * 24 END AS gap
                      FROM h
                ), hx AS (
                    SELECT hh.*,
                           CASE WHEN reopened THEN hr + gap ELSE h2 + 0.1 + 6 * g3 * g3 END AS h3
                      FROM hh
                ), hy AS (
                    SELECT hx.*,
                           CASE WHEN reopened THEN h3 + 0.05 + 8 * power(g5, 4) ELSE h3 + 0.1 + 6 * g4 * g4 END AS h4
                      FROM hx
                ), d AS (
                    SELECT hy.*, now() AT TIME ZONE 'UTC' AS now_utc FROM hy
                )
                SELECT nextval('omnichannel_conversation_id_seq') AS cid, k,
                       %(first)s + (k::bigint * 7919) %% %(np)s AS partner_id,
                       company_id, channel_id, channel_type, kind, team_id,
                       CASE WHEN state != 'new' OR ra < 0.3 THEN agent END AS user_id,
                       state, replies, bot, reopened, rv, rv2, rx,
                       t0 AS d0,
                       date_trunc('second', LEAST(t0 + h1 * interval '1 hour', now_utc)) AS d1,
                       date_trunc('second', LEAST(t0 + h2 * interval '1 hour', now_utc)) AS d2,
                       date_trunc('second', LEAST(t0 + h3 * interval '1 hour', now_utc)) AS d3,
                       date_trunc('second', LEAST(t0 + h4 * interval '1 hour', now_utc)) AS d4,
                       date_trunc('second', LEAST(t0 + hr * interval '1 hour', now_utc)) AS dr,
                       CASE WHEN state = 'resolved' THEN date_trunc('second',
                            LEAST(t0 + (h4 + 0.1 + 12 * g5 * g5) * interval '1 hour', now_utc)) END AS resolved,
                       NOT bot AS in1, replies < 1 AS in2, reopened OR replies < 2 AS in3,
                       NOT reopened AND replies < 3 AS in4
                  FROM d
                """,
                {
                    "n": n,
                    "share_a": COMPANY_A_SHARE,
                    "a": companies["A"].id,
                    "b": companies["B"].id,
                    "first": first_partner,
                    "np": partner_count,
                },
            )
            cr.execute(
                """
                INSERT INTO omnichannel_conversation
                       (id, partner_id, commercial_partner_id, channel_id, channel_type, company_id, team_id, user_id,
                        name, state, first_inbound_date, last_inbound_date, last_message_date, first_response_date,
                        resolved_date, first_resolved_date, first_response_hours, resolution_hours,
                        first_resolution_hours, rating_last_value, csat_survey_date,
                        create_uid, write_uid, create_date, write_date)
                SELECT b.cid, b.partner_id, b.partner_id, b.channel_id, b.channel_type, b.company_id, b.team_id,
                       b.user_id,
                       p.name || ' · ' || (ch.name->>'en_US'), b.state, b.d0,
                       CASE WHEN b.in4 THEN b.d4 WHEN b.in3 THEN b.d3 WHEN b.in2 THEN b.d2 WHEN b.in1 THEN b.d1
                            ELSE b.d0 END,
                       b.d4, x.first_response, b.resolved, x.first_resolved,
                       COALESCE(EXTRACT(EPOCH FROM x.first_response - b.d0) / 3600, 0),
                       COALESCE(EXTRACT(EPOCH FROM b.resolved - b.d0) / 3600, 0),
                       COALESCE(EXTRACT(EPOCH FROM x.first_resolved - b.d0) / 3600, 0),
                       CASE WHEN x.surveyed AND b.rv2 < 0.5
                            THEN CASE WHEN b.rx < 0.45 THEN 5 WHEN b.rx < 0.70 THEN 4 WHEN b.rx < 0.82 THEN 3
                                      WHEN b.rx < 0.90 THEN 2 ELSE 1 END
                            ELSE 0 END,
                       CASE WHEN x.surveyed THEN LEAST(b.resolved + interval '10 minutes',
                                                       date_trunc('second', now() AT TIME ZONE 'UTC')) END,
                       1, 1, b.d0, GREATEST(b.d4, b.resolved)
                  FROM bench_conv b
                  JOIN res_partner p ON p.id = b.partner_id
                  JOIN omnichannel_channel ch ON ch.id = b.channel_id,
                       LATERAL (SELECT CASE WHEN NOT b.in1 THEN b.d1 WHEN NOT b.in2 THEN b.d2 END AS first_response,
                                       CASE WHEN b.reopened THEN b.dr ELSE b.resolved END AS first_resolved,
                                       b.state = 'resolved' AND b.rv < 0.4 AS surveyed) AS x
                """
            )
            assert cr.rowcount == n, f"{cr.rowcount} conversations inserted"
            cr.commit()

        linked = min(bench_interactions, n * PER_CONVERSATION)
        with step(f"linking {linked:,} interactions of bench_ingest.py to them, {PER_CONVERSATION} each (one UPDATE)"):
            # user_id: the agent on the replies; the automatic acknowledgement (slot 1) has none.
            cr.execute(
                """
                UPDATE omnichannel_interaction i
                   SET conversation_id = b.cid, partner_id = b.partner_id, commercial_partner_id = b.partner_id,
                       channel_id = b.channel_id, channel_type = b.channel_type, company_id = b.company_id,
                       kind = b.kind, direction = CASE WHEN x.inbound THEN 'inbound' ELSE 'outbound' END,
                       user_id = CASE WHEN NOT x.inbound AND x.j != 1 THEN b.user_id END,
                       date = x.date, create_date = x.date, write_date = x.date
                  FROM (SELECT s.id, s.g / %(per)s + 1 AS k, s.g %% %(per)s AS j
                          FROM (SELECT id, substr(external_id, 7)::int - 1 AS g
                                  FROM omnichannel_interaction
                                 WHERE external_id ~ '^bench-[0-9]+$' AND conversation_id IS NULL) AS s
                         WHERE s.g < %(limit)s) AS y
                  JOIN bench_conv b ON b.k = y.k,
                       LATERAL (SELECT y.j,
                                       CASE y.j WHEN 0 THEN TRUE WHEN 1 THEN b.in1 WHEN 2 THEN b.in2
                                                WHEN 3 THEN b.in3 ELSE b.in4 END AS inbound,
                                       CASE y.j WHEN 0 THEN b.d0 WHEN 1 THEN b.d1 WHEN 2 THEN b.d2
                                                WHEN 3 THEN b.d3 ELSE b.d4 END AS date) AS x
                 WHERE i.id = y.id
                """,
                {"per": PER_CONVERSATION, "limit": linked},
            )
            say(f"[reports]   {cr.rowcount:,} interactions linked")
            cr.commit()
        with step("KPI facts: omnichannel.conversation._omni_recompute_kpis() (the module's own, set-based)"):
            env["omnichannel.conversation"]._omni_recompute_kpis()
            cr.commit()
        cr.execute(
            """SELECT state, count(*), round(avg(agent_reply_count), 2), count(*) FILTER (WHERE reopen_count > 0),
                      count(*) FILTER (WHERE fcr_state = 'yes'), count(*) FILTER (WHERE fcr_state = 'no'),
                      count(*) FILTER (WHERE csat_survey_date IS NOT NULL),
                      count(*) FILTER (WHERE rating_last_value > 0)
                 FROM omnichannel_conversation WHERE id IN (SELECT cid FROM bench_conv) GROUP BY 1 ORDER BY 1"""
        )
        say("[reports]   state      conversations  replies/conv  reopened  FCR yes  FCR no  surveyed  rated")
        for row in cr.fetchall():
            say("[reports]   {:<10} {:>13,} {:>13} {:>9,} {:>8,} {:>7,} {:>9,} {:>6,}".format(*row))
        cr.execute("DROP TABLE bench_conv, bench_ch, bench_team")
        cr.commit()


# --------------------------------------------------------------------------- sales data
def build_sales_data(odoo, registry, args):
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = env.ref("base.main_company")
        company_b = env["res.company"].search([("name", "=", COMPANY_B)], limit=1)
        product = (
            env["product.product"]
            .with_context(tracking_disable=True)
            .create({"name": "Bench Reports Service", "type": "service", "list_price": 100, "invoice_policy": "order"})
        )
        journal = env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", company.id)], order="id", limit=1
        )
        income = product.property_account_income_id or product.categ_id.property_account_income_categ_id
        if not income:
            income = env["account.account"].search(
                [("account_type", "=", "income"), ("company_ids", "in", company.ids)], order="code", limit=1
            )
        warehouses = {
            c.id: env["stock.warehouse"].search([("company_id", "=", c.id)], limit=1).id or None
            for c in company | company_b
        }
        cr.commit()
        cr.execute("SELECT setseed(%s)", [(args.seed % 1000) / 1000.0 + 0.0005])
        cr.execute("SELECT min(id), count(*) FROM res_partner WHERE ref LIKE %s", [REF_PREFIX + "%"])
        first_partner, partners = cr.fetchone()
        # 1 + floor(9 r^2) orders per buyer: 3.5 on average, 1 to 9
        buyers = round(args.orders / 3.5)
        with step(f"about {args.orders:,} sale orders of {buyers:,} customers over 3 years (one INSERT … SELECT)"):
            cr.execute(
                """CREATE TEMP TABLE bench_buyer AS
                   SELECT id AS partner_id, 1 + floor(9 * power(random(), 2))::int AS n
                     FROM res_partner WHERE ref LIKE %s AND random() < %s""",
                [REF_PREFIX + "%", min(1.0, buyers / partners)],
            )
            cr.execute(
                """CREATE TEMP TABLE bench_so AS
                   SELECT nextval('sale_order_id_seq') AS id, b.partner_id,
                          CASE WHEN random() < 0.8 THEN %(a)s ELSE %(b)s END AS company_id,
                          date_trunc('second', now() AT TIME ZONE 'UTC' - random() * interval '1095 days')
                              AS date_order,
                          CASE WHEN random() < 0.96 THEN 'sale' ELSE 'cancel' END AS state,
                          round((20 + 480 * power(random(), 2))::numeric, 2) AS amount,
                          random() AS ri
                     FROM bench_buyer b, generate_series(1, b.n) AS j""",
                {"a": company.id, "b": company_b.id},
            )
            cr.execute(
                """INSERT INTO sale_order
                          (id, company_id, partner_id, partner_invoice_id, partner_shipping_id, name, date_order, state,
                           picking_policy, currency_id, warehouse_id, amount_untaxed, amount_tax, amount_total,
                           currency_rate, invoice_status, locked, require_signature, require_payment,
                           create_uid, write_uid, create_date, write_date)
                   SELECT id, company_id, partner_id, partner_id, partner_id, 'BSO' || lpad(id::text, 8, '0'),
                          date_order, state, 'direct', %(currency)s,
                          CASE WHEN company_id = %(a)s THEN %(wa)s ELSE %(wb)s END,
                          amount, round(amount * 0.21, 2), amount + round(amount * 0.21, 2), 1,
                          CASE WHEN state != 'sale' THEN 'no'
                               WHEN company_id = %(a)s AND ri < %(share)s THEN 'invoiced' ELSE 'to invoice' END,
                          FALSE, FALSE, FALSE, 1, 1, date_order, date_order
                     FROM bench_so""",
                {
                    "currency": company.currency_id.id,
                    "a": company.id,
                    "wa": warehouses[company.id],
                    "wb": warehouses[company_b.id],
                    "share": args.invoiced_share,
                },
            )
            say(f"[reports]   {cr.rowcount:,} sale orders")
            cr.commit()
        with step(
            "invoices: one per invoiced order (line linked to the order line), others without order, credit notes"
        ):
            cr.execute(
                """CREATE TEMP TABLE bench_inv AS
                   SELECT nextval('account_move_id_seq') AS move_id, nextval('account_move_line_id_seq') AS aml_id,
                          nextval('sale_order_line_id_seq') AS sol_id, id AS order_id, partner_id,
                          (date_order + random() * interval '3 days')::date AS day, amount, 'out_invoice' AS move_type
                     FROM bench_so WHERE state = 'sale' AND company_id = %(a)s AND ri < %(share)s""",
                {"a": company.id, "share": args.invoiced_share},
            )
            cr.execute(
                """INSERT INTO bench_inv
                   SELECT nextval('account_move_id_seq'), nextval('account_move_line_id_seq'), NULL::bigint, NULL::int,
                          %(first)s + floor(random() * %(np)s)::int,
                          (now() AT TIME ZONE 'UTC' - random() * interval '1095 days')::date,
                          round((20 + 480 * power(random(), 2))::numeric, 2), 'out_invoice'
                     FROM generate_series(1, %(direct)s)
                   UNION ALL
                   SELECT nextval('account_move_id_seq'), nextval('account_move_line_id_seq'), NULL::bigint, NULL::int,
                          partner_id,
                          LEAST(day + (random() * 60)::int, (now() AT TIME ZONE 'UTC')::date),
                          round(amount * (0.2 + 0.8 * random())::numeric, 2), 'out_refund'
                     FROM (SELECT partner_id, day, amount FROM bench_inv ORDER BY random() LIMIT %(refunds)s) AS r""",
                {
                    "first": first_partner,
                    "np": partners,
                    "direct": round(args.orders * DIRECT_INVOICES),
                    "refunds": round(args.orders * REFUNDS),
                },
            )
            cr.execute(
                """INSERT INTO sale_order_line
                          (id, order_id, sequence, company_id, currency_id, order_partner_id, product_id, product_uom,
                           state, qty_delivered_method, invoice_status, name, product_uom_qty, price_unit, discount,
                           price_subtotal, price_total, price_reduce_taxexcl, price_reduce_taxinc, price_tax,
                           qty_delivered, qty_invoiced, qty_to_invoice, untaxed_amount_invoiced,
                           untaxed_amount_to_invoice, is_downpayment, is_expense, customer_lead, technical_price_unit,
                           create_uid, write_uid, create_date, write_date)
                   SELECT sol_id, order_id, 10, %(company)s, %(currency)s, partner_id, %(product)s, %(uom)s,
                          'sale', 'manual', 'invoiced', 'Bench Reports Service', 1, amount, 0,
                          amount, amount + round(amount * 0.21, 2), amount, amount + round(amount * 0.21, 2),
                          round(amount * 0.21, 2), 0, 1, 0, amount, 0, FALSE, FALSE, 0, amount,
                          1, 1, day, day
                     FROM bench_inv WHERE sol_id IS NOT NULL""",
                {
                    "company": company.id,
                    "currency": company.currency_id.id,
                    "product": product.id,
                    "uom": product.uom_id.id,
                },
            )
            cr.execute(
                """INSERT INTO account_move
                          (id, journal_id, company_id, partner_id, commercial_partner_id, currency_id, name,
                           sequence_prefix, sequence_number, state, move_type, auto_post, payment_state, date,
                           invoice_date, invoice_date_due, invoice_origin, invoice_partner_display_name,
                           invoice_currency_rate, amount_untaxed, amount_tax, amount_total, amount_residual,
                           amount_untaxed_signed, amount_untaxed_in_currency_signed, amount_tax_signed,
                           amount_total_signed, amount_total_in_currency_signed, amount_residual_signed,
                           is_storno, always_tax_exigible, checked, posted_before, made_sequence_gap,
                           is_manually_modified, is_move_sent, create_uid, write_uid, create_date, write_date)
                   SELECT i.move_id, %(journal)s, %(company)s, i.partner_id, i.partner_id, %(currency)s,
                          x.prefix || lpad(x.number::text, 7, '0'), x.prefix, x.number, 'posted', i.move_type, 'no',
                          'paid', i.day, i.day, i.day + 30, 'BSO' || lpad(i.order_id::text, 8, '0'), p.name, 1,
                          i.amount, round(i.amount * 0.21, 2), i.amount + round(i.amount * 0.21, 2), 0,
                          x.sign * i.amount, x.sign * i.amount, x.sign * round(i.amount * 0.21, 2),
                          x.sign * (i.amount + round(i.amount * 0.21, 2)),
                          x.sign * (i.amount + round(i.amount * 0.21, 2)),
                          0, FALSE, FALSE, TRUE, TRUE, FALSE, FALSE, TRUE, 1, 1, i.day, i.day
                     FROM bench_inv i
                     JOIN res_partner p ON p.id = i.partner_id
                     JOIN (SELECT move_id,
                                  CASE WHEN move_type = 'out_invoice' THEN 'BINV/' ELSE 'BRINV/' END
                                      || extract(year FROM day) || '/' AS prefix,
                                  row_number() OVER (PARTITION BY move_type, extract(year FROM day)
                                                     ORDER BY day, move_id) AS number,
                                  CASE WHEN move_type = 'out_invoice' THEN 1 ELSE -1 END AS sign
                             FROM bench_inv) AS x ON x.move_id = i.move_id""",
                {"journal": journal.id, "company": company.id, "currency": company.currency_id.id},
            )
            say(f"[reports]   {cr.rowcount:,} posted customer invoices and credit notes")
            cr.execute(
                """INSERT INTO account_move_line
                          (id, move_id, journal_id, company_id, company_currency_id, sequence, account_id, currency_id,
                           partner_id, product_id, product_uom_id, move_name, parent_state, name, display_type, date,
                           invoice_date, debit, credit, balance, amount_currency, amount_residual,
                           amount_residual_currency, quantity, price_unit, price_subtotal, price_total, discount,
                           tax_base_amount, is_imported, tax_tag_invert, reconciled, is_downpayment,
                           create_uid, write_uid, create_date, write_date)
                   SELECT i.aml_id, i.move_id, %(journal)s, %(company)s, %(currency)s, 10, %(account)s, %(currency)s,
                          i.partner_id, %(product)s, %(uom)s, am.name, 'posted', 'Bench Reports Service', 'product',
                          i.day, i.day,
                          CASE WHEN i.move_type = 'out_refund' THEN i.amount ELSE 0 END,
                          CASE WHEN i.move_type = 'out_invoice' THEN i.amount ELSE 0 END,
                          x.sign * i.amount, x.sign * i.amount, 0, 0, 1, i.amount, i.amount,
                          i.amount + round(i.amount * 0.21, 2), 0, 0, FALSE, FALSE, FALSE, FALSE, 1, 1, i.day, i.day
                     FROM bench_inv i
                     JOIN account_move am ON am.id = i.move_id,
                          LATERAL (SELECT CASE WHEN i.move_type = 'out_invoice' THEN -1 ELSE 1 END AS sign) AS x""",
                {
                    "journal": journal.id,
                    "company": company.id,
                    "currency": company.currency_id.id,
                    "account": income.id,
                    "product": product.id,
                    "uom": product.uom_id.id,
                },
            )
            cr.execute(
                """INSERT INTO sale_order_line_invoice_rel (order_line_id, invoice_line_id)
                   SELECT sol_id, aml_id FROM bench_inv WHERE sol_id IS NOT NULL"""
            )
            say(f"[reports]   {cr.rowcount:,} invoice lines linked to their order line")
            cr.execute("DROP TABLE bench_inv, bench_so, bench_buyer")
            cr.commit()


# --------------------------------------------------------------------------- measures
def bench_users(env):
    """The agent (the leader of company A's first team, one company) and the manager (both companies)."""
    manager = env["res.users"].search([("login", "=", MANAGER_LOGIN)])
    team = env["omnichannel.team"].search([("name", "=", "Bench Reports Team A1")], limit=1)
    agent = team.member_ids.sorted("id")[1]  # a member, not the leader
    return [
        ("agent", agent, [agent.company_id.id]),
        ("manager", manager, manager.company_ids.ids),
    ]


class SqlCapture:
    """Collects the SQL (and parameters) a block runs on ``cr``."""

    def __init__(self, cr):
        self.cr, self.queries = cr, []

    def __enter__(self):
        original = self.original = self.cr.execute

        def execute(query, params=None, log_exceptions=True):
            self.queries.append((query, params))
            return original(query, params, log_exceptions)

        self.cr.execute = execute
        return self

    def __exit__(self, *exc):
        self.cr.execute = self.original


def dashboard_calls():
    """What the Omnichannel dashboard as shipped asks (its pivots and charts, read from its spreadsheet
    file): the web client's ``read_group(domain, fields, groupby, lazy=False)``, under the Period filter."""
    path = ROOT / "omnichannel_reports" / "data" / "files" / "omnichannel_dashboard.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    calls = []
    for pivot in data.get("pivots", {}).values():
        if pivot.get("model") != "omnichannel.conversation.report":
            continue
        groupby = [
            f"{g['fieldName']}:{g['granularity']}" if g.get("granularity") else g["fieldName"]
            for g in [*pivot.get("rows", []), *pivot.get("columns", [])]
        ]
        fields = [f"{m['fieldName']}:{m['aggregator']}" for m in pivot.get("measures", []) if m.get("aggregator")]
        calls.append((f"pivot {pivot.get('name')!r}", pivot.get("domain") or [], groupby, fields))
    for sheet in data.get("sheets", []):
        for figure in sheet.get("figures", []):
            chart = figure.get("data", {})
            meta = chart.get("metaData") or {}
            if (
                not chart.get("type", "").startswith("odoo_")
                or meta.get("resModel") != "omnichannel.conversation.report"
            ):
                continue
            measure = meta.get("measure")
            fields = [] if measure in (None, "__count") else [measure]
            domain = (chart.get("searchParams") or {}).get("domain") or []
            calls.append(
                (f"chart {chart.get('title', {}).get('text') or meta['groupBy']!r}", domain, meta["groupBy"], fields)
            )
    return [
        (name, domain, lambda M, d, g=groupby, f=fields: M.read_group(d, f, g, lazy=False))
        for name, domain, groupby, fields in calls
    ]


def measure_kpis(odoo, registry, args):
    """p50/p95 of each dashboard query per user; the SQL of each (the last run) for EXPLAIN."""
    from odoo.exceptions import AccessError
    from odoo.tools import SQL

    results, captured = [], {}
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        model_name = "omnichannel.conversation.report"
        if args.model == "conversation" or model_name not in env:
            model_name, queries, date_field = "omnichannel.conversation", CONVERSATION_QUERIES, "first_inbound_date"
        else:
            queries, date_field = REPORT_QUERIES, "date"
        since = odoo.fields.Datetime.now() - timedelta(days=365)
        calls = [
            (name, extra, lambda M, d, g=groupby, a=aggregates: M._read_group(d, g, a))
            for name, extra, groupby, aggregates in queries
        ]
        if model_name == "omnichannel.conversation.report":
            calls += dashboard_calls()
        for label, user, company_ids in bench_users(env):
            Model = env[model_name].with_user(user).with_context(allowed_company_ids=company_ids)
            for name, extra, call in calls:
                domain = [(date_field, ">=", since), *extra]
                try:
                    call(Model, domain)  # warm-up
                except (AccessError, ValueError) as exc:
                    results.append((label, name, None, None, None, f"{type(exc).__name__}: {exc}".splitlines()[0]))
                    cr.rollback()
                    continue
                times, rows = [], None
                for _i in range(args.samples):
                    env.invalidate_all()  # records as a new request finds them (the registry's caches stay warm)
                    count = cr.sql_log_count
                    start = time.perf_counter()
                    rows = call(Model, domain)
                    times.append((time.perf_counter() - start) * 1000)
                    queries_count = cr.sql_log_count - count
                env.invalidate_all()
                with SqlCapture(cr) as capture:
                    call(Model, domain)
                table = env[model_name]._table
                selects = [q for q in capture.queries if table in str(q[0])]
                captured[(label, name)] = max(selects, key=lambda q: len(str(q[0]))) if selects else None
                results.append(
                    (label, name, percentile(times, 50), percentile(times, 95), queries_count, f"{len(rows)} group(s)")
                )
        plans = {}
        for label in ("agent", "manager"):
            mine = [r for r in results if r[0] == label and r[2] is not None]
            if not mine:
                continue
            slowest = max(mine, key=lambda r: r[2])
            query, params = captured[(label, slowest[1])]
            sql = query if isinstance(query, SQL) else SQL(query, *(params or ()))
            cr.execute(SQL("EXPLAIN (ANALYZE, BUFFERS) %s", sql))
            plans[label] = (
                slowest[1],
                [row[0] for row in cr.fetchall()],
                cr._obj.mogrify(sql.code, sql.params).decode(),
            )
        cr.execute(
            """SELECT count(*), count(*) FILTER (WHERE COALESCE(first_inbound_date, create_date) >= %s),
                      count(DISTINCT company_id),
                      count(*) FILTER (WHERE channel_id IN (SELECT id FROM omnichannel_channel
                                                             WHERE name->>'en_US' LIKE 'Bench Reports %%'))
                 FROM omnichannel_conversation""",
            [since],
        )
        sizes = cr.fetchone()
    return model_name, results, plans, sizes


def measure_rfm(odoo, registry, args):
    from odoo import fields

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        today = fields.Date.context_today(env["res.partner"])
        # a reference day other than the one stored: every customer's recency changes, all are written
        day = today if env["ir.config_parameter"].get_param(RFM_DAY_KEY) != str(today) else today + timedelta(days=1)
        cr.execute(
            """SELECT (SELECT count(*) FROM res_partner), (SELECT count(*) FROM sale_order WHERE state = 'sale'),
                      (SELECT count(*) FROM account_move WHERE state = 'posted'
                                                         AND move_type IN ('out_invoice', 'out_refund')),
                      (SELECT count(*) FROM sale_order_line_invoice_rel)"""
        )
        sizes = cr.fetchone()
        cr.commit()
        runs = []
        for label, ref_day in (("full (every score rewritten)", day), ("again, nothing changed", day)):
            start = time.perf_counter()
            changed = env["res.partner"]._omni_rfm_recompute(today=ref_day)
            cr.commit()
            runs.append((label, time.perf_counter() - start, changed, os.getloadavg()[0]))
        env["ir.config_parameter"].set_param(RFM_DAY_KEY, str(day))
        cr.execute(
            # company-dependent: one {company_id: segment} per contact; every company's segments counted
            """SELECT seg.value, count(*) FROM res_partner, jsonb_each_text(omni_rfm_segment) seg
                WHERE omni_rfm_segment IS NOT NULL GROUP BY 1 ORDER BY 2 DESC"""
        )
        segments = cr.fetchall()
        cr.commit()
    return sizes, runs, segments


# --------------------------------------------------------------------------- report
def report(args, model_name, kpis, plans, conv_sizes, rfm, loads):
    targets = []
    if kpis:
        say()
        say(
            f"Dashboard KPI queries on {model_name}, the last 12 months: the spec's six (_read_group), then the "
            f"shipped dashboard's pivots and charts (read_group, lazy=False, as the web client asks); warm, "
            f"{args.samples} runs each (record cache cleared before each), load average "
            f"{min(loads):.1f}-{max(loads):.1f}"
        )
        say(
            f"  {conv_sizes[0]:,} conversations in {conv_sizes[2]} companies ({conv_sizes[3]:,} built here, the "
            f"others left on {args.db} by other benches), {conv_sizes[1]:,} of them in the last 12 months"
        )
        width = max(len(r[1]) for r in kpis)
        say(f"  {'user':<8} {'query':<{width}} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  result")
    for label, name, p50, p95, count, note in kpis:
        if p50 is None:
            say(f"  {label:<8} {name:<{width}} {'-':>8} {'-':>8} {'-':>8}  {note}")
            targets.append((False, f"{label} {name}: not measured ({note})"))
            continue
        say(f"  {label:<8} {name:<{width}} {p50:8.1f} {p95:8.1f} {count:8d}  {note}")
        targets.append((p95 <= TARGET_KPI_MS, f"{label} {name} p95 <= {TARGET_KPI_MS} ms: {p95:.1f} ms"))
    for label, (name, plan, sql) in plans.items():
        say()
        say(f"Slowest query of the {label}: {name}")
        say("  " + " ".join(sql.split())[:1500])
        for line in plan:
            say("  " + line)
    if rfm:
        sizes, runs, segments = rfm
        say()
        say(
            f"RFM: res.partner._omni_rfm_recompute() over {sizes[0]:,} partners, {sizes[1]:,} confirmed sale orders, "
            f"{sizes[2]:,} posted invoices and credit notes ({sizes[3]:,} invoice lines linked to order lines)"
        )
        for label, seconds, changed, load in runs:
            say(f"  {label:<30} {seconds:7.1f} s  {changed:>9,} contacts changed  (load average {load:.1f})")
        total = sum(count for _segment, count in segments)
        say(f"  segments ({total:,} customers scored):")
        for segment, count in segments:
            say(f"    {segment:<20} {count:>9,}  {100 * count / total:5.1f} %")
        targets.append(
            (runs[0][1] <= TARGET_RFM_S, f"RFM recompute, 1M partners, <= {TARGET_RFM_S} s: {runs[0][1]:.1f} s")
        )
    say()
    say_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="odoo.conf")
    parser.add_argument("--db", default="omnichannel_bench", help="bench_ingest.py's database, copied (never changed)")
    parser.add_argument("--rebuild", action="store_true", help="drop the copy and build it again")
    parser.add_argument("--conversations", type=int, default=200000, help="conversations built (200,000)")
    parser.add_argument("--orders", type=int, default=2500000, help="sale orders built, about (2,500,000)")
    parser.add_argument(
        "--invoiced-share", type=float, default=INVOICED_SHARE, help="share of the orders invoiced (0.25)"
    )
    parser.add_argument("--samples", type=int, default=20, help="runs of each KPI query per user (20)")
    parser.add_argument(
        "--model",
        choices=["report", "conversation"],
        default="report",
        help="report model, or the conversations' fields",
    )
    parser.add_argument("--no-rfm", action="store_true", help="skip the RFM recompute")
    parser.add_argument("--no-kpi", action="store_true", help="skip the KPI queries")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args([arg for arg in sys.argv[1:] if arg != "--"])
    if args.conversations < 1000 or args.orders < 1000 or args.samples < 2:
        parser.error("--conversations >= 1000, --orders >= 1000, --samples >= 2")
    args.reports_db = f"{args.db}_reports"

    import odoo
    from odoo.modules.registry import Registry

    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    started = time.perf_counter()
    ensured = ensure_database(odoo, args)
    if ensured is None:
        return 0
    registry = Registry(args.reports_db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        run = int(env["ir.config_parameter"].get_param(RUNS_KEY, 0)) + 1
        env["ir.config_parameter"].set_param(RUNS_KEY, run)
    say(f"[reports] run #{run} on {args.reports_db}")
    loads = [os.getloadavg()[0]]
    model_name, kpis, plans, conv_sizes = None, [], {}, (0, 0, 0, 0)
    if not args.no_kpi:
        with step(f"dashboard KPI queries, {args.samples} runs each, as an agent and as a manager"):
            model_name, kpis, plans, conv_sizes = measure_kpis(odoo, registry, args)
        loads.append(os.getloadavg()[0])
    rfm = None
    if not args.no_rfm:
        with step("RFM recompute of every partner, twice"):
            rfm = measure_rfm(odoo, registry, args)
        loads.append(os.getloadavg()[0])
    report(args, model_name, kpis, plans, conv_sizes, rfm, loads)
    say(f"[reports] total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
