"""The messaging apps' screens in the browser: an administrator connects Telegram, Twilio SMS and
Messenger channels against the local provider servers and picks the company's SMS channel; an
agent answers a Telegram customer and reads Messenger's window notes
(static/tests/tours/channel_setup_tour.js, channel_agent_tour.js)."""

import json
from datetime import timedelta

from odoo.tests import HttpCase, tagged

from .fake_graph import FakeGraph
from .fake_telegram import FakeTelegram
from .fake_twilio import FakeTwilio
from .meta_common import MIDS, PSID, MetaCase

TELEGRAM_TOKEN = "123456789:AAE-fake-token-for-tests"  # typed by channel_setup_tour.js
ACCOUNT_SID = "AC" + "0a1b2c3d" * 4
AUTH_TOKEN = "twilio-auth-token-for-tests"
FROM_NUMBER = "+34910000001"
PAGE_ID = "104000000000001"
PAGE_TOKEN = "EAAPage-token-for-tests"
APP_SECRET = "meta-app-secret-for-tests"


@tagged("post_install", "-at_install")
class TestChannelSetupTour(HttpCase):
    """An administrator (Settings + Omnichannel manager) sets channels up from the forms."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.telegram = FakeTelegram(token=TELEGRAM_TOKEN)
        cls.twilio = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, numbers={FROM_NUMBER})
        cls.graph = FakeGraph(access_token=PAGE_TOKEN)
        for server in (cls.telegram, cls.twilio, cls.graph):
            server.start()
            cls.addClassCleanup(server.stop)
        ICP = cls.env["ir.config_parameter"].sudo()
        ICP.set_param("omnichannel_social.telegram_url", cls.telegram.url)
        ICP.set_param("omnichannel_social.twilio_api_url", cls.twilio.url)
        ICP.set_param("omnichannel_social.graph_url", cls.graph.url)
        cls.admin_user = cls.env["res.users"].create(
            {
                "name": "Nerea Sistemas",
                "login": "nerea.sistemas",
                "password": "nerea.sistemas",  # start_tour logs in with the login as password
                "email": "nerea.sistemas@example.com",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            cls.env.ref("base.group_system").id,
                            cls.env.ref("omnichannel_base.group_omnichannel_manager").id,
                        ],
                    )
                ],
            }
        )

    def setUp(self):
        super().setUp()
        self.telegram.reset()
        self.twilio.reset()
        self.graph.reset()
        self.graph.objects = {PAGE_ID: {"name": "Tienda Bilbao"}}

    def channel(self, name):
        channel = self.env["omnichannel.channel"].search([("name", "=", name)])
        self.assertEqual(len(channel), 1, f"the tour created {name}")
        return channel

    def tour(self, name):
        self.start_tour("/odoo", name, login=self.admin_user.login, timeout=120)
        self.env.invalidate_all()

    def test_telegram_channel(self):
        self.tour("omnichannel_channel_setup_telegram_tour")
        channel = self.channel("Telegram Tour").sudo()
        self.assertEqual(channel.provider, "telegram")
        self.assertEqual(channel.tg_bot_token, TELEGRAM_TOKEN)
        self.assertEqual(channel.tg_bot_username, "TiendaBilbaoBot")
        self.assertTrue(channel.tg_secret_token)
        # Set Webhook gave Telegram the channel's URL and secret, once.
        set_webhook = [r for r in self.telegram.requests if r.path.lower().endswith("/setwebhook")]
        self.assertEqual(len(set_webhook), 1)
        self.assertEqual(self.telegram.webhook["url"], channel.webhook_url)
        self.assertIn(f"/omnichannel/webhook/telegram/{channel.webhook_key}", channel.webhook_url)
        self.assertEqual(self.telegram.webhook_secret, channel.tg_secret_token)

    def test_sms_channel_and_settings(self):
        self.tour("omnichannel_channel_setup_sms_tour")
        channel = self.channel("SMS Tour").sudo()
        self.assertEqual(channel.provider, "twilio")
        self.assertEqual(
            (channel.twilio_account_sid, channel.twilio_auth_token, channel.twilio_from_number),
            (ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER),
        )
        self.assertIn("STOPALL", channel.opt_out_keywords)
        self.assertEqual(self.env.company.omni_sms_channel_id, channel)
        self.assertTrue(self.twilio.requests, "Test Connection asked Twilio")

    def test_messenger_channel(self):
        self.tour("omnichannel_channel_setup_messenger_tour")
        channel = self.channel("Messenger Tour").sudo()
        self.assertEqual(channel.provider, "messenger")
        self.assertEqual(
            (channel.meta_page_id, channel.meta_page_access_token, channel.meta_app_secret),
            (PAGE_ID, PAGE_TOKEN, APP_SECRET),
        )
        self.assertEqual(channel.meta_account_name, "Tienda Bilbao")
        self.assertTrue(channel.meta_verify_token)
        asked = [r for r in self.graph.requests if r.path.endswith("/" + PAGE_ID)]
        self.assertEqual(len(asked), 1, "Test Connection read the Page")


@tagged("post_install", "-at_install")
class TestChannelAgentTour(MetaCase):
    """An agent answers on Telegram and Messenger (channel_agent_tour.js); the outbox sends
    afterwards, to the local Bot API and Graph API servers."""

    TG_USER = 5123456789
    LATE_PSID = "7012345678901234"
    TG_SECRET = "tg-secret_for-ui-tests"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.telegram = FakeTelegram(token=TELEGRAM_TOKEN)
        cls.telegram.start()
        cls.addClassCleanup(cls.telegram.stop)
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_social.telegram_url", cls.telegram.url)
        cls.tg_channel = cls.env["omnichannel.channel"].create(
            {
                "name": "Telegram Tienda",
                "channel_type": "telegram",
                "team_id": cls.team.id,
                "tg_bot_token": TELEGRAM_TOKEN,
                "tg_secret_token": cls.TG_SECRET,
            }
        )
        cls.messenger.meta_human_agent = True
        cls.agent.password = cls.agent.login  # start_tour logs in with the login as password

    def setUp(self):
        super().setUp()
        self.telegram.reset()
        self.graph.objects[self.LATE_PSID] = {"first_name": "Maite", "last_name": "Urrutia"}

    def telegram_writes(self, text):
        update = {
            "update_id": 800000001,
            "message": {
                "message_id": 1,
                "from": {"id": self.TG_USER, "is_bot": False, "first_name": "Miren", "last_name": "Zubizarreta"},
                "chat": {"id": self.TG_USER, "first_name": "Miren", "last_name": "Zubizarreta", "type": "private"},
                "date": int(self.now().timestamp()),
                "text": text,
            },
        }
        response = self.opener.post(
            self.base_url() + "/omnichannel/webhook/telegram/" + self.tg_channel.sudo().webhook_key,
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": self.TG_SECRET},
            timeout=30,
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.process()
        return self.env["omnichannel.conversation"].search([("channel_id", "=", self.tg_channel.id)])

    def test_agent_answers_telegram_and_messenger(self):
        miren = self.telegram_writes("Kaixo! ¿Abrís el domingo?")
        ane = self.open_conversation(self.messenger, hours_ago=30)
        self.receive(
            self.messenger,
            self.message(
                self.messenger,
                f"m_late-{next(MIDS):06d}",
                customer=self.LATE_PSID,
                when=self.now() - timedelta(days=8),
                text="¿Me guardáis la chaqueta?",
            ),
        )
        self.download_media()  # Meta's profiles name the Messenger customers
        maite = self.env["omnichannel.conversation"].search(
            [("channel_id", "=", self.messenger.id), ("partner_id.name", "=", "Maite Urrutia")]
        )
        self.assertEqual((miren.partner_id.name, ane.partner_id.name), ("Miren Zubizarreta", "Ane Etxeberria"))
        self.assertTrue(ane.reply_window_open)
        self.assertFalse(maite.reply_window_open)

        self.start_tour("/odoo", "omnichannel_channel_agent_tour", login=self.agent.login, timeout=120)

        self.env.invalidate_all()
        self.send_queued()
        self.assertEqual(
            [(sent["chat_id"], sent["text"]) for sent in self.telegram.sent],
            [(str(self.TG_USER), "Sí, el domingo abrimos de 10:00 a 14:00.")],
        )
        (payload,) = self.graph.sent
        self.assertEqual(payload["recipient"], {"id": PSID})
        self.assertEqual(payload["message"]["text"], "Te la reservo en azul hasta el viernes.")
        self.assertEqual((payload["messaging_type"], payload["tag"]), ("MESSAGE_TAG", "HUMAN_AGENT"))
        reply = miren.message_ids.filtered(lambda m: "domingo abrimos" in (m.body or ""))
        self.assertEqual(reply.author_id, self.agent.partner_id)
        self.assertFalse(maite.message_ids.filtered(lambda m: "interesada" in (m.body or "")))
