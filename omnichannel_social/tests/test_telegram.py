import base64
import json
import time
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tests.common import _super_send

from .telegram_common import GROUP_ID, SECRET, USER_ID, TelegramCase


@tagged("post_install", "-at_install")
class TestTelegramInbound(TelegramCase):
    def test_contract_text_with_link(self):
        update = self.contract("telegram_message_text.json")
        update["message"]["date"] = self.now()
        response = self.deliver(update)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.process(), 1)
        inbound = self.interaction(f"{USER_ID}:512")
        self.assertEqual(inbound.partner_id.name, "Ane Etxeberria")
        self.assertIn("Mirad esta (https://tienda.example.com/chaqueta)", inbound.mail_message_id.body)
        self.assertIn(f"telegram:{USER_ID}", inbound.partner_id.omni_identity_ids.mapped("value"))

    def test_redelivery_is_stored_and_applied_once(self):
        """Telegram sends an update again (no 2xx in time) with the same update_id, its JSON
        possibly written otherwise: one delivery, one interaction."""
        update = self.text("Hola", update_id=700123456)
        first = json.dumps(update).encode()
        again = json.dumps(update, indent=2, sort_keys=True).encode()
        for body in (first, again, first):
            self.assertEqual(self.deliver(body).status_code, 200)
        stored = self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(stored), 1)
        self.process()
        self.assertEqual(len(self.interaction(f"{USER_ID}:{update['message']['message_id']}")), 1)

    def test_forgery_is_refused_and_nothing_stored(self):
        Inbox = self.env["omnichannel.inbox"]
        update = self.text("Soy Telegram, de verdad")
        for secret in (None, "", "wrong", SECRET.upper(), SECRET + " ", SECRET[:-1]):
            response = self.deliver(update, secret=secret)
            self.assertEqual(response.status_code, 403, secret)
            self.assertEqual(response.json()["error"], "invalid_signature")
        self.assertFalse(Inbox.search([("channel_id", "=", self.channel.id)]))

    def test_channel_without_secret_accepts_nothing(self):
        self.channel.sudo().tg_secret_token = False
        for secret in (None, "", SECRET):
            response = self.deliver(self.text("Hola"), secret=secret)
            self.assertEqual(response.status_code, 403)
            self.assertIn("no secret token", response.json()["message"])
        self.assertFalse(self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)]))

    def test_unparseable_kept_failed_and_replayable(self):
        Inbox = self.env["omnichannel.inbox"]
        for body in (b"not json", json.dumps({"message": {"text": "no update_id"}}).encode()):
            self.assertEqual(self.deliver(body).status_code, 200)
        self.process()
        failed = Inbox.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(failed.mapped("state"), ["failed", "failed"])
        self.assertTrue(any("not JSON" in error for error in failed.mapped("error")), failed.mapped("error"))
        self.assertTrue(any("update_id" in error for error in failed.mapped("error")), failed.mapped("error"))
        # An authentic update that could not be applied then (its channel archived meanwhile)
        # is processed once the cause is fixed.
        update = self.text("Hola otra vez")
        self.deliver(update)
        self.channel.active = False
        self.process()
        delivery = Inbox.search([("channel_id", "=", self.channel.id), ("payload", "like", "Hola otra vez")])
        self.assertEqual(delivery.state, "failed")
        self.channel.active = True
        delivery.action_replay()
        self.assertEqual(delivery.state, "done")
        self.assertTrue(self.interaction(f"{USER_ID}:{update['message']['message_id']}"))

    def test_ids_kept_exactly(self):
        big_user = 2**52 - 7  # Telegram's ids fit 52 bits; over 2^32 they are common
        self.channel.tg_allow_groups = True
        self.deliver(self.text("Hola", sender=self.user(big_user)))
        group = {"id": GROUP_ID, "title": "Compras Bilbao", "type": "supergroup"}
        self.deliver(self.text("Hola grupo", chat=group))
        self.process()
        person = self.env["omnichannel.identity"].search([("value", "=", f"telegram:{big_user}")])
        self.assertEqual(len(person), 1)
        self.assertEqual(self.env["omnichannel.identity"].search_count([("value", "=", f"telegram:{GROUP_ID}")]), 1)
        message = self.env["omnichannel.interaction"].search(
            [("channel_id", "=", self.channel.id), ("external_id", "=like", f"{GROUP_ID}:%")]
        )
        self.assertEqual(len(message), 1)
        self.assertEqual(self.env["omnichannel.provider.telegram"]._chat_id(message.partner_id), str(GROUP_ID))

    def test_media_largest_photo_document_voice_video_sticker(self):
        telegram = self.telegram
        large = telegram.add_file(b"\xff\xd8large", "photos/file_7.jpg")
        small = telegram.add_file(b"\xff\xd8small", "photos/file_6.jpg")
        pdf = telegram.add_file(b"%PDF-1.7", "documents/file_8.pdf")
        voice = telegram.add_file(b"OggS", "voice/file_9.oga")
        video = telegram.add_file(b"\x00\x00\x00\x18ftypmp4", "videos/file_10.mp4")
        sticker = telegram.add_file(b"RIFFWEBP", "stickers/file_11.webp")
        photo = [
            {"file_id": small, "file_unique_id": "s", "width": 90, "height": 67},
            {"file_id": large, "file_unique_id": "l", "width": 1280, "height": 960},
        ]
        updates = [
            self.update({"photo": photo, "caption": "Mi talla"}),
            self.update(
                {
                    "document": {
                        "file_id": pdf,
                        "file_unique_id": "d",
                        "file_name": "factura.pdf",
                        "mime_type": "application/pdf",
                    }
                }
            ),  # fmt: skip
            self.update({"voice": {"file_id": voice, "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}}),
            self.update({"video": {"file_id": video, "file_unique_id": "w", "width": 1, "height": 1, "duration": 1}}),
            self.update(
                {
                    "sticker": {
                        "file_id": sticker,
                        "file_unique_id": "k",
                        "type": "regular",
                        "width": 512,
                        "height": 512,
                        "is_animated": False,
                        "is_video": False,
                        "emoji": "👍",
                    }
                }
            ),  # fmt: skip
        ]
        for update in updates:
            self.assertEqual(self.deliver(update).status_code, 200)
        self.process()
        self.download_media()
        found = {}
        for update in updates:
            interaction = self.interaction(f"{USER_ID}:{update['message']['message_id']}")
            self.assertTrue(interaction)
            found[next(iter(set(update["message"]) & {"photo", "document", "voice", "video", "sticker"}))] = interaction
        attachments = {kind: i.mail_message_id.attachment_ids for kind, i in found.items()}
        self.assertEqual(attachments["photo"].raw, b"\xff\xd8large", "the largest size of the photo")
        self.assertEqual(attachments["photo"].mimetype, "image/jpeg")
        self.assertIn("Mi talla", found["photo"].mail_message_id.body)
        self.assertEqual(attachments["document"].name, "factura.pdf")
        self.assertEqual(attachments["document"].raw, b"%PDF-1.7")
        self.assertEqual(attachments["voice"].raw, b"OggS")
        self.assertEqual(attachments["video"].mimetype, "video/mp4")
        self.assertEqual(attachments["sticker"].mimetype, "image/webp")
        self.assertIn("📎", found["voice"].mail_message_id.body)
        # getFile then the download, each with the bot's token
        paths = [request.path for request in self.telegram.requests]
        self.assertIn("/file/bot123456789:AAE-fake-token-for-tests/photos/file_7.jpg", paths)
        self.assertNotIn("/file/bot123456789:AAE-fake-token-for-tests/photos/file_6.jpg", paths)

    def test_media_download_faults(self):
        throttled = self.telegram.add_file(b"later", "photos/later.jpg")
        huge = self.telegram.add_file(b"x", "documents/huge.zip", file_size=25 * 1024 * 1024)
        self.telegram.inject("getFile", status=429, retry_after=30)
        for file_id in (throttled, huge):
            self.deliver(self.update({"document": {"file_id": file_id, "file_unique_id": file_id}}))
        self.process()
        self.download_media()
        media = self.env["omnichannel.media"].search([("ref", "in", [throttled, huge])])
        by_ref = {m.ref: m for m in media}
        self.assertEqual(by_ref[throttled].state, "pending", "429 is retried")
        self.assertGreaterEqual(by_ref[throttled].next_attempt, datetime.now() + timedelta(seconds=25))
        self.assertEqual(by_ref[huge].state, "failed", "a file over 20 MB can never be fetched by a bot")

    def test_location_and_shared_contacts(self):
        self.deliver(self.update({"location": {"latitude": 43.263, "longitude": -2.935}}))
        own = self.update({"contact": {"phone_number": "34600111222", "first_name": "Ane", "user_id": USER_ID}})
        other = self.update({"contact": {"phone_number": "+34600999888", "first_name": "Jon", "user_id": 42}})
        self.deliver(own)
        self.deliver(other)
        self.process()
        partner = self.interaction(f"{USER_ID}:{own['message']['message_id']}").partner_id
        location = self.env["omnichannel.interaction"].search(
            [("partner_id", "=", partner.id), ("summary", "like", "📍")]
        )
        self.assertIn("openstreetmap.org/?mlat=43.263&amp;mlon=-2.935", location.mail_message_id.body)
        phones = partner.omni_identity_ids.filtered(lambda i: i.kind == "phone").mapped("value")
        self.assertEqual(phones, ["+34600111222"], "only the customer's own number becomes theirs")
        self.assertIn("Jon, +34600999888", self.interaction(f"{USER_ID}:{other['message']['message_id']}").summary)
        # The shared number then finds the same contact: an SMS from it lands on the same timeline.
        found = self.env["omnichannel.identity"]._lookup({("phone", "+34600111222")}, self.env.company)
        self.assertEqual(found[("phone", "+34600111222")][1], partner.id)

    def test_start_with_deep_link_payload(self):
        update = self.text("/start summer26", entities=[{"offset": 0, "length": 6, "type": "bot_command"}])
        self.deliver(update)
        self.process()
        inbound = self.interaction(f"{USER_ID}:{update['message']['message_id']}")
        self.assertIn("/start summer26", inbound.mail_message_id.body)
        self.assertIn("summer26", inbound.summary)
        self.assertIn("link", inbound.summary)
        # the payload can be searched for, to attribute a campaign
        self.assertIn(inbound, self.env["omnichannel.interaction"].search([("summary", "ilike", "summer26")]))

    def test_edited_message(self):
        update = self.text("Quiero la talla M")
        self.deliver(update)
        self.process()
        inbound = self.interaction(f"{USER_ID}:{update['message']['message_id']}")
        edited = dict(update["message"], text="Quiero la talla L", edit_date=self.now())
        self.deliver({"update_id": update["update_id"] + 1000, "edited_message": edited})
        self.process()
        self.assertEqual(inbound.edit_state, "edited")
        self.assertIn("Quiero la talla L", inbound.mail_message_id.body)
        self.assertEqual(len(self.interaction(f"{USER_ID}:{update['message']['message_id']}")), 1)
        # an edit of a message never recorded changes nothing
        ghost = dict(edited, message_id=999999)
        self.deliver({"update_id": update["update_id"] + 2000, "edited_message": ghost})
        self.process()
        self.assertFalse(self.interaction(f"{USER_ID}:999999"))

    def test_callback_query_answers_the_bot_message(self):
        self.deliver(self.text("¿Hay envío?"))
        self.process()
        conversation = self.env["omnichannel.conversation"].search([("channel_id", "=", self.channel.id)])
        question = self.reply(conversation, "¿Confirmas el pedido?")
        self.send_queued()
        sent = self.telegram.sent[-1]["message"]
        update = self.contract("telegram_callback_query.json")
        update["callback_query"]["message"]["message_id"] = sent["message_id"]
        answer = self.deliver(update)
        self.assertEqual(
            answer.json(),
            {"method": "answerCallbackQuery", "callback_query_id": update["callback_query"]["id"]},
            "the button press is answered in the webhook's answer, so the customer's button stops spinning",
        )
        self.process()
        pressed = self.interaction("callback:4382bfdwdsb323b2d9")
        self.assertEqual(pressed.partner_id, conversation.partner_id)
        self.assertIn("confirm_order_42", pressed.mail_message_id.body)
        self.assertEqual(pressed.mail_message_id.parent_id, question, "linked to the message whose button it was")

    def test_callback_query_with_an_unusable_id_gets_the_plain_answer(self):
        update = self.contract("telegram_callback_query.json")
        update["callback_query"]["id"] = "\ud800"  # a lone surrogate, escaped in the JSON
        answer = self.deliver(json.dumps(update).encode())
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.json(), {"status": "received"})

    def test_groups_ignored_unless_allowed(self):
        group = {"id": GROUP_ID, "title": "Compras Bilbao", "type": "supergroup"}
        first = self.text("Hola a todos", chat=group)
        self.deliver(first)
        self.process()
        self.assertFalse(self.interaction(f"{GROUP_ID}:{first['message']['message_id']}"))
        self.assertEqual(self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)]).state, "done")
        self.channel.tg_allow_groups = True
        ane = self.text("¿Abrís el sábado?", chat=group)
        jon = self.text("Yo también quiero saberlo", chat=group, sender=self.user(6000000001, "Jon", "Arana"))
        self.deliver(ane)
        self.deliver(jon)
        self.process()
        from_ane = self.interaction(f"{GROUP_ID}:{ane['message']['message_id']}")
        from_jon = self.interaction(f"{GROUP_ID}:{jon['message']['message_id']}")
        self.assertEqual(from_ane.partner_id.name, "Compras Bilbao")
        self.assertEqual(from_ane.conversation_id, from_jon.conversation_id, "one conversation per group")
        self.assertIn("Jon Arana: Yo también quiero saberlo", from_jon.mail_message_id.body)
        # The agent's answer goes to the group chat
        self.reply(from_ane.conversation_id, "Sí, de 10 a 14")
        self.send_queued()
        self.assertEqual(self.telegram.sent[-1]["chat_id"], str(GROUP_ID))

    def test_group_upgraded_to_a_supergroup_keeps_its_conversation(self):
        self.channel.tg_allow_groups = True
        group = {"id": -4001234567, "title": "Compras Bilbao", "type": "group"}
        first = self.text("¿Hacéis pedidos para grupos?", chat=group)
        self.deliver(first)
        # Telegram's service message in the old group, then the supergroup's first message
        supergroup = {"id": -1004001234567, "title": "Compras Bilbao", "type": "supergroup"}
        self.deliver(self.update(chat=group, migrate_to_chat_id=supergroup["id"]))
        later = self.text("Somos doce personas", chat=supergroup)
        self.deliver(later)
        self.process()
        before = self.interaction(f"{group['id']}:{first['message']['message_id']}")
        after = self.interaction(f"{supergroup['id']}:{later['message']['message_id']}")
        self.assertEqual(after.partner_id, before.partner_id, "the supergroup is the same contact")
        self.assertEqual(after.conversation_id, before.conversation_id, "and the same conversation")
        self.reply(after.conversation_id, "Sí, con un 10 % de descuento")
        self.send_queued()
        self.assertEqual(self.telegram.sent[-1]["chat_id"], str(supergroup["id"]), "answers reach the supergroup")

    def test_blocked_bot_opts_out_and_unblocking_opts_in(self):
        self.deliver(self.text("Hola"))
        self.process()
        conversation = self.env["omnichannel.conversation"].search([("channel_id", "=", self.channel.id)])
        update = self.contract("telegram_my_chat_member_kicked.json")
        update["my_chat_member"]["date"] = self.now()
        self.deliver(update)
        self.process()
        Consent = self.env["omnichannel.consent"]
        self.assertTrue(Consent._opted_out(conversation.partner_id, self.channel))
        with self.assertRaisesRegex(UserError, "opted out"):
            self.reply(conversation, "¿Sigues ahí?")
        self.assertFalse(self.env["omnichannel.outbox"].search([("conversation_id", "=", conversation.id)]))
        self.deliver(self.member("member"))
        self.process()
        self.assertFalse(Consent._opted_out(conversation.partner_id, self.channel))
        self.reply(conversation, "¡Hola de nuevo!")
        self.send_queued()
        self.assertEqual(self.telegram.sent[-1]["text"], "¡Hola de nuevo!")


@tagged("post_install", "-at_install")
class TestTelegramOutbound(TelegramCase):
    def conversation(self):
        self.deliver(self.text("Hola"))
        self.process()
        return self.env["omnichannel.conversation"].search([("channel_id", "=", self.channel.id)])

    def outbox(self, conversation):
        return self.env["omnichannel.outbox"].search(
            [("conversation_id", "=", conversation.id)], order="id desc", limit=1
        )

    def test_reply_out_any_time_and_long_text_split(self):
        conversation = self.conversation()
        conversation.last_inbound_date = datetime.now() - timedelta(days=30)  # no window on Telegram
        family = "👨‍👩‍👧‍👦"
        text = ("Línea con acentos y emoji 😀 " * 150) + family * 400 + "\n" + "fin " * 600
        self.reply(conversation, text)
        self.assertFalse(self.telegram.sent, "nothing is sent inside the agent's transaction")
        outbox = self.outbox(conversation)
        self.send_queued()
        self.assertEqual(outbox.state, "sent", outbox.error)
        parts = [sent["text"] for sent in self.telegram.sent]
        self.assertGreater(len(parts), 2)
        self.assertTrue(all(len(part.encode("utf-16-le")) // 2 <= 4096 for part in parts))
        self.assertEqual("".join(parts), text.strip())
        self.assertFalse(any(part.startswith("\u200d") or part.endswith("\u200d") for part in parts))
        last = self.telegram.sent[-1]["message"]
        self.assertEqual(outbox.external_id, f"{USER_ID}:{last['message_id']}")
        self.assertEqual(outbox.interaction_id.delivery_state, "sent")

    def test_photo_and_document(self):
        conversation = self.conversation()
        Attachment = self.env["ir.attachment"].with_user(self.agent)
        png = base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
        )
        photo = Attachment.create(
            {"name": "chaqueta.png", "raw": png, "res_model": "mail.compose.message", "res_id": 0}
        )
        pdf = Attachment.create(
            {"name": "factura.pdf", "raw": b"%PDF-1.7 test", "res_model": "mail.compose.message", "res_id": 0}
        )
        self.reply(conversation, "Aquí la tienes", attachment_ids=[photo.id, pdf.id])
        self.send_queued()
        sent = self.telegram.sent
        self.assertEqual([s["method"] for s in sent], ["sendPhoto", "sendDocument"])
        self.assertEqual(sent[0]["caption"], "Aquí la tienes")
        self.assertEqual(sent[0]["content"], png)
        self.assertEqual(sent[1]["filename"], "factura.pdf")
        self.assertEqual(sent[1]["content"], b"%PDF-1.7 test")
        self.assertEqual(self.outbox(conversation).state, "sent")

    def test_long_caption_in_emoji_goes_as_its_own_message(self):
        """Captions are limited to 1,024 UTF-16 code units: 600 emoji are 1,200 of them."""
        conversation = self.conversation()
        photo = (
            self.env["ir.attachment"]
            .with_user(self.agent)
            .create({"name": "foto.png", "raw": b"\x89PNG\r\n\x1a\n", "res_model": "mail.compose.message", "res_id": 0})
        )
        self.reply(conversation, "😀" * 600, attachment_ids=[photo.id])
        self.send_queued()
        self.assertEqual(self.outbox(conversation).state, "sent", self.outbox(conversation).error)
        self.assertEqual([s["method"] for s in self.telegram.sent], ["sendMessage", "sendPhoto"])
        self.assertEqual(self.telegram.sent[0]["text"], "😀" * 600)

    def test_flood_control_honours_retry_after(self):
        conversation = self.conversation()
        self.telegram.inject("sendMessage", status=429, retry_after=7)
        self.reply(conversation, "Hola")
        outbox = self.outbox(conversation)
        before = datetime.now()
        self.send_queued()
        self.assertEqual(outbox.state, "queued")
        self.assertIn("retry after 7", outbox.error)
        self.assertGreaterEqual(outbox.next_attempt, before + timedelta(seconds=6))
        outbox.next_attempt = datetime.now() - timedelta(seconds=1)
        self.send_queued()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(len(self.telegram.sent), 1, "sent once")

    def test_server_errors_are_retried(self):
        """(Timeouts are tested on the client, test_telegram_client.py: Odoo's test harness raises
        any timeout under 10 seconds to 10.)"""
        conversation = self.conversation()
        self.telegram.inject("sendMessage", status=502)
        self.telegram.inject("sendMessage", body="<html>502 Bad Gateway</html>", status=502)
        self.telegram.inject("sendMessage", status=500, description="Internal Server Error: restart")
        self.reply(conversation, "Hola")
        outbox = self.outbox(conversation)
        for expected in ("Bad Gateway", "HTTP 502", "restart"):
            self.send_queued()
            self.assertEqual(outbox.state, "queued", outbox.error)
            self.assertIn(expected, outbox.error)
            self.assertNotIn("AAE-fake-token", outbox.error, "the bot token never shows")
            outbox.next_attempt = datetime.now() - timedelta(seconds=1)
        self.send_queued()
        self.assertEqual(outbox.state, "sent")

    def test_blocked_user_is_not_retried_and_opted_out(self):
        conversation = self.conversation()
        self.telegram.blocked.add(str(USER_ID))
        self.reply(conversation, "Hola")
        outbox = self.outbox(conversation)
        self.send_queued()
        self.assertEqual(outbox.state, "failed")
        self.assertIn("blocked", outbox.error)
        self.assertEqual(outbox.interaction_id.delivery_state, "failed")
        self.assertTrue(self.env["omnichannel.consent"]._opted_out(conversation.partner_id, self.channel))
        with self.assertRaisesRegex(UserError, "opted out"):
            self.reply(conversation, "¿Hola?")

    def test_long_reply_resumes_after_a_failed_part(self):
        conversation = self.conversation()
        self.reply(conversation, "a" * 5000)
        self.telegram.inject("sendMessage", status=500)  # the first part
        outbox = self.outbox(conversation)
        self.send_queued()
        self.assertEqual(outbox.state, "queued")
        outbox.next_attempt = datetime.now() - timedelta(seconds=1)
        self.send_queued()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual([len(s["text"]) for s in self.telegram.sent], [4096, 904])
        # and a failure on the second part does not send the first one again
        self.reply(conversation, "b" * 5000)
        outbox = self.outbox(conversation)
        self.telegram.inject("sendMessage")  # the first part passes
        self.telegram.inject("sendMessage", status=429, retry_after=1)
        self.send_queued()
        self.assertEqual(outbox.state, "queued")
        outbox.next_attempt = datetime.now() - timedelta(seconds=1)
        self.send_queued()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual([len(s["text"]) for s in self.telegram.sent[2:]], [4096, 904])
        self.assertEqual(outbox.external_id, f"{USER_ID}:{self.telegram.sent[-1]['message']['message_id']}")


@tagged("post_install", "-at_install")
class TestTelegramSendTimeouts(TelegramCase):
    """A send Telegram did not answer in time may have reached the customer: the Bot API has no
    idempotency key and no delivery status, so it must never go again on its own."""

    conversation = TestTelegramOutbound.conversation
    outbox = TestTelegramOutbound.outbox

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_social.telegram_read_timeout", "0.5")

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        """Odoo's test harness raises every timeout under 10 s to 10 s: calls to the local Bot API
        keep the provider's own, which this test is about."""
        if request.url.startswith(cls.telegram.url.rstrip("/") + "/"):
            return _super_send(session, request, **kwargs)
        return super()._request_handler(session, request, **kwargs)

    def test_timed_out_send_is_not_sent_again(self):
        conversation = self.conversation()
        self.reply(conversation, "Hola")
        outbox = self.outbox(conversation)
        self.telegram.inject("sendMessage", delay=2)  # Telegram sends it, but answers too late
        self.send_queued()
        self.assertEqual(outbox.state, "failed")
        self.assertIn("may have reached the customer", outbox.error)
        deadline = time.monotonic() + 10
        while not self.telegram.sent and time.monotonic() < deadline:
            time.sleep(0.05)  # the fake sends it once its delay is over
        self.assertEqual(len(self.telegram.sent), 1)
        outbox.next_attempt = datetime.now() - timedelta(seconds=1)
        self.send_queued()
        self.assertEqual(len(self.telegram.sent), 1, "sent once, never repeated on its own")


@tagged("post_install", "-at_install")
class TestTelegramSetup(TelegramCase):
    def test_set_webhook_and_test_connection(self):
        channel = self.channel.with_user(self.admin_user)
        channel.action_set_telegram_webhook()
        webhook = self.telegram.webhook
        self.assertEqual(webhook["url"], self.channel.sudo().webhook_url)
        self.assertTrue(webhook["url"].endswith(self.webhook_path))
        self.assertEqual(self.telegram.webhook_secret, SECRET)
        self.assertEqual(webhook["allowed_updates"], ["message", "edited_message", "callback_query", "my_chat_member"])
        answer = channel.action_test_connection()
        self.assertIn("@TiendaBilbaoBot", answer["params"]["message"])
        self.assertIn("this channel's", answer["params"]["message"])
        self.assertEqual(self.channel.tg_bot_username, "TiendaBilbaoBot")
        called = [request.path.rsplit("/", 1)[-1] for request in self.telegram.requests]
        self.assertEqual(called, ["setWebhook", "getMe", "getWebhookInfo"])

    def test_agents_cannot_configure_or_read_secrets(self):
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).action_set_telegram_webhook()
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).read(["tg_bot_token"])
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).read(["tg_secret_token"])

    def test_new_secret_given_to_telegram_old_one_refused(self):
        self.channel.with_user(self.admin_user).action_regenerate_telegram_secret()
        secret = self.channel.sudo().tg_secret_token
        self.assertNotEqual(secret, SECRET)
        self.assertEqual(self.telegram.webhook_secret, secret)
        self.assertEqual(self.deliver(self.text("Hola"), secret=SECRET).status_code, 403)
        self.assertEqual(self.deliver(self.text("Hola"), secret=secret).status_code, 200)

    def test_new_webhook_url_is_given_to_telegram(self):
        self.channel.with_user(self.admin_user).action_regenerate_webhook_key()
        self.assertEqual(self.telegram.webhook["url"], self.channel.sudo().webhook_url)

    def test_telegram_refusals_are_readable(self):
        self.telegram.inject("getMe", status=401, description="Unauthorized")
        with self.assertRaisesRegex(UserError, "Unauthorized"):
            self.channel.with_user(self.admin_user).action_test_connection()
        self.channel.sudo().tg_secret_token = "not allowed!"
        with self.assertRaisesRegex(UserError, "secret token contains unallowed characters"):
            self.channel.with_user(self.admin_user).action_set_telegram_webhook()

    def test_new_channels_get_their_own_secret(self):
        other = self.env["omnichannel.channel"].create({"name": "Otro bot", "channel_type": "telegram"})
        secret = other.sudo().tg_secret_token
        self.assertRegex(secret, r"^[A-Za-z0-9_-]{32,256}$")
        self.assertNotEqual(secret, SECRET)
