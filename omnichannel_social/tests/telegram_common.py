import itertools
import json
from datetime import datetime, timezone
from pathlib import Path

from odoo.tests import HttpCase

from .fake_telegram import FakeTelegram

CONTRACTS = Path(__file__).resolve().parent / "data" / "contracts"
BOT_TOKEN = "123456789:AAE-fake-token-for-tests"
SECRET = "tg-secret_for-tests"
# Ids as Telegram gives them: users over 2^32, supergroups negative and over 2^32 too.
USER_ID = 5123456789
GROUP_ID = -1001234567890


class TelegramCase(HttpCase):
    """A Spanish company's Telegram channel wired to a local Bot API server (``cls.telegram``),
    an agent of its team, and helpers that act as Telegram does (``deliver``, ``update``) and as
    Odoo's cron workers do (``process``, ``send_queued``, ``download_media``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.telegram = FakeTelegram(token=BOT_TOKEN)
        cls.telegram.start()
        cls.addClassCleanup(cls.telegram.stop)
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_social.telegram_url", cls.telegram.url)
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Iker Agente",
                "login": "iker.agente",
                "email": "iker@example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.admin_user = cls.env["res.users"].create(
            {
                "name": "Nerea Admin",
                "login": "nerea.admin",
                "email": "nerea@example.com",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            cls.env.ref("omnichannel_base.group_omnichannel_manager").id,
                            cls.env.ref("base.group_system").id,
                        ],
                    )
                ],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "Telegram care", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {
                "name": "Telegram Tienda",
                "channel_type": "telegram",
                "team_id": cls.team.id,
                "tg_bot_token": BOT_TOKEN,
                "tg_secret_token": SECRET,
            }
        )
        cls.webhook_path = "/omnichannel/webhook/telegram/" + cls.channel.sudo().webhook_key
        cls._update_ids = itertools.count(700000001)
        cls._message_ids = itertools.count(1)

    def setUp(self):
        super().setUp()
        self.telegram.reset()

    # ------------------------------------------------------------ as Telegram
    def deliver(self, update, secret=..., headers=None):
        """POST ``update`` (a dict, JSON-encoded, or raw bytes) to the webhook with the secret header."""
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        if secret is ...:
            secret = SECRET
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return self.opener.post(self.base_url() + self.webhook_path, data=body, headers=headers, timeout=30)

    @staticmethod
    def now():
        return int(datetime.now(timezone.utc).timestamp())

    @staticmethod
    def user(user_id=USER_ID, first_name="Ane", last_name="Etxeberria"):
        return {"id": user_id, "is_bot": False, "first_name": first_name, "last_name": last_name, "language_code": "es"}

    def update(self, content=None, key="message", chat=None, sender=None, update_id=None, **fields):
        """An ``Update`` with one ``key`` (message by default) from ``sender`` in ``chat`` (a
        private chat with the sender when not given); ``fields`` and ``content`` go into the message."""
        sender = sender or self.user()
        chat = chat or {"id": sender["id"], "first_name": sender.get("first_name"), "type": "private"}
        message = {"message_id": next(self._message_ids), "from": sender, "chat": chat, "date": self.now()}
        message.update(content or {}, **fields)
        return {"update_id": update_id or next(self._update_ids), key: message}

    def text(self, text, **kwargs):
        return self.update({"text": text}, **kwargs)

    def member(self, status, user_id=USER_ID, update_id=None):
        bot = {"id": 123456789, "is_bot": True, "first_name": "Tienda Bilbao", "username": "TiendaBilbaoBot"}
        return {
            "update_id": update_id or next(self._update_ids),
            "my_chat_member": {
                "chat": {"id": user_id, "first_name": "Ane", "type": "private"},
                "from": self.user(user_id),
                "date": self.now(),
                "old_chat_member": {"user": bot, "status": "member" if status == "kicked" else "kicked"},
                "new_chat_member": {"user": bot, "status": status, **({"until_date": 0} if status == "kicked" else {})},
            },
        }

    @staticmethod
    def contract(name):
        return json.loads((CONTRACTS / name).read_text())

    # ------------------------------------------------------------ as Odoo's cron workers
    def process(self):
        return self.env["omnichannel.inbox"]._process_due()

    def send_queued(self):
        return self.env["omnichannel.outbox"]._cron_send(time_budget=10)

    def download_media(self):
        self.env["omnichannel.media"]._cron_download()

    def interaction(self, external_id):
        return self.env["omnichannel.interaction"].search(
            [("channel_id", "=", self.channel.id), ("external_id", "=", external_id)]
        )

    def reply(self, conversation, body, **kwargs):
        """The agent answers in the conversation's chatter, as from the inbox."""
        return conversation.with_user(self.agent).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment", **kwargs
        )
