"""The Telegram channel against npm's ``telegram-test-api``, a Bot API emulator written by
others (see telegram_test_api.py for what it does and lacks), next to our own fake server.

It checks our client and parser against an independent implementation: its getMe and
setWebhook, its sendMessage storing what the bot sent, and the Update objects it builds from
a user's messages, commands and button presses (read with getUpdates, then delivered to our
webhook as Telegram delivers them, with the secret header). Its own webhook calls carry no
secret header: our channel must refuse them.
"""

import time
import unittest

import requests

from odoo.tests import tagged

from . import telegram_test_api
from .telegram_common import SECRET, TelegramCase

BIG_USER = 2**40 + 7  # over 32 bits, exact through JavaScript's numbers (53 bits)


@tagged("post_install", "-at_install")
class TestTelegramTestApi(TelegramCase):
    @classmethod
    def setUpClass(cls):
        reason = telegram_test_api.missing_tools()
        if reason:
            raise unittest.SkipTest(f"npm's telegram-test-api needs Node.js: {reason}")
        telegram_test_api.ensure_installed()
        super().setUpClass()
        cls.emulator = telegram_test_api.TelegramTestApi().__enter__()
        cls.addClassCleanup(cls.emulator.__exit__, None, None, None)
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_social.telegram_url", cls.emulator.url)

    def setUp(self):
        super().setUp()
        token = self.channel.sudo().tg_bot_token
        requests.post(f"{self.emulator.url}/bot{token}/deleteWebhook", json={}, timeout=10)
        self.bot_updates()  # what an earlier test left

    def as_user(self, route, **payload):
        """The user's side, through the emulator's client API (as its TelegramClient does)."""
        user = {"id": BIG_USER, "first_name": "Ane", "last_name": "Etxeberria", "username": "ane", "is_bot": False}
        chat = {"id": BIG_USER, "first_name": "Ane", "username": "ane", "type": "private"}
        message = {"botToken": self.channel.sudo().tg_bot_token, "date": int(time.time()), **payload}
        if route == "sendCallback":
            message.update({"from": user, "message": {"from": user, "chat": chat}})
        else:
            message.update({"from": user, "chat": chat})
        answer = requests.post(f"{self.emulator.url}/{route}", json=message, timeout=10)
        self.assertEqual(answer.json()["ok"], True, answer.text)

    def bot_updates(self):
        """What Telegram would deliver: the emulator's Update objects (bot API getUpdates)."""
        token = self.channel.sudo().tg_bot_token
        answer = requests.post(f"{self.emulator.url}/bot{token}/getUpdates", json={}, timeout=10).json()
        self.assertTrue(answer["ok"], answer)
        return answer["result"]

    def test_round_trip_through_the_emulator(self):
        admin_channel = self.channel.with_user(self.admin_user)
        answer = admin_channel.action_test_connection()
        self.assertIn("@TestNameBot", answer["params"]["message"])
        self.assertEqual(self.channel.tg_bot_username, "TestNameBot")

        # A user writes, starts the bot from a campaign link, and presses a button
        self.as_user("sendMessage", text="Hola, ¿tenéis la chaqueta en azul? 😀")
        self.as_user(
            "sendCommand", text="/start summer26", entities=[{"offset": 0, "length": 6, "type": "bot_command"}]
        )
        self.as_user("sendCallback", data="confirm_order_42")
        updates = self.bot_updates()
        self.assertEqual(len(updates), 3, updates)
        for update in updates:
            self.assertEqual(self.deliver(update).status_code, 200)
        self.assertEqual(self.deliver(updates[0]).status_code, 200)  # Telegram retrying: stored once
        self.assertEqual(self.process(), 3)
        interactions = self.env["omnichannel.interaction"].search(
            [("channel_id", "=", self.channel.id), ("direction", "=", "inbound")], order="id"
        )
        self.assertEqual(len(interactions), 3)
        self.assertEqual(interactions.partner_id.name, "Ane Etxeberria")
        self.assertIn(f"telegram:{BIG_USER}", interactions.partner_id.omni_identity_ids.mapped("value"))
        self.assertIn("chaqueta en azul? 😀", interactions[0].mail_message_id.body)
        self.assertIn("summer26", interactions[1].summary)
        self.assertIn("confirm_order_42", interactions[2].mail_message_id.body)

        # The agent answers: the emulator stores what the bot sent, in two parts when too long
        conversation = interactions.conversation_id
        self.reply(conversation, "Sí, en azul y en verde. " + "x" * 4100)
        self.send_queued()
        outbox = self.env["omnichannel.outbox"].search([("conversation_id", "=", conversation.id)])
        self.assertEqual(outbox.state, "sent", outbox.error)
        history = requests.post(
            f"{self.emulator.url}/getUpdatesHistory", json={"token": self.channel.sudo().tg_bot_token}, timeout=10
        ).json()["result"]
        sent = [item for item in history if (item.get("message") or {}).get("chat_id") is not None]
        self.assertEqual([str(item["message"]["chat_id"]) for item in sent], [str(BIG_USER)] * 2)
        self.assertEqual("".join(item["message"]["text"] for item in sent), "Sí, en azul y en verde. " + "x" * 4100)
        self.assertEqual(outbox.external_id, f"{BIG_USER}:{sent[-1]['messageId']}")

    def test_its_webhook_calls_carry_no_secret_and_are_refused(self):
        self.channel.with_user(self.admin_user).action_set_telegram_webhook()
        self.as_user("sendMessage", text="¿Me oís?")
        line = self.emulator.wait_for("REJECTED", timeout=20)
        self.assertIn("403", line)
        self.assertFalse(self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)]))
        # The same update with Telegram's header is accepted
        self.assertEqual(self.deliver({"update_id": 1, "message": {"message_id": 1, "date": int(time.time()),
                         "chat": {"id": BIG_USER, "type": "private"}, "text": "¿Me oís?"}}, secret=SECRET).status_code,
                         200)  # fmt: skip
