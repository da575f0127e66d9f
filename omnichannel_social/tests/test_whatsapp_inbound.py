"""WhatsApp Cloud API inbound, end to end: Meta's signed deliveries posted to the real webhook
route, processed as the inbox cron does, files fetched from the local Graph API server.

Payloads follow Meta's "messages webhook reference" (one page per message type), the
"user_preferences webhook reference" and tests/data/contracts/whatsapp_*.json, with fresh
timestamps and message ids.
"""

import base64
import json
import secrets
from urllib.parse import urlencode

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import html2plaintext

from .common import APP_SECRET, CONTRACTS, PHONE_NUMBER_ID, WABA_ID, WhatsappCase, meta_signature

BUSINESS_NUMBER = "15550783881"  # the channel's display number, as Meta writes it in metadata
SHEENA = "16505551234"  # Meta's example customer
OTHER_PHONE_NUMBER_ID = "106540352242923"  # a second number of the same WhatsApp Business Account


def new_wamid():
    """A message id as Meta's look (``wamid.`` + base64), never seen before."""
    return "wamid.HBgL" + base64.b64encode(secrets.token_bytes(27)).decode()


def contract(name):
    return json.loads((CONTRACTS / name).read_text())


class WhatsappInboundCase(WhatsappCase):
    """Shared builders: a message as Meta shapes it, received and processed as Odoo does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        manager_group = cls.env.ref("omnichannel_base.group_omnichannel_manager")
        Users = cls.env["res.users"].with_context(no_reset_password=True)
        cls.manager = Users.create(
            {"name": "Iker Responsable", "login": "iker.responsable", "groups_id": [(6, 0, manager_group.ids)]}
        )
        settings_group = cls.env.ref("base.group_system")
        cls.admin = Users.create(
            {
                "name": "Ane Administradora",
                "login": "ane.admin",
                "groups_id": [(6, 0, (manager_group | settings_group).ids)],
            }
        )

    # ------------------------------------------------------------ builders
    def message(self, kind, content=None, seconds_ago=0, **extra):
        """One entry of ``value.messages``: ``{"id", "timestamp", "type", <type>: content}`` (``from`` is
        added by ``inbound``)."""
        message = {
            "id": new_wamid(),
            "timestamp": str(int(self.now().timestamp()) - seconds_ago),
            "type": kind,
            **extra,
        }
        if content is not None:
            message[kind] = content
        return message

    def text(self, body, **extra):
        return self.message("text", {"body": body}, **extra)

    def preference(self, value, wa_id=SHEENA):
        """A ``user_preferences`` delivery (marketing messages stopped or resumed in WhatsApp)."""
        detail = {
            "stop": "User requested to stop marketing messages",
            "resume": "User requested to resume marketing messages",
        }
        return self.envelope(
            {
                "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": wa_id}],
                "user_preferences": [
                    {
                        "wa_id": wa_id,
                        "detail": detail[value],
                        "category": "marketing_messages",
                        "value": value,
                        "timestamp": int(self.now().timestamp()),
                    }
                ],
            },
            field="user_preferences",
        )

    # ------------------------------------------------------------ as Meta, then as the cron
    def receive(self, payload):
        """Deliver ``payload`` signed, check Meta got its 200, and process the inbox."""
        response = self.deliver(payload)
        self.assertEqual(response.status_code, 200, response.text)
        self.process()
        return response

    def receive_message(self, message, wa_id=SHEENA, name="Sheena Nelson"):
        """Receive one message; its timeline item."""
        self.receive(self.inbound(message, wa_id=wa_id, name=name))
        return self.interaction(message["id"])

    def post(self, path, body, signature=None):
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return self.url_open(path, data=body, headers=headers)

    # ------------------------------------------------------------ as the agent
    def reply(self, conversation, text):
        return conversation.with_user(self.agent).message_post(
            body=text, message_type="comment", subtype_xmlid="mail.mt_comment"
        )

    def sent_reply(self, conversation, text):
        """An agent's reply, sent to Meta by the outbox cron: its outbox row (``external_id`` = wamid)."""
        message = self.reply(conversation, text)
        self.send_queued()
        outbox = self.env["omnichannel.outbox"].search([("mail_message_id", "=", message.id)])
        self.assertEqual(outbox.state, "sent", outbox.error)
        return outbox

    # ------------------------------------------------------------ reading back
    @staticmethod
    def chatter_text(interaction):
        return html2plaintext(interaction.mail_message_id.body or "")

    def customer_messages(self, conversation):
        return conversation.message_ids.filtered(lambda m: m.author_id == conversation.partner_id)

    def inbox(self):
        return self.env["omnichannel.inbox"].search([])

    def consents(self, partner, channel=None):
        return self.env["omnichannel.consent"].search(
            [("partner_id", "=", partner.id), ("channel_id", "=", (channel or self.channel).id)], order="id"
        )


@tagged("post_install", "-at_install")
class TestWebhookAuthenticity(WhatsappInboundCase):
    def test_subscription_handshake(self):
        query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "verify-me"}
        answer = self.url_open(f"{self.webhook_path}?{urlencode(query)}")
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.text, "1158201444", "Meta expects the challenge echoed, and nothing else")
        self.assertEqual(answer.headers["Content-Type"].split(";")[0], "text/plain")

        query["hub.verify_token"] = "verify-you"
        answer = self.url_open(f"{self.webhook_path}?{urlencode(query)}")
        self.assertEqual(answer.status_code, 403)
        self.assertEqual(answer.json()["error"], "invalid_verify_token")
        self.assertNotIn("1158201444", answer.text)

        query["hub.verify_token"] = "verify-me"
        unknown = "/omnichannel/webhook/whatsapp_cloud/" + secrets.token_urlsafe(24)
        answer = self.url_open(f"{unknown}?{urlencode(query)}")
        self.assertEqual(answer.status_code, 404)
        self.assertEqual(answer.json()["error"], "unknown_webhook")

    def test_forged_deliveries_are_refused_and_not_stored(self):
        body = json.dumps(self.inbound(self.text("Soy Meta, de verdad"))).encode()
        other_body = json.dumps(self.inbound(self.text("Otro mensaje"))).encode()
        no_secret = self.env["omnichannel.channel"].create(
            {
                "name": "WhatsApp sin secreto",
                "channel_type": "whatsapp",
                "wa_phone_number_id": OTHER_PHONE_NUMBER_ID,
                "wa_access_token": "EAAG-other",
            }
        )
        no_secret_path = "/omnichannel/webhook/whatsapp_cloud/" + no_secret.webhook_key
        forgeries = {
            "no X-Hub-Signature-256": (self.webhook_path, None),
            "a wrong signature": (self.webhook_path, "sha256=" + "0" * 64),
            "the signature of another body": (self.webhook_path, meta_signature(other_body)),
            "a signature made with another secret": (self.webhook_path, meta_signature(body, "not-the-app-secret")),
            "a SHA-1 signature header value": (self.webhook_path, meta_signature(body).replace("sha256=", "sha1=")),
            "a channel without App Secret": (no_secret_path, meta_signature(body)),
            "an empty App Secret's signature": (no_secret_path, meta_signature(body, "")),
        }
        for case, (path, signature) in forgeries.items():
            with self.subTest(case):
                answer = self.post(path, body, signature)
                self.assertEqual(answer.status_code, 403, answer.text)
                self.assertEqual(answer.json()["error"], "invalid_signature")
        self.assertFalse(self.inbox(), "nothing forged is stored")
        self.assertEqual(self.process(), 0)
        # The same body, signed by Meta, is accepted: the refusals above were about the signature.
        self.assertEqual(self.post(self.webhook_path, body, meta_signature(body)).status_code, 200)
        self.assertEqual(len(self.inbox()), 1)

    def test_authentic_but_unusable_deliveries_are_kept_as_failed(self):
        not_json = b"<html><body>502 Bad Gateway</body></html>"
        self.assertEqual(self.deliver(not_json).status_code, 200, "authentic: Meta must not retry it for days")
        page = {"object": "page", "entry": [{"id": "1234", "time": 1739321024, "messaging": []}]}
        self.assertEqual(self.deliver(page).status_code, 200)
        self.process()
        deliveries = self.inbox()
        self.assertEqual(deliveries.mapped("state"), ["failed", "failed"])
        by_payload = {delivery.payload: delivery for delivery in deliveries}
        self.assertIn("not JSON", by_payload[not_json.decode()].error)
        self.assertIn("'page'", by_payload[json.dumps(page)].error)
        self.assertIn("whatsapp_business_account", by_payload[json.dumps(page)].error)
        self.assertFalse(self.env["omnichannel.interaction"].search([("channel_id", "=", self.channel.id)]))


@tagged("post_install", "-at_install")
class TestInboundMessageTypes(WhatsappInboundCase):
    def test_contract_text_names_a_new_contact(self):
        payload = contract("whatsapp_inbound_text.json")
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        message["timestamp"] = str(int(self.now().timestamp()))
        self.receive(payload)
        interaction = self.interaction(message["id"])
        self.assertRecordValues(
            interaction, [{"kind": "message", "direction": "inbound", "summary": "Does it come in another color?"}]
        )
        self.assertEqual(self.chatter_text(interaction), "Does it come in another color?")
        chatter = interaction.mail_message_id
        self.assertEqual((chatter.model, chatter.res_id), ("omnichannel.conversation", interaction.conversation_id.id))
        partner = interaction.partner_id
        self.assertEqual(chatter.author_id, partner, "the customer wrote it")
        self.assertEqual(partner.name, "Sheena Nelson", "the WhatsApp profile name names a new contact")
        self.assertEqual(partner.phone, "+16505551234")
        self.assertIn("whatsapp:16505551234", partner.omni_identity_ids.mapped("value"))
        self.assertEqual(interaction.conversation_id.channel_id, self.channel)

    def test_media_messages_get_their_file(self):
        # (type, what Meta puts in the message, bytes, chatter text)
        cases = [
            ("image", {"mime_type": "image/jpeg", "caption": "This one"}, b"\xff\xd8\xff\xe0\x00\x10JFIF", "This one"),
            (
                "document",
                {"mime_type": "application/pdf", "filename": "factura-2025-017.pdf"},
                b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
                "📎 factura-2025-017.pdf",
            ),
            ("audio", {"mime_type": "audio/ogg; codecs=opus", "voice": True}, b"OggS\x00\x02voice", "📎 Voice message"),
            ("video", {"mime_type": "video/mp4"}, b"\x00\x00\x00\x18ftypmp42", "📎 Video"),
            ("sticker", {"mime_type": "image/webp", "animated": False}, b"RIFF\x1a\x00\x00\x00WEBPVP8 ", "📎 Sticker"),
        ]
        received = []
        for kind, content, data, text in cases:
            media_id = self.graph.add_media(data, content["mime_type"], content.get("filename"))
            content = {**content, "sha256": base64.b64encode(secrets.token_bytes(32)).decode(), "id": media_id}
            interaction = self.receive_message(self.message(kind, content))
            with self.subTest(kind):
                self.assertEqual(self.chatter_text(interaction), text)
                self.assertEqual(interaction.summary, text)
                self.assertFalse(interaction.mail_message_id.attachment_ids, "the file follows in the background")
            received.append((kind, interaction, data, content))
        self.download_media()
        for kind, interaction, data, content in received:
            with self.subTest(kind):
                attachment = interaction.mail_message_id.attachment_ids
                self.assertEqual(len(attachment), 1)
                self.assertEqual(attachment.raw, data)
                self.assertEqual(attachment.mimetype, content["mime_type"])
                if content.get("filename"):
                    self.assertEqual(attachment.name, content["filename"])
                self.assertEqual(
                    (attachment.res_model, attachment.res_id),
                    ("omnichannel.conversation", interaction.conversation_id.id),
                    "readable by whoever may read the conversation",
                )
        fetched = [request.path for request in self.graph.requests if request.method == "GET"]
        self.assertEqual(len(fetched), 2 * len(cases), "media info, then the file, once per message")
        self.download_media()
        self.assertEqual(len(self.graph.requests), 2 * len(cases), "nothing downloaded twice")

    def test_media_download_retries_then_says_it_failed(self):
        media_id = self.graph.add_media(b"\xff\xd8\xff\xe0", "image/jpeg")
        interaction = self.receive_message(self.message("image", {"mime_type": "image/jpeg", "id": media_id}))
        media = self.env["omnichannel.media"].search([("interaction_id", "=", interaction.id)])
        self.graph.inject("GET", media_id, status=500, times=1)  # Meta down for a moment
        self.download_media()
        self.assertEqual(media.state, "pending")
        self.assertEqual(media.attempts, 1)
        self.assertGreater(media.next_attempt, fields.Datetime.now(), "retried later, with backoff")
        self.assertFalse(interaction.mail_message_id.attachment_ids)
        media.next_attempt = fields.Datetime.now()
        self.download_media()
        self.assertEqual(media.state, "done")
        self.assertEqual(interaction.mail_message_id.attachment_ids.raw, b"\xff\xd8\xff\xe0")

        gone = self.receive_message(self.message("document", {"mime_type": "application/pdf", "id": "404404404"}))
        self.download_media()  # Meta does not know the id: no use retrying
        failed = self.env["omnichannel.media"].search([("interaction_id", "=", gone.id)])
        self.assertEqual(failed.state, "failed")
        note = gone.conversation_id.message_ids.filtered(lambda m: "could not be downloaded" in (m.body or ""))
        self.assertTrue(note, "the agent learns the file is missing, and why")

    def test_location(self):
        location = {
            "address": "101 Forest Ave, Palo Alto, CA 94301",
            "latitude": 37.44216251,
            "longitude": -122.16163716,
            "name": "Philz Coffee",
            "url": "https://www.philzcoffee.com",
        }
        interaction = self.receive_message(self.message("location", location))
        text = self.chatter_text(interaction)
        self.assertIn("📍 Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301", text)
        self.assertIn("https://www.openstreetmap.org/?mlat=37.442163&mlon=-122.161637", text)
        self.assertIn("openstreetmap.org", interaction.mail_message_id.body, "a link the agent can open")

    def test_shared_contact(self):
        card = {
            "addresses": [{"city": "Menlo Park", "country": "United States", "type": "HOME"}],
            "emails": [{"email": "bjohnson@whatsapp.com", "type": "HOME"}],
            "name": {"first_name": "Barbara", "last_name": "Johnson", "formatted_name": "Barbara J. Johnson"},
            "org": {"company": "Social Tsunami"},
            "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME", "wa_id": "19405551234"}],
        }
        message = self.message("contacts")
        message["contacts"] = [card]
        interaction = self.receive_message(message)
        self.assertEqual(
            self.chatter_text(interaction),
            "Barbara J. Johnson (Social Tsunami), +1 (940) 555-1234, bjohnson@whatsapp.com",
        )
        self.assertFalse(
            self.env["res.partner"].search([("email", "=", "bjohnson@whatsapp.com")]),
            "a shared card is what the customer sent, not a new customer",
        )

    def test_reaction_shows_on_the_message_reacted_to(self):
        first = self.receive_message(self.text("¿Tenéis la talla 42?"))
        conversation, customer = first.conversation_id, first.partner_id
        outbox = self.sent_reply(conversation, "Sí, en azul y en verde.")
        messages_before = conversation.message_ids
        interactions_before = self.env["omnichannel.interaction"].search_count([])

        reaction = self.message("reaction", {"message_id": outbox.external_id, "emoji": "\U0001f44d"})
        self.receive(self.inbound(reaction))
        reactions = outbox.mail_message_id.reaction_ids
        self.assertRecordValues(reactions, [{"content": "👍", "partner_id": customer.id}])
        self.assertEqual(conversation.message_ids, messages_before, "a reaction is not a message")
        self.assertEqual(self.env["omnichannel.interaction"].search_count([]), interactions_before)

        changed = self.message("reaction", {"message_id": outbox.external_id, "emoji": "❤️"})
        self.receive(self.inbound(changed))
        self.assertRecordValues(outbox.mail_message_id.reaction_ids, [{"content": "❤️", "partner_id": customer.id}])

        removed = self.message("reaction", {"message_id": outbox.external_id})  # Meta leaves "emoji" out
        self.receive(self.inbound(removed))
        self.assertFalse(outbox.mail_message_id.reaction_ids)
        self.assertEqual(self.inbox().mapped("state"), ["done"] * 4)

    def test_reply_is_threaded_under_the_message_it_quotes(self):
        first = self.receive_message(self.text("¿Hacéis envíos a Canarias?"))
        outbox = self.sent_reply(first.conversation_id, "Sí, en 3 o 4 días.")
        answer = self.text("Perfecto, gracias", context={"from": BUSINESS_NUMBER, "id": outbox.external_id})
        interaction = self.receive_message(answer)
        self.assertEqual(interaction.mail_message_id.parent_id, outbox.mail_message_id)
        self.assertEqual(interaction.conversation_id, first.conversation_id)
        # quoting their own earlier message works the same way
        again = self.text("(lo de Canarias)", context={"from": SHEENA, "id": first.external_id})
        self.assertEqual(self.receive_message(again).mail_message_id.parent_id, first.mail_message_id)

    def test_buttons_and_list_rows_tapped(self):
        context = {"from": BUSINESS_NUMBER, "id": new_wamid()}  # our interactive message or template
        button = self.message(
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "confirm-order-17", "title": "Confirmar pedido"}},
            context=context,
        )
        row = self.message(
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {"id": "slot-0930", "title": "Mañana 9:30", "description": "Tienda de Bilbao"},
            },
            context=context,
        )
        quick_reply = self.message("button", {"payload": "STOP_PROMOS", "text": "No me interesa"}, context=context)
        self.assertEqual(self.chatter_text(self.receive_message(button)), "Confirmar pedido")
        self.assertEqual(self.chatter_text(self.receive_message(row)), "Mañana 9:30\nTienda de Bilbao")
        quick = self.receive_message(quick_reply)
        self.assertEqual(self.chatter_text(quick), "No me interesa")
        self.assertEqual(quick.summary, "No me interesa")
        self.assertFalse(quick.mail_message_id.parent_id, "the quoted message is unknown here: no parent")

    def test_unsupported_message_is_kept_with_a_note(self):
        message = self.message(
            "unsupported",
            {"type": "poll_update"},
            errors=[
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."},
                }
            ],
        )
        interaction = self.receive_message(message)
        self.assertEqual(self.inbox().state, "done", self.inbox().error)
        self.assertEqual(interaction.direction, "inbound")
        text = self.chatter_text(interaction)
        self.assertIn("poll_update", text)
        self.assertIn("WhatsApp did not pass its content on", text)
        self.assertEqual(interaction.partner_id.name, "Sheena Nelson")

    def test_changed_number_joins_the_same_contact(self):
        first = self.receive_message(self.text("Hola"))
        customer = first.partner_id
        change = self.message(
            "system",
            {
                "body": f"User Sheena Nelson changed from {SHEENA} to 12195555358",
                "wa_id": "12195555358",
                "type": "user_changed_number",
            },
        )
        change["from"] = SHEENA
        # System messages come without a contacts array.
        self.receive(self.envelope({"messages": [change]}))
        self.assertEqual(self.inbox()[0].state, "done", self.inbox()[0].error)
        values = customer.omni_identity_ids.mapped("value")
        self.assertIn("whatsapp:12195555358", values)
        self.assertIn("+12195555358", values)
        self.assertIn("whatsapp:16505551234", values, "the old number stays theirs")
        later = self.receive_message(self.text("Ya tengo número nuevo"), wa_id="12195555358", name="Sheena N.")
        self.assertEqual(later.partner_id, customer)
        self.assertEqual(later.conversation_id, first.conversation_id)
        self.assertEqual(customer.name, "Sheena Nelson", "a known contact keeps the name the business gave")


@tagged("post_install", "-at_install")
class TestInboundIdentity(WhatsappInboundCase):
    def assert_resolves(self, stored_phone, wa_id, country):
        contact = self.env["res.partner"].create(
            {"name": f"Cliente {country}", "phone": stored_phone, "country_id": self.env.ref(f"base.{country}").id}
        )
        interaction = self.receive_message(self.text("Hola"), wa_id=wa_id, name="Perfil de WhatsApp")
        self.assertEqual(interaction.partner_id, contact, f"{wa_id} is {stored_phone}")
        self.assertEqual(contact.name, f"Cliente {country}", "the profile name does not rename a known contact")
        self.assertIn(f"whatsapp:{wa_id}", contact.omni_identity_ids.mapped("value"))

    def test_mexico_keeps_the_old_mobile_1(self):
        self.assert_resolves("+52 55 1234 5678", "5215512345678", "mx")

    def test_brazil_eight_digit_account_nine_digit_contact(self):
        self.assert_resolves("+55 31 98765-4321", "553187654321", "br")

    def test_brazil_nine_digit_account_eight_digit_contact(self):
        # Odoo's own phone_validation patch also reads the stored 8-digit mobile with its 9.
        self.assert_resolves("+55 31 8765-4321", "5531987654321", "br")

    def test_argentina_contact_without_the_mobile_9(self):
        self.assert_resolves("+54 11 1234-5678", "5491112345678", "ar")

    def test_argentina_contact_with_the_mobile_9(self):
        self.assert_resolves("+54 9 11 1234-5678", "5491112345678", "ar")

    def test_unknown_number_becomes_a_contact_named_by_profile(self):
        interaction = self.receive_message(self.text("Buenas"), wa_id="34622000111", name="Itziar Etxeberria")
        self.assertEqual(interaction.partner_id.name, "Itziar Etxeberria")
        self.assertEqual(interaction.partner_id.phone, "+34622000111")


@tagged("post_install", "-at_install")
class TestExactlyOnce(WhatsappInboundCase):
    def test_same_body_twice_is_stored_once(self):
        payload = self.inbound(self.text("Hola"))
        self.assertEqual(self.deliver(payload).status_code, 200)
        self.assertEqual(self.deliver(payload).status_code, 200, "Meta's retry still gets its 200")
        self.assertEqual(len(self.inbox()), 1)
        self.assertEqual(self.process(), 1)

    def test_reserialized_redelivery_gives_one_message(self):
        message = self.text("¿Abrís el domingo?")
        payload = self.inbound(message)
        self.receive(payload)
        again = json.dumps(payload, indent=2, ensure_ascii=False).encode()  # other bytes, same wamid
        self.receive(again)
        self.assertEqual(len(self.inbox()), 2, "different bytes are different deliveries")
        self.assertEqual(self.inbox().mapped("state"), ["done", "done"])
        interaction = self.interaction(message["id"])
        self.assertEqual(len(interaction), 1)
        self.assertEqual(len(self.customer_messages(interaction.conversation_id)), 1)

    def test_same_wamid_twice_in_one_batch(self):
        media_id = self.graph.add_media(b"\xff\xd8\xff\xe0jpeg", "image/jpeg")
        message = self.message("image", {"mime_type": "image/jpeg", "sha256": "x", "id": media_id, "caption": "Mira"})
        payload = self.inbound(message)
        self.assertEqual(self.deliver(payload).status_code, 200)
        self.assertEqual(self.deliver(json.dumps(payload, separators=(",", ":")).encode()).status_code, 200)
        self.assertEqual(self.process(), 2, "both deliveries in one batch")
        interaction = self.interaction(message["id"])
        self.assertEqual(len(interaction), 1)
        self.assertEqual(len(self.customer_messages(interaction.conversation_id)), 1)
        self.assertEqual(self.env["omnichannel.media"].search_count([("interaction_id", "=", interaction.id)]), 1)


@tagged("post_install", "-at_install")
class TestRouting(WhatsappInboundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.madrid = cls.env["omnichannel.channel"].create(
            {
                "name": "WhatsApp Madrid",
                "channel_type": "whatsapp",
                "team_id": cls.team.id,
                "wa_phone_number_id": OTHER_PHONE_NUMBER_ID,
                "wa_business_account_id": WABA_ID,
                "wa_access_token": "EAAG-token-for-tests",
                "wa_app_secret": APP_SECRET,  # one Meta app, one secret, for both numbers
            }
        )

    def two_numbers(self, bilbao, madrid, madrid_number_id=OTHER_PHONE_NUMBER_ID):
        """One delivery for two business numbers: one entry each."""
        payload = self.inbound(bilbao)
        payload["entry"] += self.inbound(madrid, phone_number_id=madrid_number_id, wa_id="34611222333")["entry"]
        return payload

    def test_one_delivery_for_two_channels(self):
        bilbao, madrid = self.text("Para Bilbao"), self.text("Para Madrid")
        self.receive(self.two_numbers(bilbao, madrid))
        Interaction = self.env["omnichannel.interaction"]
        self.assertEqual(Interaction.search([("external_id", "=", bilbao["id"])]).channel_id, self.channel)
        to_madrid = Interaction.search([("external_id", "=", madrid["id"])])
        self.assertEqual(to_madrid.channel_id, self.madrid)
        self.assertEqual(to_madrid.conversation_id.channel_id, self.madrid)

    def test_unknown_number_is_kept_for_replay(self):
        sevilla_number_id = "106540352242999"
        bilbao, sevilla = self.text("Para Bilbao"), self.text("Para Sevilla")
        self.receive(self.two_numbers(bilbao, sevilla, madrid_number_id=sevilla_number_id))
        delivery = self.inbox()
        self.assertEqual(delivery.state, "failed")
        self.assertIn(sevilla_number_id, delivery.error)
        self.assertIn("set it on a channel, then replay", delivery.error)
        self.assertFalse(self.interaction(bilbao["id"]), "a delivery is applied whole or not at all")

        with self.assertRaises(AccessError):
            self.env["omnichannel.inbox"].with_user(self.agent).search([])
        with self.assertRaises(AccessError):
            delivery.with_user(self.agent).action_replay()

        sevilla_channel = (
            self.env["omnichannel.channel"]
            .with_user(self.admin)
            .create({"name": "WhatsApp Sevilla", "channel_type": "whatsapp", "team_id": self.team.id})
        )
        sevilla_channel.write({"wa_phone_number_id": sevilla_number_id, "wa_app_secret": "another-app"})
        answer = delivery.with_user(self.admin).action_replay()
        self.assertEqual(answer["params"]["type"], "warning", "another Meta app's number: still refused")
        self.assertIn("same App Secret", delivery.error)
        self.assertFalse(self.env["omnichannel.interaction"].search([("external_id", "=", sevilla["id"])]))

        sevilla_channel.wa_app_secret = APP_SECRET  # the same app as the channel that received it
        answer = delivery.with_user(self.admin).action_replay()
        self.assertEqual(answer["params"]["type"], "success", answer["params"]["message"])
        self.assertEqual(delivery.state, "done")
        self.assertEqual(self.interaction(bilbao["id"]).channel_id, self.channel)
        self.assertEqual(
            self.env["omnichannel.interaction"].search([("external_id", "=", sevilla["id"])]).channel_id,
            sevilla_channel,
        )


@tagged("post_install", "-at_install")
class TestConsent(WhatsappInboundCase):
    def assert_reply_refused(self, conversation):
        with self.assertRaises(UserError) as refusal:
            self.reply(conversation, "¿Seguimos con el pedido?")
        self.assertIn("opted out", str(refusal.exception))
        self.assertIn(self.channel.name, str(refusal.exception))

    def test_keywords_opt_out_and_in(self):
        first = self.receive_message(self.text("Hola", seconds_ago=300))
        conversation, customer = first.conversation_id, first.partner_id
        stop = self.text("baja.", seconds_ago=240)
        self.receive_message(stop)
        self.assertRecordValues(self.consents(customer), [{"opt": "out", "source": "keyword", "reason": "baja."}])
        self.assert_reply_refused(conversation)

        redelivered = self.inbound(stop)
        self.receive(json.dumps(redelivered, indent=1).encode())
        self.assertEqual(len(self.consents(customer)), 1, "a redelivered STOP records nothing new")

        self.receive_message(self.text("ALTA", seconds_ago=180))
        self.assertEqual(self.consents(customer).mapped("opt"), ["out", "in"])
        self.reply(conversation, "¡Bienvenida de nuevo!")  # allowed again

        self.receive(json.dumps(redelivered, indent=3).encode())
        self.assertEqual(
            self.consents(customer).mapped("opt"), ["out", "in"], "an old STOP redelivered after ALTA changes nothing"
        )

        self.receive_message(self.text("  Stop! ", seconds_ago=60))
        self.assertEqual(self.consents(customer).mapped("opt"), ["out", "in", "out"])
        self.assert_reply_refused(conversation)

    def test_keyword_inside_a_sentence_is_not_an_opt_out(self):
        interaction = self.receive_message(self.text("No quiero darme de baja, solo cambiar la talla"))
        self.assertFalse(self.consents(interaction.partner_id))
        self.reply(interaction.conversation_id, "Claro, ¿qué talla?")

    def test_opt_out_is_per_channel(self):
        outlet = self.env["omnichannel.channel"].create(
            {
                "name": "WhatsApp Outlet",
                "channel_type": "whatsapp",
                "wa_phone_number_id": OTHER_PHONE_NUMBER_ID,
                "wa_access_token": "EAAG-token-for-tests",
                "wa_app_secret": APP_SECRET,
            }
        )
        here = self.receive_message(self.text("Hola"))
        self.receive(self.inbound(self.text("STOP"), phone_number_id=OTHER_PHONE_NUMBER_ID))
        customer = here.partner_id
        self.assertEqual(self.consents(customer, outlet).mapped("opt"), ["out"])
        self.assertFalse(self.consents(customer))
        self.reply(here.conversation_id, "Aquí seguimos")  # the other channel is still open to them

    def test_meta_preferences_and_opt_out_error(self):
        """Meta's signals are about marketing: the customer who stopped promotions is still answered."""
        first = self.receive_message(self.text("Hola"))
        conversation, customer = first.conversation_id, first.partner_id
        Consent = self.env["omnichannel.consent"]
        self.receive(self.preference("stop"))
        self.assertRecordValues(
            self.consents(customer),
            [
                {
                    "opt": "out",
                    "scope": "marketing",
                    "source": "provider",
                    "reason": "User requested to stop marketing messages",
                }
            ],
        )
        self.assertTrue(Consent._opted_out(customer, self.channel, marketing=True))
        self.assertFalse(Consent._opted_out(customer, self.channel), "service messages still allowed")
        with self.assertRaisesRegex(UserError, "marketing"):
            Consent.with_user(self.agent)._check_can_send(customer, self.channel, marketing=True)
        self.sent_reply(conversation, "Su pedido sale hoy")  # an answer, not marketing: sent
        self.receive(self.preference("resume"))
        self.assertEqual(self.consents(customer).mapped("opt"), ["out", "in"])
        self.assertFalse(Consent._opted_out(customer, self.channel, marketing=True))

        outbox = self.sent_reply(conversation, "Tenemos novedades")
        error = {
            "code": 131050,
            "title": "Unable to deliver the message. This recipient has chosen to stop receiving marketing "
            "messages on WhatsApp from your business",
            "message": "Unable to deliver the message. This recipient has chosen to stop receiving marketing "
            "messages on WhatsApp from your business",
            "error_data": {"details": "Unable to deliver the message. This recipient has chosen to stop receiving"},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
        self.receive(self.status(outbox.external_id, "failed", errors=[error]))
        self.assertEqual(self.consents(customer).mapped("opt"), ["out", "in", "out"])
        self.assertEqual(self.consents(customer)[-1].scope, "marketing")
        self.assertIn("131050", self.consents(customer)[-1].reason)
        self.assertEqual(outbox.interaction_id.delivery_state, "failed")
        self.assertTrue(Consent._opted_out(customer, self.channel, marketing=True))

        self.receive_message(self.text("STOP"))  # now the customer wants nothing at all
        self.assert_reply_refused(conversation)
        self.receive_message(self.text("ALTA"))
        self.assertFalse(Consent._opted_out(customer, self.channel), "ALTA: messages again")
        self.assertFalse(Consent._opted_out(customer, self.channel, marketing=True), "the last choice decides")


@tagged("post_install", "-at_install")
class TestChannelSecrets(WhatsappInboundCase):
    SECRETS = ("wa_access_token", "wa_app_secret", "webhook_url")

    def test_only_administrators_read_secrets(self):
        for user in (self.agent, self.manager):
            channel = self.channel.with_user(user)
            self.assertEqual(channel.name, "WhatsApp Tienda", "the channel itself is readable")
            for field in self.SECRETS:
                with self.subTest(user=user.login, field=field), self.assertRaises(AccessError):
                    channel.read([field])
        self.assertFalse(self.manager.has_group("base.group_system"))
        values = self.channel.with_user(self.admin).read(list(self.SECRETS))[0]
        self.assertEqual(values["wa_access_token"], "EAAG-token-for-tests")
        self.assertEqual(values["wa_app_secret"], APP_SECRET)
        self.assertTrue(values["webhook_url"].endswith(self.webhook_path))
        self.assertEqual(PHONE_NUMBER_ID, self.channel.with_user(self.agent).wa_phone_number_id, "ids are not secret")
