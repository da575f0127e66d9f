"""The Asterisk provider against the local ARI server (tests/fake_ari.py): calls played as Asterisk
plays them, their events read from the real WebSocket, stored in the inbox and processed into
call rows; click-to-dial through ARI's originate; recordings; the connection test."""

import json
import random
import threading
from datetime import UTC, datetime, timedelta
import time

import websocket

from odoo.exceptions import AccessDenied, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.omnichannel_voip.tests.fake_ari import FakeAri
from odoo.addons.omnichannel_voip.tools import ari_events
from odoo.addons.omnichannel_voip.tools.ari_client import AriClient


class Driver:
    """What the listener does for these tests, on the fake's real WebSocket: collects every
    event, and lets each call that enters Stasis go on with the routing variables given."""

    def __init__(self, ari, route):
        self.ari, self.route = ari, route
        self.client = AriClient(ari.url, ari.user, ari.password)
        self.events = []
        self.errors = []
        self.socket = websocket.create_connection(
            self.client.events_url(ari.app), header=[self.client.auth_header()], timeout=10
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        ari.wait_connected()

    def _read(self):
        while True:
            try:
                frame = self.socket.recv()
            except Exception:  # noqa: BLE001 (closed)
                return
            if not frame:
                return
            event = json.loads(frame)
            self.events.append(event)
            if event["type"] == "StasisStart":
                try:
                    direction = (event.get("args") or [""])[0]
                    for name, value in self.route.get(direction, {}).items():
                        self.client.set_variable(event["channel"]["id"], name, value)
                    self.client.continue_in_dialplan(event["channel"]["id"])
                except Exception as exc:  # noqa: BLE001 (reported by close)
                    self.errors.append(exc)

    def close(self):
        deadline = time.monotonic() + 5
        while len(self.events) < len(self.ari.events) and time.monotonic() < deadline:
            time.sleep(0.01)  # what the fake sent is still on its way
        self.socket.close()
        self.thread.join(5)
        assert not self.errors, self.errors


@tagged("post_install", "-at_install")
class AsteriskCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ari = FakeAri(utc_offset=60)  # a PBX in Madrid: timestamps in +0100
        cls.ari.start()
        cls.addClassCleanup(cls.ari.stop)
        cls.env.company.country_id = cls.env.ref("base.es")
        group = "omnichannel_base.group_omnichannel_user"
        cls.ana = new_test_user(cls.env, "ari_ana", groups=group, name="Ana Agent")
        cls.ana.omni_extension = "1001"
        cls.berta = new_test_user(cls.env, "ari_berta", groups=group, name="Berta Agent")
        cls.berta.omni_extension = "1002"
        cls.team = cls.env["omnichannel.team"].create(
            {"name": "Switchboard", "member_ids": [(6, 0, (cls.ana | cls.berta).ids)]}
        )
        cls.channel = cls.make_channel("Asterisk test")
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Prieto", "phone": "+34 600 123 456"})
        cls.Call = cls.env["omnichannel.call"]
        cls.Inbox = cls.env["omnichannel.inbox"]

    @classmethod
    def make_channel(cls, name):
        channel = cls.env["omnichannel.channel"].create(
            {
                "name": name,
                "channel_type": "voice",
                "provider": "asterisk",
                "team_id": cls.team.id,
                "ari_url": cls.ari.url,
                "ari_user": cls.ari.user,
                "ari_password": cls.ari.password,
            }
        )
        assert channel.provider == "asterisk"
        return channel

    def setUp(self):
        super().setUp()
        self.ari.reset()
        self.provider = self.env["omnichannel.provider.asterisk"]

    # ------------------------------------------------------------ helpers
    def play(self, scenario, route=None, **kwargs):
        """Play a call on the fake with our routing; the events it sent, in order."""
        self.ari.clock = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=10)
        driver = Driver(self.ari, route if route is not None else self.routes())
        try:
            run = scenario(**kwargs)
            run.wait()
            assert not run.stuck, "a call waited in Stasis"
        finally:
            driver.close()
        return run, driver.events

    def routes(self, caller="600123456"):
        return {
            "inbound": self.provider._ari_route(
                self.channel, {"type": "StasisStart", "args": ["inbound"], "channel": {"caller": {"number": caller}}}
            ),
            "outbound": self.provider._ari_route(self.channel, {"type": "StasisStart", "args": ["outbound"]}),
        }

    def store(self, events, channel=None):
        """What the listener does with each event: the relevant ones go to the inbox, once."""
        channel = channel or self.channel
        ids = []
        for event in events:
            if not self.provider._is_relevant(channel, event):
                continue
            stored = self.Inbox._store(
                channel, json.dumps(event).encode(), "application/json", key=self.provider._event_key(channel, event)
            )
            if stored:
                ids.append(stored)
        return self.Inbox.browse(ids)

    def deliver(self, events, channel=None, one_by_one=True):
        deliveries = self.store(events, channel)
        if one_by_one:
            for delivery in deliveries:
                delivery._process()
        else:
            deliveries._process()
        self.assertEqual(set(deliveries.mapped("state")) - {"done"}, set(), deliveries.mapped("error"))
        return deliveries

    def call_of(self, key, channel=None):
        return self.Call.search([("channel_id", "=", (channel or self.channel).id), ("call_key", "=", key)])

    def pops_for(self, user):
        self.env.cr.precommit.run()  # Odoo writes bus messages just before the commit
        return (
            self.env["bus.bus"]
            .search([("message", "like", "screen_pop")])
            .filtered(lambda bus: json.loads(bus.channel)[1:] == ["res.partner", user.partner_id.id])
        )


@tagged("post_install", "-at_install")
class TestAsteriskInbound(AsteriskCase):
    def test_answered_call_is_one_row_with_the_answering_agent(self):
        run, events = self.play(self.ari.inbound, caller="600123456", answer="1002", ring_seconds=6, talk_seconds=65)
        self.assertGreater(len(events), 15)
        self.deliver(events)
        call = self.call_of(run.linkedid)
        self.assertEqual(len(call), 1)
        self.assertEqual(self.Call.search_count([("channel_id", "=", self.channel.id)]), 1)  # not one per leg
        self.assertEqual((call.direction, call.state, call.outcome), ("inbound", "ended", "answered"))
        self.assertEqual(call.partner_id, self.customer)
        self.assertTrue(call.partner_known)
        self.assertEqual(call.customer_number, "600123456")
        self.assertEqual(call.our_number, "910000000")
        self.assertEqual(call.user_id, self.berta)  # the one who answered, not the first who rang
        self.assertEqual(call.talk_seconds, 65)
        self.assertEqual((call.answer_date - call.ring_date).total_seconds() // 1, 6)
        self.assertEqual(call.hangup_cause, 16)
        self.assertEqual(call.hangup_cause_text, "Normal Clearing")
        # Timestamps came in +0100: stored in UTC, as the fake's clock (UTC) says.
        first = ari_events.parse_timestamp(events[0]["timestamp"])
        self.assertEqual(events[0]["timestamp"][-5:], "+0100")
        self.assertLessEqual(abs((call.start_date - first).total_seconds()), 5)
        interactions = self.env["omnichannel.interaction"].search(
            [("res_model", "=", "omnichannel.call"), ("res_id", "=", call.id)]
        )
        self.assertEqual(len(interactions), 1)
        self.assertEqual(interactions.partner_id, self.customer)
        # Both agents' phones rang: each got the screen pop once.
        self.assertEqual(len(self.pops_for(self.ana)), 1)
        self.assertEqual(len(self.pops_for(self.berta)), 1)

    def test_routing_rings_the_owner_of_the_open_conversation(self):
        self.assertEqual(self.routes()["inbound"], {"__OMNI_CALL": "inbound", "OMNI_DIAL": "PJSIP/1001&PJSIP/1002"})
        sms = self.env["omnichannel.channel"].create({"name": "SMS", "channel_type": "api"})
        interaction = self.env["omnichannel.ingest"].ingest(
            {
                "channel_id": sms.id,
                "kind": "message",
                "direction": "inbound",
                "external_id": "m1",
                "sender": {"phone": "+34600123456"},
                "body": "Can you call me about the quote?",
            }  # fmt: skip
        )
        self.assertEqual(interaction.partner_id, self.customer)
        interaction.conversation_id.sudo().user_id = self.berta
        self.assertEqual(self.routes()["inbound"]["OMNI_DIAL"], "PJSIP/1002")
        # National, international and 00-prefixed callers are the same customer.
        self.assertEqual(self.routes("+34600123456")["inbound"]["OMNI_DIAL"], "PJSIP/1002")
        self.assertEqual(self.routes("0034600123456")["inbound"]["OMNI_DIAL"], "PJSIP/1002")
        run, events = self.play(self.ari.inbound, caller="0034600123456", answer="1002")
        self.deliver(events)
        call = self.call_of(run.linkedid)
        self.assertEqual((call.partner_id, call.user_id, call.outcome), (self.customer, self.berta, "answered"))
        self.assertEqual(len(self.pops_for(self.ana)), 0)  # only Berta's phone rang
        self.assertEqual(self.routes()["outbound"], {"__OMNI_CALL": "outbound"})

    def test_missed_call_leaves_a_call_back(self):
        run, events = self.play(self.ari.inbound, caller="600123456", answer=None, ring_seconds=12)
        self.deliver(events)
        call = self.call_of(run.linkedid)
        self.assertEqual((call.state, call.outcome, call.answer_date), ("ended", "missed", False))
        self.assertFalse(call.talk_seconds)
        activities = self.env["mail.activity"].search(
            [("activity_type_id", "=", self.env.ref("omnichannel_voip.activity_type_call_back").id),
             ("res_model", "=", "omnichannel.conversation"), ("res_id", "=", call.conversation_id.id)]
        )  # fmt: skip
        self.assertEqual(len(activities), 1)

    def test_busy_agents(self):
        run, events = self.play(self.ari.inbound, caller="600123456", busy=("1001",), answer=None, ring_seconds=3)
        self.deliver(events)
        call = self.call_of(run.linkedid)
        self.assertEqual(call.outcome, "missed")
        self.assertEqual(call.user_id, self.berta)  # the busy agent never became the call's agent
        run, events = self.play(self.ari.inbound, caller="600123456", busy=("1001", "1002"), answer=None)
        self.deliver(events)
        call = self.call_of(run.linkedid)
        self.assertEqual((call.outcome, call.hangup_cause, call.user_id), ("missed", 17, self.env["res.users"]))

    def test_unanswered_until_dial_gives_up(self):
        run, events = self.play(self.ari.inbound, caller="612000111", answer="timeout")
        self.deliver(events)
        call = self.call_of(run.linkedid)
        self.assertEqual((call.outcome, call.partner_known), ("missed", False))
        self.assertEqual(call.partner_id.phone, "+34612000111")  # an unknown number becomes a contact

    def test_withheld_caller_is_kept_unknown(self):
        for caller in ("anonymous", ""):
            run, events = self.play(self.ari.inbound, caller=caller, answer="1001", talk_seconds=20)
            self.deliver(events)
            call = self.call_of(run.linkedid)
            self.assertTrue(call.withheld)
            self.assertFalse(call.customer_number)
            self.assertEqual(call.partner_id, self.env.ref("omnichannel_voip.partner_withheld"))
            self.assertEqual((call.outcome, call.user_id), ("answered", self.ana))

    def test_recording_is_downloaded_onto_the_call(self):
        run, events = self.play(self.ari.inbound, caller="600123456", answer="1001", record=True)
        ended = next(
            i for i, e in enumerate(events) if e["type"] == "ChannelDestroyed" and e["channel"]["id"] == run.linkedid
        )
        # MixMonitor names the file as the call starts: while the call goes on, nothing is fetched.
        self.deliver(events[:ended])
        Media = self.env["omnichannel.media"]
        self.assertFalse(Media.search([("ref", "=", run.linkedid)]))
        self.assertTrue(self.call_of(run.linkedid).pending_recordings)
        self.deliver(events[ended:])
        media = Media.search([("ref", "=", run.linkedid)])
        self.assertEqual(media.state, "pending")
        Media._cron_download()
        call = self.call_of(run.linkedid)
        self.assertTrue(call.recording_attachment_id)
        self.assertEqual(call.recording_attachment_id.mimetype, "audio/wav")
        self.assertEqual(call.recording_attachment_id.name, f"{run.linkedid}.wav")
        self.assertTrue(call.recording_attachment_id.raw.startswith(b"RIFF"))
        self.assertIn(f"/ari/recordings/stored/{run.linkedid}/file", [r["path"] for r in self.ari.requests])

    def test_disorder_and_redelivery_leave_the_same_row(self):
        run, events = self.play(self.ari.inbound, caller="600123456", answer="1002", record=True)
        self.deliver(events, one_by_one=False)
        expected = self.call_of(run.linkedid)
        other = self.make_channel("Asterisk replay")
        shuffled = events + random.Random(11).sample(events, len(events))
        random.Random(7).shuffle(shuffled)
        deliveries = self.store(shuffled, other)
        self.assertEqual(len(deliveries), len(self.store(events, self.make_channel("count"))))  # each stored once
        for delivery in deliveries:
            delivery._process()
        replayed = self.call_of(run.linkedid, other)
        self.assertEqual(len(replayed), 1)
        facts = ["direction", "customer_number", "our_number", "user_id", "state", "outcome", "hangup_cause",
                 "hangup_cause_text", "start_date", "ring_date", "answer_date", "end_date", "talk_seconds",
                 "partner_id", "withheld"]  # fmt: skip
        self.assertEqual(replayed.read(facts)[0] | {"id": 0}, expected.read(facts)[0] | {"id": 0})
        # Processing every delivery again changes nothing.
        for delivery in deliveries:
            delivery._process()
        self.assertEqual(replayed.read(facts)[0] | {"id": 0}, expected.read(facts)[0] | {"id": 0})

    def test_internal_calls_and_other_events_are_not_stored(self):
        _run, events = self.play(self.ari.inbound, caller="600123456", answer="1001")
        kinds = {e["type"] for e in events if not self.provider._is_relevant(self.channel, e)}
        self.assertIn("ChannelCreated", kinds)
        self.assertIn("ChannelDialplan", kinds)
        internal = dict(events[0], type="ChannelDestroyed", cause=16, cause_txt="Normal Clearing")
        internal["channel"] = dict(internal["channel"], channelvars={"CHANNEL(linkedid)": "1.1", "OMNI_CALL": ""})
        self.assertFalse(self.provider._is_relevant(self.channel, internal))

    def test_unreadable_event_is_kept_failed(self):
        delivery = self.Inbox.browse(
            self.Inbox._store(self.channel, b'{"type": "Dial", "peer": 3}', "application/json", key="bad")
        )
        delivery._process()
        self.assertEqual(delivery.state, "failed")
        self.assertIn("Dial", delivery.error)
        delivery = self.Inbox.browse(self.Inbox._store(self.channel, b"not json", "application/json", key="bad2"))
        delivery._process()
        self.assertEqual(delivery.state, "failed")

    def test_webhook_takes_nothing(self):
        with self.assertRaises(AccessDenied):
            self.provider._verify_webhook(self.channel, None)


@tagged("post_install", "-at_install")
class TestAsteriskClickToDial(AsteriskCase):
    def dial(self, plan="answer", **kwargs):
        self.ari.originate_plan("+34600123456", customer=plan, **kwargs)
        self.ari.clock = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=10)
        driver = Driver(self.ari, self.routes())
        try:
            action = self.customer.with_user(self.ana).action_omni_dial()
            self.assertEqual(action["tag"], "display_notification")
            call = self.Call.search([("channel_id", "=", self.channel.id), ("dial_key", "!=", False)], limit=1)
            for run in list(self.ari.runs):
                run.wait()
        finally:
            driver.close()
        return call, driver.events

    def test_originate_rings_the_agent_then_the_customer(self):
        call, events = self.dial("answer", talk_seconds=42)
        [placed] = self.ari.originated
        self.assertEqual(placed["params"]["endpoint"], "PJSIP/1001")
        self.assertEqual(placed["params"]["extension"], "+34600123456")
        self.assertEqual(placed["params"]["context"], "omnichannel-outbound")
        self.assertEqual(placed["params"]["channelId"], call.dial_key)
        self.assertEqual(placed["variables"], {"OMNI_DIAL_KEY": call.dial_key, "__OMNI_CALL": "outbound"})
        self.assertIn("Lucía Prieto", placed["params"]["callerId"])
        self.deliver(events)
        self.assertEqual(self.Call.search_count([("channel_id", "=", self.channel.id)]), 1)
        self.assertEqual(call.call_key, call.dial_key)
        self.assertEqual((call.direction, call.state, call.outcome), ("outbound", "ended", "answered"))
        self.assertEqual((call.user_id, call.partner_id), (self.ana, self.customer))
        self.assertEqual(call.talk_seconds, 42)
        self.assertEqual(call.customer_number, "+34600123456")

    def test_unanswered_click_to_dial(self):
        for plan, outcome, cause in (("busy", "busy", 17), ("noanswer", "no_answer", 16), ("rejected", "failed", 21)):
            with self.subTest(plan=plan):
                self.Call.search([]).sudo().unlink()
                self.ari.reset()
                call, events = self.dial(plan)
                self.deliver(events)
                self.assertEqual((call.state, call.outcome, call.hangup_cause), ("ended", outcome, cause))
                self.assertFalse(call.answer_date)

    def test_agent_does_not_pick_up(self):
        call, events = self.dial("answer", agent_answers=False)
        self.deliver(events)
        self.assertEqual((call.state, call.outcome), ("ended", "no_answer"))
        self.assertEqual(len(self.ari.originated), 1)

    def test_a_retried_originate_places_one_call(self):
        self.ari.originate_plan("*", customer="answer", hold=("agent_ringing",))
        self.ari.inject("POST", r"^/ari/channels$", status=503, times=1)
        call = self.Call.sudo().create(
            {"channel_id": self.channel.id, "call_key": "omni-retry-1", "dial_key": "omni-retry-1",
             "direction": "outbound", "customer_number": "+34600123456", "user_id": self.ana.id,
             "partner_id": self.customer.id, "state": "dialing"}
        )  # fmt: skip
        self.assertEqual(self.provider._originate(call), "omni-retry-1")  # 503, then placed
        self.assertEqual(self.provider._originate(call), "omni-retry-1")  # 409: it exists, nothing placed
        self.assertEqual(len(self.ari.originated), 1)
        for run in list(self.ari.runs):
            run.release()
            run.wait()

    def test_refused_originate_says_why(self):
        self.ari.inject("POST", r"^/ari/channels$", status=400, times=5)
        action = self.customer.with_user(self.ana).action_omni_dial()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Injected failure", action["params"]["message"])
        call = self.Call.search([("channel_id", "=", self.channel.id)])
        self.assertEqual((call.state, call.outcome), ("ended", "failed"))
        self.assertIn("Injected failure", call.hangup_cause_text)
        self.assertIn("Outgoing call · Failed", call.interaction_id.summary, "kept on the timeline as a failed call")

    def test_connection(self):
        action = self.channel.action_test_connection()
        message = action["params"]["message"]
        self.assertIn("Asterisk", message)
        self.assertIn("No listener", message)
        driver = Driver(self.ari, {})
        try:
            message = self.channel.action_test_connection()["params"]["message"]
        finally:
            driver.close()
        self.assertIn("The listener is connected", message)
        self.channel.ari_password = "other"
        with self.assertRaisesRegex(UserError, "401"):
            self.channel.action_test_connection()
