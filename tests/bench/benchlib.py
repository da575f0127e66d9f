"""What the benchmark scripts share: printing, timing, percentiles, code digests and the
bench parameters a database remembers."""

import math
import subprocess
import sys
import time
from contextlib import contextmanager
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
