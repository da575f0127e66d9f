"""Exactly once with several workers: two transactions, committed as two cron workers' would be.

The threads use their own cursors and commit; the test removes what they committed.
"""

import json
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from odoo.addons.omnichannel_base.tools.retry import retry_on_concurrency

from .common import ACCESS_TOKEN, APP_SECRET
from .fake_graph import FakeGraph

PHONE_NUMBER_ID = "100000000000077"  # not the other tests' number: this channel is committed


@tagged("post_install", "-at_install")
class TestWorkersExactlyOnce(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.graph = FakeGraph(access_token=ACCESS_TOKEN)
        cls.graph.start()
        cls.addClassCleanup(cls.graph.stop)

    def setUp(self):
        super().setUp()
        self.graph.reset()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            Param = env["ir.config_parameter"]
            self.previous_url = Param.get_param("omnichannel_social.graph_url")
            Param.set_param("omnichannel_social.graph_url", self.graph.url)
            self.channel_id = (
                env["omnichannel.channel"]
                .create(
                    {
                        "name": "WhatsApp concurrency",
                        "channel_type": "whatsapp",
                        "country_id": env.ref("base.es").id,
                        "wa_phone_number_id": PHONE_NUMBER_ID,
                        "wa_access_token": ACCESS_TOKEN,
                        "wa_app_secret": APP_SECRET,
                    }
                )
                .id
            )
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            channel = env["omnichannel.channel"].browse(self.channel_id)
            domain = [("channel_id", "=", channel.id)]
            env["omnichannel.outbox"].search(domain).unlink()
            env["omnichannel.inbox"].search(domain).unlink()
            interactions = env["omnichannel.interaction"].search(domain)
            partners = interactions.partner_id
            interactions.unlink()
            env["omnichannel.conversation"].search(domain).unlink()
            partners.unlink()
            channel.unlink()
            env["ir.config_parameter"].set_param("omnichannel_social.graph_url", self.previous_url or False)

    def delivery(self, wamid, wa_id, text, indent=None):
        return json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "102290129340398",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": "34900000077",
                                        "phone_number_id": PHONE_NUMBER_ID,
                                    },
                                    "contacts": [{"profile": {"name": "Amaia"}, "wa_id": wa_id}],
                                    "messages": [
                                        {
                                            "from": wa_id,
                                            "id": wamid,
                                            "timestamp": str(int(time.time())),
                                            "type": "text",
                                            "text": {"body": text},
                                        }
                                    ],
                                },
                            }
                        ],
                    }
                ],
            },
            indent=indent,
        ).encode()

    def test_redelivery_processed_by_two_workers_at_once(self):
        """Meta redelivered a message (other bytes, same wamid); two workers take one copy each."""
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            channel = env["omnichannel.channel"].browse(self.channel_id)
            Inbox = env["omnichannel.inbox"]
            stored = [
                Inbox._store(channel, self.delivery("wamid.concurrent", "34688000077", "Hola"), "application/json"),
                Inbox._store(
                    channel, self.delivery("wamid.concurrent", "34688000077", "Hola", indent=1), "application/json"
                ),
            ]
        self.assertTrue(all(stored), "two different bodies: two deliveries")
        first_done, second_started, errors = threading.Event(), threading.Event(), []

        def first():
            try:
                second_started.wait(10)
                with self.env.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["omnichannel.inbox"]._process_due(limit=1)
                    first_done.set()
                    threading.Event().wait(1.0)  # uncommitted while the second worker runs into it
            except Exception as exc:  # reported by the main thread
                errors.append(exc)
                first_done.set()

        def second():
            try:
                with self.env.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    cr.execute("SELECT 1")  # its snapshot predates the first worker's commit
                    second_started.set()
                    first_done.wait(10)
                    retry_on_concurrency(env, lambda: env["omnichannel.inbox"]._process_due(limit=1))
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertFalse(errors, errors)
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            domain = [("channel_id", "=", self.channel_id)]
            self.assertEqual(env["omnichannel.inbox"].search(domain).mapped("state"), ["done", "done"])
            interactions = env["omnichannel.interaction"].search(domain)
            self.assertEqual(len(interactions), 1, "one message, whichever worker recorded it")
            self.assertEqual(
                len(interactions.conversation_id.message_ids.filtered(lambda m: m.body == "<p>Hola</p>")), 1
            )

    def test_two_senders_never_send_a_reply_twice(self):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            channel = env["omnichannel.channel"].browse(self.channel_id)
            for index in range(12):
                wa_id = f"3468800{index:04d}"
                env["omnichannel.inbox"]._store(channel, self.delivery(f"wamid.in-{index}", wa_id, "Hola"), "json")
            env["omnichannel.inbox"]._process_due()
            conversations = env["omnichannel.conversation"].search([("channel_id", "=", channel.id)])
            self.assertEqual(len(conversations), 12)
            for conversation in conversations:
                conversation.message_post(
                    body="Le atendemos enseguida.", message_type="comment", subtype_xmlid="mail.mt_comment"
                )
        barrier, errors = threading.Barrier(2), []

        def sender():
            try:
                with self.env.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(10)
                    env["omnichannel.outbox"]._cron_send(time_budget=20)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sender) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertFalse(errors, errors)
        keys = [payload["biz_opaque_callback_data"] for payload in self.graph.sent]
        self.assertEqual(len(keys), 12, "every reply sent")
        self.assertEqual(len(set(keys)), 12, "none sent twice")
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            outbox = env["omnichannel.outbox"].search([("channel_id", "=", self.channel_id)])
            self.assertEqual(set(outbox.mapped("state")), {"sent"})
            self.assertEqual(set(outbox.interaction_id.mapped("delivery_state")), {"sent"})
