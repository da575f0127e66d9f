"""Agents' SMS replies through the outbox to the local Twilio API, and Twilio's status callbacks."""

import base64
import time
from datetime import timedelta

from markupsafe import Markup

from odoo import fields
from odoo.tests import tagged

from .sms_common import ACCOUNT_SID, CUSTOMER_PHONE, FROM_NUMBER, READ_TIMEOUT, SERVICE_SID, SmsCase

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@tagged("post_install", "-at_install")
class TestSmsOutbox(SmsCase):
    def open_conversation(self, text="Hola, ¿tenéis la talla M?"):
        return self.receive(text).conversation_id

    def outbox_of(self, conversation):
        return self.env["omnichannel.outbox"].search([("conversation_id", "=", conversation.id)])

    def create_requests(self):
        return [r for r in self.twilio.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    def make_due(self, outbox):
        outbox.write({"next_attempt": fields.Datetime.now() - timedelta(seconds=1)})

    # ------------------------------------------------------------ sends and statuses
    def test_reply_sent_with_status_callback_and_statuses_move_forward(self):
        conversation = self.open_conversation()
        self.reply(conversation, Markup("<p>Sí, te la guardo 👍. <b>¡Hasta mañana!</b></p>"))
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.assertFalse(self.twilio.requests, "the agent's transaction never calls Twilio")
        self.assertEqual(self.send_queued(), 1)
        (request,) = self.create_requests()
        self.assertEqual(request.path, f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
        self.assertEqual(
            dict(request.form),
            {
                "To": CUSTOMER_PHONE,
                "From": FROM_NUMBER,
                "Body": "Sí, te la guardo 👍. ¡Hasta mañana!",
                "StatusCallback": f"{self.webhook_url()}?outbox={outbox.key}",
            },
        )
        sid = self.twilio.sent[0]["sid"]
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.external_id, sid)
        interaction = outbox.interaction_id.with_user(self.agent)
        self.assertEqual(interaction.delivery_state, "sent")

        # Twilio posts queued, sent, delivered, signed with the account's token
        responses = self.twilio.post_callbacks()
        self.assertEqual([r.status_code for r in responses], [200, 200, 200])
        self.process()
        self.assertEqual(interaction.delivery_state, "delivered")
        # Redelivered and late callbacks change nothing
        self.deliver(self.status(sid, "delivered"))
        self.deliver(self.status(sid, "sent"))
        self.process()
        self.assertEqual(interaction.delivery_state, "delivered")
        self.assertEqual(len(self.twilio.sent), 1)

    def test_undelivered_says_the_code_and_its_meaning(self):
        self.twilio.fates[CUSTOMER_PHONE] = ("undelivered", 30003)
        conversation = self.open_conversation()
        self.reply(conversation, "Tu pedido ya ha salido.")
        self.send_queued()
        self.twilio.post_callbacks()
        self.process()
        interaction = self.outbox_of(conversation).interaction_id
        self.assertEqual(interaction.delivery_state, "failed")
        self.assertIn("30003", interaction.delivery_error)
        self.assertIn("switched off or out of coverage", interaction.delivery_error)
        self.assertTrue(self.notes(conversation, "30003"))

    def test_failed_status_of_unknown_code_uses_twilio_message(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Hola")
        self.send_queued()
        sid = self.twilio.sent[0]["sid"]
        params = [*self.status(sid, "failed", error_code=30999), ("ErrorMessage", "Something odd")]
        self.deliver(params)
        self.process()
        self.assertEqual(self.outbox_of(conversation).interaction_id.delivery_error, "(30999) Something odd")

    def test_unsubscribed_in_a_status_callback_opts_the_customer_out(self):
        self.twilio.fates[CUSTOMER_PHONE] = ("failed", 21610)
        conversation = self.open_conversation()
        self.reply(conversation, "Oferta de la semana")
        self.send_queued()
        self.twilio.post_callbacks()
        self.process()
        Consent = self.env["omnichannel.consent"]
        self.assertTrue(Consent._opted_out(conversation.partner_id, self.channel))
        self.assertIn("21610", Consent.search([("partner_id", "=", conversation.partner_id.id)]).reason)

    def test_messaging_service_and_public_media_urls(self):
        self.channel.write({"twilio_messaging_service_sid": SERVICE_SID})
        conversation = self.open_conversation()
        attachment = self.env["ir.attachment"].create(
            {"name": "talla.png", "raw": PNG, "res_model": "omnichannel.conversation", "res_id": conversation.id}
        )
        self.reply(conversation, "Así queda", attachment_ids=attachment.ids)
        self.send_queued()
        (request,) = self.create_requests()
        form = dict(request.form)
        self.assertEqual(form["MessagingServiceSid"], SERVICE_SID)
        self.assertNotIn("From", form)
        (media_url,) = [value for name, value in request.form if name == "MediaUrl"]
        self.assertTrue(media_url.startswith(f"{self.base_url()}/web/content/"), media_url)
        self.assertIn("access_token=", media_url)
        # Twilio fetches it without logging in
        self.opener.cookies.clear()
        response = self.opener.get(media_url, timeout=30)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, PNG)

    def test_long_reply_is_split_at_twilio_limit_without_cutting_emoji(self):
        conversation = self.open_conversation()
        text = ("Palabra 😀 " * 400).strip()  # 4,399 characters
        self.reply(conversation, text)
        self.send_queued()
        bodies = [dict(r.form)["Body"] for r in self.create_requests()]
        self.assertEqual(len(bodies), 3)
        self.assertTrue(all(len(body) <= 1600 for body in bodies))
        self.assertEqual(" ".join(bodies), text)
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.external_id, self.twilio.sent[-1]["sid"])

    # ------------------------------------------------------------ faults
    def test_rate_limit_is_retried_after_twilio_wait(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Te llamo luego")
        self.twilio.inject("POST", r"/Messages\.json$", status=429, retry_after=120)
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.assertIn("20429", outbox.error)
        self.assertGreaterEqual(outbox.next_attempt, fields.Datetime.now() + timedelta(seconds=110))
        self.make_due(outbox)
        self.send_queued()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(len(self.twilio.sent), 1)

    def test_server_errors_are_retried(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Te llamo luego")
        self.twilio.inject("POST", r"/Messages\.json$", status=503)
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.twilio.inject("POST", r"/Messages\.json$", status=502, body="<html>Bad gateway</html>")
        self.make_due(outbox)
        self.send_queued()
        self.assertEqual(outbox.state, "queued")
        self.assertIn("502", outbox.error)
        self.make_due(outbox)
        self.send_queued()
        self.assertEqual(outbox.state, "sent")

    def test_timeout_is_not_sent_twice(self):
        conversation = self.open_conversation()
        self.reply(conversation, "¿Te viene bien el martes?")
        self.twilio.inject("POST", r"/Messages\.json$", delay=READ_TIMEOUT * 4)
        started = time.monotonic()
        self.send_queued()
        self.assertLess(time.monotonic() - started, READ_TIMEOUT * 3)
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "failed")
        self.assertIn("may have been sent", outbox.error)
        self.make_due(outbox)
        self.assertEqual(self.send_queued(), 0)

    def test_timed_out_send_is_reconciled_by_its_status(self):
        """Twilio took the SMS but its answer was lost: the status callback, whose URL carries the
        outbox key, tells which row it was, and the row is sent (no agent retries it twice)."""
        conversation = self.open_conversation()
        self.reply(conversation, "¿Te viene bien el martes?")
        self.twilio.inject("POST", r"/Messages\.json$", delay=READ_TIMEOUT * 2)
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "failed")
        deadline = time.monotonic() + READ_TIMEOUT * 4
        while not self.twilio.sent and time.monotonic() < deadline:  # the fake answers late, but creates it
            time.sleep(0.05)
        (sent,) = self.twilio.sent
        responses = self.twilio.post_callbacks()
        self.assertTrue(responses and all(r.status_code == 200 for r in responses))
        self.process()
        self.assertEqual((outbox.state, outbox.external_id), ("sent", sent["sid"]))
        self.assertIn(outbox.interaction_id.delivery_state, ("sent", "delivered"))

    def test_refusals_fail_with_a_readable_reason(self):
        conversation = self.open_conversation()
        self.reply(conversation, "Hola")
        self.twilio.inject("POST", r"/Messages\.json$", code=21211, message="Invalid 'To' Phone Number: +346")
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "failed")
        self.assertIn("not a valid phone number", outbox.error)
        self.assertTrue(self.notes(conversation, "21211"))
        self.assertEqual(outbox.interaction_id.delivery_state, "failed")

    def test_unsubscribed_recipient_refused_and_opted_out(self):
        conversation = self.open_conversation()
        self.twilio.unsubscribed.add(CUSTOMER_PHONE)
        self.reply(conversation, "Novedades de la semana")
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "failed")
        self.assertIn("21610", outbox.error)
        Consent = self.env["omnichannel.consent"]
        self.assertTrue(Consent._opted_out(conversation.partner_id, self.channel))
        consent = Consent.search([("partner_id", "=", conversation.partner_id.id)])
        self.assertEqual(consent.source, "provider")
        with self.assertRaises(Exception):  # noqa: B017 (UserError from the consent check)
            self.reply(conversation, "¿Sigues ahí?")
        # Texting START lifts it
        self.twilio.unsubscribed.clear()
        self.receive("START")
        self.reply(conversation, "¡Hola de nuevo!")
        self.send_queued()
        self.assertEqual(len(self.twilio.sent), 1)
