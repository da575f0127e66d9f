import hashlib
import importlib.util
import json
import re
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger
from odoo.tools.sql import column_exists

from .common import EVENTS_URL, EventsApiCase

URL = EVENTS_URL


@tagged("post_install", "-at_install")
class TestEventsApi(EventsApiCase):
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


@tagged("post_install", "-at_install")
class TestEventsApiRefusals(EventsApiCase):
    """Whatever a client sends, the answer is JSON, and a refused call writes nothing."""

    def written(self):
        self.env.flush_all()
        self.env.cr.precommit.run()  # the tracking messages of the test's own setup, written now
        counts = {}
        for model in ("omnichannel.interaction", "res.partner", "omnichannel.conversation", "mail.message"):
            counts[model] = self.env[model].sudo().with_context(active_test=False).search_count([])
        counts["omnichannel.identity"] = self.env["omnichannel.identity"].sudo().search_count([])
        return counts

    def assertRefused(self, response, status, code, *texts):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.headers["Content-Type"], "application/json; charset=utf-8")
        self.assertEqual(response.json()["error"], code, response.text)
        for text in texts:
            self.assertIn(text, response.json()["message"])

    def test_malformed_events_are_400_naming_the_field(self):
        sender = {"phone": "+34600700001"}
        cases = [
            ({"sender": sender, "direction": ["inbound"]}, "direction"),
            ({"sender": sender, "kind": {"a": 1}}, "kind"),
            ({"sender": sender, "thread_key": ["t"]}, "thread_key"),
            ({"sender": sender, "thread_key": "x" * 256}, "thread_key"),
            ({"sender": sender, "external_id": True}, "external_id"),
            ({"sender": sender, "body": "hola\x00"}, "body: contains a NUL character"),
            ({"sender": {"phone": "+34600700001\x00"}}, "sender.phone: contains a NUL"),
            ({"sender": {"email": "a@example.com", "name": "\x00"}}, "sender.name"),
            ({"sender": {"provider_id": ["x"]}}, "sender.provider_id"),
            ({"sender": {"phone": "00"}}, "sender.phone: cannot read '00' as a phone number"),
            ({"sender": sender, "attachments": [{"name": 42, "datas": "aGk="}]}, "attachments[1].name"),
            ({"sender": sender, "attachments": [{"name": "a.txt", "datas": 1}]}, "attachments[1].datas"),
            (
                {"sender": sender, "attachments": [{"name": "a", "datas": "aGk=", "mimetype": []}]},
                "attachments[1].mimetype",
            ),
            ({"sender": sender, "date": "9999-12-31T23:59:59"}, "date: 9999-12-31 23:59:59 UTC is in the future"),
            ({"sender": sender, "date": "0001-01-01T00:00:00+01:00"}, "date"),
            ({"sender": sender, "date": "1969-12-31T23:59:59Z"}, "date: 1969-12-31 23:59:59 is before 1970"),
            ({"sender": sender, "date": 1700000000}, "date"),
        ]
        before = self.written()
        for event, text in cases:
            with self.subTest(event=event):
                self.assertRefused(self.post(event), 400, "invalid_event", f"Event 1, {text}")
        # A lone surrogate is valid JSON text, and not Unicode: refused too.
        response = self.post('{"sender": {"phone": "+34600700001"}, "body": "a\\ud800b"}')
        self.assertRefused(response, 400, "invalid_event", "Event 1, body: contains an unpaired UTF-16 surrogate")
        self.assertEqual(self.written(), before)

    def test_back_office_kinds_come_only_from_odoo(self):
        before = self.written()
        for kind in ("order", "delivery", "invoice", "payment", "pos_order"):
            event = {"sender": {"phone": "+34600700002"}, "kind": kind, "res_model": "res.partner", "res_id": 1}
            self.assertRefused(self.post(event), 400, "invalid_event", "Event 1, kind:", "recorded by Odoo")
        self.assertEqual(self.written(), before)

    def test_the_same_thread_key_twice_joins_one_conversation(self):
        event = {"sender": {"phone": "+34600700003"}, "thread_key": 4711, "body": "uno"}
        first = self.post(event)
        self.assertEqual(first.status_code, 200, first.text)
        second = self.post(dict(event, body="dos"))
        self.assertEqual(second.status_code, 200, second.text)
        third = self.post(dict(event, thread_key="4711", body="tres"))
        interactions = self.env["omnichannel.interaction"].browse(
            first.json()["interaction_ids"] + second.json()["interaction_ids"] + third.json()["interaction_ids"]
        )
        self.assertEqual(len(interactions.conversation_id), 1)
        self.assertEqual(interactions.conversation_id.thread_key, "4711")

    def test_a_date_a_minute_ahead_is_a_clock_drift(self):
        ahead = (fields.Datetime.now() + timedelta(minutes=1)).isoformat() + "Z"
        response = self.post({"sender": {"phone": "+34600700004"}, "date": ahead})
        self.assertEqual(response.status_code, 200, response.text)

    def test_other_methods_are_405_in_json(self):
        for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS"):
            response = self.opener.request(method, self.base_url() + URL, headers=self.auth, timeout=10)
            self.assertRefused(response, 405, "method_not_allowed")
            self.assertEqual(response.headers["Allow"], "POST")
        self.assertEqual(self.opener.head(self.base_url() + URL, timeout=10).status_code, 405)

    def test_body_that_is_not_json(self):
        event = json.dumps({"sender": {"phone": "+34600700005"}})
        before = self.written()
        for lenient in ("text/plain", ""):  # what integrations written before the check may send
            response = self.post(dict(json.loads(event), external_id=f"lenient-{lenient}"), lenient)
            self.assertEqual(response.status_code, 200, response.text)
        before = self.written()
        self.assertRefused(self.post(event, "application/xml"), 415, "unsupported_media_type")
        self.assertRefused(self.post(b"a=1&b=2", "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
        response = self.url_open(URL, files={"events": ("e.json", event)}, headers=self.auth)
        self.assertRefused(response, 415, "unsupported_media_type")
        self.assertRefused(self.post(b'{"body": "\xff\xfe"}'), 400, "invalid_json", "not UTF-8")
        empty = self.opener.post(
            self.base_url() + URL, data=b"", headers=self.auth | {"Content-Type": "application/json"}
        )
        self.assertRefused(empty, 400, "invalid_json")
        self.assertRefused(self.post('{"sender": {"phone": NaN}}'), 400, "invalid_json", "NaN")
        self.assertRefused(self.post("1" + "0" * 5000), 400, "invalid_json")
        self.assertRefused(self.post("[" * 100000 + "]" * 100000), 400, "invalid_json", "nested too deeply")
        self.assertRefused(self.post({"events": [[[[]]]]}), 400, "invalid_events")
        self.assertEqual(self.written(), before)

    def test_bodies_over_the_limit_are_413(self):
        self.env["ir.config_parameter"].sudo().set_param("omnichannel.api_max_request_bytes", 2000)
        big = {"sender": {"phone": "+34600700006"}, "body": "x" * 3000}
        self.assertRefused(self.post(big), 413, "too_large", "2000 bytes")
        # A form body is read by Odoo before the route: over 10 MB, it answers for the route, in JSON.
        form = b"a=" + b"x" * (11 * 1024 * 1024)
        self.assertRefused(self.post(form, "application/x-www-form-urlencoded"), 413, "too_large")

        def chunks():
            yield json.dumps(big).encode()

        chunked = self.opener.post(
            self.base_url() + URL, data=chunks(), headers=self.auth | {"Content-Type": "application/json"}
        )
        self.assertRefused(chunked, 411, "length_required")
        self.assertEqual(self.post(dict(big, body="x" * 100)).status_code, 200)

    def test_unexpected_errors_are_json_and_write_nothing(self):
        def broken(self, events):
            raise RuntimeError("boom")

        before = self.written()
        with (
            patch.object(type(self.env["omnichannel.ingest"]), "_ingest_prepared", broken),
            mute_logger("odoo.addons.omnichannel_base.controllers.omnichannel_base"),
        ):
            response = self.post({"sender": {"phone": "+34600700007"}})
        self.assertRefused(response, 400, "unprocessable", "nothing was written")
        self.assertEqual(self.written(), before)


@tagged("post_install", "-at_install")
class TestApiToken(EventsApiCase):
    TOKEN = None  # each test gives the channel its token, or none

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "token.manager", groups="omnichannel_base.group_omnichannel_manager")
        cls.agent = new_test_user(cls.env, "token.agent", groups="omnichannel_base.group_omnichannel_user")
        cls.employee = new_test_user(cls.env, "token.employee", groups="base.group_user")

    def post(self, token):
        return super().post({"sender": {"phone": "+34600700100"}}, token=token)

    def stored(self):
        self.env.flush_all()
        self.env.cr.execute("SELECT api_token_hash FROM omnichannel_channel WHERE id = %s", [self.channel.id])
        return self.env.cr.fetchone()[0]

    def test_manager_generates_a_token_shown_once_and_stored_hashed(self):
        action = self.channel.with_user(self.manager).action_generate_api_token()
        token = action["context"]["default_token"]
        self.assertEqual(action["res_model"], "omnichannel.channel.token.show")
        self.assertGreaterEqual(len(token), 43)
        self.assertEqual(self.stored(), hashlib.sha256(token.encode()).hexdigest())
        self.env.cr.execute(
            "SELECT count(*) FROM omnichannel_channel WHERE to_jsonb(omnichannel_channel.*)::text LIKE %s",
            [f"%{token}%"],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0, "the token itself is stored nowhere")
        self.assertTrue(self.channel.with_user(self.manager).has_api_token)
        self.assertEqual(self.env["omnichannel.channel"]._find_by_api_token(token), self.channel)
        self.assertEqual(self.post(token).status_code, 200)

        again = self.channel.with_user(self.manager).action_generate_api_token()["context"]["default_token"]
        self.assertNotEqual(again, token)
        self.assertFalse(self.env["omnichannel.channel"]._find_by_api_token(token))
        self.assertEqual(self.post(token).status_code, 401, "the old token stops working at once")
        self.assertEqual(self.post(again).status_code, 200)

    def test_the_token_dialog_opens_for_a_manager(self):
        action = self.channel.with_user(self.manager).action_generate_api_token()
        Show = self.env[action["res_model"]].with_user(self.manager).with_context(action["context"])
        self.assertIn("token", Show.get_views([(False, "form")])["views"]["form"]["arch"])
        form = self.channel.with_user(self.manager).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="action_generate_api_token"', form)
        form = self.channel.with_user(self.agent).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn('name="action_generate_api_token"', form, "agents do not see the API tab")
        # What the web client asks to fill the dialog in.
        values = Show.onchange({}, [], {"token": {}})["value"]
        self.assertEqual(values["token"], action["context"]["default_token"])

    def test_token_is_shown_in_a_dialog_tour(self):
        url = f"/odoo/action-omnichannel_base.action_omnichannel_channel/{self.channel.id}"
        self.start_tour(url, "omnichannel_api_token_tour", login="admin")
        self.assertTrue(self.stored())

    def test_employees_and_agents_cannot_regenerate(self):
        self.channel.api_token = "kept-token"
        for user in (self.employee, self.agent):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.channel.with_user(user).action_generate_api_token()
            with self.assertRaises(AccessError):
                self.channel.with_user(user).write({"api_token": "chosen"})
        self.assertEqual(self.stored(), hashlib.sha256(b"kept-token").hexdigest())
        self.assertEqual(self.post("kept-token").status_code, 200)

    def test_employee_cannot_regenerate_over_rpc(self):
        self.channel.api_token = "kept-token"
        self.authenticate("token.employee", "token.employee")
        with mute_logger("odoo.http"):
            response = self.url_open(
                "/web/dataset/call_button",
                data=json.dumps(
                    {
                        "params": {
                            "model": "omnichannel.channel",
                            "method": "action_generate_api_token",
                            "args": [[self.channel.id]],
                            "kwargs": {},
                        }
                    }
                ),
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.json()["error"]["data"]["name"], "odoo.exceptions.AccessError")
        self.assertEqual(self.stored(), hashlib.sha256(b"kept-token").hexdigest())

    def test_lookup_refuses_archived_empty_and_odd_tokens(self):
        self.channel.api_token = "some-token"
        Channel = self.env["omnichannel.channel"]
        self.assertEqual(Channel._find_by_api_token("some-token"), self.channel)
        for token in ("", None, "some-token ", "x" * 1000, "\ud800", hashlib.sha256(b"some-token").hexdigest()):
            self.assertFalse(Channel._find_by_api_token(token), token)
        self.channel.active = False
        self.assertFalse(Channel._find_by_api_token("some-token"))

    def test_demo_token_still_works(self):
        demo = self.env.ref("omnichannel_base.channel_mobile_app", raise_if_not_found=False)
        if not demo:
            self.skipTest("no demo data")
        self.assertEqual(self.stored_of(demo), hashlib.sha256(b"demo-mobile-app-token").hexdigest())
        response = self.post("demo-mobile-app-token")
        self.assertEqual(response.status_code, 200, response.text)
        interaction = self.env["omnichannel.interaction"].browse(response.json()["interaction_ids"])
        self.assertEqual(interaction.channel_id, demo)

    def stored_of(self, channel):
        self.env.flush_all()
        self.env.cr.execute("SELECT api_token_hash FROM omnichannel_channel WHERE id = %s", [channel.id])
        return self.env.cr.fetchone()[0]


@tagged("post_install", "-at_install")
class TestApiTokenMigration(TransactionCase):
    def test_clear_tokens_become_hashes(self):
        path = Path(__file__).parents[1] / "migrations" / "18.0.1.1.0" / "post-migrate.py"
        spec = importlib.util.spec_from_file_location("omnichannel_base_post_migrate_18_0_1_1_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        channel = self.env["omnichannel.channel"].create({"name": "Old app", "channel_type": "api"})
        cr = self.env.cr
        cr.execute("ALTER TABLE omnichannel_channel ADD COLUMN IF NOT EXISTS api_token varchar")
        cr.execute("UPDATE omnichannel_channel SET api_token = NULL")
        cr.execute(
            "UPDATE omnichannel_channel SET api_token = 'old-clear-token', api_token_hash = NULL WHERE id = %s",
            [channel.id],
        )
        migration.migrate(cr, "18.0.1.0.0")
        self.assertFalse(column_exists(cr, "omnichannel_channel", "api_token"))
        self.env.invalidate_all()
        self.assertEqual(channel.api_token_hash, hashlib.sha256(b"old-clear-token").hexdigest())
        self.assertEqual(self.env["omnichannel.channel"]._find_by_api_token("old-clear-token"), channel)


@tagged("post_install", "-at_install")
class TestIngestValidation(TransactionCase):
    """What ingest refuses, whoever calls it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.channel = cls.env["omnichannel.channel"].create({"name": "Server app", "channel_type": "api"})
        cls.ingest = cls.env["omnichannel.ingest"]

    def event(self, **values):
        return {"channel_id": self.channel.id, "sender": {"phone": "+34600700200"}, **values}

    def test_back_office_kinds_need_their_document(self):
        with self.assertRaisesRegex(ValidationError, "Event 1, kind: 'order' events are recorded by Odoo"):
            self.ingest.ingest(self.event(kind="order"))
        order = self.env["sale.order"].create({"partner_id": self.env.ref("base.res_partner_12").id})
        interaction = self.ingest.ingest(self.event(kind="order", res_model="sale.order", res_id=order.id))
        self.assertEqual(
            (interaction.kind, interaction.res_model, interaction.res_id), ("order", "sale.order", order.id)
        )
        for values, field in [
            ({"res_model": "no.such.model", "res_id": 1}, "res_model"),
            ({"res_model": "mail.thread", "res_id": 1}, "res_model"),  # abstract: no table to look in
            ({"res_model": "sale.order"}, "res_id"),
            ({"res_id": order.id}, "res_model"),
            ({"res_model": "sale.order", "res_id": order.id + 1000}, "res_id"),
            ({"res_model": "sale.order", "res_id": "1"}, "res_id"),
        ]:
            with self.subTest(values=values), self.assertRaisesRegex(ValidationError, f"Event 1, {field}:"):
                self.ingest.ingest(self.event(kind="invoice", **values))

    def test_dates_a_few_minutes_ahead_at_most(self):
        now = fields.Datetime.now()
        self.assertTrue(self.ingest.ingest(self.event(date=now + timedelta(minutes=4))))
        with self.assertRaisesRegex(ValidationError, "Event 1, date: .* is in the future"):
            self.ingest.ingest(self.event(date=now + timedelta(minutes=6)))
        with self.assertRaisesRegex(ValidationError, "Event 1, date: .* is in the future"):
            self.ingest.ingest(self.event(date=(now + timedelta(hours=1)).isoformat() + "+00:00"))

    def test_integer_and_text_keys_are_one_key(self):
        first = self.ingest.ingest(self.event(thread_key=77, external_id=5))
        again = self.ingest.ingest(self.event(thread_key=" 77 ", external_id="5"))
        self.assertEqual(first, again, "the same external id")
        other = self.ingest.ingest(self.event(thread_key="77", external_id=6))
        self.assertEqual(other.conversation_id, first.conversation_id)
        self.assertEqual(first.external_id, "5")

    def test_text_postgresql_cannot_store_is_refused_not_cleaned(self):
        for values, field in [
            ({"external_id": "a\x00"}, "external_id"),
            ({"summary": "\ud83d"}, "summary"),
            ({"sender": {"phone": "+34600700200", "name": "Ana\x00"}}, "sender.name"),
            ({"attachments": [{"name": "a\x00.txt", "datas": "aGk="}]}, "attachments[1].name"),
        ]:
            with (
                self.subTest(values=values),
                self.assertRaisesRegex(ValidationError, re.escape(f"Event 1, {field}: contains")),
            ):
                self.ingest.ingest(self.event(**values))

    def test_batches_name_the_event_at_fault(self):
        with self.assertRaisesRegex(ValidationError, "Event 2, direction"):
            self.ingest.ingest([self.event(), self.event(direction=["inbound"])])
        for events in ("not events", None, 42):
            with self.assertRaises(ValidationError):
                self.ingest.ingest(events)
