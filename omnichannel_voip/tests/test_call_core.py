"""The call model, fed with the provider-neutral updates every phone system's parser yields."""

import json
import random
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

T0 = datetime(2026, 11, 30, 9, 0, 0)


@tagged("post_install", "-at_install")
class CallCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.agent = new_test_user(
            cls.env, "voip_agent", groups="omnichannel_base.group_omnichannel_user", name="Ana Agent"
        )
        cls.agent.omni_extension = "1001"
        cls.other_agent = new_test_user(
            cls.env, "voip_agent2", groups="omnichannel_base.group_omnichannel_user", name="Berta Agent"
        )
        cls.other_agent.omni_extension = "+34 911 222 333"
        cls.team = cls.env["omnichannel.team"].create({"name": "Phones", "member_ids": [(6, 0, cls.other_agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Switchboard test", "channel_type": "voice", "team_id": cls.team.id}
        )
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Prieto", "phone": "+34 612 345 678"})
        cls.Call = cls.env["omnichannel.call"]

    def update(self, key, minutes, **values):
        return {"channel_id": self.channel.id, "call_key": key, "date": T0 + timedelta(minutes=minutes), **values}

    def inbound_answered(self, key="1764493200.10", number="612345678"):
        return [
            self.update(key, 0, direction="inbound", customer_number=number, state=None),
            self.update(key, 0.1, agent_extension="1001", state="ringing"),
            self.update(key, 0.5, agent_extension="1001", state="answered"),
            self.update(key, 4.7, state="ended", cause=16, cause_text="Normal Clearing"),
        ]

    def call_of(self, key):
        return self.Call.search([("channel_id", "=", self.channel.id), ("call_key", "=", key)])

    def pops_for(self, user):
        self.env.cr.precommit.run()  # Odoo writes bus messages just before the commit
        return self.env["bus.bus"].search(
            [("channel", "like", f'"res.partner",{user.partner_id.id}]'), ("message", "like", "screen_pop")]
        )


@tagged("post_install", "-at_install")
class TestCallFacts(CallCase):
    def test_answered_call_is_one_row_with_its_facts(self):
        self.Call._apply_updates(self.inbound_answered())
        call = self.call_of("1764493200.10")
        self.assertEqual(len(call), 1)
        self.assertEqual(call.direction, "inbound")
        self.assertEqual(call.partner_id, self.customer)
        self.assertTrue(call.partner_known)
        self.assertEqual(call.user_id, self.agent)
        self.assertEqual((call.state, call.outcome), ("ended", "answered"))
        self.assertEqual(call.ring_date, T0 + timedelta(minutes=0.1))
        self.assertEqual(call.answer_date, T0 + timedelta(minutes=0.5))
        self.assertEqual(call.talk_seconds, 252)
        interactions = self.env["omnichannel.interaction"].search(
            [("res_model", "=", "omnichannel.call"), ("res_id", "=", call.id)]
        )
        self.assertEqual(len(interactions), 1)
        self.assertEqual(interactions.kind, "call")
        self.assertEqual(interactions.partner_id, self.customer)
        self.assertEqual(interactions.user_id, self.agent)
        self.assertIn("4 min 12 s", interactions.summary)
        # The answer is the agent's response; the channel resolves answered calls.
        conversation = call.conversation_id
        self.assertEqual(conversation.first_inbound_date, T0)
        self.assertEqual(conversation.first_response_date, T0 + timedelta(minutes=0.5))
        self.assertEqual(conversation.state, "resolved")
        self.assertEqual(conversation.resolved_date, T0 + timedelta(minutes=4.7))

    def test_twice_and_out_of_order_leave_the_same_row(self):
        self.Call._apply_updates(self.inbound_answered("A"))
        reference = self.call_of("A")
        facts = [
            "direction",
            "partner_id",
            "user_id",
            "state",
            "outcome",
            "ring_date",
            "answer_date",
            "end_date",
            "talk_seconds",
            "hangup_cause",
        ]
        expected = reference.read(facts)[0]
        rng = random.Random(11)
        for round_ in range(4):
            updates = self.inbound_answered("B%s" % round_) * 2
            rng.shuffle(updates)
            for chunk in (updates[:3], updates[3:]):  # in two deliveries, as a reconnect would split them
                self.Call._apply_updates(chunk)
            got = self.call_of("B%s" % round_).read(facts)[0]
            self.assertEqual({k: got[k] for k in facts}, {k: expected[k] for k in facts})
        interactions = self.env["omnichannel.interaction"].search([("external_id", "in", ["B0", "B1", "B2", "B3"])])
        self.assertEqual(len(interactions), 4)

    def test_national_and_international_numbers_are_one_customer(self):
        for key, number in (("n1", "612 345 678"), ("n2", "0034612345678"), ("n3", "+34612345678")):
            self.Call._apply_updates(self.inbound_answered(key, number))
            self.assertEqual(self.call_of(key).partner_id, self.customer, number)

    def test_unknown_number_gets_a_contact_marked_unknown(self):
        self.Call._apply_updates(self.inbound_answered("u1", "+44 7700 900123"))
        call = self.call_of("u1")
        self.assertFalse(call.partner_known)
        self.assertEqual(call.partner_id.phone, "+447700900123")
        # A UK national number on a Spanish line cannot be dialled: an unknown caller, never a lost call.
        self.Call._apply_updates(self.inbound_answered("u2", "07700 900123"))
        unreadable = self.call_of("u2")
        self.assertEqual(unreadable.partner_id, self.env.ref("omnichannel_voip.partner_withheld"))
        self.assertEqual((unreadable.customer_number, unreadable.outcome), ("07700 900123", "answered"))

    def test_withheld_number_stays_unknown_and_asks_no_call_back(self):
        self.Call._apply_updates(
            [
                self.update("w", 0, direction="inbound", withheld=True, agent_extension="1001", state="ringing"),
                self.update("w", 0.4, state="ended", cause=16),
            ]
        )
        call = self.call_of("w")
        self.assertTrue(call.withheld)
        self.assertEqual(call.outcome, "missed")
        self.assertEqual(call.partner_id, self.env.ref("omnichannel_voip.partner_withheld"))
        self.assertEqual(call.conversation_id.state, "resolved")
        self.assertFalse(call.conversation_id.activity_ids)
        self.assertEqual(call.interaction_id.partner_id, self.env.ref("omnichannel_voip.partner_withheld"))

    def test_outbound_outcomes_from_hangup_causes(self):
        for key, cause, outcome in (("o17", 17, "busy"), ("o19", 19, "no_answer"), ("o34", 34, "failed")):
            self.Call._apply_updates(
                [
                    self.update(
                        key,
                        0,
                        direction="outbound",
                        customer_number="612345678",
                        agent_extension="1001",
                        state="ringing",
                    ),
                    self.update(key, 0.3, state="ended", cause=cause, cause_text="cause %s" % cause),
                ]
            )
            self.assertEqual(self.call_of(key).outcome, outcome)
        # A provider that states the outcome (Twilio's "busy") is believed.
        self.Call._apply_updates(
            [self.update("tw", 0, direction="outbound", customer_number="612345678", state="ended", outcome="busy")]
        )
        self.assertEqual(self.call_of("tw").outcome, "busy")

    def test_keep_conversation_open_when_the_channel_says_so(self):
        self.channel.voice_answered_action = "continue"
        self.Call._apply_updates(self.inbound_answered("k"))
        self.assertEqual(self.call_of("k").conversation_id.state, "open")

    def test_answering_agent_wins_over_ringing_one(self):
        self.Call._apply_updates(
            [
                self.update(
                    "r", 0, direction="inbound", customer_number="612345678", agent_extension="1001", state="ringing"
                ),
                self.update("r", 0.1, agent_extension="+34911222333", state="ringing"),
                self.update("r", 0.2, agent_extension="911 222 333", state="answered"),
            ]
        )
        self.assertEqual(self.call_of("r").user_id, self.other_agent)


@tagged("post_install", "-at_install")
class TestScreenPopAndFollowUp(CallCase):
    def test_screen_pop_once_per_agent_with_context(self):
        # The customer wrote before: the pop shows it.
        self.env["omnichannel.ingest"].ingest(
            [
                {
                    "channel_id": self.channel.id,
                    "kind": "message",
                    "partner_id": self.customer.id,
                    "external_id": "m1",
                    "summary": "¿Tienen la talla 38?",
                    "date": T0 - timedelta(days=1),
                }
            ]
        )
        updates = self.inbound_answered("p")[:2]
        self.Call._apply_updates(updates)
        self.Call._apply_updates(updates)  # redelivered: no second pop
        pops = self.pops_for(self.agent)
        self.assertEqual(len(pops), 1)
        payload = json.loads(pops.message)["payload"]
        self.assertEqual(payload["partner"]["name"], "Lucía Prieto")
        self.assertEqual([i["summary"] for i in payload["interactions"]], ["¿Tienen la talla 38?"])
        self.assertEqual(payload["number"], "+34 612 34 56 78")
        # The call's company (the browser allows it for the card's buttons) and its note so far.
        self.assertEqual((payload["company_id"], payload["note"]), (self.channel.company_id.id, ""))
        call = self.call_of("p")
        body = call._screen_pop_payload(self.agent)
        self.assertTrue(body["known"])
        self.assertEqual(body["partner"]["id"], self.customer.id)
        self.assertEqual([c["id"] for c in body["conversations"]], call.conversation_id.ids)
        self.assertFalse(self.pops_for(self.other_agent))

    def test_unknown_caller_pop_says_unknown(self):
        self.Call._apply_updates(self.inbound_answered("q", "+44 7700 900555")[:2])
        body = self.call_of("q")._screen_pop_payload(self.agent)
        self.assertFalse(body["known"])
        self.assertEqual(body["number"], "+44 7700 900555")
        action = self.call_of("q").with_user(self.agent).action_create_contact()
        self.assertEqual(action["res_id"], self.call_of("q").partner_id.id)

    def test_missed_calls_make_one_call_back_closed_by_an_answered_call(self):
        for index, key in enumerate(("m1", "m2", "m3")):
            self.Call._apply_updates(
                [
                    self.update(
                        key,
                        index * 10,
                        direction="inbound",
                        customer_number="612345678",
                        agent_extension="1001",
                        state="ringing",
                    ),
                    self.update(key, index * 10 + 0.5, state="ended", cause=16),
                ]
            )
            self.assertEqual(self.call_of(key).outcome, "missed")
        activities = self.Call._call_back_activities(self.customer)
        conversation_id = activities.res_id
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.user_id, self.agent)
        self.assertEqual(activities.note.count("Missed call"), 3)
        self.assertEqual(activities.res_id, self.call_of("m1").conversation_id.id)
        # The customer is called back and answers: the activity is done.
        self.Call._apply_updates(
            [
                self.update(
                    "back",
                    60,
                    direction="outbound",
                    customer_number="+34612345678",
                    agent_extension="1001",
                    state="ringing",
                ),
                self.update("back", 60.2, state="answered"),
                self.update("back", 63, state="ended", cause=16),
            ]
        )
        self.assertFalse(self.Call._call_back_activities(self.customer))
        done = self.env["mail.message"].search(
            [
                ("model", "=", "omnichannel.conversation"),
                ("res_id", "=", conversation_id),
                ("mail_activity_type_id", "=", self.env.ref("omnichannel_voip.activity_type_call_back").id),
            ]
        )
        self.assertTrue(done)

    def test_missed_call_without_agent_goes_to_the_team(self):
        self.Call._apply_updates(
            [
                self.update("t", 0, direction="inbound", customer_number="612345678", state="ringing"),
                self.update("t", 0.5, state="ended", cause=16),
            ]
        )
        activity = self.Call._call_back_activities(self.customer)
        self.assertEqual(activity.user_id, self.other_agent)  # the team's least busy agent


@tagged("post_install", "-at_install")
class TestCallAccess(CallCase):
    def test_agent_notes_the_call_and_nothing_else(self):
        self.Call._apply_updates(self.inbound_answered("n"))
        call = self.call_of("n").with_user(self.agent)
        call.note = "Quiere la talla 38 en azul; llamar cuando llegue."
        self.assertIn("talla 38", call.interaction_id.summary)
        with self.assertRaises(AccessError):
            call.write({"outcome": "missed"})
        with self.assertRaises(AccessError):
            call.unlink()

    def test_timeline_shows_the_call_live_with_call_back(self):
        self.Call._apply_updates(self.inbound_answered("tl"))
        call = self.call_of("tl")
        call.note = "Pide factura"
        items = self.customer.with_user(self.agent).omnichannel_timeline()["items"]
        item = next(i for i in items if i["source"] and i["source"]["model"] == "omnichannel.call")
        details = dict(item["details"])
        self.assertEqual(details["Outcome"], "Answered")
        self.assertEqual(details["Talk time"], "4 min 12 s")
        self.assertEqual(details["Agent"], "Ana Agent")
        self.assertEqual(details["Note"], "Pide factura")
        self.assertEqual([a["method"] for a in item["actions"]], ["action_omni_dial"])

    def test_dial_needs_an_extension_and_consent(self):
        outsider = new_test_user(self.env, "voip_noext", groups="omnichannel_base.group_omnichannel_user")
        with self.assertRaisesRegex(UserError, "extension"):
            self.customer.with_user(outsider).action_omni_dial()
        self.env["omnichannel.consent"].create(
            {"partner_id": self.customer.id, "channel_id": self.channel.id, "opt": "out", "source": "agent"}
        )
        with self.assertRaises(UserError):
            self.customer.with_user(self.agent).action_omni_dial()
        self.assertFalse(self.Call.search([("dial_key", "!=", False), ("partner_id", "=", self.customer.id)]))

    def test_other_company_agent_sees_no_call(self):
        self.Call._apply_updates(self.inbound_answered("c"))
        other = self.env["res.company"].create({"name": "Other Co"})
        stranger = new_test_user(
            self.env,
            "voip_other_co",
            groups="omnichannel_base.group_omnichannel_user",
            company_id=other.id,
            company_ids=[(6, 0, other.ids)],
        )
        self.assertFalse(self.Call.with_user(stranger).search([("call_key", "=", "c")]))
