"""Messenger and Instagram channels wired to the local Graph API server (``FakeGraph``), with
helpers that act as Meta does (``deliver``, ``event``) and as Odoo's cron workers do."""

import itertools
import json
from datetime import datetime, timedelta, timezone

from odoo import fields
from odoo.tests import HttpCase
from odoo.tests.common import _super_send

from .common import CONTRACTS, meta_signature
from .fake_graph import FakeGraph

PAGE_ID = "107516371982391"  # Meta's examples' (tests/data/contracts/messenger_*.json)
IG_ID = "17841405822304914"  # tests/data/contracts/instagram_inbound.json
PSID = "6941208542616201"
IGSID = "1914657188652871"
APP_SECRET = "meta-app-secret-for-tests"
PAGE_TOKEN = "EAAPage-token-for-tests"
READ_TIMEOUT = 0.5  # seconds the provider waits for Meta's answer in these tests
MIDS = itertools.count(1)


def contract(name):
    return json.loads((CONTRACTS / name).read_text())


def ms(when):
    """Meta's timestamps: milliseconds since 1970."""
    return int(when.timestamp() * 1000)


class MetaCase(HttpCase):
    """A Spanish company's Messenger and Instagram channels (one Meta app), an agent of their
    team, and a local Graph API server knowing the Page, the Instagram account and two customers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.graph = FakeGraph(access_token=PAGE_TOKEN)
        cls.graph.start()
        cls.addClassCleanup(cls.graph.stop)
        ICP = cls.env["ir.config_parameter"].sudo()
        ICP.set_param("omnichannel_social.graph_url", cls.graph.url)
        ICP.set_param("omnichannel_social.graph_read_timeout", str(READ_TIMEOUT))
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Lucía Agente",
                "login": "lucia.agente.meta",
                "email": "lucia.meta@example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "Social care", "member_ids": [(6, 0, cls.agent.ids)]})
        common = {"team_id": cls.team.id, "meta_page_access_token": PAGE_TOKEN, "meta_app_secret": APP_SECRET}
        cls.messenger = cls.env["omnichannel.channel"].create(
            {
                "name": "Messenger Tienda",
                "channel_type": "messenger",
                "meta_page_id": PAGE_ID,
                "meta_verify_token": "verify-messenger",
                **common,
            }
        )
        cls.instagram = cls.env["omnichannel.channel"].create(
            {
                "name": "Instagram Tienda",
                "channel_type": "instagram",
                "meta_page_id": IG_ID,
                "meta_verify_token": "verify-instagram",
                **common,
            }
        )

    def setUp(self):
        super().setUp()
        self.graph.reset()
        self.graph.window_closed.clear()
        self.graph.human_agent_closed.clear()
        self.graph.objects = {
            PAGE_ID: {"name": "Tienda Bilbao"},
            IG_ID: {"name": "Tienda Bilbao", "username": "tiendabilbao"},
            PSID: {"first_name": "Ane", "last_name": "Etxeberria"},
            IGSID: {"name": "Jon Ugarte", "username": "jonugarte"},
        }

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        """Odoo's test harness raises every HTTP timeout under 10 s to 10 s; calls to the local
        Graph API keep the provider's own timeout, which some tests are about."""
        if request.url.startswith(cls.graph.origin + "/"):
            return _super_send(session, request, **kwargs)
        return super()._request_handler(session, request, **kwargs)

    # ------------------------------------------------------------ as Meta
    @staticmethod
    def now():
        return datetime.now(timezone.utc)

    def path(self, channel):
        return f"/omnichannel/webhook/{channel.provider}/{channel.sudo().webhook_key}"

    def deliver(self, channel, payload, signature=..., secret=APP_SECRET):
        """POST ``payload`` (a dict, or raw bytes) to ``channel``'s webhook, signed as Meta signs."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature is ...:
            signature = meta_signature(body, secret)
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return self.opener.post(self.base_url() + self.path(channel), data=body, headers=headers, timeout=30)

    @staticmethod
    def envelope(channel, *events):
        account = channel.meta_page_id
        return {
            "object": "page" if channel.channel_type == "messenger" else "instagram",
            "entry": [{"id": account, "time": ms(datetime.now(timezone.utc)), "messaging": list(events)}],
        }

    def event(self, channel, customer=None, when=None, echo=False, **content):
        """One ``messaging`` event of ``customer`` (or, for an echo, of the account to them)."""
        customer = customer or (PSID if channel.channel_type == "messenger" else IGSID)
        account = channel.meta_page_id
        sender, recipient = (account, customer) if echo else (customer, account)
        return {
            "sender": {"id": sender},
            "recipient": {"id": recipient},
            "timestamp": ms(when or self.now()),
            **content,
        }

    def message(self, channel, mid=None, customer=None, when=None, echo=False, **message):
        message.setdefault("mid", mid or f"m_test-{next(MIDS):06d}")
        if echo:
            message["is_echo"] = True
        return self.event(channel, customer, when, echo, message=message)

    def receive(self, channel, *events):
        response = self.deliver(channel, self.envelope(channel, *events))
        self.assertEqual(response.status_code, 200, response.text)
        self.process()
        delivery = self.env["omnichannel.inbox"].search([("channel_id", "=", channel.id)], limit=1)
        self.assertEqual(delivery.state, "done", delivery.error)
        return delivery

    # ------------------------------------------------------------ as Odoo's cron workers
    def process(self):
        return self.env["omnichannel.inbox"]._process_due()

    def send_queued(self):
        return self.env["omnichannel.outbox"]._cron_send(time_budget=10)

    def download_media(self):
        # Media rows are queued at PostgreSQL's now() (the transaction's start, with microseconds)
        # and found due against fields.Datetime.now() (whole seconds): rows queued in this second
        # are due as the cron would find them a moment later. Retries (attempts > 0) keep their time.
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE omnichannel_media SET next_attempt = %s
                WHERE state = 'pending' AND attempts = 0 AND next_attempt > %s""",
            [fields.Datetime.now(), fields.Datetime.now()],
        )
        self.env["omnichannel.media"].invalidate_model(["next_attempt"])
        self.env["omnichannel.media"]._cron_download()

    def interaction(self, channel, mid):
        return self.env["omnichannel.interaction"].search([("channel_id", "=", channel.id), ("external_id", "=", mid)])

    def open_conversation(self, channel, hours_ago=0, text="Hola, ¿tenéis la chaqueta en azul?"):
        mid = f"m_open-{next(MIDS):06d}"
        self.receive(channel, self.message(channel, mid, when=self.now() - timedelta(hours=hours_ago), text=text))
        return self.interaction(channel, mid).conversation_id

    def reply(self, conversation, body, **kwargs):
        """What the chatter's Send button does for the agent."""
        return conversation.with_user(self.agent).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment", **kwargs
        )

    def outbox_of(self, conversation):
        return self.env["omnichannel.outbox"].search([("conversation_id", "=", conversation.id)], order="id")
