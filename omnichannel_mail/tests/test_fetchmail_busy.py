import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import FetchmailImapCase, build_mail

LUCIA = "Lucía Fernández <lucia.fernandez@gmail.com>"


@tagged("post_install", "-at_install")
class TestFetchmailBusyDatabase(FetchmailImapCase):
    """No customer mail is lost when the database is busy.

    An agent saves a customer's contact while fetchmail imports a mail from that
    customer: the import updates the same row (the last contact date) and PostgreSQL
    refuses one of the two transactions. Odoo's own fetchmail then marks the mail read
    and drops it. The agent works in a transaction of their own, committed, as the web
    client's request would.
    """

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.partner_id = (
                env["res.partner"].create({"name": "Lucía Fernández", "email": "lucia.fernandez@gmail.com"}).id
            )
            self.agent_id = new_test_user(
                env, "agente.buzon", groups="omnichannel_base.group_omnichannel_user,sales_team.group_sale_salesman"
            ).id
            self.manager_id = new_test_user(
                env, "responsable.buzon", groups="omnichannel_base.group_omnichannel_manager"
            ).id

    def _cleanup(self):
        super()._cleanup()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            users = env["res.users"].browse([self.agent_id, self.manager_id])
            partners = users.partner_id | env["res.partner"].browse(self.partner_id)
            users.unlink()
            partners.unlink()

    # ------------------------------------------------------------ helpers
    def _agent_saves_customer(self, commit_when):
        """Start the agent saving Lucía's contact; their transaction holds her row until
        ``commit_when(pid)`` returns (pid: their database backend). Returns the thread,
        an event set once the row is held, and the list of errors met."""
        held, errors = threading.Event(), []

        def save():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, self.agent_id, {})
                    env["res.partner"].browse(self.partner_id).write({"function": "Compradora"})
                    env.flush_all()
                    cr.execute("SELECT pg_backend_pid()")
                    pid = cr.fetchone()[0]
                    held.set()
                    commit_when(pid)
            except Exception as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                held.set()

        thread = threading.Thread(target=save)
        thread.start()
        self.assertTrue(held.wait(30), "the agent could not save the contact")
        return thread, errors

    def _wait_until_blocked_by(self, pid, timeout=30):
        """Whether a transaction of this database comes to wait for the locks of backend ``pid``."""
        deadline = time.monotonic() + timeout
        with self.registry.cursor() as cr:
            while time.monotonic() < deadline:
                cr.execute(
                    """SELECT count(*) FROM pg_stat_activity
                        WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid))""",
                    [pid],
                )
                if cr.fetchone()[0]:
                    return True
                cr.rollback()  # the activity view is read once per transaction
                time.sleep(0.05)
        return False

    def failures(self, uid=SUPERUSER_ID):
        with self.registry.cursor() as cr:
            failures = api.Environment(cr, uid, {})["omnichannel.mail.failure"].search([])
            return failures.read(["email_from", "subject", "reason", "failure_count", "state"])

    def customer_function(self):
        with self.registry.cursor() as cr:
            return api.Environment(cr, SUPERUSER_ID, {})["res.partner"].browse(self.partner_id).function

    # ------------------------------------------------------------ tests
    def test_mail_fetched_while_an_agent_saves_the_customer_is_imported_once(self):
        self.imap.append(build_mail(sender=LUCIA, Message_ID="<busy-1@mail.gmail.com>"))
        blocked, unseen_meanwhile = [], []

        def once_the_import_waits_for_the_agent(pid):
            blocked.append(self._wait_until_blocked_by(pid))
            unseen_meanwhile.append(self.imap.unseen_count())

        agent, errors = self._agent_saves_customer(once_the_import_waits_for_the_agent)
        self.fetch()
        agent.join(60)
        self.assertFalse(errors, errors)
        self.assertEqual(blocked, [True], "the import never waited for the agent's save: nothing was concurrent")
        self.assertEqual(unseen_meanwhile, [1], "the mail is not marked read before its import is committed")

        emails, interactions, _messages = self.state()
        self.assertEqual(emails, ["lucia.fernandez@gmail.com"])
        self.assertEqual(interactions, 1, "the mail was lost, or imported twice")
        self.assertEqual(self.imap.unseen_count(), 0, "an imported mail is marked read")
        self.assertEqual(self.customer_function(), "Compradora", "the agent's save is kept too")
        self.assertFalse(self.failures())

        self.fetch()
        self.assertEqual(self.state()[1], 1)

    def test_mail_of_a_customer_locked_too_long_stays_unread_and_is_kept(self):
        """With a lock timeout (as production databases set), an import waiting for the agent
        fails; retried until the attempts run out, the mail is kept, then imported later."""
        self.imap.append(build_mail(sender=LUCIA, Message_ID="<busy-2@mail.gmail.com>", Subject="Devolución"))
        fetched = threading.Event()
        agent, errors = self._agent_saves_customer(lambda pid: fetched.wait(60))
        try:
            with self.registry.cursor() as cr:
                cr.execute("SET lock_timeout = '100ms'")
                cr.commit()
                try:
                    api.Environment(cr, SUPERUSER_ID, {})["fetchmail.server"].browse(self.server_id).fetch_mail()
                finally:
                    cr.rollback()
                    cr.execute("RESET lock_timeout")
                    cr.commit()
        finally:
            fetched.set()
            agent.join(60)
        self.assertFalse(errors, errors)

        self.assertEqual(self.state()[1], 0)
        self.assertEqual(self.imap.unseen_count(), 1, "a mail that was not imported stays unread")
        [failure] = self.failures()
        self.assertEqual(failure["state"], "failed")
        self.assertEqual(failure["subject"], "Devolución")
        self.assertIn("lock timeout", failure["reason"])
        self.assertIn("busy", failure["reason"])

        self.fetch()  # the agent is done: the next fetch imports it
        self.assertEqual(self.state()[1], 1)
        self.assertEqual(self.imap.unseen_count(), 0)
        self.assertEqual(self.failures()[0]["state"], "imported")
        self.assertEqual(self.customer_function(), "Compradora")

    def test_mail_failing_persistently_is_kept_replayed_by_a_manager_and_imported_once(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            # The administrator has not linked the mailbox to its channel yet: its mail reaches none.
            env["fetchmail.server"].browse(self.server_id).omnichannel_channel_id = False
        self.imap.append(build_mail(sender=LUCIA, Message_ID="<kept-1@mail.gmail.com>", Subject="Factura duplicada"))
        self.fetch()
        self.fetch()
        self.assertEqual(self.imap.unseen_count(), 1, "a mail that was not imported stays unread")
        [failure] = self.failures()
        self.assertEqual(failure["email_from"], LUCIA)
        self.assertEqual(failure["subject"], "Factura duplicada")
        self.assertEqual(failure["failure_count"], 2, "one kept copy, however often it fails")
        self.assertIn("reached no email channel", failure["reason"])
        self.assertFalse(self.failures(self.manager_id), "managers see the mail of their email channels only")

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["fetchmail.server"].browse(self.server_id).omnichannel_channel_id = self.channel_id
        with self.registry.cursor() as cr:
            manager = api.Environment(cr, self.manager_id, {})
            kept = manager["omnichannel.mail.failure"].search([])
            self.assertEqual(len(kept), 1)
            with self.assertRaises(AccessError, msg="marking it imported by hand would lose the mail"):
                kept.write({"state": "imported"})
            result = kept.action_replay()
        self.assertEqual(result["params"]["type"], "success")
        emails, interactions, _messages = self.state()
        self.assertEqual(emails, ["lucia.fernandez@gmail.com"])
        self.assertEqual(interactions, 1)
        self.assertEqual(self.failures()[0]["state"], "imported")
        self.assertEqual(self.imap.unseen_count(), 1, "replaying leaves the mailbox alone")

        self.fetch()  # the mailbox's copy is the same mail: marked read, not imported again
        self.assertEqual(self.imap.unseen_count(), 0)
        self.assertEqual(self.state()[1], 1)
        self.assertEqual(len(self.failures()), 1)
