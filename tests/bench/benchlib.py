"""What the benchmark scripts share: printing, timing, percentiles, code digests and the
bench parameters a database remembers."""

import hashlib
import math
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


def code_digest(modules):
    """sha256 of the files of these addons: a database built with other code is updated."""
    h = hashlib.sha256()
    for module in modules:
        for path in sorted((ROOT / module).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(ROOT)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


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


def odoo_cli(conf, *args):
    cmd = [sys.executable, "-m", "odoo", "-c", conf, *args, "--stop-after-init", "--log-level=warn"]
    subprocess.run(cmd, check=True)
