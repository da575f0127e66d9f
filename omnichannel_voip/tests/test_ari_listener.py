"""The ARI listener end to end: the local ARI server plays calls over its events WebSocket, the
listener (its production loop, in a thread) stores and processes each event through the inbox,
routes calls waiting in Stasis, and catches up after a dropped socket.

HttpCase: Odoo's registry is in test mode, so the listener's own cursors share the test's
transaction (as HTTP requests do in tours); the test thread reads the database only while the
listener waits on its socket."""

import threading
import time

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.omnichannel_voip.tests.fake_ari import FakeAri
from odoo.addons.omnichannel_voip.tools.ari_client import AriClient
from odoo.addons.omnichannel_voip.tools.ari_listener import AriListener


@tagged("post_install", "-at_install")
class TestAriListener(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ari = FakeAri()
        cls.ari.start()
        cls.addClassCleanup(cls.ari.stop)
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = new_test_user(
            cls.env, "ari_agent", groups="omnichannel_base.group_omnichannel_user", name="Ana Agent"
        )
        cls.agent.omni_extension = "1001"
        cls.team = cls.env["omnichannel.team"].create({"name": "Phones", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {
                "name": "Asterisk test",
                "channel_type": "voice",
                "provider": "asterisk",
                "team_id": cls.team.id,
                "ari_url": cls.ari.url,
                "ari_user": "omni",
                "ari_password": "secret",
                "ari_app": "omnichannel",
                "ari_outbound_context": "omnichannel-outbound",
            }
        )
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Prieto", "phone": "+34 600 123 456"})
        cls.Call = cls.env["omnichannel.call"]

    def setUp(self):
        super().setUp()
        self.ari.reset()
        self.ari.default_dial = "PJSIP/1009"  # the dialplan's fallback: nobody we know

    # ------------------------------------------------------------ helpers
    def start_listener(self):
        listener = AriListener(self.registry, self.channel.id, backoff_cap=0.2)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.testing = True  # background work must not commit for real (see omnichannel_base jobs)

        def stop():
            listener.stop()
            thread.join(10)

        self.addCleanup(stop)
        listener.thread = thread
        thread.start()
        self.ari.wait_connected()
        self.settle(listener)
        return listener

    def settle(self, listener, timeout=15):
        """Wait until the listener has read every event sent and waits on its socket again."""
        deadline = time.monotonic() + timeout
        quiet = 0
        seen = -1
        while quiet < 5:
            if time.monotonic() > deadline:
                raise TimeoutError(f"listener still busy: {listener.stats}")
            time.sleep(0.04)
            count = listener.stats["events"]
            quiet = quiet + 1 if listener.idle.is_set() and count == seen else 0
            seen = count
        self.env.invalidate_all()

    def call_of(self, key):
        return self.Call.search([("channel_id", "=", self.channel.id), ("call_key", "=", key)])

    def varsets(self, channel_id):
        return {
            (e["variable"], e["value"])
            for e in self.ari.events
            if e["type"] == "ChannelVarset" and e["channel"]["id"] == channel_id
        }

    # ------------------------------------------------------------ tests
    def test_inbound_call_is_routed_stored_processed_and_popped(self):
        listener = self.start_listener()
        run = self.ari.inbound(caller="600123456", did="910000000", answer="1001", talk_seconds=65).wait()
        self.settle(listener)
        self.assertFalse(run.stuck, "the listener continued the call in the dialplan")
        # The provider's route: the team's agent, and the call marked as ours (inherited by its legs).
        self.assertLessEqual({("OMNI_DIAL", "PJSIP/1001"), ("__OMNI_CALL", "inbound")}, self.varsets(run.linkedid))
        self.assertTrue(run.channels[1].name.startswith("PJSIP/1001-"))
        call = self.call_of(run.linkedid)
        self.assertEqual(len(call), 1, "one row per call, whatever its events")
        self.assertEqual(
            (call.direction, call.partner_id, call.user_id, call.state, call.outcome),
            ("inbound", self.customer, self.agent, "ended", "answered"),
        )
        self.assertEqual(call.talk_seconds, 65)
        self.assertEqual(call.hangup_cause, 16)
        deliveries = self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(deliveries), listener.stats["stored"])
        self.assertEqual(set(deliveries.mapped("state")), {"done"}, "processed at once, not left to the cron")
        self.assertEqual(listener.stats["processed"], listener.stats["stored"])
        # Only the events about our calls are stored: not ChannelCreated, ChannelDialplan…
        self.assertLess(len(deliveries), len(self.ari.events))
        self.env.cr.precommit.run()
        pops = self.env["bus.bus"].search(
            [("channel", "like", f'"res.partner",{self.agent.partner_id.id}]'), ("message", "like", "screen_pop")]
        )
        self.assertEqual(len(pops), 1)

    def test_events_twice_leave_the_same_rows(self):
        listener = self.start_listener()
        run = self.ari.inbound(caller="600123456", answer=None, ring_seconds=9).wait()
        self.settle(listener)
        call = self.call_of(run.linkedid)
        self.assertEqual((call.state, call.outcome), ("ended", "missed"))
        stored = self.env["omnichannel.inbox"].search_count([("channel_id", "=", self.channel.id)])
        facts = call.read(["ring_date", "end_date", "outcome", "user_id", "hangup_cause"])
        listener.stop()
        listener.thread.join(10)
        for event in list(self.ari.events):  # the same frames again (a replaying proxy, a restart)
            self.assertFalse(listener.handle_event(event, route=False))
        self.env.invalidate_all()
        self.assertEqual(self.env["omnichannel.inbox"].search_count([("channel_id", "=", self.channel.id)]), stored)
        self.assertEqual(call.read(["ring_date", "end_date", "outcome", "user_id", "hangup_cause"]), facts)

    def test_dropped_socket_mid_call_reconnects_and_catches_up(self):
        listener = self.start_listener()
        talking = self.ari.inbound(caller="600123456", answer="1001", hold=("answered",))
        talking.reached("answered")
        ringing = self.ari.inbound(caller="699000111", answer="1001", hold=("ringing",))
        ringing.reached("ringing")
        self.settle(listener)
        self.assertEqual(self.call_of(talking.linkedid).state, "answered")
        self.assertEqual(self.call_of(ringing.linkedid).state, "ringing")
        # The network goes; the first call ends meanwhile: its hang-up events reach nobody.
        self.ari.refuse_websockets(times=1000)
        self.ari.drop_sockets()
        talking.release()
        talking.wait()
        time.sleep(0.5)  # a few refused reconnections, with backoff
        self.assertEqual(self.ari.connected(), 0)
        with self.ari._lock:
            self.ari._refuse_ws.clear()
        self.ari.wait_connected()
        self.settle(listener)
        self.assertGreaterEqual(listener.stats["connections"], 2)
        talked = self.call_of(talking.linkedid)
        self.assertEqual(talked.state, "ended", "a call that vanished while disconnected is closed")
        self.assertEqual(talked.outcome, "answered")
        self.assertTrue(talked.end_date)
        self.assertEqual(self.call_of(ringing.linkedid).state, "ringing", "a live call stays open")
        # The live call goes on and ends normally over the new socket.
        ringing.release()
        ringing.wait()
        self.settle(listener)
        call = self.call_of(ringing.linkedid)
        self.assertEqual((call.state, call.outcome, call.user_id), ("ended", "answered", self.agent))

    def test_call_waiting_in_stasis_after_reconnect_is_continued(self):
        listener = AriListener(self.registry, self.channel.id, backoff_cap=0.2)
        listener.load()
        listener.connect()
        self.ari.wait_connected()
        run = self.ari.inbound(caller="600123456", answer="1001")
        run.reached("stasis")
        # The listener dies before reading the StasisStart: the call waits in our app.
        listener.disconnect()
        self.assertEqual(len(self.ari.channels), 1)
        listener.connect()
        listener.resync()  # finds the channel in Stasis: routes and continues it
        run.wait()
        self.assertFalse(run.stuck)
        self.assertIn(("OMNI_DIAL", "PJSIP/1001"), self.varsets(run.linkedid))
        listener.disconnect()

    def test_routing_failure_still_continues_the_call(self):
        listener = self.start_listener()
        self.ari.inject("POST", r"/variable$", status=500, times=10)
        run = self.ari.inbound(caller="600123456", answer="1009").wait()
        self.settle(listener)
        self.assertFalse(run.stuck, "the call went on with the dialplan's fallback")
        self.assertTrue(run.channels[1].name.startswith("PJSIP/1009-"))
        # Without its marker the call's later events do not count as ours: the row the
        # StasisStart made is ended by the reconciliation (every RECONCILE_INTERVAL).
        call = self.call_of(run.linkedid)
        self.assertEqual((call.direction, call.state), ("inbound", "ringing"))
        self.ari.inject("GET", r"/channels$", status=503)
        self.assertEqual(listener.reconcile(), [], "Asterisk not answering: nothing is closed")
        self.assertEqual(listener.reconcile(), [run.linkedid])
        self.env.invalidate_all()
        self.assertEqual((call.state, call.outcome), ("ended", "missed"))

    def test_click_to_dial_events_fill_the_dialed_call(self):
        listener = self.start_listener()
        client = AriClient(self.ari.url, "omni", "secret")
        self.ari.originate_plan("+34600123456", customer="noanswer")
        client.originate(
            "PJSIP/1001", extension="+34600123456", context="omnichannel-outbound", priority=1,
            channel_id="omni-test-1", variables={"__OMNI_CALL": "outbound", "OMNI_DIAL_KEY": "omni-test-1"},
        )  # fmt: skip
        self.ari.runs[-1].wait()
        self.settle(listener)
        self.assertFalse(self.ari.runs[-1].stuck)
        call = self.call_of("omni-test-1")
        self.assertEqual(
            (call.direction, call.user_id, call.partner_id, call.state, call.outcome),
            ("outbound", self.agent, self.customer, "ended", "no_answer"),
        )
