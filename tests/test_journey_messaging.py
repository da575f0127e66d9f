"""Cross-channel journey: a customer writes to the Telegram bot, shares their phone there, and
later sends an SMS from that phone. One contact, one timeline, whichever channel they use.

Both deliveries go through the real webhook route as the providers send them: a Telegram
``Update`` with the channel's secret token, and a form-encoded Twilio webhook signed by the
official ``twilio`` library's ``RequestValidator``.
"""

import json
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from odoo.tests import HttpCase, tagged

TELEGRAM_SECRET = "journey-telegram-secret"
TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "journey-twilio-auth-token"
TELEGRAM_USER = 7_012_345_678  # above 2**32, as newer Telegram accounts are


@tagged("post_install", "-at_install")
class TestTelegramThenSms(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Irene Agente",
                "login": "irene.journey",
                "email": "irene@example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        team = cls.env["omnichannel.team"].create({"name": "Atención", "member_ids": [(6, 0, cls.agent.ids)]})
        Channel = cls.env["omnichannel.channel"]
        cls.telegram = Channel.create(
            {
                "name": "Telegram Tienda",
                "channel_type": "telegram",
                "team_id": team.id,
                "tg_bot_token": "123456:journey-token",
                "tg_secret_token": TELEGRAM_SECRET,
            }
        )
        cls.sms = Channel.create(
            {
                "name": "SMS Tienda",
                "channel_type": "sms",
                "team_id": team.id,
                "twilio_account_sid": TWILIO_SID,
                "twilio_auth_token": TWILIO_TOKEN,
                "twilio_from_number": "+34910000099",
            }
        )

    def telegram_update(self, update_id, message):
        message = {
            "from": {"id": TELEGRAM_USER, "is_bot": False, "first_name": "Nerea", "last_name": "Goikoetxea"},
            "chat": {"id": TELEGRAM_USER, "first_name": "Nerea", "last_name": "Goikoetxea", "type": "private"},
            "date": 1764500000 + update_id,
            **message,
        }
        response = self.url_open(
            f"/omnichannel/webhook/{self.telegram.provider}/{self.telegram.sudo().webhook_key}",
            data=json.dumps({"update_id": update_id, "message": message}).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        self.assertEqual(response.status_code, 200, response.text)

    def twilio_sms(self, params):
        path = f"/omnichannel/webhook/{self.sms.provider}/{self.sms.sudo().webhook_key}"
        url = f"http://127.0.0.1:{self.http_port()}{path}"
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, dict(params))
        response = self.url_open(
            path,
            data=urlencode(params).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        self.assertEqual(response.status_code, 200, response.text)

    def process(self):
        self.env["omnichannel.inbox"]._process_due()
        failed = self.env["omnichannel.inbox"].search([("state", "=", "failed")])
        self.assertFalse(failed, failed.mapped("error"))

    def test_phone_shared_on_telegram_then_sms_is_one_contact(self):
        self.telegram_update(900001, {"message_id": 11, "text": "Hola, ¿tenéis la chaqueta azul en la talla M?"})
        self.telegram_update(
            900002,
            {
                "message_id": 12,
                "contact": {
                    "phone_number": "34655443322",  # as Telegram sends the user's own number: no "+"
                    "first_name": "Nerea",
                    "last_name": "Goikoetxea",
                    "user_id": TELEGRAM_USER,
                },
            },
        )
        self.process()
        Interaction = self.env["omnichannel.interaction"]
        on_telegram = Interaction.search([("channel_id", "=", self.telegram.id)])
        self.assertEqual(len(on_telegram), 2)
        customer = on_telegram.partner_id
        self.assertEqual(len(customer), 1)
        identities = self.env["omnichannel.identity"].sudo().search([("partner_id", "=", customer.id)])
        self.assertIn(("phone", "+34655443322"), [(i.kind, i.value) for i in identities])
        self.assertIn(f"telegram:{TELEGRAM_USER}", identities.mapped("value"), "the Telegram id kept exactly")

        sid = "SM" + "7" * 32
        self.twilio_sms(
            [
                ("ToCountry", "ES"),
                ("SmsMessageSid", sid),
                ("NumMedia", "0"),
                ("SmsSid", sid),
                ("SmsStatus", "received"),
                ("Body", "Soy Nerea, la de Telegram: ¿me guardáis la M? 🙏"),
                ("FromCountry", "ES"),
                ("To", "+34910000099"),
                ("NumSegments", "1"),
                ("MessageSid", sid),
                ("AccountSid", TWILIO_SID),
                ("From", "+34655443322"),
                ("ApiVersion", "2010-04-01"),
            ]
        )
        self.process()
        by_sms = Interaction.search([("channel_id", "=", self.sms.id)])
        self.assertEqual(by_sms.partner_id, customer, "the SMS is the same customer as on Telegram")
        self.assertEqual(by_sms.summary, "Soy Nerea, la de Telegram: ¿me guardáis la M? 🙏")

        # The agent sees one contact with one timeline: both channels, in order.
        timeline = customer.with_user(self.agent)._omni_timeline_items(
            Interaction.with_user(self.agent).search([("partner_id", "=", customer.id)])
        )
        self.assertEqual(
            [(item["channel_type"], item["direction"]) for item in timeline],
            [("sms", "inbound"), ("telegram", "inbound"), ("telegram", "inbound")],
        )
        self.assertEqual(
            self.env["res.partner"].search_count([("phone", "=", "+34655443322")]) <= 1,
            True,
            "no second contact was created for the phone",
        )
