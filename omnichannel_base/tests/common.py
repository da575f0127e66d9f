import json

from odoo.tests import HttpCase, TransactionCase

EVENTS_URL = "/omnichannel/api/v1/events"


class OmnichannelCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.company.country_id = cls.env.ref("base.es")
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Ana Agente",
                "login": "ana.agente",
                "email": "ana@example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.team = cls.env["omnichannel.team"].create({"name": "Care", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Test app", "channel_type": "api", "team_id": cls.team.id}
        )
        cls.ingest = cls.env["omnichannel.ingest"]

    @classmethod
    def event(cls, **values):
        values.setdefault("channel_id", cls.channel.id)
        values.setdefault("body", "Hola")
        return values


class EventsApiCase(HttpCase):
    """An API channel of a Spanish company whose token is ``TOKEN`` (none if empty), and
    ``post()``, which sends a body to the events API as its clients do."""

    TOKEN = "s3cret-token-for-tests"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.channel = cls.env["omnichannel.channel"].create({"name": "Mobile app", "channel_type": "api"})
        if cls.TOKEN:
            cls.channel.api_token = cls.TOKEN
        cls.auth = {"Authorization": f"Bearer {cls.TOKEN}"}

    def post(self, body, content_type="application/json", headers=None, token=...):
        """``body`` (JSON-encoded unless text or bytes) with the channel's token, ``token``
        instead, or none when ``token`` is None or empty."""
        token = self.TOKEN if token is ... else token
        headers = {
            "Content-Type": content_type,
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **(headers or {}),
        }
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.url_open(EVENTS_URL, data=data, headers=headers)
