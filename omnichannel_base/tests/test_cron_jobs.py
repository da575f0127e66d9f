"""Background jobs and Odoo's cron workers: the webhook bench found deliveries waiting a minute
for a cron worker asleep, cron workers killed by their time limit in the middle of a batch, and
agents' notification emails left for the mail queue's hourly run."""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from ..tools.jobs import cron_budget, trigger
from .common import OmnichannelCase

INBOX_CRON = "omnichannel_base.ir_cron_omnichannel_inbox"


@tagged("post_install", "-at_install")
class TestCronJobs(TransactionCase):
    def setUp(self):
        super().setUp()
        self.cron = self.env.ref(INBOX_CRON)
        self.Trigger = self.env["ir.cron.trigger"].sudo()
        self.triggers().unlink()

    def triggers(self):
        return self.Trigger.search([("cron_id", "=", self.cron.id)])

    def pending_delivery(self):
        """A due delivery, stored as the webhook route stores it (without waking anyone)."""
        self.env.cr.execute(
            """INSERT INTO omnichannel_inbox (provider, received_date, payload, digest, state, attempts,
                                              next_attempt, create_uid, write_uid, create_date, write_date)
               VALUES ('test', now() AT TIME ZONE 'UTC', '{}', md5(random()::text), 'pending', 0,
                       now() AT TIME ZONE 'UTC' - interval '1 minute', 1, 1, now(), now())
               RETURNING id"""
        )
        return self.env["omnichannel.inbox"].browse(self.env.cr.fetchone()[0])

    def test_a_trigger_of_an_earlier_second_is_not_enough(self):
        """A run of the job that started after it deletes it when it completes, maybe without
        having seen the new delivery: the delivery gets a trigger (and a NOTIFY) of its own."""
        self.Trigger.create({"cron_id": self.cron.id, "call_at": fields.Datetime.now() - timedelta(seconds=5)})
        trigger(self.env, INBOX_CRON)
        self.assertEqual(len(self.triggers()), 2)
        self.assertEqual(max(self.triggers().mapped("call_at")), fields.Datetime.now().replace(microsecond=0))

    def test_at_most_one_trigger_a_second(self):
        for _i in range(5):
            trigger(self.env, INBOX_CRON)
        triggers = self.triggers()
        self.assertEqual(len(triggers), len(set(triggers.mapped("call_at"))))

    def test_a_run_that_stops_with_work_left_wakes_the_job_again(self):
        """After ten calls with work left, Odoo's cron worker sleeps until a NOTIFY: the job
        triggers itself, so that the backlog does not wait for the next interval."""
        delivery = self.pending_delivery()
        done = self.env["omnichannel.inbox"]._cron_process(time_budget=0)
        self.assertEqual(done, 0)
        self.assertEqual(delivery.state, "pending")
        self.assertTrue(self.triggers())

    def test_ten_calls_fit_in_the_cron_time_limit(self):
        for real, cron, expected in ((120, -1, 6), (120, 600, 30), (120, 0, 50), (0, -1, 50), (3600, -1, 50)):
            with patch.dict(config.options, {"limit_time_real": real, "limit_time_real_cron": cron}):
                self.assertEqual(cron_budget(50), expected, f"limit_time_real={real}, limit_time_real_cron={cron}")

    def test_processing_stops_within_the_budget(self):
        """With no time left, no batch is started (nor committed)."""
        delivery = self.pending_delivery()
        with patch.dict(config.options, {"limit_time_real": 120, "limit_time_real_cron": 1e-9}):
            done = self.env["omnichannel.inbox"]._cron_process()
        self.assertEqual(done, 0)
        self.assertEqual(delivery.state, "pending")


@tagged("post_install", "-at_install")
class TestNotificationEmails(OmnichannelCase):
    def test_agent_emails_are_queued_and_the_mail_queue_woken(self):
        """Sent when the transaction commits, each email would hold the webhook batch or the API call
        for a connection to the mail server; queued, as Odoo's cron jobs queue them, without waking
        the mail queue, it would wait for the queue's hourly run."""
        self.agent.notification_type = "email"
        mail_cron = self.env.ref("mail.ir_cron_mail_scheduler_action")
        Trigger = self.env["ir.cron.trigger"].sudo()
        self.ingest.ingest(self.event(sender={"phone": "+34 611 22 33 55"}, body="Hola", external_id="q-1"))
        Trigger.search([("cron_id", "=", mail_cron.id)]).unlink()
        second = self.ingest.ingest(self.event(sender={"phone": "+34 611 22 33 55"}, body="¿Y?", external_id="q-2"))
        mail = self.env["mail.mail"].search([("mail_message_id", "=", second.mail_message_id.id)])
        self.assertIn(self.agent.partner_id, mail.recipient_ids)
        self.assertEqual(mail.state, "outgoing")
        self.assertTrue(Trigger.search([("cron_id", "=", mail_cron.id)]))
