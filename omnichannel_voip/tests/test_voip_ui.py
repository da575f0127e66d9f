"""Calls in the browser (static/tests/tours/): the screen pop of a ringing call, for an agent
without settings rights, through Odoo's real bus; click-to-dial from a contact against the local
Asterisk ARI server."""

import threading
import time
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.tests.common import WebsocketCase

from .fake_ari import FakeAri

SUBSCRIBE_TIMEOUT = 60  # seconds the agent's browser may take to open Odoo and listen on the bus


@tagged("post_install", "-at_install")
class TestScreenPopTour(WebsocketCase):
    """WebsocketCase lets the browser open Odoo's websocket during the test, so the pop travels as
    in production: bus.bus row, websocket, bus service, screen pop service."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = new_test_user(
            cls.env,
            "voip.tour.agent",
            password="voip.tour.agent",  # start_tour logs in with the login as password
            groups="base.group_user,base.group_partner_manager,omnichannel_base.group_omnichannel_user",
            name="Ana Agente",
            tz="Europe/Madrid",
        )
        cls.agent.omni_extension = "1001"
        cls.team = cls.env["omnichannel.team"].create({"name": "Tienda", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.voice = cls.env["omnichannel.channel"].create(
            {"name": "Centralita", "channel_type": "voice", "team_id": cls.team.id}
        )
        cls.telegram = cls.env["omnichannel.channel"].create(
            {"name": "Telegram Tienda", "channel_type": "telegram", "team_id": cls.team.id}
        )
        company = cls.env["res.partner"].create({"name": "Calzados Prieto", "is_company": True})
        cls.customer = cls.env["res.partner"].create(
            {"name": "Lucía Prieto", "parent_id": company.id, "phone": "+34 612 345 678"}
        )

    def ring_when_listening(self, call_key, number):
        """Ring extension 1001 as a phone system would, once the agent's browser listens on the bus.

        Runs beside the tour: it waits for the browser's websocket to subscribe to the agent's
        channel, applies the ringing through the call model on a cursor of the test (as the ARI
        listener does), then wakes the websocket up, since tests send no PostgreSQL NOTIFY."""
        bus_channel = hashable(channel_with_db(self.registry.db_name, self.agent.partner_id))
        errors = []

        def ring():
            try:
                deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
                while not dispatch._channels_to_ws.get(bus_channel):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the agent's browser never listened on the bus")
                    time.sleep(0.1)
                now = fields.Datetime.now()
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["omnichannel.call"]._apply_updates(
                        [
                            {
                                "channel_id": self.voice.id,
                                "call_key": call_key,
                                "date": now,
                                "direction": "inbound",
                                "customer_number": number,
                                "state": None,
                            },
                            {
                                "channel_id": self.voice.id,
                                "call_key": call_key,
                                "date": now + timedelta(seconds=1),
                                "agent_extension": "1001",
                                "state": "ringing",
                            },
                        ]
                    )
                for websocket in list(dispatch._channels_to_ws.get(bus_channel, ())):
                    websocket.trigger_notification_dispatching()
            except Exception as error:  # noqa: BLE001 (reported by the test)
                errors.append(error)

        thread = threading.Thread(target=ring, name="ring-1001", daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        return errors

    def call(self, call_key):
        return self.env["omnichannel.call"].search([("channel_id", "=", self.voice.id), ("call_key", "=", call_key)])

    def test_screen_pop_of_a_known_caller(self):
        self.env["omnichannel.ingest"].ingest(
            [
                {
                    "channel_id": self.telegram.id,
                    "partner_id": self.customer.id,
                    "external_id": "tg-talla",
                    "date": fields.Datetime.now() - timedelta(days=1),
                    "body": "¿Tenéis la talla 42?",
                }
            ]
        )
        errors = self.ring_when_listening("1764493200.1", "612345678")

        self.start_tour("/odoo", "omnichannel_voip_screen_pop_tour", login=self.agent.login, timeout=120)

        self.assertFalse(errors, errors)
        self.env.invalidate_all()
        call = self.call("1764493200.1")
        self.assertEqual((call.partner_id, call.user_id, call.state), (self.customer, self.agent, "ringing"))
        self.assertEqual(call.note, "Quiere cambiar la talla 42 por una 43")
        self.assertIn("Quiere cambiar la talla 42 por una 43", call.interaction_id.summary)
        pops = self.env["bus.bus"].search([("message", "like", "omnichannel_voip/screen_pop")])
        self.assertEqual(len(pops), 1, "one pop for the one agent the call rang for")

    def test_screen_pop_of_an_unknown_number(self):
        errors = self.ring_when_listening("1764493200.2", "+44 7700 900123")

        self.start_tour("/odoo", "omnichannel_voip_screen_pop_unknown_tour", login=self.agent.login, timeout=120)

        self.assertFalse(errors, errors)
        self.env.invalidate_all()
        call = self.call("1764493200.2")
        self.assertFalse(call.partner_known)
        self.assertEqual(call.partner_id.name, "Oliver Smith", "the agent named the contact made for the number")
        self.assertEqual(call.partner_id.phone, "+447700900123")
        self.assertEqual(call.note, "Pregunta por un pedido al Reino Unido")


@tagged("post_install", "-at_install")
class TestClickToDialTour(HttpCase):
    """An agent places calls from the web client; the channel's phone system is the local ARI
    server, which records the originate requests it gets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ari = FakeAri()
        cls.ari.start()
        cls.addClassCleanup(cls.ari.stop)
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = new_test_user(
            cls.env,
            "voip.dial.agent",
            password="voip.dial.agent",
            groups="base.group_user,omnichannel_base.group_omnichannel_user",
            name="Ana Agente",
        )
        cls.agent.omni_extension = "1001"
        cls.team = cls.env["omnichannel.team"].create({"name": "Tienda", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.voice = cls.env["omnichannel.channel"].create(
            {
                "name": "Centralita",
                "channel_type": "voice",
                "provider": "asterisk",
                "team_id": cls.team.id,
                "ari_url": cls.ari.url,
                "ari_user": cls.ari.user,
                "ari_password": cls.ari.password,
            }
        )
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Prieto", "phone": "+34 612 345 678"})

    def setUp(self):
        super().setUp()
        self.ari.reset()

    def calls(self):
        return self.env["omnichannel.call"].search(
            [("channel_id", "=", self.voice.id), ("direction", "=", "outbound")], order="id"
        )

    def assert_placed(self, calls):
        """One originate per call, for the agent's phone then the customer's number in E.164."""
        self.assertEqual(len(self.ari.originated), len(calls), self.ari.originated)
        for request, call in zip(self.ari.originated, calls, strict=True):
            params = request["params"]
            self.assertEqual(params["endpoint"], "PJSIP/1001")
            self.assertEqual(params["extension"], "+34612345678")
            self.assertEqual(params["context"], "omnichannel-outbound")
            self.assertEqual(params["channelId"], call.dial_key)
            self.assertEqual((call.user_id, call.partner_id), (self.agent, self.customer))

    def test_click_to_dial_from_the_contact(self):
        self.start_tour(
            f"/odoo/res.partner/{self.customer.id}",
            "omnichannel_voip_click_to_dial_tour",
            login=self.agent.login,
            timeout=120,
        )
        self.env.invalidate_all()
        calls = self.calls()
        self.assertEqual(len(calls), 1, "one click, one call")
        self.assert_placed(calls)

    def test_call_back_from_the_timeline_and_the_conversation(self):
        now = fields.Datetime.now() - timedelta(hours=1)
        self.env["omnichannel.call"]._apply_updates(
            [
                {
                    "channel_id": self.voice.id,
                    "call_key": "1764493200.7",
                    "date": now,
                    "direction": "inbound",
                    "customer_number": "612345678",
                    "agent_extension": "1001",
                    "state": "ringing",
                },
                {
                    "channel_id": self.voice.id,
                    "call_key": "1764493200.7",
                    "date": now + timedelta(seconds=20),
                    "state": "ended",
                    "cause": 16,
                },
            ]
        )
        missed = self.env["omnichannel.call"].search([("call_key", "=", "1764493200.7")])
        self.assertEqual(missed.outcome, "missed")

        self.start_tour(
            f"/odoo/res.partner/{self.customer.id}",
            "omnichannel_voip_call_back_tour",
            login=self.agent.login,
            timeout=120,
        )
        self.env.invalidate_all()
        calls = self.calls()
        self.assertEqual(len(calls), 2, "the timeline's Call back and the conversation's Call")
        self.assert_placed(calls)
        self.assertEqual(calls[1].conversation_id, missed.conversation_id, "the call joins the conversation")
