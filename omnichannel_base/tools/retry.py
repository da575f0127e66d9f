"""Retry work done outside an HTTP request when the database is busy.

Odoo retries an HTTP or RPC request that PostgreSQL refuses for concurrency (a
serialization failure, a deadlock, a lock timeout: ``odoo.service.model.retrying``).
Nothing does that for cron jobs, fetchmail, listeners or background jobs, and their
work meets the same refusals: an agent saving the customer, an invoice posting for
them, or another of their messages arriving at that moment. Such work calls::

    retry_on_concurrency(env, lambda: env["omnichannel.ingest"].ingest(events))

Every attempt is one whole transaction: committed when it succeeds, rolled back when it
fails, as PostgreSQL requires once it has refused a statement.
"""

import logging
import random
import time

from odoo.service.model import MAX_TRIES_ON_CONCURRENCY_FAILURE, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

_logger = logging.getLogger(__name__)

BACKOFF = 0.25  # seconds: the n-th retry waits a random time of up to BACKOFF * 2**n


def is_concurrency_error(exc):
    """Whether ``exc``, or an exception it was raised from, is one Odoo retries requests on."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def retry_on_concurrency(env, func, attempts=MAX_TRIES_ON_CONCURRENCY_FAILURE, backoff=BACKOFF):
    """Run ``func()`` as one transaction of ``env.cr``, commit it, and return its result.

    When PostgreSQL refuses it for concurrency, the transaction is rolled back, the
    environment's caches are dropped, and ``func`` runs again after a random wait that
    doubles each time, up to ``attempts`` runs in all. Any other error, or the last
    refusal, is raised once the transaction is rolled back.

    A rollback also undoes what the cursor had not committed before the call: callers
    commit between units of work, as fetchmail does after each mail.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = func()
            env.cr.commit()  # flushes first: a refusal may come from the last writes
        except Exception as exc:
            if env.cr.closed:
                raise
            env.cr.rollback()
            env.reset()
            env.registry.reset_changes()
            if attempt == attempts or not is_concurrency_error(exc):
                raise
            wait = random.uniform(0, backoff * 2**attempt)
            _logger.info("%s; %d attempts left, next in %.2f s", exc.__class__.__name__, attempts - attempt, wait)
            time.sleep(wait)
        else:
            env.registry.signal_changes()
            return result
    raise AssertionError("unreachable")  # the last attempt returns or raises
