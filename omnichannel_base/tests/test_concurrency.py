import threading
from functools import partial

from odoo import SUPERUSER_ID, api
from odoo.service.model import retrying
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestConcurrentIngest(TransactionCase):
    """Two transactions ingest the first messages of the same new customer at the same moment.

    The threads use their own cursors and commit, as two webhook requests would; the
    test cleans up what they committed.
    """

    PHONE = "+34 699 123 456"

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.channel_id = (
                env["omnichannel.channel"]
                .create({"name": "Concurrency", "channel_type": "api", "country_id": env.ref("base.es").id})
                .id
            )
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            channel = env["omnichannel.channel"].browse(self.channel_id)
            partners = env["omnichannel.interaction"].search([("channel_id", "=", channel.id)]).partner_id
            env["omnichannel.interaction"].search([("channel_id", "=", channel.id)]).unlink()
            env["omnichannel.conversation"].search([("channel_id", "=", channel.id)]).unlink()
            partners.unlink()
            channel.unlink()

    def _run_pair(self, event_a, event_b):
        a_wrote, b_started = threading.Event(), threading.Event()
        errors = []

        def first():
            try:
                b_started.wait(10)
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["omnichannel.ingest"].ingest(dict(event_a, channel_id=self.channel_id))
                    a_wrote.set()
                    # Keep the transaction open while the second one runs into our rows.
                    threading.Event().wait(1.0)
            except Exception as exc:  # reported by the main thread
                errors.append(exc)
                a_wrote.set()

        def second():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    cr.execute("SELECT 1")  # take the snapshot before the first commits
                    b_started.set()
                    a_wrote.wait(10)
                    ingest = partial(env["omnichannel.ingest"].ingest, dict(event_b, channel_id=self.channel_id))
                    retrying(ingest, env)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertFalse(errors, errors)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            interactions = env["omnichannel.interaction"].search([("channel_id", "=", self.channel_id)])
            return interactions.partner_id.ids, interactions.conversation_id.ids, interactions.ids

    def test_one_partner_for_one_new_customer(self):
        partners, conversations, interactions = self._run_pair(
            {"external_id": "first", "sender": {"phone": self.PHONE, "name": "Nuevo"}, "body": "Hola"},
            {"external_id": "second", "sender": {"phone": "699123456"}, "body": "¿Hay alguien?"},
        )
        self.assertEqual(len(interactions), 2)
        self.assertEqual(len(partners), 1, "two partners were created for one phone")
        self.assertEqual(len(conversations), 1, "two conversations were opened for one customer")

    def test_same_event_delivered_twice_at_once(self):
        event = {"external_id": "dup", "sender": {"phone": self.PHONE}, "body": "Hola"}
        partners, conversations, interactions = self._run_pair(event, event)
        self.assertEqual(len(interactions), 1)
        self.assertEqual(len(partners), 1)
