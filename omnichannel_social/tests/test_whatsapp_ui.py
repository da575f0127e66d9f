import json
import threading
from datetime import timedelta

import requests

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME
from odoo.tools import SQL

from odoo.addons.mail.tools.discuss import Store

from .common import WhatsappCase, meta_signature

AGENT_PASSWORD = "lucia.agente"  # start_tour logs in with the login as password


class ChatterCase(WhatsappCase):
    def customer_writes(self, text, wa_id="16505551234", name="Sheena Nelson", hours_ago=0):
        """An inbound WhatsApp text, processed; returns its conversation."""
        timestamp = int((self.now() - timedelta(hours=hours_ago)).timestamp())
        response = self.deliver(
            self.inbound({"type": "text", "text": {"body": text}, "timestamp": str(timestamp)}, wa_id=wa_id, name=name)
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.process()
        return self.env["omnichannel.conversation"].search(
            [("channel_id", "=", self.channel.id), ("partner_id.name", "=", name)]
        )

    def reply(self, conversation, text):
        return conversation.with_user(self.agent).message_post(
            body=text, message_type="comment", subtype_xmlid="mail.mt_comment"
        )

    def outbox(self, message):
        return self.env["omnichannel.outbox"].search([("mail_message_id", "=", message.id)])


@tagged("post_install", "-at_install")
class TestDeliveryInChatter(ChatterCase):
    """What the chatter receives about each agent's reply (``mail.message._to_store``) and what the
    bus pushes when it changes."""

    def setUp(self):
        super().setUp()
        self.conversation = self.customer_writes("Hello, do you have it in blue?")

    def deliveries(self, messages, user=None):
        """{message id: omnichannel_delivery or None} as ``user``'s (default: the agent's) chatter gets them."""
        messages = messages.with_user(user or self.agent)
        messages.env.invalidate_all()
        result = Store(messages).get_result()
        return {values["id"]: values.get("omnichannel_delivery") for values in result["mail.message"]}

    def test_each_state(self):
        message = self.reply(self.conversation, "Yes, in blue and green.")
        outbox = self.outbox(message)
        expected = {"state": "queued", "error": False, "outbox_id": outbox.id, "outbox_state": "queued"}
        self.assertEqual(self.deliveries(message)[message.id], expected)

        self.send_queued()
        expected.update(state="sent", outbox_state="sent")
        self.assertEqual(self.deliveries(message)[message.id], expected)

        for state in ("delivered", "read"):
            self.deliver(self.status(outbox.external_id, state))
            self.process()
            expected.update(state=state)
            self.assertEqual(self.deliveries(message)[message.id], expected)

        # Refused by Meta when sent: failed, with Meta's reason, and an outbox row to retry.
        refused = self.reply(self.conversation, "Here is the catalogue.")
        self.graph.inject("POST", r"/messages$", code=131009, message="(#131009) Parameter value is not valid")
        self.send_queued()
        delivery = self.deliveries(refused)[refused.id]
        self.assertEqual((delivery["state"], delivery["outbox_state"]), ("failed", "failed"))
        self.assertIn("131009", delivery["error"])
        self.assertEqual(delivery["outbox_id"], self.outbox(refused).id)

        # Accepted, then not delivered (status "failed"): nothing to retry, the row was sent.
        undelivered = self.reply(self.conversation, "Are you still there?")
        self.send_queued()
        errors = [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}]
        self.deliver(self.status(self.outbox(undelivered).external_id, "failed", errors=errors))
        self.process()
        delivery = self.deliveries(undelivered)[undelivered.id]
        self.assertEqual((delivery["state"], delivery["outbox_state"]), ("failed", "sent"))
        self.assertIn("undeliverable", delivery["error"])

        # The customer's message and the agent's notes carry no delivery state.
        note = self.conversation.with_user(self.agent).message_post(
            body="Customer prefers blue", message_type="comment", subtype_xmlid="mail.mt_note"
        )
        inbound = self.conversation.message_ids.filtered(lambda m: m.author_id == self.conversation.partner_id)
        self.assertTrue(inbound)
        shown = self.deliveries(inbound | note | message | refused | undelivered)
        self.assertEqual(shown[note.id], None)
        self.assertEqual({shown[m.id] for m in inbound}, {None})
        self.assertEqual([shown[m.id]["state"] for m in (message, refused, undelivered)], ["read", "failed", "failed"])

    def test_one_query_for_many_messages(self):
        messages = self.env["mail.message"]
        for n in range(5):
            messages |= self.reply(self.conversation, f"Answer {n}")
        self.env.flush_all()
        with self.assertQueryCount(1):
            found = self.env["mail.message"]._omnichannel_deliveries(SQL("i.mail_message_id = ANY(%s)", messages.ids))
        self.assertEqual({message_id for message_id, _delivery, _partners in found}, set(messages.ids))

    def test_bus_pushes_each_change(self):
        message = self.reply(self.conversation, "Yes, in blue and green.")
        manager = self.env["res.users"].create(
            {
                "name": "Marta Jefa",
                "login": "marta.jefa",
                "groups_id": [(6, 0, [self.env.ref("omnichannel_base.group_omnichannel_manager").id])],
            }
        )
        self.env.cr.precommit.run()
        self.env["bus.bus"].sudo().search([]).unlink()

        self.send_queued()  # as the cron: only the author and the assigned agent are told
        outbox = self.outbox(message)
        self.deliver(self.status(outbox.external_id, "delivered"))
        self.process()
        self.assertEqual(self.pushed(self.agent.partner_id, message), ["sent", "delivered"])
        self.assertEqual(self.pushed(manager.partner_id, message), [])

        # A status that changes nothing ("delivered" after "read") is not pushed again.
        self.deliver(self.status(outbox.external_id, "read"))
        self.process()
        self.deliver(self.status(outbox.external_id, "delivered"))
        self.process()
        self.assertEqual(self.pushed(self.agent.partner_id, message), ["sent", "delivered", "read"])

        # Whoever presses Retry is told as well.
        refused = self.reply(self.conversation, "Here is the catalogue.")
        self.graph.inject("POST", r"/messages$", code=131009)
        self.send_queued()
        self.assertEqual(
            self.pushed(self.agent.partner_id, refused), ["failed"], "nothing is pushed before the outbox row exists"
        )
        self.outbox(refused).with_user(manager).action_retry()
        self.assertEqual(self.pushed(manager.partner_id, refused), ["queued"])
        delivery = self.deliveries(refused, user=manager)[refused.id]
        self.assertEqual((delivery["state"], delivery["outbox_state"], delivery["error"]), ("queued", "queued", False))

    def pushed(self, partner, message):
        """The delivery states pushed so far about ``message`` on ``partner``'s bus channel, in order."""
        self.env.cr.precommit.run()  # the bus writes its notifications when the transaction commits
        channel = [self.env.cr.dbname, "res.partner", partner.id]
        states = []
        for note in self.env["bus.bus"].sudo().search([], order="id"):
            if json.loads(note.channel) != channel:
                continue
            payload = json.loads(note.message)
            if payload["type"] != "mail.record/insert":
                continue
            for values in payload["payload"].get("mail.message", []):
                if values["id"] == message.id and "omnichannel_delivery" in values:
                    states.append(values["omnichannel_delivery"]["state"])
        return states


class MetaAndCron(threading.Thread):
    """What happens outside the browser while the tour runs: Odoo's outbox cron sends what the
    agent queued, and Meta answers with signed status webhooks; every change reaches the agent's
    chatter through the bus.

    Each round runs in a test cursor of its own (the HTTP server's requests wait for it), and
    wakes the websockets up itself: a test cursor never runs post-commit hooks, where the bus
    notifies them. Meta delivers each reply it got to ``delivered``; a reply whose conversation is
    pending (the agent waits for the customer) goes on to ``read``. ``quiet`` conversations get
    no status at all.
    """

    def __init__(self, case, quiet):
        super().__init__(name="meta-and-cron", daemon=True)
        self.case, self.quiet = case, quiet
        self.stop = threading.Event()
        self.error = None

    def run(self):
        threading.current_thread().testing = True  # the jobs keep the transaction open, as under tests
        try:
            while not self.stop.wait(0.3):
                statuses = self.as_cron(self.send_and_read)
                for wamid, state in statuses:
                    self.webhook(self.case.status(wamid, state))
                if statuses:
                    self.as_cron(lambda env: env["omnichannel.inbox"]._process_due())
        except Exception as exc:  # noqa: BLE001 - reported by the test once the tour is over
            self.error = exc

    def as_cron(self, work):
        with self.case.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            result = work(env)
            cr.flush()  # the bus writes its notifications...
            cr.postcommit.run()  # ... and tells the websockets, which read them once this cursor is closed
        return result

    def send_and_read(self, env):
        Outbox = env["omnichannel.outbox"]
        if Outbox.search_count([("state", "=", "queued")]):
            Outbox._cron_send(time_budget=5)
        statuses = []
        for outbox in Outbox.search([("state", "=", "sent"), ("conversation_id", "not in", self.quiet.ids)]):
            state, conversation = outbox.interaction_id.delivery_state, outbox.conversation_id
            if state == "sent":
                statuses.append((outbox.external_id, "delivered"))
            elif state == "delivered" and conversation.state == "pending":
                statuses.append((outbox.external_id, "read"))
        return statuses

    def webhook(self, payload):
        body = json.dumps(payload).encode()
        response = requests.post(
            self.case.base_url() + self.case.webhook_path,
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body)},
            cookies={TEST_CURSOR_COOKIE_NAME: self.case.http_request_key},
            timeout=12,
        )
        response.raise_for_status()


@tagged("post_install", "-at_install")
class TestWhatsappTour(ChatterCase):
    def test_agent_follows_replies_and_sends_a_template(self):
        self.agent.password = AGENT_PASSWORD
        carmen = self.customer_writes("¿Tenéis la talla 38?", wa_id="34611223344", name="Carmen Tour")
        marta = self.customer_writes("¿Me mandas el catálogo?", wa_id="34633445566", name="Marta Reintento")
        javier = self.customer_writes(
            "¿Está listo mi pedido?", wa_id="34622334455", name="Javier Plantilla", hours_ago=25
        )
        self.assertFalse(javier.reply_window_open)
        refused = self.reply(marta, "Te envío el catálogo.")
        self.graph.inject("POST", r"/messages$", code=131009, message="(#131009) Parameter value is not valid")
        self.send_queued()
        self.assertEqual(self.outbox(refused).state, "failed")
        template = self.env["omnichannel.whatsapp.template"].create(
            {
                "name": "pedido_listo",
                "language": "es",
                "channel_id": self.channel.id,
                "category": "UTILITY",
                "status": "APPROVED",
                "components": [{"type": "BODY", "text": "Hola {{1}}, tu pedido está listo para recoger."}],
                "variable_fields": "partner_id.name",
            }
        )

        meta = MetaAndCron(self, quiet=marta)
        meta.start()
        try:
            self.start_tour("/odoo", "omnichannel_whatsapp_tour", login=self.agent.login, timeout=120)
        finally:
            meta.stop.set()
            meta.join(30)
        self.assertFalse(meta.is_alive())
        if meta.error:
            raise meta.error

        self.env.invalidate_all()
        reply = carmen.message_ids.filtered(lambda m: "Sí, la tenemos en la 38." in (m.body or ""))
        self.assertEqual(reply.author_id, self.agent.partner_id)
        self.assertEqual(self.outbox(reply).interaction_id.delivery_state, "read")
        self.assertEqual(self.outbox(refused).state, "sent", "retried from the chatter")
        sent_template = self.outbox(javier.message_ids.filtered(lambda m: "Hola Javier" in (m.body or "")))
        self.assertEqual(sent_template.interaction_id.delivery_state, "delivered")
        payloads = [p for p in self.graph.sent if p["type"] == "template"]
        self.assertEqual(len(payloads), 1)
        self.assertEqual(payloads[0]["template"]["name"], template.name)
        self.assertEqual(
            payloads[0]["template"]["components"][0]["parameters"], [{"type": "text", "text": "Javier Plantilla"}]
        )
        self.assertEqual(payloads[0]["to"], "34622334455")
