"""Agents' WhatsApp replies through the outbox, against the local Graph API server.

The agent (an Omnichannel user) writes in the conversation's chatter; the reply is queued in
their transaction and sent by the outbox worker (``send_queued``), which retries what Meta
asks to retry, fails what it refuses, and never sends twice what a dead worker may have sent.
"""

import base64
import json
import time
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tests.common import _super_send
from odoo.tools.safe_eval import safe_eval

from .common import ACCESS_TOKEN, CONTRACTS, PHONE_NUMBER_ID, WABA_ID, WhatsappCase

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
READ_TIMEOUT = 0.5  # seconds the provider waits for Meta's answer in these tests
CUSTOMER = "Sheena Nelson"
WA_ID = "16505551234"  # the customer of tests/data/contracts/whatsapp_send_request.json


def meta_template(name, body="Hola {{1}}, tu pedido está listo para recoger.", status="APPROVED", language="es"):
    """A template as Meta's ``GET /{waba-id}/message_templates`` lists it."""
    return {
        "name": name,
        "language": language,
        "category": "UTILITY",
        "status": status,
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Tienda Bilbao"},
            {"type": "BODY", "text": body, "example": {"body_text": [["Pablo"]]}},
            {"type": "FOOTER", "text": "Responde STOP para no recibir más mensajes"},
        ],
        "id": str(abs(hash((name, language))) % 10**15),
    }


@tagged("post_install", "-at_install")
class TestWhatsappOutbox(WhatsappCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_social.graph_read_timeout", str(READ_TIMEOUT))
        cls.Outbox = cls.env["omnichannel.outbox"]
        cls.provider = cls.env["omnichannel.provider.whatsapp_cloud"]
        groups = cls.env.ref
        cls.manager = cls.env["res.users"].create(
            {
                "name": "Marta Responsable",
                "login": "marta.responsable",
                "email": "marta@example.com",
                "groups_id": [(6, 0, [groups("omnichannel_base.group_omnichannel_manager").id])],
            }
        )
        cls.admin = cls.env["res.users"].create(
            {
                "name": "Iker Sistemas",
                "login": "iker.sistemas",
                "email": "iker@example.com",
                "groups_id": [
                    (6, 0, [groups("base.group_system").id, groups("omnichannel_base.group_omnichannel_manager").id])
                ],
            }
        )
        cls.note = cls.env.ref("mail.mt_note")

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        """Odoo's test harness raises every HTTP timeout under 10 s to 10 s; the provider's own
        timeout is what these tests are about, so calls to the local Graph API keep it."""
        if request.url.startswith(cls.graph.origin + "/"):
            return _super_send(session, request, **kwargs)
        return super()._request_handler(session, request, **kwargs)

    # ------------------------------------------------------------ helpers
    def open_conversation(self, text="Hola, ¿la tenéis en azul?", hours_ago=0, wa_id=WA_ID, name=CUSTOMER):
        """The customer writes (``hours_ago``); returns their conversation, as the inbox worker leaves it."""
        when = int((self.now() - timedelta(hours=hours_ago)).timestamp())
        payload = self.inbound({"type": "text", "text": {"body": text}, "timestamp": str(when)}, wa_id=wa_id, name=name)
        response = self.deliver(payload)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.process(), 1)
        wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        conversation = self.interaction(wamid).conversation_id
        self.assertTrue(conversation)
        return conversation

    def reply(self, conversation, body, **kwargs):
        """What the chatter's Send button does for the agent."""
        return conversation.with_user(self.agent).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment", **kwargs
        )

    def outbox_of(self, conversation):
        return self.Outbox.search([("conversation_id", "=", conversation.id)])

    def message_requests(self):
        return [r for r in self.graph.requests if r.method == "POST" and r.path.endswith("/messages")]

    def notes(self, conversation, text):
        return conversation.message_ids.filtered(lambda m: m.subtype_id == self.note and text in (m.body or ""))

    def make_due(self, outbox):
        """The retry time has come (as if the clock had moved on)."""
        outbox.write({"next_attempt": fields.Datetime.now() - timedelta(seconds=1)})

    def wait_for_sent(self, count, seconds=5):
        deadline = time.monotonic() + seconds
        while len(self.graph.sent) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.graph.sent), count)

    # ------------------------------------------------------------ replies and statuses
    def test_reply_queued_then_sent_in_meta_shape_and_statuses_move_forward(self):
        contract = json.loads((CONTRACTS / "whatsapp_send_request.json").read_text())
        conversation = self.open_conversation()
        message = self.reply(conversation, contract["text"]["body"])
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.assertEqual(outbox.mail_message_id, message)
        self.assertEqual(outbox.user_id, self.agent)
        self.assertFalse(self.graph.requests, "the agent's transaction never calls the Graph API")
        self.assertEqual(outbox.interaction_id.delivery_state, "queued")

        self.assertEqual(self.send_queued(), 1)
        self.assertEqual(outbox.state, "sent")
        (request,) = self.message_requests()
        self.assertEqual(request.path, f"/v21.0/{PHONE_NUMBER_ID}/messages")
        self.assertEqual(request.headers["Authorization"], f"Bearer {ACCESS_TOKEN}")
        self.assertEqual(json.loads(request.body), dict(contract, biz_opaque_callback_data=outbox.key))
        wamid = self.graph.sent[0]["wamid"]
        self.assertEqual(outbox.external_id, wamid)
        interaction = outbox.interaction_id.with_user(self.agent)
        self.assertEqual(interaction.external_id, wamid)
        self.assertEqual(interaction.delivery_state, "sent")
        self.assertEqual(interaction.direction, "outbound")
        self.assertEqual(interaction.user_id, self.agent)

        self.deliver(self.status(wamid, "delivered"))
        self.process()
        self.assertEqual(interaction.delivery_state, "delivered")
        self.deliver(self.status(wamid, "read"))
        self.process()
        self.assertEqual(interaction.delivery_state, "read")
        # Meta delivers in no guaranteed order: a late "delivered" or "sent" never moves it back
        self.deliver(self.status(wamid, "delivered"))
        self.deliver(self.status(wamid, "sent"))
        self.process()
        self.assertEqual(interaction.delivery_state, "read")
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(len(self.graph.sent), 1)

    def test_failed_status_says_code_and_reason(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Te la reservo hasta el viernes.")
        self.send_queued()
        outbox = self.outbox_of(conversation)
        wamid = outbox.external_id
        self.assertTrue(wamid)
        errors = [
            {
                "code": 131049,
                "title": "This message was not delivered to maintain healthy ecosystem engagement.",
                "message": "This message was not delivered to maintain healthy ecosystem engagement.",
                "error_data": {"details": "In order to maintain a healthy ecosystem engagement, the message failed."},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
        self.deliver(self.status(wamid, "failed", errors=errors))
        self.process()
        interaction = outbox.interaction_id.with_user(self.agent)
        self.assertEqual(interaction.delivery_state, "failed")
        self.assertIn("131049", interaction.delivery_error)
        self.assertIn("healthy ecosystem engagement, the message failed", interaction.delivery_error)
        (note,) = self.notes(conversation, "131049")
        self.assertIn("Te la reservo hasta el viernes.", note.body)
        self.assertIn("healthy ecosystem engagement, the message failed", note.body)
        self.assertEqual(note.message_type, "notification")

    def test_status_before_the_sender_recorded_the_wamid_waits_then_applies(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Sale mañana por mensajería.")
        # The worker claimed the row and Meta accepted the message, but the worker has not
        # recorded the wamid yet when Meta's status comes in.
        outbox = self.Outbox._claim_next()
        self.assertEqual(outbox.state, "sending")
        wamid = self.provider._deliver(outbox)
        self.assertEqual(wamid, self.graph.sent[0]["wamid"])
        self.deliver(self.status(wamid, "delivered"))
        self.process()
        waiting = self.env["omnichannel.delivery.status"].search([("external_id", "=", wamid)])
        self.assertEqual(waiting.mapped("state"), ["delivered"])
        self.assertEqual(waiting.channel_id, self.channel)
        self.assertEqual(outbox.interaction_id.delivery_state, "queued")

        outbox._mark_sent(wamid)
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.interaction_id.external_id, wamid)
        self.assertEqual(outbox.interaction_id.delivery_state, "delivered")
        self.assertFalse(waiting.exists(), "applied statuses stop waiting")

    def test_status_with_key_before_the_sender_recorded_the_wamid_never_goes_back(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Sale mañana por mensajería.")
        outbox = self.Outbox._claim_next()
        wamid = self.provider._deliver(outbox)
        # Meta echoes biz_opaque_callback_data: the status itself records the wamid
        self.deliver(self.status(wamid, "delivered", callback_data=outbox.key))
        self.process()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.interaction_id.delivery_state, "delivered")
        # then the sender records what it had learnt: "delivered" stays
        outbox._mark_sent(wamid)
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.external_id, wamid)
        self.assertEqual(outbox.interaction_id.delivery_state, "delivered")

    # ------------------------------------------------------------ retries
    def check_retried(self, conversation, error, min_wait, max_wait=None):
        """The row waits for a later attempt with ``error``; once due, it is sent once."""
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.assertEqual(outbox.attempts, 1)
        self.assertIn(error, outbox.error)
        now = fields.Datetime.now()
        self.assertGreater(outbox.next_attempt, now + timedelta(seconds=min_wait))
        if max_wait:
            self.assertLess(outbox.next_attempt, now + timedelta(seconds=max_wait))
        self.assertFalse(self.graph.sent)
        self.assertEqual(self.send_queued(), 0, "not due yet")
        self.assertFalse(self.graph.sent)

        self.make_due(outbox)
        self.assertEqual(self.send_queued(), 1)
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.attempts, 2)
        self.assertFalse(outbox.error)
        self.wait_for_sent(1)
        self.assertEqual(outbox.external_id, self.graph.sent[0]["wamid"])
        self.assertEqual(outbox.interaction_id.delivery_state, "sent")
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(len(self.graph.sent), 1, "exactly one accepted send")
        return outbox

    def test_rate_limit_waits_what_meta_asks(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Ahora mismo lo miro.")
        self.graph.inject("POST", r"/messages$", status=429, code=130429, retry_after=120)
        self.assertEqual(self.send_queued(), 1)
        outbox = self.check_retried(conversation, "130429", min_wait=115, max_wait=160)
        self.assertEqual(len(self.message_requests()), 2)
        self.assertFalse(self.outbox_of(conversation).filtered(lambda o: o.state != "sent"))
        self.assertEqual(outbox.interaction_id.delivery_state, "sent")

    def test_server_error_is_retried(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Ahora mismo lo miro.")
        self.graph.inject("POST", r"/messages$", status=500)
        self.send_queued()
        self.check_retried(conversation, "131000", min_wait=25)
        self.assertEqual(len(self.message_requests()), 2)

    def test_timeout_is_retried(self):
        self.assertEqual(self.provider._timeout(), (3.05, READ_TIMEOUT))
        conversation = self.open_conversation()
        self.reply(conversation, "Ahora mismo lo miro.")
        # Meta answers (an error) only long after the client stopped waiting
        self.graph.inject("POST", r"/messages$", delay=READ_TIMEOUT * 4, status=503, code=131016)
        started = time.monotonic()
        self.send_queued()
        self.assertLess(time.monotonic() - started, READ_TIMEOUT * 3, "the worker stops waiting at its timeout")
        self.check_retried(conversation, "in time", min_wait=25)

    def test_timeout_of_a_send_meta_accepted_is_reconciled_not_resent(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Ahora mismo lo miro.")
        # Meta accepts the message, but answers after the client stopped waiting
        self.graph.inject("POST", r"/messages$", delay=READ_TIMEOUT * 3)
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.assertIn("in time", outbox.error)
        self.wait_for_sent(1)
        wamid = self.graph.sent[0]["wamid"]
        self.deliver(self.status(wamid, "sent", callback_data=outbox.key))
        self.process()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.external_id, wamid)
        self.make_due(outbox)
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(len(self.message_requests()), 1)
        self.assertEqual(outbox.interaction_id.external_id, wamid)

    def test_permanent_error_fails_until_an_agent_retries(self):
        conversation = self.open_conversation()
        self.reply(conversation, "¿Te viene bien el martes?")
        self.graph.inject("POST", r"/messages$", code=131026, details="Message Undeliverable.")
        self.assertEqual(self.send_queued(), 1)
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "failed")
        self.assertEqual(outbox.error, "(131026) Message undeliverable (Message Undeliverable.)")
        interaction = outbox.interaction_id.with_user(self.agent)
        self.assertEqual(interaction.delivery_state, "failed")
        self.assertIn("131026", interaction.delivery_error)
        (note,) = self.notes(conversation, "131026")
        self.assertIn(CUSTOMER, note.body)
        self.assertEqual(conversation.with_user(self.agent).failed_outbox_count, 1)
        self.assertEqual(self.send_queued(), 0, "a refused message is not sent again on its own")
        self.assertEqual(len(self.message_requests()), 1)

        outbox.with_user(self.agent).action_retry()
        self.assertEqual(outbox.state, "queued")
        self.assertEqual(interaction.delivery_state, "queued")
        conversation.invalidate_recordset(["failed_outbox_count"])  # as the agent's next request reads it
        self.assertEqual(conversation.with_user(self.agent).failed_outbox_count, 0)
        self.assertEqual(self.send_queued(), 1)
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(len(self.graph.sent), 1)
        self.assertEqual(interaction.external_id, self.graph.sent[0]["wamid"])
        self.assertEqual(interaction.delivery_state, "sent")
        self.assertFalse(interaction.delivery_error)

    # ------------------------------------------------------------ dead workers
    def test_worker_killed_after_meta_accepted_is_reconciled_by_the_status(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Enviado, gracias.")
        outbox = self.Outbox._claim_next()
        wamid = self.provider._deliver(outbox)
        # ... and the worker dies here: nothing recorded
        self.assertEqual(len(self.graph.sent), 1)
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(outbox.state, "sending")
        self.assertEqual(len(self.graph.sent), 1, "a row another worker had is never sent again on its own")

        self.deliver(self.status(wamid, "sent", callback_data=outbox.key))
        self.process()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.external_id, wamid)
        self.assertEqual(outbox.interaction_id.external_id, wamid)
        self.assertEqual(outbox.interaction_id.delivery_state, "sent")
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(len(self.graph.sent), 1)

    def test_row_left_sending_is_failed_after_ten_minutes_not_resent(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Enviado, gracias.")
        outbox = self.Outbox._claim_next()
        self.provider._deliver(outbox)  # maybe delivered: nobody will ever know from the worker
        outbox.write({"sending_date": fields.Datetime.now() - timedelta(minutes=9)})
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(outbox.state, "sending", "nine minutes: its worker may still be at it")
        outbox.write({"sending_date": fields.Datetime.now() - timedelta(minutes=11)})
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(outbox.state, "failed")
        self.assertIn("may have been delivered", outbox.error)
        self.assertIn("Check with the customer", outbox.error)
        self.assertEqual(outbox.interaction_id.delivery_state, "failed")
        self.assertTrue(self.notes(conversation, "may have been delivered"))
        self.assertEqual(conversation.with_user(self.agent).failed_outbox_count, 1)
        self.assertEqual(self.send_queued(), 0)
        self.assertEqual(len(self.graph.sent), 1)

    # ------------------------------------------------------------ Meta down
    def test_agent_reply_never_waits_for_a_graph_api_that_is_down(self):
        conversation = self.open_conversation()
        # Meta fails every send: first with a 500, then by not answering at all
        self.graph.inject("POST", r"/messages$", status=500)
        self.graph.inject("POST", r"/messages$", delay=30, status=504, times=None)
        replies = ["Te escribo en cuanto tenga noticias.", "Sigo pendiente, no te preocupes."]
        for index, text in enumerate(replies):
            started = time.monotonic()
            message = self.reply(conversation, text)
            self.assertLess(time.monotonic() - started, 2, "the agent's post does not wait for Meta")
            self.assertIn(message, conversation.message_ids)
            self.assertEqual(len(self.message_requests()), index, "the post itself calls nothing")
            started = time.monotonic()
            self.assertEqual(self.send_queued(), 1)
            self.assertLess(time.monotonic() - started, READ_TIMEOUT * 3)
        first, second = self.outbox_of(conversation).sorted("id")
        self.assertEqual((first.state, second.state), ("queued", "queued"))
        self.assertIn("131000", first.error)
        self.assertIn("in time", second.error)
        self.assertEqual(set((first | second).interaction_id.mapped("delivery_state")), {"queued"})
        self.assertFalse(self.graph.sent)

    # ------------------------------------------------------------ media
    def attach(self, name, content):
        """A file the agent dropped in the chatter's composer (uploaded before posting)."""
        return (
            self.env["ir.attachment"]
            .with_user(self.agent)
            .create({"name": name, "raw": content, "res_model": "mail.compose.message", "res_id": 0})
        )

    def test_image_and_document_replies_are_uploaded_then_sent(self):
        conversation = self.open_conversation()
        photo = self.attach("camiseta-azul.png", PNG)
        quote = self.attach("presupuesto.pdf", PDF)
        self.reply(conversation, "Así queda en azul.", attachment_ids=photo.ids)
        self.reply(conversation, "Aquí tienes el presupuesto.", attachment_ids=quote.ids)
        self.assertFalse(self.graph.requests)
        self.assertEqual(self.send_queued(), 2)
        self.assertEqual(set(self.outbox_of(conversation).mapped("state")), {"sent"})

        uploads = [r for r in self.graph.requests if r.method == "POST" and r.path.endswith("/media")]
        self.assertEqual([r.path for r in uploads], [f"/v21.0/{PHONE_NUMBER_ID}/media"] * 2)
        for upload in uploads:
            self.assertTrue(upload.headers["Content-Type"].startswith("multipart/form-data"))
        by_name = {media["filename"]: (media_id, media) for media_id, media in self.graph.media.items()}
        photo_id, photo_media = by_name["camiseta-azul.png"]
        quote_id, quote_media = by_name["presupuesto.pdf"]
        self.assertEqual((photo_media["content"], photo_media["mime_type"]), (PNG, "image/png"))
        self.assertEqual((quote_media["content"], quote_media["mime_type"]), (PDF, "application/pdf"))

        image, document = sorted(self.graph.sent, key=lambda s: s["type"] != "image")
        self.assertEqual(image["type"], "image")
        self.assertEqual(image["image"], {"id": photo_id, "caption": "Así queda en azul."})
        self.assertEqual(image["to"], WA_ID)
        self.assertEqual(document["type"], "document")
        self.assertEqual(
            document["document"],
            {"id": quote_id, "caption": "Aquí tienes el presupuesto.", "filename": "presupuesto.pdf"},
        )
        self.assertNotIn("text", image)
        self.assertEqual(len(self.graph.sent), 2, "the text travels as the caption, not as another message")

    # ------------------------------------------------------------ the 24-hour window
    def test_free_reply_refused_once_the_24_hour_window_closed(self):
        conversation = self.open_conversation(hours_ago=25).with_user(self.agent)
        self.assertFalse(conversation.reply_window_open)
        self.assertIn("closed", conversation.reply_window_note)
        self.assertIn("template", conversation.reply_window_note)
        with self.assertRaises(UserError) as caught:
            self.reply(conversation, "¿Sigues interesada?")
        self.assertIn("template", str(caught.exception).lower())
        self.assertIn("24 hours", str(caught.exception))
        self.assertFalse(self.outbox_of(conversation))
        self.assertFalse(self.graph.requests)

    def test_reply_window_note_says_the_time_left(self):
        conversation = self.open_conversation(hours_ago=1).with_user(self.agent)
        self.assertTrue(conversation.reply_window_open)
        self.assertRegex(conversation.reply_window_note, r"\b2[23] h \d\d min\b")
        self.assertNotIn("closed", conversation.reply_window_note)
        self.reply(conversation, "Claro, dime.")
        self.assertEqual(self.outbox_of(conversation).state, "queued")

    # ------------------------------------------------------------ templates
    def use_templates(self, templates, page_size=2):
        self.addCleanup(setattr, self.graph, "templates", self.graph.templates)
        self.addCleanup(setattr, self.graph, "page_size", self.graph.page_size)
        self.graph.templates = templates
        self.graph.page_size = page_size

    def sync_templates(self):
        return self.channel.with_user(self.manager).action_sync_whatsapp_templates()

    def test_template_sync_reads_every_page_creates_updates_archives(self):
        self.use_templates(
            [
                meta_template("pedido_listo"),
                meta_template("pedido_listo", "Hello {{1}}, your order is ready.", language="en_US"),
                meta_template("cita", "Hola {{1}}, te esperamos el {{2}}.", status="PENDING"),
                meta_template("oferta", "Descuentos para ti", status="REJECTED"),
                meta_template("gracias", "Gracias por tu compra."),
            ]
        )
        action = self.sync_templates()
        self.assertIn("5 templates: 5 new, 0 no longer on Meta.", action["params"]["message"])
        pages = [r for r in self.graph.requests if r.path.endswith(f"/{WABA_ID}/message_templates")]
        self.assertEqual(len(pages), 3, "two per page: three pages")
        Template = self.env["omnichannel.whatsapp.template"].with_context(active_test=False)
        templates = Template.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(templates), 5)
        ready = templates.filtered(lambda t: t.name == "pedido_listo" and t.language == "es")
        self.assertEqual(ready.body, "Hola {{1}}, tu pedido está listo para recoger.")
        self.assertEqual((ready.status, ready.category, ready.variable_count), ("APPROVED", "UTILITY", 1))
        self.assertEqual(ready.meta_id, self.graph.templates[0]["id"])
        appointment = templates.filtered(lambda t: t.name == "cita")
        self.assertEqual((appointment.status, appointment.variable_count), ("PENDING", 2))

        # Meta approved "cita", deleted "oferta" and has a new one
        self.graph.templates = [t for t in self.graph.templates if t["name"] not in ("cita", "oferta")] + [
            meta_template("cita", "Hola {{1}}, te esperamos mañana a las {{2}}.", status="APPROVED"),
            meta_template("encuesta", "¿Qué tal te atendimos, {{1}}?"),
        ]
        action = self.sync_templates()
        self.assertIn("5 templates: 1 new, 1 no longer on Meta.", action["params"]["message"])
        templates = Template.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(templates), 6)
        self.assertEqual(appointment.status, "APPROVED")
        self.assertEqual(appointment.body, "Hola {{1}}, te esperamos mañana a las {{2}}.")
        self.assertTrue(appointment.active)
        self.assertFalse(templates.filtered(lambda t: t.name == "oferta").active)
        self.assertEqual(templates.filtered("active").mapped("name").count("pedido_listo"), 2)

    def test_template_sync_is_for_managers(self):
        self.use_templates([meta_template("pedido_listo")])
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).action_sync_whatsapp_templates()
        self.assertFalse(self.env["omnichannel.whatsapp.template"].search([("channel_id", "=", self.channel.id)]))

    def template_form(self, conversation):
        action = conversation.with_user(self.agent).action_send_whatsapp_template()
        return Form(self.env[action["res_model"]].with_user(self.agent).with_context(**action["context"]))

    def offered(self, form):
        """What the template field lets the agent pick, as the web client searches it."""
        field = self.env["omnichannel.whatsapp.template.send"]._fields["template_id"]
        domain = safe_eval(field.domain, {"channel_id": form.channel_id.id})
        return self.env["omnichannel.whatsapp.template"].with_user(self.agent).search(domain)

    def test_template_send_outside_the_window(self):
        self.use_templates(
            [
                meta_template("pedido_listo"),
                meta_template("cita", "Hola {{1}}, te esperamos el {{2}}.", status="PENDING"),
                meta_template("oferta", "Descuentos para ti", status="REJECTED"),
            ]
        )
        self.sync_templates()
        templates = self.env["omnichannel.whatsapp.template"].search([("channel_id", "=", self.channel.id)])
        ready = templates.filtered(lambda t: t.name == "pedido_listo")
        conversation = self.open_conversation(hours_ago=30)
        self.assertFalse(conversation.reply_window_open)

        form = self.template_form(conversation)
        self.assertEqual(self.offered(form), ready, "only approved templates are offered")
        form.template_id = ready
        self.assertEqual(form.values, CUSTOMER)
        self.assertEqual(form.preview, f"Hola {CUSTOMER}, tu pedido está listo para recoger.")
        wizard = form.save()
        wizard.action_send()
        self.assertFalse(self.message_requests(), "sent by the worker, not in the agent's transaction")
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.assertEqual(self.send_queued(), 1)
        self.assertEqual(outbox.state, "sent")

        (request,) = self.message_requests()
        self.assertEqual(
            json.loads(request.body),
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": WA_ID,
                "biz_opaque_callback_data": outbox.key,
                "type": "template",
                "template": {
                    "name": "pedido_listo",
                    "language": {"code": "es"},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": CUSTOMER}]}],
                },
            },
        )
        interaction = outbox.interaction_id.with_user(self.agent)
        self.assertEqual(interaction.external_id, self.graph.sent[0]["wamid"])
        self.assertIn("pedido_listo", interaction.summary)
        self.assertIn(interaction, conversation.with_user(self.agent).interaction_ids)
        posted = conversation.message_ids.filtered(lambda m: m.author_id == self.agent.partner_id)
        self.assertEqual(len(posted), 1)
        self.assertIn(f"Hola {CUSTOMER}, tu pedido está listo para recoger.", posted.body)
        self.assertEqual(outbox.mail_message_id, posted)

    def test_template_send_refuses_unapproved_and_empty_variables(self):
        self.use_templates(
            [
                meta_template("pedido_listo"),
                meta_template("cita", "Hola {{1}}, te esperamos el {{2}}.", status="PENDING"),
            ]
        )
        self.sync_templates()
        Template = self.env["omnichannel.whatsapp.template"]
        pending = Template.search([("channel_id", "=", self.channel.id), ("name", "=", "cita")])
        ready = Template.search([("channel_id", "=", self.channel.id), ("name", "=", "pedido_listo")])
        conversation = self.open_conversation()
        Wizard = self.env["omnichannel.whatsapp.template.send"].with_user(self.agent)
        wizard = Wizard.create(
            {"conversation_id": conversation.id, "template_id": pending.id, "values": "Sheena\nel lunes"}
        )
        with self.assertRaises(UserError) as caught:
            wizard.action_send()
        self.assertIn("approved", str(caught.exception))

        wizard = Wizard.create({"conversation_id": conversation.id, "template_id": ready.id, "values": "  "})
        with self.assertRaises(UserError) as caught:
            wizard.action_send()
        self.assertIn("variable", str(caught.exception))
        self.assertFalse(self.outbox_of(conversation))
        self.assertEqual(self.send_queued(), 0)
        self.assertFalse(self.message_requests())

    # ------------------------------------------------------------ consent
    def test_opted_out_customer_gets_nothing(self):
        self.use_templates([meta_template("pedido_listo")])
        self.sync_templates()
        conversation = self.open_conversation()
        self.open_conversation("STOP")
        self.assertTrue(self.env["omnichannel.consent"]._opted_out(conversation.partner_id, self.channel))
        with self.assertRaises(UserError) as caught:
            self.reply(conversation, "¿Seguro que no quieres más mensajes?")
        self.assertIn("opted out", str(caught.exception))
        self.assertIn(CUSTOMER, str(caught.exception))

        ready = self.env["omnichannel.whatsapp.template"].search([("channel_id", "=", self.channel.id)])
        wizard = (
            self.env["omnichannel.whatsapp.template.send"]
            .with_user(self.agent)
            .create({"conversation_id": conversation.id, "template_id": ready.id})
        )
        self.assertEqual(wizard.values, CUSTOMER)
        with self.assertRaises(UserError) as caught:
            wizard.action_send()
        self.assertIn("opted out", str(caught.exception))
        self.assertFalse(self.outbox_of(conversation))
        self.assertEqual(self.send_queued(), 0)
        self.assertFalse(self.message_requests())

    def test_marketing_opt_out_blocks_marketing_templates_only(self):
        promo = meta_template("rebajas", body="{{1}}, rebajas de otoño: un 20 % en toda la tienda.")
        promo["category"] = "MARKETING"
        self.use_templates([meta_template("pedido_listo"), promo])
        self.sync_templates()
        conversation = self.open_conversation()
        self.env["omnichannel.consent"]._record(
            [
                {
                    "partner_id": conversation.partner_id.id,
                    "channel_id": self.channel.id,
                    "opt": "out",
                    "scope": "marketing",
                    "date": fields.Datetime.now(),
                    "source": "provider",
                }
            ]
        )
        Template = self.env["omnichannel.whatsapp.template"]
        Wizard = self.env["omnichannel.whatsapp.template.send"].with_user(self.agent)
        marketing = Wizard.create(
            {
                "conversation_id": conversation.id,
                "template_id": Template.search([("name", "=", "rebajas"), ("channel_id", "=", self.channel.id)]).id,
            }
        )
        with self.assertRaisesRegex(UserError, "marketing"):
            marketing.action_send()
        service = Wizard.create(
            {
                "conversation_id": conversation.id,
                "template_id": Template.search(
                    [("name", "=", "pedido_listo"), ("channel_id", "=", self.channel.id)]
                ).id,
            }
        )
        service.action_send()
        self.assertEqual(self.send_queued(), 1)
        self.assertEqual([sent["template"]["name"] for sent in self.graph.sent], ["pedido_listo"])

    # ------------------------------------------------------------ settings
    def test_connection_test_reports_the_number(self):
        action = self.channel.with_user(self.admin).action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        message = action["params"]["message"]
        self.assertIn("Tienda Bilbao", message)
        self.assertIn("+1 555-078-3881", message)
        self.assertIn("GREEN", message)
        self.assertEqual(
            (self.channel.wa_verified_name, self.channel.wa_display_phone_number, self.channel.wa_quality_rating),
            ("Tienda Bilbao", "+1 555-078-3881", "GREEN"),
        )
        (request,) = self.graph.requests
        self.assertEqual(request.path, f"/v21.0/{PHONE_NUMBER_ID}")

    def test_connection_test_with_a_bad_token_says_what_meta_said(self):
        self.channel.with_user(self.admin).wa_access_token = "EAAG-revoked"
        with self.assertRaises(UserError) as caught:
            self.channel.with_user(self.admin).action_test_connection()
        self.assertIn("Invalid OAuth access token", str(caught.exception))
        self.assertIn("190", str(caught.exception))
        self.assertFalse(self.channel.wa_verified_name)
