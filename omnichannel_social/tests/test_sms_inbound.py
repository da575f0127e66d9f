"""SMS and MMS from customers through Twilio's webhook, signed as Twilio signs (the official
``twilio`` library's RequestValidator), and the channel's settings and keywords."""

import base64
import json
from urllib.parse import parse_qsl, quote

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..models.omnichannel_provider_twilio import EMPTY_TWIML
from ..tools.twilio_client import TwilioClient, TwilioError
from .common import CONTRACTS
from .sms_common import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER_PHONE, FROM_NUMBER, SmsCase, new_sid

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
LONG = (
    "Hola 👋, os escribo porque el pedido nº 2.345 llegó con la caja rota 😢. ¿Podéis cambiarme la "
    "camiseta talla M por una L? Añado que el envío fue rapidísimo, ¡gracias! 🙏🏽 Niño, señal, "
    "pingüino, acción, corazón ❤️‍🔥, 👨‍👩‍👧‍👦.\n"
) * 12  # over 1,600 characters, as Twilio joins the segments of a long SMS


@tagged("post_install", "-at_install")
class TestSmsInbound(SmsCase):
    def inbox(self):
        return self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)])

    # ------------------------------------------------------------ messages
    def test_long_sms_with_accents_and_emoji_lands_intact_on_the_phone_contact(self):
        self.assertGreater(len(LONG), 1600)
        params = self.sms(LONG)
        response = self.deliver(params)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(response.headers["Content-Type"].startswith("text/xml"))
        self.assertEqual(response.text, EMPTY_TWIML)
        self.assertEqual(self.process(), 1)
        interaction = self.interaction(dict(params)["MessageSid"]).with_user(self.agent)
        self.assertEqual(interaction.direction, "inbound")
        self.assertEqual(interaction.mail_message_id.body.striptags().replace("\xa0", " ").strip()[:60], LONG[:60])
        # Every character reached the chatter, the emoji sequences whole
        stored = self.inbox()[0]
        self.assertEqual(dict(parse_qsl(stored.payload))["Body"], LONG)
        self.assertIn("👨‍👩‍👧‍👦", interaction.mail_message_id.body)
        self.assertIn("❤️‍🔥", interaction.mail_message_id.body)
        partner = interaction.partner_id
        self.assertEqual(partner.omni_identity_ids.filtered(lambda i: i.kind == "phone").value, CUSTOMER_PHONE)
        self.assertEqual(interaction.conversation_id.team_id, self.team)

    def test_documented_contracts(self):
        """Twilio's documented shapes (tests/data/contracts), as posted, signed for this channel."""
        sms = parse_qsl((CONTRACTS / "twilio_inbound_sms.txt").read_text(), keep_blank_values=True)
        mms_text = (
            (CONTRACTS / "twilio_inbound_mms.txt")
            .read_text()
            .replace("https%3A%2F%2Fapi.twilio.com", quote(self.twilio.url, safe=""))
        )
        mms = parse_qsl(mms_text, keep_blank_values=True)
        media_url = dict(mms)["MediaUrl0"]
        self.twilio.add_media(PNG, "image/jpeg", dict(mms)["MessageSid"], media_url.rsplit("/", 1)[1])
        for form in (sms, mms):
            self.assertEqual(self.deliver(form).status_code, 200)
        self.assertEqual(self.process(), 2)
        text = self.interaction(dict(sms)["MessageSid"])
        self.assertIn("¿tenéis la talla M? 👍", text.mail_message_id.body)
        self.download_media()
        picture = self.interaction(dict(mms)["MessageSid"])
        self.assertEqual(picture.partner_id, text.partner_id)
        self.assertEqual(picture.mail_message_id.attachment_ids.raw, PNG)
        # The fake answers sends and errors in Twilio's documented shapes
        created = json.loads((CONTRACTS / "twilio_message_create_response.json").read_text())
        client = TwilioClient(self.twilio.url, ACCOUNT_SID, AUTH_TOKEN)
        answer = client.send_message({"To": CUSTOMER_PHONE, "From": FROM_NUMBER, "Body": created["body"]})
        self.assertEqual(set(answer), set(created))
        error = json.loads((CONTRACTS / "twilio_error.json").read_text())
        with self.assertRaises(TwilioError) as caught:
            client.send_message({"To": "+346", "From": FROM_NUMBER, "Body": "x"})
        self.assertEqual((caught.exception.code, caught.exception.status), (error["code"], error["status"]))
        self.assertFalse(caught.exception.transient)

    def test_customer_known_by_phone_elsewhere_is_the_same_contact(self):
        known = self.env["res.partner"].create({"name": "Ane Etxeberria", "phone": "612 34 56 78"})
        interaction = self.receive("¿Abrís el sábado?")
        self.assertEqual(interaction.partner_id, known)
        second = self.receive("Gracias")
        self.assertEqual(second.conversation_id, interaction.conversation_id)

    def test_redelivery_is_stored_and_applied_once(self):
        params = self.sms("Quiero devolver un pedido")
        self.assertEqual(self.deliver(params).status_code, 200)
        self.assertEqual(self.deliver(params).status_code, 200)
        # Twilio's retry may carry another field (or another order): the same MessageSid and status
        self.assertEqual(self.deliver([*reversed(params), ("AddOns", '{"status":"successful"}')]).status_code, 200)
        self.assertEqual(len(self.inbox()), 1)
        self.process()
        self.assertEqual(len(self.interaction(dict(params)["MessageSid"])), 1)

    def test_mms_files_are_downloaded_in_the_background_with_the_account_credentials(self):
        sid = new_sid("MM")
        urls = [self.twilio.add_media(PNG, "image/png", sid), self.twilio.add_media(b"BEGIN:VCARD", "text/vcard", sid)]
        params = self.sms("", sid=sid, media=[(urls[0], "image/png"), (urls[1], "text/vcard")])
        self.assertEqual(self.deliver(params).status_code, 200)
        self.process()
        interaction = self.interaction(sid)
        self.assertIn("📎", interaction.mail_message_id.body)
        self.assertFalse(interaction.mail_message_id.attachment_ids, "files follow in the background")
        self.download_media()
        attachments = interaction.mail_message_id.attachment_ids
        self.assertEqual(sorted(attachments.mapped("mimetype")), ["image/png", "text/vcard"])
        self.assertEqual(attachments.filtered(lambda a: a.mimetype == "image/png").raw, PNG)
        media_calls = [r for r in self.twilio.requests if "/Media/" in r.path]
        self.assertEqual(len(media_calls), 2)
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        self.assertTrue(all(r.headers["Authorization"] == expected for r in media_calls))
        # The redirect target (Twilio's media host) never gets the credentials
        cdn_calls = [r for r in self.twilio.requests if r.path.startswith("/cdn/")]
        self.assertEqual(len(cdn_calls), 2)

    def test_mms_download_faults_are_retried_and_foreign_urls_refused(self):
        sid = new_sid("MM")
        url = self.twilio.add_media(PNG, "image/jpeg", sid)
        foreign = "https://evil.example.com/2010-04-01/Accounts/x/Messages/y/Media/z"
        self.deliver(self.sms("Mira", sid=sid, media=[(url, "image/jpeg"), (foreign, "image/jpeg")]))
        self.process()
        self.twilio.inject("GET", r"/Media/", status=503, retry_after=7)
        self.download_media()
        media = self.env["omnichannel.media"].search([("interaction_id", "=", self.interaction(sid).id)])
        self.assertEqual(len(media), 2)
        ours, theirs = media.sorted(lambda m: m.ref != url)
        self.assertEqual(ours.state, "pending")
        self.assertIn("20503", ours.error)
        self.assertEqual(theirs.state, "failed", "the credentials never go to another host")
        self.assertIn("not on the Twilio API", theirs.error)
        ours.next_attempt = "2000-01-01 00:00:00"
        self.download_media()
        self.assertEqual(ours.state, "done")
        self.assertEqual(ours.attachment_id.raw, PNG)

    def test_sender_that_is_no_phone_number_is_kept_by_its_address(self):
        interaction = self.receive("Tu código es 1234", sender="TIENDA")
        identity = interaction.partner_id.omni_identity_ids
        self.assertEqual(identity.mapped("value"), ["sms:TIENDA"])

    # ------------------------------------------------------------ authenticity
    def test_forged_deliveries_are_refused_and_not_stored(self):
        params = self.sms("Soy Twilio, de verdad")
        good = self.sign(params, self.webhook_url())
        tampered = [(name, "Otro texto" if name == "Body" else value) for name, value in params]
        no_token = self.env["omnichannel.channel"].create({"name": "SMS sin token", "channel_type": "sms"})
        forgeries = {
            "unsigned": self.post_form(params, signature=None),
            "empty": self.post_form(params, signature=""),
            "another token": self.post_form(params, token="another-token"),
            "another URL": self.post_form(params, url="https://evil.example.com" + self.webhook_path),
            "tampered body": self.post_form(tampered, signature=good),
            "extra field": self.post_form([*params, ("OptOutType", "STOP")], signature=good),
            "sha256": self.post_form(params, signature=base64.b64encode(b"x" * 32).decode()),
            "JSON body": self.opener.post(
                self.webhook_url(),
                data=b'{"MessageSid": "SMx"}',
                headers={"Content-Type": "application/json", "X-Twilio-Signature": self.sign([], self.webhook_url())},
            ),
            "channel without token": self.opener.post(
                self.base_url() + "/omnichannel/webhook/twilio/" + no_token.sudo().webhook_key,
                data=params,
                headers={"X-Twilio-Signature": self.sign(params, self.base_url() + "/x", token="")},
            ),
        }
        for name, response in forgeries.items():
            with self.subTest(name):
                self.assertEqual(response.status_code, 403, response.text)
                self.assertEqual(response.json()["error"], "invalid_signature")
        self.assertFalse(self.env["omnichannel.inbox"].search([("provider", "=", "twilio")]))

    def test_signature_for_the_url_given_to_twilio_behind_a_proxy(self):
        """Twilio signs the URL it was given (the public one); Odoo may receive another (a proxy
        without proxy_mode): the channel's webhook URL is accepted too, with or without the port."""
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://crm.example.com")
        public = "https://crm.example.com" + self.webhook_path
        self.assertEqual(self.channel.sudo().webhook_url, public)
        for url in (public, "https://crm.example.com:443" + self.webhook_path, self.webhook_url()):
            with self.subTest(url):
                params = self.sms("Hola desde el proxy")
                self.assertEqual(self.post_form(params, url=url).status_code, 200)
        self.assertEqual(
            self.post_form(self.sms("x"), url="https://other.example.com" + self.webhook_path).status_code, 403
        )

    def test_unparseable_but_authentic_is_kept_failed_and_replayable(self):
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("omnichannel.max_body_chars", "100")
        params = self.sms("x" * 150)
        odd = [("MessageSid", new_sid()), ("MessageStatus", "teleported"), ("AccountSid", ACCOUNT_SID)]
        for form in (params, odd):
            self.assertEqual(self.deliver(form).status_code, 200)
        self.process()
        too_long, unknown = self.inbox().sorted("id")
        self.assertEqual((too_long.state, unknown.state), ("failed", "failed"))
        self.assertIn("teleported", unknown.error)
        self.assertFalse(self.interaction(dict(params)["MessageSid"]))
        with self.assertRaises(AccessError):
            too_long.with_user(self.agent).action_replay()
        ICP.set_param("omnichannel.max_body_chars", "65536")
        answer = too_long.with_user(self.admin).action_replay()
        self.assertEqual(answer["params"]["type"], "success", answer["params"]["message"])
        self.assertEqual(too_long.state, "done")
        self.assertTrue(self.interaction(dict(params)["MessageSid"]))

    def test_delivery_key(self):
        provider = self.env["omnichannel.provider.twilio"]

        class Request:
            def __init__(self, form):
                self.form = form

        sid = new_sid()
        self.assertEqual(
            provider._delivery_key(self.channel, Request(dict(self.status(sid, "sent"))), b""),
            f"{self.channel.id}:{sid}:sent",
        )
        self.assertIsNone(provider._delivery_key(self.channel, Request({}), b""))
        self.assertIsNone(provider._delivery_key(self.channel, Request({"MessageSid": "x" * 500}), b""))

    # ------------------------------------------------------------ consent
    def test_stop_baja_start_alta_keywords(self):
        self.assertIn("BAJA", self.channel.opt_out_keywords)
        self.assertIn("STOPALL", self.channel.opt_out_keywords, "SMS channels know the carriers' keywords")
        self.assertIn("ALTA", self.channel.opt_in_keywords)
        Consent = self.env["omnichannel.consent"]
        first = self.receive("Hola, ¿tenéis la talla M?")
        customer, conversation = first.partner_id, first.conversation_id
        for word, opted_out in (("STOP", True), ("start", False), ("Baja.", True), ("ALTA", False)):
            with self.subTest(word):
                self.receive(word)
                self.assertEqual(Consent._opted_out(customer, self.channel), opted_out)
                if opted_out:
                    with self.assertRaises(UserError):
                        self.reply(conversation, "¿Seguro?")
        self.assertEqual(Consent.search([("partner_id", "=", customer.id)]).mapped("source"), ["keyword"] * 4)
        self.reply(conversation, "¡Bienvenida de nuevo!")
        self.assertEqual(self.send_queued(), 1)

    def test_twilio_advanced_opt_out_signal_is_recorded(self):
        """Twilio's Advanced Opt-Out may match words of its own (set in its console): it says so
        with OptOutType, which counts even when the words are not the channel's keywords."""
        Consent = self.env["omnichannel.consent"]
        interaction = self.receive("Parad ya", opt_out_type="STOP")
        customer = interaction.partner_id
        self.assertTrue(Consent._opted_out(customer, self.channel))
        consent = Consent.search([("partner_id", "=", customer.id)])
        self.assertEqual((consent.source, consent.opt), ("provider", "out"))
        self.assertIn("OptOutType STOP", consent.reason)
        with self.assertRaises(UserError):
            self.reply(interaction.conversation_id, "Perdona")
        self.receive("STOP", opt_out_type="STOP")  # a keyword and the signal: one choice recorded
        self.assertEqual(len(Consent.search([("partner_id", "=", customer.id)])), 1)
        self.receive("Vale, seguid", opt_out_type="START")
        self.assertFalse(Consent._opted_out(customer, self.channel))

    # ------------------------------------------------------------ channel settings
    def test_channel_settings_are_checked_and_the_token_is_for_administrators(self):
        with self.assertRaises(ValidationError):
            self.channel.twilio_from_number = "910 00 00 01"
        with self.assertRaises(ValidationError):
            self.channel.twilio_account_sid = "AC123"
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).read(["twilio_auth_token"])
        self.assertEqual(self.channel.with_user(self.agent).twilio_from_number, FROM_NUMBER)
        other = self.env["omnichannel.channel"].create({"name": "SMS Sevilla", "channel_type": "sms"})
        self.assertEqual(other.provider, "twilio")
        self.assertIn("STOP", other.opt_out_keywords)
        custom = self.env["omnichannel.channel"].create(
            {"name": "SMS propio", "channel_type": "sms", "opt_out_keywords": "PARAR"}
        )
        self.assertEqual(custom.opt_out_keywords, "PARAR", "what the administrator typed is kept")

    def test_test_connection(self):
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).action_test_connection()
        answer = self.channel.with_user(self.admin).action_test_connection()
        self.assertIn("Tienda Bilbao", answer["params"]["message"])
        self.assertIn(FROM_NUMBER, answer["params"]["message"])
        self.channel.twilio_from_number = "+34910000009"
        with self.assertRaisesRegex(UserError, "not one of this Twilio account's numbers"):
            self.channel.with_user(self.admin).action_test_connection()
        self.channel.sudo().twilio_auth_token = "wrong"
        with self.assertRaisesRegex(UserError, "20003"):
            self.channel.with_user(self.admin).action_test_connection()

    def test_form_view_shows_the_twilio_settings(self):
        arch = (
            self.env["omnichannel.channel"].with_user(self.admin).get_views([(False, "form")])["views"]["form"]["arch"]
        )
        for field in ("twilio_account_sid", "twilio_auth_token", "twilio_from_number", "twilio_messaging_service_sid"):
            self.assertIn(field, arch)
        self.assertNotIn("twilio_auth_token", self.env["omnichannel.channel"].with_user(self.agent).get_views(
            [(False, "form")])["views"]["form"]["arch"])  # fmt: skip
