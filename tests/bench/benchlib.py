"""What the benchmark scripts share: printing, timing, percentiles, code digests and the
bench parameters a database remembers."""

import math
import os
import shutil
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from devenv import code_digest  # noqa: E402, F401  (the digest make run/test update databases by)


def say(msg=""):
    print(msg, flush=True)


def stepper(tag):
    """A ``step(title)`` context manager printing ``[tag] title ...`` and its duration."""

    @contextmanager
    def step(title):
        say(f"[{tag}] {title} ...")
        start = time.perf_counter()
        yield
        say(f"[{tag}] {title}: {time.perf_counter() - start:.1f} s")

    return step


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def read_params(odoo, db, prefix):
    """The ir.config_parameter values of ``db`` whose key starts with ``prefix``
    (None when ``db`` is not an Odoo database)."""
    conn = odoo.sql_db.db_connect(db)
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_tables WHERE tablename = 'ir_config_parameter'")
            if not cr.fetchone():
                return None
            cr.execute("SELECT key, value FROM ir_config_parameter WHERE key LIKE %s", [f"{prefix}%"])
            return dict(cr.fetchall())
    finally:
        odoo.sql_db.close_db(db)


def say_targets(targets):
    """Print ``[(met, text)]`` as PASS/FAIL lines."""
    for ok, text in targets:
        say(f"{'PASS' if ok else 'FAIL'}  {text}")


def odoo_cli(conf, *args):
    cmd = [sys.executable, "-m", "odoo", "-c", conf, *args, "--stop-after-init", "--log-level=warn"]
    subprocess.run(cmd, check=True)


# --------------------------------------------------------------------------- bench databases
def sql_params(odoo, db, values):
    """Set ir.config_parameter values with SQL (no registry loaded for ``db`` in this process yet)."""
    conn = odoo.sql_db.db_connect(db)
    try:
        with conn.cursor() as cr:
            for key, value in values.items():
                cr.execute(
                    """INSERT INTO ir_config_parameter (key, value, create_uid, write_uid, create_date, write_date)
                       VALUES (%s, %s, 1, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
                       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value""",
                    [key, value],
                )
            cr.commit()
    finally:
        odoo.sql_db.close_db(db)


def others_on(odoo, db):
    """Other sessions connected to ``db`` (a template must have none)."""
    conn = odoo.sql_db.db_connect("postgres")
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid != pg_backend_pid()", [db])
            return cr.fetchone()[0]
    finally:
        odoo.sql_db.close_db("postgres")


def copy_database(odoo, source, target, state_key):
    """``CREATE DATABASE target TEMPLATE source`` (file copy) and the filestore; the copy is marked
    as ours at once (``state_key`` = "building"). Other sessions on ``source`` are never terminated:
    the copy fails instead."""
    from odoo.tools import SQL

    odoo.sql_db.close_db(source)
    db = odoo.sql_db.db_connect("postgres")
    with closing(db.cursor()) as cr:
        cr._cnx.autocommit = True
        strategy = SQL(" STRATEGY FILE_COPY") if cr._cnx.server_version >= 150000 else SQL("")
        cr.execute(
            SQL(
                "CREATE DATABASE %s ENCODING 'unicode' TEMPLATE %s%s",
                SQL.identifier(target),
                SQL.identifier(source),
                strategy,
            )
        )
    odoo.sql_db.close_db("postgres")
    sql_params(odoo, target, {state_key: "building"})
    from_fs, to_fs = odoo.tools.config.filestore(source), odoo.tools.config.filestore(target)
    if os.path.exists(to_fs):
        shutil.rmtree(to_fs)
    if os.path.exists(from_fs):
        shutil.copytree(from_fs, to_fs)


def drop_database(odoo, db):
    from odoo.service import db as db_service

    db_service.exp_drop(db)
    filestore = odoo.tools.config.filestore(db)
    if os.path.exists(filestore):
        shutil.rmtree(filestore)
