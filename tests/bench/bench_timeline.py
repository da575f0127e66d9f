#!/usr/bin/env python3
"""Benchmark of the customer timeline on a large history (``make bench``, after the ingest bench).

Builds (once) a database with omnichannel_base and the channel modules, holding:

- contacts with 10, 1,000, 10,000 and 100,000 interactions over five years, on eight channels
  (WhatsApp, Messenger, Instagram, Telegram, SMS, app, email, phone) and logged calls, store
  visits and notes, grouped in conversations, all inserted with set-based SQL;
- for the 100,000 one, 10,000 confirmed sale orders and 10,000 posted customer invoices: a few
  made through the ORM (confirm, invoice, post), then copied row by row with SQL (orders, lines,
  moves, move lines and their links), and put on the timeline by the module's own backfill;
- for the same contact, 100,000 chatter messages (the reference).

Then measures, each call in a fresh cursor with the ORM cache cleared, as an "Omnichannel User"
with sales (all documents) and invoicing rights:

- the backfill's throughput (its rows deleted and written again, committed);
- ``res.partner.omnichannel_timeline()``: the first page for each contact size, and a page
  about 90,000 items deep reached by following ``next_cursor``;
- the same contact's chatter through Odoo's own ``/mail/thread/messages`` server code.

The database is reused while it holds what this script builds (ir.config_parameter
``omnichannel.bench_timeline_built``); ``--rebuild`` drops it first. Exits 0 whatever the figures.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from benchlib import code_digest, odoo_cli, percentile, read_params, say, say_targets, stepper

ROOT = Path(__file__).resolve().parents[2]
step = stepper("bench-timeline")
MODULES = ("omnichannel_base", "omnichannel_mail", "omnichannel_social", "omnichannel_voip")
LAYOUT = "v1"  # bump when the data built changes
SIZES = (10, 1000, 10000, 100000)  # interactions per bench contact
DOCUMENTS = 10000  # sale orders, and as many invoices, of the largest contact
CHATTER = 100000  # chatter messages of the largest contact
TEMPLATES = 5  # orders (and their invoices) made with the ORM, then copied with SQL
CONVERSATION_LENGTH = 20  # channel interactions per conversation
PAGE = 40  # the timeline widget's page
CHATTER_PAGE = 30  # the chatter's page
DEEP = 90000  # items skipped before the deep page
WALK_PAGE = 100  # page size used to walk to the deep page (the server's maximum)
WARMUP = 5
BUILT_KEY = "omnichannel.bench_timeline_built"  # the layout, once the build is complete
STATE_KEY = "omnichannel.bench_timeline_state"  # set right after creation: this database is a bench one
CODE_KEY = "omnichannel.bench_timeline_code"  # digest of the modules' code the database was last updated with
RUNS_KEY = "omnichannel.bench_timeline_runs"
REF_PREFIX = "BENCH-TL-"
USER_LOGIN = "bench_timeline_user"
YEARS_DAYS = 1826

# (share of the interactions, kind, channel type or None when logged by an agent, direction)
# direction "io": 55% inbound, 45% outbound.
MIX = [
    (0.28, "message", "whatsapp", "io"),
    (0.07, "message", "messenger", "io"),
    (0.06, "message", "instagram", "io"),
    (0.03, "message", "telegram", "io"),
    (0.05, "message", "sms", "io"),
    (0.05, "message", "api", "io"),
    (0.18, "email", "email", "io"),
    (0.10, "call", "voice", "io"),
    (0.03, "call", None, "io"),
    (0.04, "visit", None, "inbound"),
    (0.11, "note", None, "internal"),
]
CHANNELS = [
    ("Bench WhatsApp Business", "whatsapp"),
    ("Bench Facebook Messenger", "messenger"),
    ("Bench Instagram", "instagram"),
    ("Bench Telegram", "telegram"),
    ("Bench SMS", "sms"),
    ("Bench Mobile App", "api"),
    ("Bench Support Mailbox", "email"),
    ("Bench Phone Line", "voice"),
]
SUMMARIES = [
    "Hola, ¿tenéis disponibilidad esta semana?",
    "Where is my order?",
    "Thanks, received it today",
    "Can I change the delivery address?",
    "Your order has shipped, tracking attached",
    "Is the blue model back in stock?",
    "I'd like to return one item",
    "Invoice copy sent",
    "Called back about the warranty",
    "Tried the new collection in store",
    "Prefers to be contacted in the evening",
    "Asked for a quote for 20 units",
]


def layout():
    return f"{LAYOUT}:{','.join(map(str, SIZES))}:{DOCUMENTS}:{CHATTER}"


# --------------------------------------------------------------------------- database
def ensure_database(odoo, args):
    """Reuse a complete bench database, or (re)build it. Returns True when built now."""
    from odoo.service import db as db_service

    exists = args.db in db_service.list_dbs(True)
    if exists and args.rebuild:
        with step(f"dropping {args.db} (--rebuild)"):
            db_service.exp_drop(args.db)
        exists = False
    if exists:
        params = read_params(odoo, args.db, "omnichannel.bench_timeline_")
        if params is None or not (params.get(STATE_KEY) or params.get(BUILT_KEY)):
            sys.exit(
                f"[bench-timeline] {args.db} exists and is not a timeline bench database; pick another --db, "
                "or pass --rebuild to drop it."
            )
        if params.get(BUILT_KEY) == layout():
            say(f"[bench-timeline] reusing {args.db} (--rebuild builds it again)")
            if params.get(CODE_KEY) != code_digest(MODULES):
                with step(f"updating {', '.join(MODULES)} in {args.db} (their code changed since the last run)"):
                    odoo_cli(args.config, "-d", args.db, "-u", ",".join(MODULES))
                set_param(odoo, args.db, CODE_KEY, code_digest(MODULES))
            return False
        with step(f"dropping {args.db}: it holds {params.get(BUILT_KEY) or 'an unfinished build'}, not {layout()}"):
            db_service.exp_drop(args.db)
    build(odoo, args)
    return True


def set_param(odoo, db, key, value):
    from odoo.modules.registry import Registry

    with Registry(db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param(key, value)


def table_columns(cr, table):
    cr.execute(
        """SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = %s AND column_name != 'id'
         ORDER BY ordinal_position""",
        [table],
    )
    return [row[0] for row in cr.fetchall()]


def clone_rows(cr, table, id_map, overrides, joins="", params=None):
    """Copy the rows of ``table`` listed in the temporary table ``id_map`` (i, old_id, new_id)
    under their new ids. Every column is copied from the template row ``t`` unless
    ``overrides`` gives an SQL expression for it (over ``t``, ``m`` the map row and ``joins``),
    so every NOT NULL column of a valid ORM-made row stays filled."""
    columns = table_columns(cr, table)
    exprs = [overrides.pop(column, f't."{column}"') for column in columns]
    assert not overrides, f"unknown columns of {table}: {sorted(overrides)}"
    cr.execute(
        f"""INSERT INTO "{table}" (id, {", ".join(f'"{c}"' for c in columns)})
            SELECT m.new_id, {", ".join(exprs)}
              FROM {id_map} m JOIN "{table}" t ON t.id = m.old_id {joins}""",
        params,
    )
    return cr.rowcount


def clone_links(cr, table, mapped):
    """Copy the rows of a many2many ``table`` whose columns in ``mapped`` ({column: id_map})
    point to cloned rows; when two columns are mapped, both ends belong to the same copy i."""
    columns = table_columns(cr, table)
    joins, exprs = [], []
    for n, (column, id_map) in enumerate(mapped.items()):
        same_copy = f" AND m{n}.i = m0.i" if n else ""
        joins.append(f'JOIN {id_map} m{n} ON m{n}.old_id = r."{column}"{same_copy}')
    for column in columns:
        n = list(mapped).index(column) if column in mapped else None
        exprs.append(f"m{n}.new_id" if n is not None else f'r."{column}"')
    cr.execute(
        f"""INSERT INTO "{table}" ({", ".join(f'"{c}"' for c in columns)})
            SELECT {", ".join(exprs)} FROM "{table}" r {" ".join(joins)}"""
    )
    return cr.rowcount


def build(odoo, args):
    from odoo import Command
    from odoo.modules.registry import Registry

    db = args.db
    say(f"[bench-timeline] building {db}: contacts with {', '.join(f'{s:,}' for s in SIZES)} interactions")
    total = time.perf_counter()
    with step(f"creating {db} with {', '.join(MODULES)}, without demo data"):
        odoo_cli(args.config, "-d", db, "-i", ",".join(MODULES), "--without-demo=all")
    registry = Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param(STATE_KEY, "building")
        env["ir.config_parameter"].set_param(CODE_KEY, code_digest(MODULES))
        cr.commit()
        company = env.company

        with step("chart of accounts, channels, users, contacts, products (ORM)"):
            if not company.chart_template:
                env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
            channels = env["omnichannel.channel"].create(
                [{"name": name, "channel_type": channel_type} for name, channel_type in CHANNELS]
            )
            Users = env["res.users"].with_context(no_reset_password=True, mail_create_nolog=True)
            bench_groups = [
                env.ref("omnichannel_base.group_omnichannel_user").id,
                env.ref("sales_team.group_sale_salesman_all_leads").id,
                env.ref("account.group_account_invoice").id,
            ]
            user = Users.create(
                {
                    "name": "Bench Timeline User",
                    "login": USER_LOGIN,
                    "tz": "Europe/Madrid",
                    "groups_id": [Command.set(bench_groups)],
                }
            )
            agents = user | Users.create(
                [
                    {
                        "name": f"Bench Agent {n}",
                        "login": f"bench_timeline_agent{n}",
                        "groups_id": [Command.set(bench_groups)],
                    }
                    for n in range(1, 4)
                ]
            )
            partners = (
                env["res.partner"]
                .with_context(mail_create_nolog=True)
                .create(
                    [
                        {
                            "name": f"Bench Timeline {size:,}",
                            "ref": f"{REF_PREFIX}{size}",
                            "email": f"bench.timeline.{size}@example.com",
                            "phone": f"+34 611 00{n} {size % 1000:03d}",
                        }
                        for n, size in enumerate(SIZES)
                    ]
                )
            )
            products = env["product.product"].create(
                [
                    {
                        "name": f"Bench Service {chr(65 + n)}",
                        "type": "service",
                        "invoice_policy": "order",
                        "list_price": price,
                    }
                    for n, price in enumerate((19.9, 49.0, 120.0, 385.5, 1290.0)[:TEMPLATES])
                ]
            )
            cr.commit()

        with step(f"inserting {sum(SIZES):,} interactions (one INSERT ... SELECT FROM generate_series per contact)"):
            by_type = {channel.channel_type: channel for channel in channels}
            cr.execute(
                """CREATE TEMP TABLE bench_mix
                          (lo float, hi float, kind text, channel_id int, channel_type text, dir text)"""
            )
            low = 0.0
            for share, kind, channel_type, direction in MIX:
                channel = by_type.get(channel_type)
                cr.execute(
                    "INSERT INTO bench_mix VALUES (%s, %s, %s, %s, %s, %s)",
                    [low, low + share, kind, channel.id if channel else None, channel_type, direction],
                )
                low += share
            assert abs(low - 1.0) < 1e-9, "MIX shares must sum to 1"
            cr.execute("SELECT setseed(%s)", [((args.seed % 1000) / 1000.0)])
            for size, partner in zip(SIZES, partners):
                cr.execute(
                    """
                    INSERT INTO omnichannel_interaction
                           (partner_id, commercial_partner_id, channel_id, channel_type, company_id, kind,
                            direction, date, summary, user_id, external_id,
                            create_uid, write_uid, create_date, write_date)
                    SELECT %(partner)s, %(partner)s, channel_id, channel_type, %(company)s, kind, direction, date,
                           summary, CASE WHEN direction != 'inbound' THEN (%(agents)s::int[])[1 + g %% 4] END,
                           CASE WHEN channel_id IS NOT NULL THEN 'bench-tl-' || %(partner)s || '-' || g END,
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
                        "partner": partner.id,
                        "company": company.id,
                        "agents": agents.ids,
                        "summaries": SUMMARIES,
                        "nsummaries": len(SUMMARIES),
                        "days": YEARS_DAYS,
                        "n": size,
                    },
                )
                assert cr.rowcount == size, f"{cr.rowcount} interactions inserted for {size}"

        with step(f"grouping channel interactions in conversations of {CONVERSATION_LENGTH} (SQL)"):
            cr.execute(
                """CREATE TEMP TABLE bench_bucket AS
                   SELECT id, partner_id, channel_id, channel_type, company_id, date, direction, user_id,
                          (row_number() OVER (PARTITION BY partner_id, channel_id ORDER BY date, id) - 1)
                              / %s AS bucket
                     FROM omnichannel_interaction WHERE channel_id IS NOT NULL AND partner_id IN %s""",
                [CONVERSATION_LENGTH, tuple(partners.ids)],
            )
            cr.execute(
                """
                INSERT INTO omnichannel_conversation
                       (partner_id, commercial_partner_id, channel_id, channel_type, company_id, user_id, name, state,
                        thread_key, first_inbound_date, last_message_date, first_response_date, resolved_date,
                        first_response_hours, resolution_hours, rating_last_value,
                        create_uid, write_uid, create_date, write_date)
                SELECT c.partner_id, c.partner_id, c.channel_id, c.channel_type, c.company_id, c.user_id,
                       p.name || ' · ' || (ch.name ->> 'en_US'),
                       CASE WHEN c.bucket = max(c.bucket) OVER (PARTITION BY c.partner_id, c.channel_id)
                            THEN 'open' ELSE 'resolved' END,
                       'bench-' || c.bucket, c.first_in, c.last_date, c.first_out,
                       CASE WHEN c.bucket < max(c.bucket) OVER (PARTITION BY c.partner_id, c.channel_id)
                            THEN c.last_date END,
                       extract(epoch FROM c.first_out - c.first_in) / 3600,
                       extract(epoch FROM c.last_date - c.first_in) / 3600, 0,
                       1, 1, c.first_date, c.last_date
                  FROM (SELECT partner_id, channel_id, channel_type, company_id, bucket,
                               max(user_id) AS user_id, min(date) AS first_date, max(date) AS last_date,
                               min(date) FILTER (WHERE direction = 'inbound') AS first_in,
                               min(date) FILTER (WHERE direction = 'outbound') AS first_out
                          FROM bench_bucket GROUP BY partner_id, channel_id, channel_type, company_id, bucket) AS c
                  JOIN res_partner p ON p.id = c.partner_id
                  JOIN omnichannel_channel ch ON ch.id = c.channel_id
                """
            )
            conversations = cr.rowcount
            cr.execute(
                """UPDATE omnichannel_interaction i SET conversation_id = c.id
                     FROM bench_bucket b
                     JOIN omnichannel_conversation c
                       ON c.partner_id = b.partner_id AND c.channel_id = b.channel_id
                      AND c.thread_key = 'bench-' || b.bucket
                    WHERE i.id = b.id"""
            )
            cr.execute("DROP TABLE bench_bucket")
            cr.execute("DROP TABLE bench_mix")
            cr.commit()
        say(f"[bench-timeline]   {conversations:,} conversations")

        big = partners[-1]
        with step(f"{TEMPLATES} sale orders confirmed, invoiced and posted through the ORM"):
            orders = env["sale.order"].create(
                [
                    {
                        "partner_id": big.id,
                        "user_id": agents[n % len(agents)].id,
                        "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 1 + n})],
                    }
                    for n, product in enumerate(products)
                ]
            )
            orders.action_confirm()
            moves = env["account.move"]
            for order in orders:  # one invoice per order, in the same order
                moves |= order._create_invoices()
            moves.action_post()
            env.flush_all()
            assert len(moves) == TEMPLATES and set(moves.mapped("state")) == {"posted"}
            cr.commit()

        copies = DOCUMENTS - TEMPLATES
        with step(f"copying them into {DOCUMENTS:,} orders and {DOCUMENTS:,} posted invoices (SQL)"):
            cr.execute(
                """
                CREATE TEMP TABLE bench_copy AS
                SELECT i, (%(orders)s::int[])[1 + i %% %(t)s] AS tmpl_order,
                       (%(moves)s::int[])[1 + i %% %(t)s] AS tmpl_move,
                       order_date, (order_date::date + delay) AS invoice_date,
                       'S' || lpad((%(t)s + 1 + i)::text, 5, '0') AS order_name,
                       NULL::text AS move_prefix, NULL::int AS move_seq, NULL::text AS move_name
                  FROM (SELECT i, floor(random() * 7)::int AS delay,
                               date_trunc('second', now() AT TIME ZONE 'UTC' - interval '8 days'
                                          - random() * interval '%(days)s days') AS order_date
                          FROM generate_series(0, %(n)s - 1) AS i) AS s
                """,
                {"orders": orders.ids, "moves": moves.ids, "t": TEMPLATES, "n": copies, "days": YEARS_DAYS - 10},
            )
            # Invoice numbers per year, after what the journal already holds.
            cr.execute(
                """
                UPDATE bench_copy c SET move_prefix = s.prefix, move_seq = s.seq,
                                        move_name = s.prefix || lpad(s.seq::text, 5, '0')
                  FROM (SELECT i, prefix,
                               row_number() OVER (PARTITION BY prefix ORDER BY invoice_date, i)
                               + COALESCE((SELECT max(sequence_number) FROM account_move am
                                            WHERE am.journal_id = %(journal)s AND am.sequence_prefix = prefix), 0)
                                   AS seq
                          FROM (SELECT i, invoice_date,
                                       'INV/' || extract(year FROM invoice_date)::int || '/' AS prefix
                                  FROM bench_copy) AS y) AS s
                 WHERE s.i = c.i
                """,
                {"journal": moves[0].journal_id.id},
            )
            cr.execute("SELECT sequence_prefix, name FROM account_move WHERE id = %s", [moves[0].id])
            prefix, name = cr.fetchone()
            assert name.startswith(prefix) and prefix.startswith("INV/"), f"unexpected invoice name {name}"
            for map_table, sql in (
                (
                    "bench_map_so",
                    "SELECT i, tmpl_order AS old_id, nextval('sale_order_id_seq')::int AS new_id FROM bench_copy",
                ),
                (
                    "bench_map_sol",
                    """SELECT c.i, l.id AS old_id, nextval('sale_order_line_id_seq')::int AS new_id
                         FROM bench_copy c JOIN sale_order_line l ON l.order_id = c.tmpl_order""",
                ),
                (
                    "bench_map_am",
                    "SELECT i, tmpl_move AS old_id, nextval('account_move_id_seq')::int AS new_id FROM bench_copy",
                ),
                (
                    "bench_map_aml",
                    """SELECT c.i, l.id AS old_id, nextval('account_move_line_id_seq')::int AS new_id
                         FROM bench_copy c JOIN account_move_line l ON l.move_id = c.tmpl_move""",
                ),
            ):
                cr.execute(f"CREATE TEMP TABLE {map_table} AS {sql}")
                cr.execute(f"CREATE INDEX ON {map_table} (old_id)")
                cr.execute(f"CREATE INDEX ON {map_table} (i)")
            cr.execute("CREATE INDEX ON bench_copy (i)")
            dated = {"create_date": "c.order_date", "write_date": "c.order_date"}
            counts = {
                "sale_order": clone_rows(
                    cr,
                    "sale_order",
                    "bench_map_so",
                    {
                        **dated,
                        "name": "c.order_name",
                        "date_order": "c.order_date",
                        "access_token": "NULL",
                        "validity_date": "NULL",
                        "signed_on": "NULL",
                        "commitment_date": "NULL",
                        "effective_date": "NULL",
                    },
                    "JOIN bench_copy c ON c.i = m.i",
                ),
                "sale_order_line": clone_rows(
                    cr,
                    "sale_order_line",
                    "bench_map_sol",
                    {**dated, "order_id": "mo.new_id"},
                    "JOIN bench_map_so mo ON mo.i = m.i JOIN bench_copy c ON c.i = m.i",
                ),
                "account_move": clone_rows(
                    cr,
                    "account_move",
                    "bench_map_am",
                    {
                        **dated,
                        "name": "c.move_name",
                        "sequence_prefix": "c.move_prefix",
                        "sequence_number": "c.move_seq",
                        "payment_reference": "c.move_name",
                        "invoice_origin": "c.order_name",
                        "date": "c.invoice_date",
                        "invoice_date": "c.invoice_date",
                        "invoice_date_due": "c.invoice_date + (t.invoice_date_due - t.invoice_date)",
                        "access_token": "NULL",
                        "inalterable_hash": "NULL",
                        "secure_sequence_number": "NULL",
                        "sending_data": "NULL",
                    },
                    "JOIN bench_copy c ON c.i = m.i",
                ),
                "account_move_line": clone_rows(
                    cr,
                    "account_move_line",
                    "bench_map_aml",
                    {
                        **dated,
                        "move_id": "mm.new_id",
                        "move_name": "c.move_name",
                        "name": "CASE WHEN t.name = tm.name THEN c.move_name ELSE t.name END",
                        "date": "c.invoice_date",
                        "invoice_date": "c.invoice_date",
                        "date_maturity": "c.invoice_date + (t.date_maturity - tm.invoice_date)",
                    },
                    """JOIN bench_map_am mm ON mm.i = m.i JOIN bench_copy c ON c.i = m.i
                       JOIN account_move tm ON tm.id = c.tmpl_move""",
                ),
            }
            for table, mapped in (
                ("account_tax_sale_order_line_rel", {"sale_order_line_id": "bench_map_sol"}),
                ("account_move_line_account_tax_rel", {"account_move_line_id": "bench_map_aml"}),
                ("account_account_tag_account_move_line_rel", {"account_move_line_id": "bench_map_aml"}),
                ("sale_order_line_invoice_rel", {"invoice_line_id": "bench_map_aml", "order_line_id": "bench_map_sol"}),
            ):
                counts[table] = clone_links(cr, table, mapped)
            for table in ("bench_copy", "bench_map_so", "bench_map_sol", "bench_map_am", "bench_map_aml"):
                cr.execute(f"DROP TABLE {table}")
            cr.commit()
        say("[bench-timeline]   copied rows: " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))

        with step(f"{CHATTER:,} chatter messages on the largest contact (one posted by the ORM, copied with SQL)"):
            template = big.with_context(mail_create_nosubscribe=True).message_post(
                body="<p>Bench chatter template</p>",
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                author_id=big.id,
            )
            env.flush_all()
            # Ids in date order, like a real chatter: oldest first, one every ~26 minutes over five years.
            cr.execute(
                """CREATE TEMP TABLE bench_map_msg AS
                   SELECT i, %(template)s AS old_id, nextval('mail_message_id_seq')::int AS new_id,
                          date_trunc('second', now() AT TIME ZONE 'UTC'
                                     - (%(n)s - i) * (interval '%(days)s days' / %(n)s)) AS date
                     FROM generate_series(1, %(n)s) AS i ORDER BY i""",
                {"template": template.id, "n": CHATTER, "days": YEARS_DAYS},
            )
            copied = clone_rows(
                cr,
                "mail_message",
                "bench_map_msg",
                {
                    "date": "m.date",
                    "create_date": "m.date",
                    "write_date": "m.date",
                    "message_id": "'<bench-timeline-' || m.i || '@bench.example.com>'",
                    "body": f"'<p>' || (%s::text[])[1 + m.i %% {len(SUMMARIES)}] || ' (' || m.i || ')</p>'",
                },
                params=[SUMMARIES],
            )
            assert copied == CHATTER
            cr.execute("DROP TABLE bench_map_msg")
            template.unlink()
            cr.commit()

        with step("putting the orders and invoices on the timeline: _backfill_business_events()"):
            rows, seconds = env["omnichannel.interaction"]._backfill_business_events()
            cr.commit()
        say(f"[bench-timeline]   {rows:,} back-office events in {seconds:.2f} s ({rows / seconds:,.0f} rows/s)")

        with step("ANALYZE"):
            for table in (
                "omnichannel_interaction",
                "omnichannel_conversation",
                "sale_order",
                "sale_order_line",
                "account_move",
                "account_move_line",
                "mail_message",
                "res_partner",
            ):
                cr.execute(f"ANALYZE {table}")
            cr.commit()
        env["ir.config_parameter"].set_param(BUILT_KEY, layout())
        env["ir.config_parameter"].set_param(STATE_KEY, "built")
        cr.commit()
    say(f"[bench-timeline] build done in {time.perf_counter() - total:.1f} s")


# --------------------------------------------------------------------------- measures
def bench_ids(odoo, registry):
    """({size: partner id}, bench user id)."""
    with registry.cursor() as cr:
        cr.execute("SELECT ref, id FROM res_partner WHERE ref LIKE %s", [REF_PREFIX + "%"])
        by_ref = dict(cr.fetchall())
        cr.execute("SELECT id FROM res_users WHERE login = %s", [USER_LOGIN])
        (uid,) = cr.fetchone()
    return {size: by_ref[f"{REF_PREFIX}{size}"] for size in SIZES}, uid


def measure_backfill(odoo, registry, partner_id, rounds):
    """Throughput of _backfill_business_events(): the contact's back-office rows are deleted,
    written again by the backfill, and committed, so the database ends as it began."""
    results = []
    for _turn in range(rounds):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            cr.execute(
                """DELETE FROM omnichannel_interaction
                    WHERE res_model IS NOT NULL AND channel_id IS NULL AND partner_id = %s""",
                [partner_id],
            )
            deleted = cr.rowcount
            rows, seconds = env["omnichannel.interaction"]._backfill_business_events()
            cr.commit()
        results.append((deleted, rows, seconds))
        say(
            f"[bench-timeline]   deleted {deleted:,}, backfilled {rows:,} in {seconds:.2f} s "
            f"({rows / seconds:,.0f} rows/s)"
        )
    with registry.cursor() as cr:
        cr.execute("ANALYZE omnichannel_interaction")
    return results


def user_env(odoo, cr, uid):
    env = odoo.api.Environment(cr, uid, {})
    return env(context=env["res.users"].browse(uid).context_get())


def serialize(result):
    from odoo.tools import json_default

    return json.dumps(result, ensure_ascii=False, default=json_default)  # what the JSON-RPC response costs


def timed(odoo, registry, uid, call):
    """(seconds, queries, result) of ``call(env)`` in a fresh cursor, ORM cache cleared, rolled back."""
    with registry.cursor() as cr:
        env = user_env(odoo, cr, uid)
        env.invalidate_all()
        queries = cr.sql_log_count
        start = time.perf_counter()
        result = call(env)
        elapsed = time.perf_counter() - start
        queries = cr.sql_log_count - queries
        cr.rollback()
    return elapsed, queries, result


def timeline_call(partner_id, cursor=None, filters=None):
    def call(env):
        partner = env["res.partner"].browse(partner_id)
        result = partner.omnichannel_timeline(filters=filters, cursor=cursor, limit=PAGE)
        serialize(result)
        return result

    return call


def chatter_call(partner_id, before=None):
    """The server work of the /mail/thread/messages route (mail/controllers/thread.py), without HTTP."""

    def call(env):
        from odoo.addons.mail.tools.discuss import Store

        domain = [
            ("res_id", "=", partner_id),
            ("model", "=", "res.partner"),
            ("message_type", "!=", "user_notification"),
        ]
        res = env["mail.message"]._message_fetch(domain, before=before, limit=CHATTER_PAGE)
        messages = res.pop("messages")
        if not env.user._is_public():
            messages.set_message_done()
        result = {
            **res,
            "data": Store(messages, for_current_user=True).get_result(),
            "messages": Store.many_ids(messages),
        }
        serialize(result)
        return result

    return call


def walk_to_deep_page(odoo, registry, uid, partner_id):
    """The cursor after about DEEP items, by following next_cursor (not timed as a measure);
    checks on the way that pages neither repeat nor skip an item."""
    cursor, seen, last_key, pages = None, set(), None, 0
    start = time.perf_counter()
    with registry.cursor() as cr:
        env = user_env(odoo, cr, uid)
        partner = env["res.partner"].browse(partner_id)
        while len(seen) < DEEP:
            page = partner.omnichannel_timeline(cursor=cursor, limit=WALK_PAGE)
            pages += 1
            for item in page["items"]:
                key = (item["date"], item["id"])
                assert item["id"] not in seen, f"item {item['id']} on two pages"
                assert last_key is None or key < last_key, "timeline not in (date, id) descending order"
                seen.add(item["id"])
                last_key = key
            cursor = page["next_cursor"]
            assert cursor, "the timeline ended before the deep page"
            env.invalidate_all()
        cr.execute(
            """SELECT count(*) FROM omnichannel_interaction
                WHERE partner_id = %s AND (date, id) >= (%s, %s)""",
            [partner_id, cursor[0], cursor[1]],
        )
        (before,) = cr.fetchone()
        cr.rollback()
    assert before == len(seen), f"{len(seen)} items walked, {before} rows before the cursor"
    elapsed = time.perf_counter() - start
    say(f"[bench-timeline]   {len(seen):,} items in {pages} pages of {WALK_PAGE} in {elapsed:.1f} s")
    return cursor, len(seen)


def deep_chatter_id(registry, partner_id):
    """The id before which the chatter's page starts about DEEP messages down."""
    with registry.cursor() as cr:
        cr.execute(
            """SELECT id FROM mail_message WHERE model = 'res.partner' AND res_id = %s
             ORDER BY id DESC OFFSET %s LIMIT 1""",
            [partner_id, DEEP - 1],
        )
        return cr.fetchone()[0]


def event_counts(registry, partner_ids):
    with registry.cursor() as cr:
        cr.execute(
            "SELECT partner_id, count(*) FROM omnichannel_interaction WHERE partner_id IN %s GROUP BY partner_id",
            [tuple(partner_ids)],
        )
        timeline = dict(cr.fetchall())
        cr.execute(
            """SELECT res_id, count(*) FROM mail_message WHERE model = 'res.partner' AND res_id IN %s
            GROUP BY res_id""",
            [tuple(partner_ids)],
        )
        chatter = dict(cr.fetchall())
    return timeline, chatter


def measure_pages(odoo, registry, uid, measures, samples):
    """p50/p95 of each measure; the calls go round-robin so noise on this shared machine
    falls on all of them alike."""
    for measure in measures:
        for _turn in range(WARMUP):
            timed(odoo, registry, uid, measure["call"])
        measure["times"], measure["queries"] = [], []
    say(f"[bench-timeline] {len(measures)} measures x {samples} samples, round-robin ...")
    for _turn in range(samples):
        for measure in measures:
            elapsed, queries, result = timed(odoo, registry, uid, measure["call"])
            measure["times"].append(elapsed)
            measure["queries"].append(queries)
            measure["items"] = len(result["items"]) if "items" in result else len(result["messages"])
    for measure in measures:
        measure["p50"] = percentile(measure["times"], 50) * 1000
        measure["p95"] = percentile(measure["times"], 95) * 1000
        measure["q"] = percentile(measure["queries"], 50)
    return measures


# --------------------------------------------------------------------------- report
def report(args, built, backfill, measures, user_label):
    say()
    say(
        f"=== omnichannel timeline bench: {args.db} ({'built now' if built else 'reused'}; "
        f"code sha256 {code_digest(MODULES)[:12]}) ==="
    )
    say()
    say("Back-office backfill: _backfill_business_events(), the contact's order and invoice events deleted first")
    for deleted, rows, seconds in backfill:
        say(f"  {rows:>8,} rows ({deleted:,} deleted before) in {seconds:6.2f} s  = {rows / seconds:>9,.0f} records/s")
    rates = sorted(rows / seconds for _deleted, rows, seconds in backfill)
    say(f"  median {rates[len(rates) // 2]:,.0f} records/s")
    say()
    say(f"Pages, server time (fresh cursor, ORM cache cleared, JSON encoding included), as {user_label}")
    say(f"  {'measure':<52}{'history':>9}{'items':>7}{'samples':>8}{'p50 ms':>9}{'p95 ms':>9}{'queries':>8}")
    for m in measures:
        say(
            f"  {m['label']:<52}{m['events']:>9,}{m['items']:>7}{len(m['times']):>8}"
            f"{m['p50']:>9.1f}{m['p95']:>9.1f}{m['q']:>8}"
        )
    by_key = {m["key"]: m for m in measures}
    first_big, first_small = by_key[f"first-{SIZES[-1]}"], by_key[f"first-{SIZES[0]}"]
    chatter, deep = by_key["chatter"], by_key["deep"]
    say()
    say("  history: rows on the contact's timeline (interactions + order and invoice events), or chatter messages")
    say("  ratios timeline / chatter (same contact):")
    say(f"    first page   p50 {first_big['p50'] / chatter['p50']:.2f}x   p95 {first_big['p95'] / chatter['p95']:.2f}x")
    chatter_deep = by_key["chatter-deep"]
    say(
        f"    deep page    p50 {deep['p50'] / chatter_deep['p50']:.2f}x   "
        f"p95 {deep['p95'] / chatter_deep['p95']:.2f}x  (against the chatter as deep)"
    )
    say()
    targets = [
        (
            first_big["p95"] <= 50,
            f"first page p95 <= 50 ms (contact with {SIZES[-1]:,} interactions + {DOCUMENTS:,} orders and "
            f"{DOCUMENTS:,} invoices, {first_big['events']:,} timeline rows): {first_big['p95']:.1f} ms",
        ),
        (
            first_big["p95"] <= 2 * first_small["p95"],
            f"flat: p95 at {SIZES[-1]:,} events <= 2x p95 at {SIZES[0]} events: "
            f"{first_big['p95']:.1f} ms vs {first_small['p95']:.1f} ms ({first_big['p95'] / first_small['p95']:.2f}x)",
        ),
    ]
    say_targets(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="odoo.conf")
    parser.add_argument("--db", default="omnichannel_bench_timeline")
    parser.add_argument("--rebuild", action="store_true", help="drop the database and build it again")
    parser.add_argument("--samples", type=int, default=100, help="timed calls per measure (default 100)")
    parser.add_argument("--backfill-rounds", type=int, default=3, help="backfill runs measured (default 3)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args([arg for arg in sys.argv[1:] if arg != "--"])

    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    started = time.perf_counter()
    built = ensure_database(odoo, args)
    registry = Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        run = int(env["ir.config_parameter"].get_param(RUNS_KEY, 0)) + 1
        env["ir.config_parameter"].set_param(RUNS_KEY, run)
    say(f"[bench-timeline] run #{run} on {args.db}")
    partner_ids, uid = bench_ids(odoo, registry)
    big = partner_ids[SIZES[-1]]

    say("[bench-timeline] backfill throughput ...")
    backfill = measure_backfill(odoo, registry, big, max(1, args.backfill_rounds))

    say(f"[bench-timeline] walking to the page after item {DEEP:,} of the largest timeline ...")
    deep_cursor, deep_items = walk_to_deep_page(odoo, registry, uid, big)
    timeline_events, chatter_messages = event_counts(registry, list(partner_ids.values()))
    measures = [
        {
            "key": f"first-{size}",
            "label": f"timeline, first page ({PAGE})",
            "events": timeline_events.get(partner_ids[size], 0),
            "call": timeline_call(partner_ids[size]),
        }
        for size in SIZES
    ]
    measures.append(
        {
            "key": "deep",
            "label": f"timeline, page after item {deep_items:,} (cursor)",
            "events": timeline_events[big],
            "call": timeline_call(big, deep_cursor),
        }
    )
    # Not targets. The same first page without order and invoice events: the cost of the documents.
    measures.append(
        {
            "key": "first-no-documents",
            "label": "timeline, first page, Messages/Calls/Visits filter",
            "events": timeline_events[big],
            "call": timeline_call(big, filters={"kind_groups": ["messages", "calls", "visits"]}),
        }
    )
    # Filters that keep few rows of a long history are read through the contact's index.
    measures.append(
        {
            "key": "filter-payments",
            "label": "timeline, filter Payments (none: reads it all)",
            "events": timeline_events[big],
            "call": timeline_call(big, filters={"kind_groups": ["payments"]}),
        }
    )
    measures.append(
        {
            "key": "search-none",
            "label": "timeline, search text found nowhere",
            "events": timeline_events[big],
            "call": timeline_call(big, filters={"search": "no such words"}),
        }
    )
    measures.append(
        {
            "key": "chatter",
            "label": f"chatter /mail/thread/messages, first page ({CHATTER_PAGE})",
            "events": chatter_messages.get(big, 0),
            "call": chatter_call(big),
        }
    )
    measures.append(
        {
            "key": "chatter-deep",
            "label": f"chatter, page after message {DEEP:,} (before=id)",
            "events": chatter_messages.get(big, 0),
            "call": chatter_call(big, deep_chatter_id(registry, big)),
        }
    )
    measure_pages(odoo, registry, uid, measures, args.samples)
    with registry.cursor() as cr:
        env = user_env(odoo, cr, uid)
        groups = ", ".join(
            env.ref(xmlid).full_name
            for xmlid in (
                "omnichannel_base.group_omnichannel_user",
                "sales_team.group_sale_salesman_all_leads",
                "account.group_account_invoice",
            )
        )
        user_label = f"{env.user.login} (internal user, not superuser; groups: {groups})"
    report(args, built, backfill, measures, user_label)
    say(f"[bench-timeline] total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
