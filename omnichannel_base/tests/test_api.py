import json

from odoo.tests import HttpCase, tagged

URL = "/omnichannel/api/v1/events"


@tagged("post_install", "-at_install")
class TestEventsApi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.channel = cls.env["omnichannel.channel"].create({"name": "Mobile app", "channel_type": "api"})
        cls.channel.api_token = "s3cret-token-for-tests"

    def post(self, body, token="s3cret-token-for-tests"):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.url_open(URL, data=data, headers=headers)

    def test_push_events_and_redeliver(self):
        body = {
            "events": [
                {
                    "external_id": "app-1",
                    "date": "2026-11-20T18:30:00+01:00",
                    "sender": {"phone": "+34 622 11 22 33", "name": "Marta Ruiz"},
                    "body": "He pedido la talla equivocada",
                },
                {"external_id": "app-2", "kind": "note", "sender": {"phone": "622112233"}, "body": "Abrió la app"},
            ]
        }
        response = self.post(body)
        self.assertEqual(response.status_code, 200, response.text)
        ids = response.json()["interaction_ids"]
        interactions = self.env["omnichannel.interaction"].browse(ids)
        self.assertEqual(interactions.mapped("external_id"), ["app-1", "app-2"])
        self.assertEqual(interactions.partner_id.name, "Marta Ruiz")
        self.assertEqual(str(interactions[0].date), "2026-11-20 17:30:00")
        again = self.post(body)
        self.assertEqual(again.json()["interaction_ids"], ids, "redelivery is idempotent")
        self.assertEqual(self.env["omnichannel.interaction"].search_count([("channel_id", "=", self.channel.id)]), 2)

    def test_single_event_object(self):
        response = self.post({"external_id": "one", "sender": {"email": "x@example.com"}, "body": "hi"})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(len(response.json()["interaction_ids"]), 1)

    def test_channel_comes_from_token_not_body(self):
        other = self.env["omnichannel.channel"].create({"name": "Other", "channel_type": "api"})
        response = self.post({"channel_id": other.id, "sender": {"email": "y@example.com"}, "partner_id": 1})
        interaction = self.env["omnichannel.interaction"].browse(response.json()["interaction_ids"])
        self.assertEqual(interaction.channel_id, self.channel)
        self.assertNotEqual(interaction.partner_id.id, 1)

    def test_missing_or_bad_token_is_401(self):
        for token in (None, "wrong", ""):
            response = self.post({"sender": {"phone": "+34600000000"}}, token=token)
            self.assertEqual(response.status_code, 401)
            self.assertEqual(response.json()["error"], "invalid_token")
        response = self.url_open(URL, data="{}", headers={"Authorization": "Basic abc"})
        self.assertEqual(response.status_code, 401)

    def test_archived_channel_token_is_refused(self):
        self.channel.active = False
        self.assertEqual(self.post({"sender": {"phone": "+34600000000"}}).status_code, 401)

    def test_malformed_input_is_400_naming_the_problem(self):
        cases = [
            ("not json", "invalid_json", "JSON"),
            ([1, 2], "invalid_events", "event object"),
            ({"events": []}, "invalid_events", "event object"),
            ({"sender": {"phone": "abc"}}, "invalid_event", "sender.phone"),
            ({"sender": {}}, "invalid_event", "sender"),
            ({"sender": {"phone": "+34600000000"}, "date": "yesterday"}, "invalid_event", "date"),
            ({"sender": {"phone": "+34600000000"}, "body": "x" * 70000}, "invalid_event", "65536"),
        ]
        for body, code, text in cases:
            response = self.post(body)
            self.assertEqual(response.status_code, 400, body)
            self.assertEqual(response.json()["error"], code)
            self.assertIn(text, response.json()["message"])
        self.assertFalse(self.env["omnichannel.interaction"].search([("channel_id", "=", self.channel.id)]))

    def test_get_is_not_allowed(self):
        self.assertEqual(self.url_open(URL).status_code, 405)

    def test_ingest_over_odoo_rpc_returns_ids(self):
        """Integrations may call the service through Odoo's own RPC, as an administrator."""
        self.authenticate("admin", "admin")
        event = {"channel_id": self.channel.id, "external_id": "rpc-1", "sender": {"phone": "+34600111222"}}
        ids = self.make_jsonrpc_request(
            "/web/dataset/call_kw/omnichannel.ingest/ingest",
            {"model": "omnichannel.ingest", "method": "ingest", "args": [[event]], "kwargs": {}},
        )
        interaction = self.env["omnichannel.interaction"].search([("external_id", "=", "rpc-1")])
        self.assertEqual(ids, interaction.ids)
