"""The Asterisk ARI path where real PBXs and networks are awkward: call pickup, events read out of
order across deliveries, silently dead sockets, busy sockets.

The events are the local ARI server's (tests/fake_ari.py), or, where the fake does not play the
situation (call pickup), built with its own ``snapshot()`` exactly as Asterisk's code emits them
(the source lines are cited on each test). They reach Odoo the way the listener hands them over:
``omnichannel.inbox._store`` with the provider's event key, then ``_process`` on that row.
"""

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.omnichannel_voip.tests.fake_ari import ASTERISK_ID, Channel, FakeAri
from odoo.addons.omnichannel_voip.tests.test_asterisk_provider import AsteriskCase
from odoo.addons.omnichannel_voip.tools import ari_listener
from odoo.addons.omnichannel_voip.tools.ari_listener import AriListener


@tagged("post_install", "-at_install")
class TestAriAwkwardEvents(AsteriskCase):
    # ------------------------------------------------------------ helpers
    def leg(self, uid, name, state, linkedid, *, caller=("", ""), marker="inbound", context="from-trunk",
            exten="910000000", app=("", ""), created=None):  # fmt: skip
        """A Channel as ``ast_channel_snapshot_to_json`` gives it (ari.conf channelvars
        ``CHANNEL(linkedid),OMNI_CALL``, as the README asks)."""
        channel = Channel(
            id=uid,
            name=name,
            state=state,
            caller=caller,
            connected=("", ""),
            dialplan=[context, exten, 1, app[0], app[1]],
            creationtime=created or self.t0,
            linkedid=linkedid,
            variables={"__OMNI_CALL": marker} if marker else {},
        )
        return self.ari.snapshot(channel)

    def event(self, seconds, kind, **fields):
        event = {"type": kind, "timestamp": self.ari.timestamp(self.t0 + timedelta(seconds=seconds))}
        event.update(fields)
        event.update(asterisk_id=ASTERISK_ID, application="omnichannel")
        return event

    def call_backs(self, partner):
        conversations = self.env["omnichannel.conversation"].search([("partner_id", "=", partner.id)])
        return self.env["mail.activity"].search(
            [("activity_type_id", "=", self.env.ref("omnichannel_voip.activity_type_call_back").id),
             ("res_model", "=", "omnichannel.conversation"), ("res_id", "in", conversations.ids)]
        )  # fmt: skip

    def setUp(self):
        super().setUp()
        self.t0 = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=20)

    # ------------------------------------------------------------ findings
    def test_picked_up_call_is_answered_not_missed(self):
        """Call pickup (``*8``/``Pickup()``): Berta (1002) picks up the call ringing on Ana's phone.

        main/pickup.c ``ast_do_pickup`` masquerades the picker into the ringing leg
        (``ast_channel_move(target, chan)``); main/channel.c ``channel_do_masquerade`` swaps the
        two channels' uniqueid AND linkedid (``ast_channel_internal_swap_uniqueid_and_linkedid``)
        and names, and appends the picker's variables to the leg's (``clone_variables``, so
        OMNI_CALL stays "inbound"). main/stasis_channels.c ``dial_masquerade_breakdown``
        publishes Dial CANCEL for the old peer and Dial "" for the new one; app_dial then
        publishes Dial ANSWER for that peer. Until it joins the bridge (main/bridge_channel.c
        ``ast_bridge_channel_update_linkedids``: the oldest linkedid wins), that peer's linkedid is
        the picker's own call's: the ANSWER is keyed to another call. The customer's call ends
        "missed", a "Call back" activity is left for a customer Berta just spoke to, and a
        phantom inbound call row (no number) stays open."""
        trunk_id, ana_id, berta_id = "1732960000.1", "1732960000.2", "1732960000.3"
        customer = ("", "600123456")
        trunk = self.leg(
            trunk_id, "PJSIP/trunk-0000001a", "Ring", trunk_id, caller=customer, app=("Stasis", "omnichannel,inbound")
        )  # noqa: E501
        trunk_up = dict(trunk, state="Up")
        ana = self.leg(
            ana_id, "PJSIP/1001-0000001b", "Down", trunk_id, context="from-internal", app=("AppDial", "(Outgoing Line)")
        )  # noqa: E501
        ana_ringing = dict(ana, state="Ringing")
        # Berta's *8 call, before the masquerade: a call of her own (no marker, its own linkedid).
        picker = self.leg(berta_id, "PJSIP/1002-0000001c", "Up", berta_id, caller=("", "1002"), marker=None,
                          context="from-internal", exten="*8", app=("Pickup", ""))  # fmt: skip
        # After the masquerade: the dialed leg now bears Berta's uniqueid, linkedid and name, with
        # the leg's variables (OMNI_CALL=inbound) followed by hers.
        masqueraded = self.leg(berta_id, "PJSIP/1002-0000001c", "Ringing", berta_id, context="from-internal",
                               app=("AppDial", "(Outgoing Line)"))  # fmt: skip
        zombie = dict(ana_ringing, name="PJSIP/1001-0000001b<ZOMBIE>")
        # Once bridged with the trunk, its linkedid becomes the trunk's (the oldest).
        bridged = dict(masqueraded, state="Up", channelvars={"CHANNEL(linkedid)": trunk_id, "OMNI_CALL": "inbound"})
        events = [
            self.event(0, "StasisStart", channel=trunk, args=["inbound"]),
            self.event(0.2, "StasisEnd", channel=trunk),
            self.event(0.3, "Dial", caller=trunk, peer=ana, forward="", dialstring="1001", dialstatus=""),
            self.event(0.5, "ChannelStateChange", channel=ana_ringing),
            self.event(0.5, "Dial", caller=trunk, peer=ana_ringing, forward="", dialstring="", dialstatus="RINGING"),
            self.event(4.0, "ChannelStateChange", channel=picker),
            self.event(4.1, "Dial", caller=trunk, peer=zombie, forward="", dialstring="1001", dialstatus="CANCEL"),
            self.event(4.1, "Dial", caller=trunk, peer=masqueraded, forward="", dialstring="1001", dialstatus=""),
            self.event(4.2, "ChannelStateChange", channel=dict(masqueraded, state="Up")),
            self.event(
                4.2,
                "Dial",
                caller=trunk,
                peer=dict(masqueraded, state="Up"),
                forward="",
                dialstring="",
                dialstatus="ANSWER",
            ),  # fmt: skip
            self.event(4.3, "ChannelStateChange", channel=trunk_up),
            self.event(70.0, "ChannelHangupRequest", channel=trunk_up, cause=16),
            self.event(70.1, "ChannelDestroyed", channel=bridged, cause=16, cause_txt="Normal Clearing"),
            self.event(70.2, "ChannelDestroyed", channel=trunk_up, cause=16, cause_txt="Normal Clearing"),
        ]
        self.deliver(events)
        call = self.call_of(trunk_id)
        self.assertEqual(call.partner_id, self.customer)
        self.assertEqual(
            (call.state, call.outcome, call.user_id), ("ended", "answered", self.berta),
            "Berta picked the call up and talked for a minute",
        )  # fmt: skip
        self.assertFalse(self.call_backs(self.customer), "no 'Call back' for a call that was answered")
        self.assertEqual(self.Call.search_count([("channel_id", "=", self.channel.id)]), 1, "one row for the one call")

    def test_answer_read_after_the_end_undoes_the_missed_call_follow_up(self):
        """The same events in another order must leave the same call AND the same follow-up.

        Processing order is not event order: a delivery that failed once is retried by the inbox
        cron later, and every ``_store`` also wakes that cron, which races the listener's own
        ``_process`` (SKIP LOCKED) for the same rows. When the call's end is read before its
        answer, ``_after_end`` runs once, on the provisional outcome "missed": it schedules a
        "Call back" activity and leaves the conversation open. The answer read next turns the
        outcome to "answered", but ``_after_change`` never runs ``_after_end`` again."""
        caller_in_order, caller_late = "611000001", "611000002"
        in_order = self.env["res.partner"].create({"name": "In Order", "phone": "+34" + caller_in_order})
        late = self.env["res.partner"].create({"name": "Late Answer", "phone": "+34" + caller_late})
        run, events = self.play(self.ari.inbound, route=self.routes(caller_in_order), caller=caller_in_order,
                                answer="1001", talk_seconds=40)  # fmt: skip
        self.deliver(events)
        expected = self.call_of(run.linkedid)
        self.assertEqual(expected.outcome, "answered")
        self.assertFalse(self.call_backs(in_order))
        self.assertEqual(expected.conversation_id.state, "resolved")  # the channel resolves on an answered call

        run, events = self.play(self.ari.inbound, route=self.routes(caller_late), caller=caller_late,
                                answer="1001", talk_seconds=40)  # fmt: skip

        def answered(event):
            return (event["type"] == "Dial" and event.get("dialstatus") == "ANSWER") or (
                event["type"] == "ChannelStateChange" and event["channel"]["state"] == "Up"
            )

        # Everything in order, but the answer events are read last (their first try failed).
        self.deliver([e for e in events if not answered(e)] + [e for e in events if answered(e)])
        call = self.call_of(run.linkedid)
        self.assertEqual((call.state, call.outcome, call.user_id), ("ended", "answered", self.ana))
        self.assertEqual(call.talk_seconds, expected.talk_seconds)
        self.assertFalse(self.call_backs(late), "an answered call leaves no 'Call back' to do")
        self.assertEqual(call.conversation_id.state, "resolved", "as when the events are read in order")

    def test_talk_time_does_not_depend_on_the_order_updates_are_read(self):
        """``_settle_outcome`` computes talk_seconds once (``not self.talk_seconds``) from the
        answer date known at that moment; an earlier answer read later moves answer_date but
        not the talk time. Two answer events of one call (the agent leg's ChannelStateChange Up
        and Dial ANSWER) are hundreds of ms apart on a real PBX (200 OK, then ACK/bridging)."""

        def update(key, seconds, **values):
            base = {
                "channel_id": self.channel.id, "call_key": key, "date": self.t0 + timedelta(seconds=seconds),
                "direction": "inbound", "customer_number": "600123456", "withheld": False, "customer_name": None,
                "our_number": None, "agent_extension": None, "state": None, "outcome": None, "cause": None,
                "cause_text": None, "talk_seconds": None, "recording": None,
            }  # fmt: skip
            return dict(base, **values)

        def updates(key):
            ring = update(key, 0, state="ringing", agent_extension="1001")
            up = update(key, 10.9, state="answered", agent_extension="1001")  # the phone's 200 OK
            answer = update(key, 11.4, state="answered", agent_extension="1001")  # Dial ANSWER
            end = update(key, 76.0, state="ended", cause=16)
            return ring, up, answer, end

        ring, up, answer, end = updates("order.1")
        self.Call._apply_updates([ring])
        self.Call._apply_updates([up])
        self.Call._apply_updates([answer])
        self.Call._apply_updates([end])
        ring, up, answer, end = updates("disorder.1")
        self.Call._apply_updates([ring])
        self.Call._apply_updates([answer])
        self.Call._apply_updates([end])
        self.Call._apply_updates([up])
        first, second = self.call_of("order.1"), self.call_of("disorder.1")
        self.assertEqual(first.answer_date, second.answer_date)
        self.assertEqual(first.talk_seconds, 65)
        self.assertEqual(second.talk_seconds, first.talk_seconds, "the same facts, the same talk time")


class _BlackHoleProxy:
    """A TCP relay to the local ARI server whose open connections can go silent without closing:
    what a NAT or firewall that dropped its state does to a long-lived WebSocket."""

    def __init__(self, target):
        self.target = target
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.connections = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%s" % self.server.getsockname()[1]

    def _accept(self):
        while not self.stopped:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            state = {"silent": False}
            self.connections.append(state)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, state), daemon=True).start()

    def _pump(self, source, sink, state):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if state["silent"]:
                continue  # swallowed: nothing arrives, nothing is closed
            try:
                sink.sendall(data)
            except OSError:
                return

    def silence(self):
        for state in self.connections:
            state["silent"] = True

    def stop(self):
        self.stopped = True
        self.server.close()


@tagged("post_install", "-at_install")
class TestAriListenerLiveness(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ari = FakeAri()
        cls.ari.start()
        cls.addClassCleanup(cls.ari.stop)
        cls.proxy = _BlackHoleProxy(cls.ari._server.server_address[:2])
        cls.addClassCleanup(cls.proxy.stop)
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = new_test_user(
            cls.env, "review_ari_agent", groups="omnichannel_base.group_omnichannel_user", name="Rita Agent"
        )
        cls.agent.omni_extension = "1001"
        team = cls.env["omnichannel.team"].create({"name": "Review phones", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {
                "name": "Asterisk review",
                "channel_type": "voice",
                "provider": "asterisk",
                "team_id": team.id,
                "ari_url": cls.proxy.url,
                "ari_user": "omni",
                "ari_password": "secret",
            }
        )

    def setUp(self):
        super().setUp()
        self.ari.reset()

    def start_listener(self):
        listener = AriListener(self.registry, self.channel.id, backoff_cap=0.2)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.testing = True

        def stop():
            listener.stop()
            thread.join(10)

        self.addCleanup(stop)
        thread.start()
        self.ari.wait_connected()
        deadline = time.monotonic() + 10
        while not listener.idle.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        return listener

    def patch_constant(self, name, value):
        old = getattr(ari_listener, name)
        setattr(ari_listener, name, value)
        self.addCleanup(setattr, ari_listener, name, old)

    def test_silent_dead_socket_is_noticed_and_calls_are_not_left_in_stasis(self):
        """The listener pings a quiet socket but never checks that a pong (or anything) came back:
        a connection that died silently (NAT/firewall state dropped, a PBX host that vanished
        from the network) is never noticed until TCP gives up on its own (~15 min with Linux's
        tcp_retries2). Meanwhile Asterisk still sees the app's WebSocket as connected, so every
        incoming call enters ``Stasis(omnichannel,inbound)`` and waits there for a ``/continue``
        nobody sends: app_stasis has no timeout (the fake gives up after 5 s and flags
        ``run.stuck``). The docstring's "a dead TCP connection is noticed within about
        [PING_INTERVAL]" does not hold."""
        self.patch_constant("PING_INTERVAL", 0.3)
        listener = self.start_listener()
        self.assertEqual(listener.stats["connections"], 1)
        self.proxy.silence()
        time.sleep(4)  # many ping intervals, no answer to any ping
        self.assertGreaterEqual(listener.stats["connections"], 2, "a socket that answers no ping is replaced")
        run = self.ari.inbound(caller="600123456", answer="1001", talk_seconds=5).wait(20)
        self.assertFalse(run.stuck, "the incoming call was continued in the dialplan")

    def test_open_calls_are_reconciled_on_a_busy_socket_too(self):
        """``reconcile()`` (every RECONCILE_INTERVAL) is only reached from the
        ``WebSocketTimeoutException`` branch of ``pump()``, i.e. after a full second without any
        frame. With ``subscribeAll=true`` a busy PBX sends events for every channel and bridge
        of every call all day: the safety net that ends calls whose events were lost or not
        ours (no marker) then never runs, and such calls stay "ringing"/"in progress"."""
        self.patch_constant("RECONCILE_INTERVAL", 0.3)
        listener = self.start_listener()
        now = datetime.now(UTC).replace(tzinfo=None)
        self.env["omnichannel.call"]._apply_updates(
            [
                {
                    "channel_id": self.channel.id, "call_key": "1732960000.77", "date": now - timedelta(minutes=5),
                    "direction": "inbound", "customer_number": "600999888", "withheld": False,
                    "customer_name": None, "our_number": None, "agent_extension": None, "state": "ringing",
                    "outcome": None, "cause": None, "cause_text": None, "talk_seconds": None, "recording": None,
                }
            ]
        )  # fmt: skip
        call = self.env["omnichannel.call"].search([("call_key", "=", "1732960000.77")])
        self.assertEqual(call.state, "ringing")
        # The PBX is busy with other people's calls: a frame every 0.2 s for 3 s.
        for _i in range(15):
            self.ari.emit("ChannelVarset", variable="GLOBAL_COUNTER", value=str(_i))
            time.sleep(0.2)
        self.assertGreaterEqual(listener.stats["events"], 10)
        call.invalidate_recordset()
        self.assertEqual(call.state, "ended", "Asterisk has no channel for it: ended within the interval")
