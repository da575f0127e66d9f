"""Small pieces shared by the background jobs (inbox, outbox, media): when to commit, when to retry."""

import random
import threading
from datetime import timedelta

from odoo import fields
from odoo.tools import config

from odoo.addons.base.models.ir_cron import MAX_BATCH_PER_CRON_JOB

MAX_ATTEMPTS = 8
FIRST_WAIT = 30  # seconds; doubled at each attempt, up to about an hour


def committing(env):
    """Whether background work commits as it goes: always, except under tests, whose transaction
    must stay open (as Odoo's mail queue decides)."""
    return not getattr(threading.current_thread(), "testing", False)


def auto_commit(env):
    """Commit ``env.cr`` when background work commits as it goes (see ``committing``)."""
    if committing(env):
        env.cr.commit()


def cron_budget(cap):
    """Seconds a cron method may keep taking new work, at most ``cap``.

    A method that reports work left (``ir.cron._notify_progress``) is called again at once, up to
    MAX_BATCH_PER_CRON_JOB (10) times in a row, and a cron worker busy longer than its real-time
    limit (``limit_time_real_cron``, else ``limit_time_real``: 120 s by default) is killed with the
    batch it was writing, then sleeps until the next trigger. So ten calls must fit in that limit,
    with room for the batch each call is finishing: 6 s per call by default.
    """
    limit = config["limit_time_real_cron"]
    if limit is None or limit < 0:  # -1: the HTTP workers' limit
        limit = config["limit_time_real"]
    if not limit or limit <= 0:  # no limit
        return cap
    return min(cap, limit / (2 * MAX_BATCH_PER_CRON_JOB))


def next_attempt(attempts, retry_after=None):
    """When to try again after ``attempts`` failures: what the provider asked, else an
    exponential backoff with jitter, so that many rows failing together do not retry together."""
    wait = retry_after if retry_after else min(FIRST_WAIT * 2 ** max(attempts - 1, 0), 3600)
    return fields.Datetime.now() + timedelta(seconds=wait * random.uniform(1.0, 1.25))


def trigger(env, xmlid):
    """Wake a cron job up now: one trigger (and one NOTIFY to the cron workers) per second at
    most, not one per webhook delivery. A trigger of an earlier second is not enough: a run of
    the job that started after it deletes it when it completes, maybe without having seen this
    work, and a run that stopped with work left waits for a NOTIFY (or its next interval)."""
    cron = env.ref(xmlid).sudo()
    now = fields.Datetime.now()
    env.cr.execute("SELECT 1 FROM ir_cron_trigger WHERE cron_id = %s AND call_at = %s LIMIT 1", [cron.id, now])
    if not env.cr.fetchone():
        cron._trigger(now)
