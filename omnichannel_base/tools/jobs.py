"""Small pieces shared by the background jobs (inbox, outbox, media): when to commit, when to retry."""

import random
import threading
from datetime import timedelta

from odoo import fields

MAX_ATTEMPTS = 8
FIRST_WAIT = 30  # seconds; doubled at each attempt, up to about an hour


def auto_commit(env):
    """Commit ``env.cr``, except under tests, whose transaction must stay open (as Odoo's mail queue does)."""
    if not getattr(threading.current_thread(), "testing", False):
        env.cr.commit()


def next_attempt(attempts, retry_after=None):
    """When to try again after ``attempts`` failures: what the provider asked, else an
    exponential backoff with jitter, so that many rows failing together do not retry together."""
    wait = retry_after if retry_after else min(FIRST_WAIT * 2 ** max(attempts - 1, 0), 3600)
    return fields.Datetime.now() + timedelta(seconds=wait * random.uniform(1.0, 1.25))


def trigger(env, xmlid):
    """Wake a cron job up now, unless a trigger for now is already waiting for it."""
    cron = env.ref(xmlid).sudo()
    env.cr.execute(
        "SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at <= now() AT TIME ZONE 'UTC' LIMIT 1", [cron.id]
    )
    if not env.cr.fetchone():
        cron._trigger()
