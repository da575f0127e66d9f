import hashlib
import hmac
import json
from pathlib import Path
from datetime import datetime, timezone

from odoo.tests import HttpCase

from .fake_graph import FakeGraph

# Meta's documented examples (data/contracts/README.md), and the ids they use.
CONTRACTS = Path(__file__).resolve().parent / "data" / "contracts"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
APP_SECRET = "app-secret-for-tests"
ACCESS_TOKEN = "EAAG-token-for-tests"


def meta_signature(body, secret=APP_SECRET):
    """``X-Hub-Signature-256`` exactly as Meta computes it: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WhatsappCase(HttpCase):
    """A Spanish company's WhatsApp channel wired to a local Graph API server (``cls.graph``),
    an agent of its team, and helpers that act as Meta does (``deliver``) and as Odoo's cron
    workers do (``process``, ``send_queued``, ``download_media``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.graph = FakeGraph(access_token=ACCESS_TOKEN)
        cls.graph.start()
        cls.addClassCleanup(cls.graph.stop)
        cls.graph.phone_numbers = {
            PHONE_NUMBER_ID: {
                "display_phone_number": "+1 555-078-3881",
                "verified_name": "Tienda Bilbao",
                "quality_rating": "GREEN",
            }
        }
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_social.graph_url", cls.graph.url)
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Lucía Agente",
                "login": "lucia.agente",
                "email": "lucia@example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "WhatsApp care", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {
                "name": "WhatsApp Tienda",
                "channel_type": "whatsapp",
                "team_id": cls.team.id,
                "wa_phone_number_id": PHONE_NUMBER_ID,
                "wa_business_account_id": WABA_ID,
                "wa_access_token": ACCESS_TOKEN,
                "wa_app_secret": APP_SECRET,
                "wa_verify_token": "verify-me",
            }
        )
        cls.webhook_path = "/omnichannel/webhook/whatsapp_cloud/" + cls.channel.webhook_key

    def setUp(self):
        super().setUp()
        self.graph.reset()

    # ------------------------------------------------------------ as Meta
    def deliver(self, payload, signature=..., headers=None):
        """POST ``payload`` (a dict, JSON-encoded as Meta does, or raw bytes) to the webhook, signed."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        if signature is ...:
            signature = meta_signature(body)
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return self.url_open(self.webhook_path, data=body, headers=headers)

    @staticmethod
    def envelope(value, phone_number_id=PHONE_NUMBER_ID, field="messages"):
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
            **value,
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": field, "value": value}]}],
        }

    def inbound(self, message, wa_id="16505551234", name="Sheena Nelson", **kwargs):
        """A delivery with one inbound ``message`` (``from``, ``id`` and ``timestamp`` filled in when absent)."""
        message = {"from": wa_id, "timestamp": str(int(self.now().timestamp())), **message}
        message.setdefault("id", f"wamid.test-{hash(json.dumps(message, sort_keys=True)) & 0xFFFFFFFF:x}")
        return self.envelope(
            {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}, **kwargs
        )

    def status(self, wamid, state, recipient="16505551234", errors=None, callback_data=None, timestamp=None):
        status = {
            "id": wamid,
            "status": state,
            "timestamp": str(timestamp or int(self.now().timestamp())),
            "recipient_id": recipient,
        }
        if errors:
            status["errors"] = errors
        if callback_data:
            status["biz_opaque_callback_data"] = callback_data
        return self.envelope({"statuses": [status]})

    @staticmethod
    def now():
        return datetime.now(timezone.utc)

    # ------------------------------------------------------------ as Odoo's cron workers
    def process(self):
        """What the inbox cron does; returns the number of deliveries handled."""
        return self.env["omnichannel.inbox"]._process_due()

    def send_queued(self):
        return self.env["omnichannel.outbox"]._cron_send(time_budget=10)

    def download_media(self):
        self.env["omnichannel.media"]._cron_download()

    def interaction(self, wamid):
        return self.env["omnichannel.interaction"].search(
            [("channel_id", "=", self.channel.id), ("external_id", "=", wamid)]
        )
