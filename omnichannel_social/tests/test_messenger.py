"""Messenger (Facebook Page) and Instagram Direct: webhooks in, replies out through the outbox,
statuses, media, profiles and consent, against the local Graph API server (``FakeGraph``)."""

import base64
import json
from datetime import timedelta
from unittest.mock import Mock, patch
from urllib.parse import urlencode

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from . import fake_graph
from .common import meta_signature
from .meta_common import APP_SECRET, IG_ID, IGSID, PAGE_ID, PAGE_TOKEN, PSID, READ_TIMEOUT, MetaCase, contract, ms

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def now_stamps(payload):
    """Meta's example, sent now (inside the messaging window), each event a millisecond apart."""
    base = ms(MetaCase.now())
    for entry in payload["entry"]:
        for index, event in enumerate(entry["messaging"]):
            event["timestamp"] = base + index
    return payload


@tagged("post_install", "-at_install")
class TestMetaWebhooks(MetaCase):
    def inbox(self):
        return self.env["omnichannel.inbox"].search([("channel_id", "in", (self.messenger | self.instagram).ids)])

    def test_subscription_handshake(self):
        for channel, token in ((self.messenger, "verify-messenger"), (self.instagram, "verify-instagram")):
            with self.subTest(channel.channel_type):
                query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": token}
                answer = self.url_open(f"{self.path(channel)}?{urlencode(query)}")
                self.assertEqual(answer.status_code, 200)
                self.assertEqual(answer.text, "1158201444")
                self.assertEqual(answer.headers["Content-Type"].split(";")[0], "text/plain")
                query["hub.verify_token"] = "verify-messenger" if channel == self.instagram else "verify-instagram"
                answer = self.url_open(f"{self.path(channel)}?{urlencode(query)}")
                self.assertEqual(answer.status_code, 403)
                self.assertEqual(answer.json()["error"], "invalid_verify_token")

    def test_forged_deliveries_are_refused_and_not_stored(self):
        body = json.dumps(now_stamps(contract("messenger_inbound_text.json"))).encode()
        other = json.dumps(now_stamps(contract("messenger_echo.json"))).encode()
        no_secret = self.env["omnichannel.channel"].create(
            {"name": "Messenger sin secreto", "channel_type": "messenger", "meta_page_id": "999000111"}
        )
        forgeries = {
            "no signature": (self.messenger, None),
            "a wrong signature": (self.messenger, "sha256=" + "0" * 64),
            "another body's signature": (self.messenger, meta_signature(other, APP_SECRET)),
            "another secret": (self.messenger, meta_signature(body, "not-the-app-secret")),
            "SHA-1 scheme": (self.instagram, meta_signature(body, APP_SECRET).replace("sha256=", "sha1=")),
            "a channel without App Secret": (no_secret, meta_signature(body, "")),
        }
        for case, (channel, signature) in forgeries.items():
            with self.subTest(case):
                answer = self.deliver(channel, body, signature=signature)
                self.assertEqual(answer.status_code, 403, answer.text)
                self.assertEqual(answer.json()["error"], "invalid_signature")
        self.assertFalse(self.inbox(), "nothing forged is stored")
        self.assertEqual(self.deliver(self.messenger, body).status_code, 200)
        self.assertEqual(len(self.inbox()), 1)

    def test_unusable_deliveries_are_kept_failed_and_replayable(self):
        admin = self.env["res.users"].create(
            {
                "name": "Iker Sistemas",
                "login": "iker.sistemas.meta",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("base.group_system").id,
                            self.env.ref("omnichannel_base.group_omnichannel_manager").id,
                        ],
                    )
                ],
            }
        )
        self.assertEqual(self.deliver(self.messenger, b"<html>502</html>").status_code, 200)
        instagram_on_messenger = self.envelope(self.instagram, self.message(self.instagram, text="Hola"))
        self.assertEqual(self.deliver(self.messenger, instagram_on_messenger).status_code, 200)
        other_page = self.envelope(self.messenger, self.message(self.messenger, "m_other-page", text="Hola"))
        other_page["entry"][0]["id"] = "555000555"
        self.assertEqual(self.deliver(self.messenger, other_page).status_code, 200)
        self.process()
        deliveries = self.inbox().sorted("id")
        self.assertEqual(deliveries.mapped("state"), ["failed"] * 3)
        self.assertIn("not JSON", deliveries[0].error)
        self.assertIn("'instagram'", deliveries[1].error)
        self.assertIn("555000555", deliveries[2].error)
        self.assertFalse(self.env["omnichannel.interaction"].search([("channel_id", "=", self.messenger.id)]))
        # The administrator sets up the other Page (same Meta app), then replays
        second = self.env["omnichannel.channel"].create(
            {
                "name": "Messenger Outlet",
                "channel_type": "messenger",
                "meta_page_id": "555000555",
                "meta_page_access_token": PAGE_TOKEN,
                "meta_app_secret": APP_SECRET,
            }
        )
        deliveries[2].with_user(admin).action_replay()
        self.assertEqual(deliveries[2].state, "done")
        self.assertEqual(len(self.interaction(second, "m_other-page")), 1)

    def test_one_delivery_for_several_pages_of_one_app(self):
        second = self.env["omnichannel.channel"].create(
            {
                "name": "Messenger Outlet",
                "channel_type": "messenger",
                "meta_page_id": "555000555",
                "meta_page_access_token": PAGE_TOKEN,
                "meta_app_secret": APP_SECRET,
            }
        )
        other_app = self.env["omnichannel.channel"].create(
            {
                "name": "Messenger otra app",
                "channel_type": "messenger",
                "meta_page_id": "777000777",
                "meta_page_access_token": PAGE_TOKEN,
                "meta_app_secret": "another-app",
            }
        )
        payload = self.envelope(self.messenger, self.message(self.messenger, "m_page-1", text="Uno"))
        entry = dict(payload["entry"][0], id="555000555")
        entry["messaging"] = [dict(self.message(self.messenger, "m_page-2", text="Dos"), recipient={"id": "555000555"})]
        payload["entry"].append(entry)
        self.assertEqual(self.deliver(self.messenger, payload).status_code, 200)
        self.process()
        self.assertTrue(self.interaction(self.messenger, "m_page-1"))
        self.assertTrue(self.interaction(second, "m_page-2"))
        # A delivery signed with this app's secret never reaches another app's Page
        payload["entry"][1]["id"] = "777000777"
        payload["entry"][1]["messaging"][0]["message"]["mid"] = "m_page-3"
        self.assertEqual(self.deliver(self.messenger, payload).status_code, 200)
        self.process()
        self.assertFalse(self.interaction(other_app, "m_page-3"))
        self.assertEqual(self.inbox().sorted("id")[-1].state, "failed")

    def test_redelivery_is_applied_once(self):
        payload = now_stamps(contract("messenger_inbound_text.json"))
        for _attempt in range(2):
            self.assertEqual(self.deliver(self.messenger, payload).status_code, 200)
        self.assertEqual(len(self.inbox()), 1, "the same body is stored once")
        # The same event, serialised differently (Meta's retries are not byte-identical)
        self.assertEqual(self.deliver(self.messenger, json.dumps(payload, indent=1).encode()).status_code, 200)
        self.process()
        mid = payload["entry"][0]["messaging"][0]["message"]["mid"]
        self.assertEqual(len(self.interaction(self.messenger, mid)), 1)
        self.assertEqual(self.inbox().mapped("state"), ["done", "done"])


@tagged("post_install", "-at_install")
class TestMetaInbound(MetaCase):
    def test_text_with_quick_reply_and_profile_named_in_background(self):
        payload = now_stamps(contract("messenger_inbound_text.json"))
        picture = self.graph.add_file(PNG, "image/png", "ane.png")
        self.graph.objects[PSID]["profile_pic"] = picture
        self.receive(self.messenger, *payload["entry"][0]["messaging"])
        interaction = self.interaction(self.messenger, "m_1457764197618:41d102a3e1ae206a38")
        self.assertEqual(interaction.direction, "inbound")
        body = interaction.mail_message_id.body
        self.assertIn("hello, world!", body)
        self.assertIn("DEVELOPER_DEFINED_PAYLOAD", body, "the quick reply's payload is kept")
        partner = interaction.partner_id
        self.assertEqual(partner.name, PSID, "named after the PSID until Meta's profile comes")
        self.assertIn(f"messenger:{PSID}", partner.omni_identity_ids.mapped("value"))
        self.download_media()
        self.assertEqual(partner.name, "Ane Etxeberria")
        self.assertTrue(partner.image_1920)
        profile = [r for r in self.graph.requests if r.path.endswith("/" + PSID)]
        self.assertEqual(profile[0].query["fields"], "first_name,last_name,profile_pic")

    def test_instagram_profile_names_the_contact(self):
        self.receive(self.instagram, self.message(self.instagram, text="Hola"))
        partner = self.env["omnichannel.identity"].search([("value", "=", f"instagram:{IGSID}")]).partner_id
        self.download_media()
        self.assertEqual(partner.name, "Jon Ugarte (@jonugarte)")
        request = next(r for r in self.graph.requests if r.path.endswith("/" + IGSID))
        self.assertEqual(request.query["fields"], "name,username,profile_pic")

    def test_attachments_are_downloaded_in_the_background(self):
        files = {
            "image": (PNG, "image/png", "photo.png"),
            "video": (b"\x00\x00\x00\x18ftypmp42", "video/mp4", "clip.mp4"),
            "audio": (b"\x00\x00\x00\x1cftypM4A ", "audio/mp4", "audioclip-1.m4a"),
            "file": (PDF, "application/pdf", "factura.pdf"),
        }
        mids = {}
        for kind, (content, mimetype, name) in files.items():
            url = self.graph.add_file(content, mimetype, name)
            mids[kind] = f"m_{kind}"
            self.receive(
                self.messenger,
                self.message(self.messenger, mids[kind], attachments=[{"type": kind, "payload": {"url": url}}]),
            )
        self.download_media()
        for kind, (content, mimetype, name) in files.items():
            with self.subTest(kind):
                interaction = self.interaction(self.messenger, mids[kind])
                attachment = interaction.mail_message_id.attachment_ids
                self.assertEqual(attachment.raw, content)
                self.assertEqual(attachment.mimetype, mimetype)
                self.assertEqual(attachment.name, name)
                self.assertIn("📎", interaction.mail_message_id.body)
        cdn = [r for r in self.graph.requests if r.path.startswith("/cdn/")]
        self.assertEqual(len(cdn), 4)
        self.assertTrue(all("Authorization" not in r.headers for r in cdn), "the Page token stays with Meta's API")

    def test_attachment_download_retries_then_says_it_failed(self):
        url = self.graph.add_file(PNG, "image/png", "foto.png")
        attachment = {"type": "image", "payload": {"url": url}}
        self.receive(self.messenger, self.message(self.messenger, "m_retry", attachments=[attachment]))
        interaction = self.interaction(self.messenger, "m_retry")
        media = self.env["omnichannel.media"].search([("interaction_id", "=", interaction.id), ("kind", "=", "file")])
        self.graph.inject("GET", r"^/cdn/", status=503)  # Meta's CDN down for a moment
        self.download_media()
        self.assertEqual((media.state, media.attempts), ("pending", 1))
        self.assertGreater(media.next_attempt, fields.Datetime.now(), "retried later, with backoff")
        media.next_attempt = fields.Datetime.now()
        self.download_media()
        self.assertEqual(media.state, "done")
        self.assertEqual(interaction.mail_message_id.attachment_ids.raw, PNG)

        expired = {"type": "file", "payload": {"url": f"{self.graph.origin}/cdn/expired/factura.pdf"}}
        self.receive(self.messenger, self.message(self.messenger, "m_expired", attachments=[expired]))
        self.download_media()  # the URL expired: no use retrying
        gone = self.interaction(self.messenger, "m_expired")
        failed = self.env["omnichannel.media"].search([("interaction_id", "=", gone.id), ("kind", "=", "file")])
        self.assertEqual(failed.state, "failed")
        self.assertTrue(
            gone.conversation_id.message_ids.filtered(lambda m: "could not be downloaded" in (m.body or ""))
        )

    def test_postback(self):
        payload = now_stamps(contract("messenger_edit_reaction_postback.json"))
        self.receive(self.messenger, payload["entry"][0]["messaging"][2])
        mid = payload["entry"][0]["messaging"][2]["postback"]["mid"]
        body = self.interaction(self.messenger, mid).mail_message_id.body
        self.assertIn("Talk to a person", body)
        self.assertIn("HUMAN_HANDOFF", body)

    def test_edit_reaction_of_a_message(self):
        text = now_stamps(contract("messenger_inbound_text.json"))
        self.receive(self.messenger, *text["entry"][0]["messaging"])
        mid = "m_1457764197618:41d102a3e1ae206a38"
        edit, reaction, _postback = now_stamps(contract("messenger_edit_reaction_postback.json"))["entry"][0][
            "messaging"
        ]
        self.receive(self.messenger, edit, reaction)
        interaction = self.interaction(self.messenger, mid)
        self.assertEqual(interaction.edit_state, "edited")
        self.assertIn("hello, world! (edited)", interaction.mail_message_id.body)
        reactions = interaction.mail_message_id.reaction_ids
        self.assertEqual(reactions.mapped("content"), ["❤️"])
        self.assertEqual(reactions.partner_id, interaction.partner_id)
        unreact = self.event(self.messenger, reaction={"action": "unreact", "mid": mid})
        self.receive(self.messenger, unreact)
        self.assertFalse(interaction.mail_message_id.reaction_ids)

    def test_instagram_story_reply_mention_unsend_and_read(self):
        payload = now_stamps(contract("instagram_inbound.json"))
        reply, mention, unsend, _read = payload["entry"][0]["messaging"]
        self.receive(self.instagram, reply, mention)
        reply_mid, mention_mid = reply["message"]["mid"], mention["message"]["mid"]
        story = self.interaction(self.instagram, reply_mid).mail_message_id.body
        self.assertIn("Replied to your story", story)
        self.assertIn("asset_id=17950185749858237", story, "a link to the story")
        self.assertIn("talla M", story)
        mentioned = self.interaction(self.instagram, mention_mid).mail_message_id.body
        self.assertIn("Mentioned you in their story", mentioned)
        self.assertIn("asset_id=17887498072083520", mentioned)
        self.receive(self.instagram, unsend)
        removed = self.interaction(self.instagram, reply_mid)
        self.assertEqual(removed.edit_state, "removed")
        self.assertIn("The customer removed this message.", removed.mail_message_id.body)
        self.assertNotIn("talla M", removed.mail_message_id.body, "not silently kept")

    def test_echo_from_meta_apps_is_outbound(self):
        conversation = self.open_conversation(self.messenger)
        last_inbound = conversation.last_inbound_date
        echo = self.message(self.messenger, "m_echo-business-suite", echo=True, app_id=263902037430900, text="Te llamo")
        self.receive(self.messenger, echo)
        interaction = self.interaction(self.messenger, "m_echo-business-suite")
        self.assertEqual(interaction.direction, "outbound", "the page's message, never the customer's")
        self.assertEqual(interaction.partner_id, conversation.partner_id)
        self.assertEqual(conversation.last_inbound_date, last_inbound)
        contract_echo = now_stamps(contract("messenger_echo.json"))
        self.receive(self.messenger, *contract_echo["entry"][0]["messaging"])
        self.assertEqual(self.interaction(self.messenger, "mid.1457764197618:41d102a3e1ae206a38").direction, "outbound")

    def test_keyword_opt_out_refuses_replies(self):
        conversation = self.open_conversation(self.messenger, text="STOP")
        with self.assertRaises(UserError):
            self.reply(conversation, "¿Seguro?")
        self.assertFalse(self.outbox_of(conversation))


@tagged("post_install", "-at_install")
class TestMetaOutbound(MetaCase):
    def test_reply_in_window_is_a_response_and_statuses_follow(self):
        conversation = self.open_conversation(self.messenger)
        self.assertTrue(conversation.reply_window_open)
        self.reply(conversation, "hello, world!")
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "queued")
        self.assertFalse(self.graph.requests, "nothing is sent inside the agent's transaction")
        self.send_queued()
        self.assertEqual(outbox.state, "sent")
        (request,) = [r for r in self.graph.requests if r.method == "POST"]
        self.assertEqual(request.path, f"/v21.0/{PAGE_ID}/messages")
        self.assertEqual(request.headers["Authorization"], f"Bearer {PAGE_TOKEN}")
        expected = contract("messenger_send_request.json")
        expected["message"]["metadata"] = f"omnichannel:{outbox.key}"
        self.assertEqual(json.loads(request.body), expected)
        mid = self.graph.sent[0]["mid"]
        outbound = outbox.interaction_id
        self.assertEqual(outbound.external_id, mid)
        self.assertEqual(outbound.delivery_state, "sent")
        # Meta echoes our own message: it is not recorded a second time
        echo = self.message(self.messenger, mid, echo=True, metadata=f"omnichannel:{outbox.key}", text="hello, world!")
        self.receive(self.messenger, echo)
        self.assertEqual(len(self.interaction(self.messenger, mid)), 1)
        # Delivery with mids, then the read watermark
        self.receive(self.messenger, self.event(self.messenger, delivery={"mids": [mid], "watermark": ms(self.now())}))
        self.assertEqual(outbound.delivery_state, "delivered")
        self.receive(self.messenger, self.event(self.messenger, read={"watermark": ms(self.now())}))
        self.assertEqual(outbound.delivery_state, "read")
        self.receive(self.messenger, self.event(self.messenger, delivery={"mids": [mid]}))
        self.assertEqual(outbound.delivery_state, "read", "never back")

    def test_watermark_marks_everything_sent_before_it(self):
        conversation = self.open_conversation(self.messenger)
        for text in ("Uno", "Dos"):
            self.reply(conversation, text)
        self.send_queued()
        rows = self.outbox_of(conversation).interaction_id
        self.assertEqual(rows.mapped("delivery_state"), ["sent", "sent"])
        watermark = ms(self.now() + timedelta(seconds=1))
        self.receive(self.messenger, self.event(self.messenger, delivery={"watermark": watermark}))
        self.assertEqual(rows.mapped("delivery_state"), ["delivered", "delivered"])

    def test_instagram_read_by_mid(self):
        conversation = self.open_conversation(self.instagram)
        self.reply(conversation, "Sí, la tenemos en azul.")
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(self.graph.sent[0]["page_id"], "me")
        self.assertNotIn("metadata", self.graph.sent[0]["message"])
        self.receive(self.instagram, self.event(self.instagram, read={"mid": outbox.external_id}))
        self.assertEqual(outbox.interaction_id.delivery_state, "read")

    def test_dead_worker_row_is_reconciled_by_its_echo(self):
        conversation = self.open_conversation(self.messenger)
        self.reply(conversation, "¿Te la reservo?")
        outbox = self.outbox_of(conversation)
        outbox.write({"state": "sending", "sending_date": fields.Datetime.now()})  # the worker died there
        echo = self.message(
            self.messenger,
            "m_sent-by-dead-worker",
            echo=True,
            metadata=f"omnichannel:{outbox.key}",
            text="¿Te la reservo?",
        )
        self.receive(self.messenger, echo)
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.external_id, "m_sent-by-dead-worker")
        self.assertEqual(outbox.interaction_id.external_id, "m_sent-by-dead-worker")

    def test_human_agent_tag_up_to_seven_days(self):
        conversation = self.open_conversation(self.messenger, hours_ago=30)
        self.assertFalse(conversation.reply_window_open)
        with self.assertRaisesRegex(UserError, "more than 24 hours ago"):
            self.reply(conversation, "Perdona el retraso")
        self.messenger.meta_human_agent = True
        conversation.invalidate_recordset(["reply_window_open", "reply_window_note"])
        self.assertTrue(conversation.reply_window_open, "the Human Agent tag keeps the window open 7 days")
        self.assertIn("Human Agent tag", conversation.reply_window_note)
        self.reply(conversation, "Perdona el retraso")
        self.send_queued()
        sent = self.graph.sent[-1]
        self.assertEqual((sent["messaging_type"], sent["tag"]), ("MESSAGE_TAG", "HUMAN_AGENT"))
        self.assertEqual(self.outbox_of(conversation).state, "sent")
        old = self.open_conversation(self.instagram, hours_ago=24 * 8)
        self.instagram.meta_human_agent = True
        self.assertFalse(old.reply_window_open)
        self.assertIn("7 days", old.reply_window_note)
        with self.assertRaisesRegex(UserError, "more than 7 days ago"):
            self.reply(old, "Hola de nuevo")

    def test_window_closed_by_meta_fails_the_row(self):
        conversation = self.open_conversation(self.messenger)
        self.graph.window_closed.add(PSID)  # Meta's clock says otherwise
        self.reply(conversation, "¿Sigues ahí?")
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "failed")
        self.assertIn("outside of allowed window", outbox.error)
        self.assertEqual(outbox.interaction_id.delivery_state, "failed")

    def test_text_and_files_are_separate_messages(self):
        conversation = self.open_conversation(self.messenger)
        attachments = (
            self.env["ir.attachment"]
            .with_user(self.agent)
            .create(
                [
                    {
                        "name": "foto.png",
                        "raw": PNG,
                        "mimetype": "image/png",
                        "res_model": "omnichannel.conversation",
                        "res_id": conversation.id,
                    },
                    {
                        "name": "factura.pdf",
                        "raw": PDF,
                        "mimetype": "application/pdf",
                        "res_model": "omnichannel.conversation",
                        "res_id": conversation.id,
                    },
                ]
            )
        )
        self.reply(conversation, "Aquí tienes", attachment_ids=attachments.ids)
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "sent")
        text, image, document = self.graph.sent
        self.assertEqual(text["message"]["text"], "Aquí tienes")
        self.assertEqual(image["message"]["attachment"]["type"], "image")
        self.assertEqual(image["file"], ("foto.png", PNG, "image/png"))
        self.assertEqual(document["message"]["attachment"]["type"], "file")
        self.assertEqual(document["file"][1], PDF)
        self.assertEqual(document["recipient"], {"id": PSID})
        self.assertEqual(outbox.external_id, document["mid"], "the last part names the reply")
        self.assertEqual(document["message"]["metadata"], f"omnichannel:{outbox.key}")
        self.assertEqual(text["message"]["metadata"], f"omnichannel:{outbox.key}:0")

    def test_long_instagram_text_is_split_within_the_limit(self):
        conversation = self.open_conversation(self.instagram)
        self.graph.text_limit = 1000
        self.reply(conversation, " ".join(["Ñandú"] * 400))  # 2,399 characters, 2,799 bytes
        self.send_queued()
        self.assertEqual(self.outbox_of(conversation).state, "sent")
        texts = [sent["message"]["text"] for sent in self.graph.sent]
        self.assertGreater(len(texts), 2)
        self.assertTrue(all(len(text.encode()) <= 1000 for text in texts))
        self.assertEqual(" ".join(texts), " ".join(["Ñandú"] * 400))

    def test_throttling_errors_and_timeouts_are_retried(self):
        conversation = self.open_conversation(self.messenger)
        self.reply(conversation, "Uno")
        outbox = self.outbox_of(conversation)
        faults = [
            {"code": 613, "status": 400, "retry_after": 60},  # Messenger's rate limit, with Meta's hint
            {"status": 429},
            {"status": 503},
            {"delay": READ_TIMEOUT * 4},  # no answer in time
        ]
        errors = []
        for fault in faults:
            with self.subTest(fault):
                self.graph.inject("POST", r"/messages$", **fault)
                outbox.next_attempt = fields.Datetime.now() - timedelta(seconds=1)
                self.send_queued()
                self.assertEqual(outbox.state, "queued", outbox.error)
                errors.append(outbox.error)
        self.assertIn("(613)", errors[0])
        self.assertIn("in time", errors[-1])
        outbox.next_attempt = fields.Datetime.now() - timedelta(seconds=1)
        self.send_queued()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(outbox.interaction_id.delivery_state, "sent")

    def test_meta_refusal_fails_the_row(self):
        conversation = self.open_conversation(self.messenger)
        self.graph.inject("POST", r"/messages$", code=551, status=400)
        self.reply(conversation, "Hola")
        self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "failed")
        self.assertIn("isn't available", outbox.error)

    def test_test_connection(self):
        admin = self.env["res.users"].create(
            {
                "name": "Iker Sistemas",
                "login": "iker.sistemas.meta2",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("base.group_system").id,
                            self.env.ref("omnichannel_base.group_omnichannel_manager").id,
                        ],
                    )
                ],
            }
        )
        self.messenger.with_user(admin).action_test_connection()
        self.assertEqual(self.messenger.meta_account_name, "Tienda Bilbao")
        request = self.graph.requests[-1]
        self.assertEqual((request.path, request.query["fields"]), (f"/v21.0/{PAGE_ID}", "name"))
        self.instagram.with_user(admin).action_test_connection()
        self.assertEqual(self.graph.requests[-1].path, f"/v21.0/{IG_ID}")
        self.messenger.sudo().meta_page_access_token = "expired"
        with self.assertRaises(UserError):
            self.messenger.with_user(admin).action_test_connection()

    def test_channel_form_shows_the_meta_settings(self):
        arch = self.env["omnichannel.channel"].get_view(view_type="form")["arch"]
        for name in (
            "meta_page_id",
            "meta_page_access_token",
            "meta_app_secret",
            "meta_verify_token",
            "meta_human_agent",
        ):
            self.assertIn(f'name="{name}"', arch)
        self.assertIn("Instagram Account ID", arch)

    def test_secrets_are_for_administrators(self):
        channel = self.messenger.with_user(self.agent)
        for name in ("meta_page_access_token", "meta_app_secret", "meta_verify_token"):
            self.assertEqual(channel._fields[name].groups, "base.group_system")
        self.assertEqual(channel.meta_page_id, PAGE_ID)


@tagged("post_install", "-at_install")
class TestMetaReview(MetaCase):
    """Findings of the integration review: page-scoped ids, sends Meta may have made, media hosts."""

    def test_reply_uses_the_id_the_customer_has_on_this_page(self):
        """PSIDs are page-scoped: a customer known on another Page of the company (a newer id,
        after a merge) is still answered with this Page's id."""
        conversation = self.open_conversation(self.messenger)
        other_page = self.env["omnichannel.channel"].create(
            {
                "name": "Messenger Outlet",
                "channel_type": "messenger",
                "meta_page_id": "209999999999999",
                "meta_page_access_token": PAGE_TOKEN,
                "meta_app_secret": APP_SECRET,
            }
        )
        self.env["omnichannel.identity"].sudo().create(
            {
                "partner_id": conversation.partner_id.id,
                "kind": "external",
                "value": "messenger:7000000000000001",
                "channel_id": other_page.id,
            }
        )
        self.reply(conversation, "Sí, en azul también")
        self.send_queued()
        self.assertEqual(self.outbox_of(conversation).state, "sent", self.outbox_of(conversation).error)
        self.assertEqual(self.graph.sent[-1]["recipient"], {"id": PSID})

    def test_instagram_send_meta_did_not_answer_is_not_sent_twice(self):
        """Instagram echoes carry no metadata naming the outbox row: a send Meta accepted but did
        not answer in time cannot be reconciled, so it is never sent again on its own."""
        conversation = self.open_conversation(self.instagram)
        self.reply(conversation, "Hola")
        outbox = self.outbox_of(conversation)
        self.graph.inject("POST", r"/messages$", delay=READ_TIMEOUT * 3)
        self.send_queued()
        self.assertEqual(outbox.state, "failed")
        self.assertIn("may have reached the customer", outbox.error)
        self.wait_for(lambda: len(self.graph.sent) == 1)
        outbox.next_attempt = fields.Datetime.now() - timedelta(seconds=1)
        self.send_queued()
        self.assertEqual(len(self.graph.sent), 1, "sent once")

    def wait_for(self, condition, seconds=5):
        import time  # noqa: PLC0415

        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(condition())

    def test_attachment_urls_off_meta_are_never_fetched(self):
        """A URL in a delivery must not make Odoo call any host: only Meta's CDN (and the
        configured Graph API's host) are fetched."""
        url = self.graph.add_file(PNG, "image/png", "foto.png")
        elsewhere = url.replace("127.0.0.1", "localhost")  # same server, another host name
        self.assertNotEqual(url, elsewhere)
        attachment = {"type": "image", "payload": {"url": elsewhere}}
        self.receive(self.messenger, self.message(self.messenger, "m_elsewhere", attachments=[attachment]))
        self.download_media()
        interaction = self.interaction(self.messenger, "m_elsewhere")
        media = self.env["omnichannel.media"].search([("interaction_id", "=", interaction.id), ("kind", "=", "file")])
        self.assertEqual(media.state, "failed")
        self.assertIn("not on Meta's servers", media.error)
        self.assertFalse([r for r in self.graph.requests if r.path.startswith("/cdn/")], "nothing was fetched")
        self.assertFalse(interaction.mail_message_id.attachment_ids)

    def test_instagram_echoes_of_a_reply_in_pieces_are_the_reply(self):
        """Instagram echoes every piece of a reply sent in several messages, without metadata:
        whether an echo is processed before the outbox learnt the piece's id or after, the
        timeline keeps one outbound message, the reply."""
        conversation = self.open_conversation(self.instagram)
        self.graph.text_limit = 1000
        text = " ".join(["Ñandú"] * 400)  # in pieces of at most 1,000 bytes
        pieces = iter(["piece-a", "piece-b", "piece-c", "piece-d", "piece-e", "piece-f"])
        # Echoes of the first two pieces processed before the sender recorded their ids
        early = [self.message(self.instagram, f"m_{mid}", echo=True, text="…") for mid in ("piece-a", "piece-b")]
        self.receive(self.instagram, *early)
        self.reply(conversation, text)
        with patch.object(fake_graph, "secrets", Mock(wraps=fake_graph.secrets, token_urlsafe=lambda _n: next(pieces))):
            self.send_queued()
        outbox = self.outbox_of(conversation)
        self.assertEqual(outbox.state, "sent", outbox.error)
        mids = [sent["mid"] for sent in self.graph.sent]
        self.assertGreater(len(mids), 2)
        self.assertEqual(mids[:2], ["m_piece-a", "m_piece-b"])
        # ... and echoes of every piece processed afterwards (another delivery)
        late = [self.message(self.instagram, sent["mid"], echo=True, text="…") for sent in self.graph.sent]
        self.receive(self.instagram, *late)
        outbound = self.env["omnichannel.interaction"].search(
            [("conversation_id", "=", conversation.id), ("direction", "=", "outbound")]
        )
        self.assertEqual(outbound, outbox.interaction_id)
        self.assertEqual(outbound.external_id, mids[-1])
        echoed = conversation.message_ids.filtered(lambda m: m.body and "…" in m.body)
        self.assertFalse(echoed, "no copy of the pieces in the chatter")
