import threading

from psycopg2 import errors

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from odoo.addons.omnichannel_base.tools.retry import retry_on_concurrency


@tagged("post_install", "-at_install")
class TestRetryOnConcurrency(TransactionCase):
    """``retry_on_concurrency`` against a real lock held by another transaction.

    Another thread holds a customer's row, as an agent saving the contact would, and the
    work under test has a lock timeout: PostgreSQL refuses it while the row is held.
    Transactions are committed, as a cron job's would be; the test removes what they wrote.
    """

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.partner_id = env["res.partner"].create({"name": "Cliente ocupado"}).id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["res.partner"].browse(self.partner_id).unlink()

    def _hold_row(self, release):
        """Lock the customer's row from another transaction until ``release`` is set."""
        held = threading.Event()

        def hold():
            with self.registry.cursor() as cr:
                cr.execute("SELECT id FROM res_partner WHERE id = %s FOR UPDATE", [self.partner_id])
                held.set()
                release.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        self.assertTrue(held.wait(10))
        self.addCleanup(thread.join, 30)
        self.addCleanup(release.set)
        return thread

    def _work(self, env, calls, before=None):
        def work():
            calls.append(len(calls) + 1)
            if before:
                before(len(calls))
            env.cr.execute("SET LOCAL lock_timeout = '50ms'")
            env.cr.execute("UPDATE res_partner SET comment = %s WHERE id = %s", [f"try {len(calls)}", self.partner_id])
            return "done"

        return work

    def comment(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT comment FROM res_partner WHERE id = %s", [self.partner_id])
            return cr.fetchone()[0]

    def test_work_refused_while_a_row_is_held_runs_again_and_commits(self):
        release, released = threading.Event(), threading.Event()
        holder = self._hold_row(release)

        def before(attempt):
            if attempt == 2:  # the agent is done before this attempt takes its snapshot
                release.set()
                holder.join(10)
                released.set()

        calls = []
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            result = retry_on_concurrency(env, self._work(env, calls, before), backoff=0.01)
        self.assertTrue(released.is_set())
        self.assertEqual(result, "done")
        self.assertEqual(calls, [1, 2])
        self.assertEqual(self.comment(), "try 2", "the second attempt was committed")

    def test_work_still_refused_after_the_last_attempt_is_rolled_back_and_raised(self):
        self._hold_row(threading.Event())
        calls = []
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            with self.assertRaises(errors.LockNotAvailable):
                retry_on_concurrency(env, self._work(env, calls), attempts=3, backoff=0.01)
            cr.execute("SELECT 1")  # the cursor is usable again: the failed transaction is gone
        self.assertEqual(calls, [1, 2, 3])

    def test_other_errors_are_not_retried_and_nothing_is_kept(self):
        calls = []

        def work():
            calls.append(1)
            env["res.partner"].browse(self.partner_id).comment = "half done"
            env.flush_all()
            raise ValueError("not a concurrency problem")

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            with self.assertRaises(ValueError):
                retry_on_concurrency(env, work, backoff=0.01)
        self.assertEqual(calls, [1])
        self.assertFalse(self.comment())
