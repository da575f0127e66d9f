import itertools
import secrets
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from odoo.tests import HttpCase
from odoo.tests.common import _super_send

from .fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "0a1b2c3d" * 4
AUTH_TOKEN = "twilio-auth-token-for-tests"
FROM_NUMBER = "+34910000001"  # the shop's Twilio number
CUSTOMER_PHONE = "+34612345678"
SERVICE_SID = "MG" + "9f8e7d6c" * 4
READ_TIMEOUT = 0.5  # seconds the provider waits for Twilio's answer in these tests
SIDS = itertools.count(1)


def new_sid(prefix="SM"):
    return f"{prefix}{next(SIDS):08x}{secrets.token_hex(12)}"


class SmsCase(HttpCase):
    """A Spanish company's SMS channel on Twilio, wired to a local Twilio API (``cls.twilio``),
    an agent of its team, and helpers that post as Twilio does (signed with the official
    ``twilio`` library's RequestValidator) and run Odoo's cron work."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, numbers={FROM_NUMBER})
        cls.twilio.start()
        cls.addClassCleanup(cls.twilio.stop)
        ICP = cls.env["ir.config_parameter"].sudo()
        ICP.set_param("omnichannel_social.twilio_api_url", cls.twilio.url)
        ICP.set_param("omnichannel_social.twilio_read_timeout", str(READ_TIMEOUT))
        cls.env.company.country_id = cls.env.ref("base.es")
        groups = cls.env.ref
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Lucía Agente",
                "login": "lucia.agente.sms",
                "email": "lucia.sms@example.com",
                "groups_id": [(6, 0, [groups("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.admin = cls.env["res.users"].create(
            {
                "name": "Iker Sistemas",
                "login": "iker.sistemas.sms",
                "email": "iker.sms@example.com",
                "groups_id": [
                    (6, 0, [groups("base.group_system").id, groups("omnichannel_base.group_omnichannel_manager").id])
                ],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "SMS care", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {
                "name": "SMS Tienda",
                "channel_type": "sms",
                "team_id": cls.team.id,
                "twilio_account_sid": ACCOUNT_SID,
                "twilio_auth_token": AUTH_TOKEN,
                "twilio_from_number": FROM_NUMBER,
            }
        )
        cls.webhook_path = "/omnichannel/webhook/twilio/" + cls.channel.sudo().webhook_key
        cls.note = cls.env.ref("mail.mt_note")

    def setUp(self):
        super().setUp()
        self.twilio.reset()

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        """Odoo's test harness raises every timeout under 10 s to 10 s; the provider's own
        timeout is under test here, so calls to the local Twilio keep theirs."""
        if request.url.startswith(cls.twilio.url + "/"):
            return _super_send(session, request, **kwargs)
        return super()._request_handler(session, request, **kwargs)

    # ------------------------------------------------------------ as Twilio
    def webhook_url(self):
        return self.base_url() + self.webhook_path

    def post_form(self, params, signature=..., url=None, token=AUTH_TOKEN, headers=None):
        """POST ``params`` (pairs) form-encoded to the webhook, signed by Twilio's library for ``url``."""
        url = url or self.webhook_url()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        if signature is ...:
            signature = self.sign(params, url, token)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.opener.post(self.webhook_url(), data=urlencode(params).encode(), headers=headers, timeout=60)

    @staticmethod
    def sign(params, url, token=AUTH_TOKEN):
        grouped = {}
        for name, value in params:
            grouped.setdefault(name, []).append(value)
        return RequestValidator(token).compute_signature(url, _MultiDict(grouped))

    @staticmethod
    def sms(body="Hola", sender=CUSTOMER_PHONE, sid=None, media=(), opt_out_type=None, to=FROM_NUMBER):
        """The form of an incoming SMS (MMS with ``media`` [(url, content type)]), field for field
        as Twilio's incoming message webhook sends it (tests/data/contracts/twilio_inbound_sms.txt)."""
        sid = sid or new_sid("MM" if media else "SM")
        params = [
            ("ToCountry", "ES"),
            ("ToState", ""),
            ("SmsMessageSid", sid),
            ("NumMedia", str(len(media))),
            ("ToCity", ""),
            ("FromZip", ""),
            ("SmsSid", sid),
            ("FromState", ""),
            ("SmsStatus", "received"),
            ("FromCity", ""),
            ("Body", body),
            ("FromCountry", "ES"),
            ("To", to),
            ("MessagingServiceSid", SERVICE_SID),
            ("ToZip", ""),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", ACCOUNT_SID),
            ("From", sender),
            ("ApiVersion", "2010-04-01"),
        ]
        for index, (url, content_type) in enumerate(media):
            params += [(f"MediaContentType{index}", content_type), (f"MediaUrl{index}", url)]
        if opt_out_type:
            params.append(("OptOutType", opt_out_type))
        return params

    @staticmethod
    def status(sid, state, to=CUSTOMER_PHONE, error_code=None):
        """A status callback as Twilio posts it (tests/data/contracts/twilio_status_callback.txt)."""
        params = [
            ("AccountSid", ACCOUNT_SID),
            ("ApiVersion", "2010-04-01"),
            ("From", FROM_NUMBER),
            ("MessageSid", sid),
            ("MessageStatus", state),
            ("SmsSid", sid),
            ("SmsStatus", state),
            ("To", to),
        ]
        if error_code:
            params.append(("ErrorCode", str(error_code)))
        return params

    def deliver(self, params, **kwargs):
        response = self.post_form(params, **kwargs)
        return response

    # ------------------------------------------------------------ as Odoo's cron workers
    def process(self):
        return self.env["omnichannel.inbox"]._process_due()

    def send_queued(self):
        return self.env["omnichannel.outbox"]._cron_send(time_budget=10)

    def download_media(self):
        self.env["omnichannel.media"]._cron_download()

    def interaction(self, sid):
        return self.env["omnichannel.interaction"].search(
            [("channel_id", "=", self.channel.id), ("external_id", "=", sid)]
        )

    def receive(self, body="Hola", **kwargs):
        """The customer texts ``body``; returns the interaction, processed."""
        params = self.sms(body, **kwargs)
        response = self.deliver(params)
        self.assertEqual(response.status_code, 200, response.text)
        self.process()
        return self.interaction(dict(params)["MessageSid"])

    def reply(self, conversation, body, **kwargs):
        """What the chatter's Send button does for the agent."""
        return conversation.with_user(self.agent).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment", **kwargs
        )

    def notes(self, conversation, text):
        return conversation.message_ids.filtered(lambda m: m.subtype_id == self.note and text in (m.body or ""))


class _MultiDict(dict):
    def getall(self, name):
        return self[name]
