"""Rules of the call core that a first version got wrong: late events and the Call back, companies,
who may be an agent, who may dial, and what counts as the first response. As non-admin users."""

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .test_call_core import CallCase
from .test_twilio_voice import CUSTOMER, VoiceCase


@tagged("post_install", "-at_install")
class TestCallRules(CallCase):
    def missed(self, key, minutes, number="612345678", ext="1001", channel=None):
        channel = channel or self.channel
        return [
            dict(
                self.update(key, minutes, direction="inbound", customer_number=number, agent_extension=ext),
                channel_id=channel.id,
                state="ringing",
            ),
            dict(self.update(key, minutes + 0.5, state="ended", cause=16), channel_id=channel.id),
        ]

    def answered(self, key, minutes, number="612345678", ext="1001"):
        return [
            self.update(
                key, minutes, direction="inbound", customer_number=number, agent_extension=ext, state="ringing"
            ),
            self.update(key, minutes + 0.1, agent_extension=ext, state="answered"),
            self.update(key, minutes + 3, state="ended", cause=16),
        ]

    def call_backs(self):
        return self.Call._call_back_activities(self.customer)

    # -------------------------------------------------------------- call back activity
    def test_late_missed_call_after_an_answered_one_asks_no_call_back(self):
        """A missed call whose events arrive after a later answered call (listener backfill after
        a reconnect, Twilio callbacks retried): the customer was spoken to since, nothing to do."""
        self.Call._apply_updates(self.answered("later-answered", 30))
        self.Call._apply_updates(self.missed("earlier-missed", 0))
        self.assertEqual(self.call_of("earlier-missed").outcome, "missed")
        self.assertFalse(self.call_backs(), "a call back for a customer who was spoken to after the missed call")

    def test_call_back_activity_is_per_company(self):
        """A shared contact calls two companies' lines: each company's agents get their own Call back;
        one company's missed call is not added to (or closed by) the other company's activity."""
        company_b = self.env["res.company"].create({"name": "Review Co B", "country_id": self.env.ref("base.es").id})
        agent_b = new_test_user(
            self.env,
            "voip_review_b",
            groups="omnichannel_base.group_omnichannel_user",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
            name="Carla B",
        )
        agent_b.omni_extension = "2001"
        channel_b = self.env["omnichannel.channel"].create(
            {"name": "Switchboard B", "channel_type": "voice", "company_id": company_b.id}
        )
        self.Call._apply_updates(self.missed("a-missed", 0))
        self.Call._apply_updates(self.missed("b-missed", 10, ext="2001", channel=channel_b))
        call_b = self.Call.search([("channel_id", "=", channel_b.id), ("call_key", "=", "b-missed")])
        self.assertEqual((call_b.partner_id, call_b.outcome, call_b.user_id), (self.customer, "missed", agent_b))
        activity_type = self.env.ref("omnichannel_voip.activity_type_call_back")
        # Company B's agent must have something to do about company B's missed call.
        visible_to_b = (
            self.env["mail.activity"].with_user(agent_b).search([("activity_type_id", "=", activity_type.id)])
        )
        self.assertTrue(visible_to_b, "company B's missed call left company B nothing to call back")
        # And company A's call back is still there when company B answers the customer later.
        self.Call._apply_updates(
            [dict(u, channel_id=channel_b.id) for u in self.answered("b-answered", 20, ext="2001")]
        )
        visible_to_a = (
            self.env["mail.activity"].with_user(self.agent).search([("activity_type_id", "=", activity_type.id)])
        )
        self.assertTrue(visible_to_a, "company B's answered call closed company A's call back")

    # -------------------------------------------------------------- extensions and access
    def test_another_user_cannot_take_an_agents_extension(self):
        """Any internal user may write their own Phone Extension (preferences). A salesperson who
        types an agent's extension must not get the agent's calls, screen pops or conversations."""
        group = "sales_team.group_sale_salesman"
        group = group if self.env.ref(group, raise_if_not_found=False) else "base.group_user"
        sales = new_test_user(self.env, "voip_review_sales", groups=group, name="Aaron Sales")
        try:
            sales.with_user(sales).write({"omni_extension": "1001"})
        except ValidationError:
            pass  # refusing a taken extension is a fix too
        self.Call._apply_updates(self.answered("hijack", 0)[:2])
        call = self.call_of("hijack")
        self.assertEqual(call.user_id, self.agent)
        self.assertFalse(self.pops_for(sales), "the screen pop of Ana's call went to a salesperson")
        self.assertTrue(self.pops_for(self.agent))

    def test_dial_uses_the_current_companys_line(self):
        """An agent of two companies, working in company A, calls a contact: the call goes out on
        company A's line (its caller id, its records), not on whichever channel sorts first."""
        company_b = self.env["res.company"].create({"name": "Review Co B2"})
        self.agent.company_ids = [(4, company_b.id)]
        channel_b = self.env["omnichannel.channel"].create(
            {"name": "A line of company B", "channel_type": "voice", "company_id": company_b.id}
        )
        companies = [self.env.company.id, company_b.id]  # working in company A, B also allowed
        try:
            self.customer.with_user(self.agent).with_context(allowed_company_ids=companies).action_omni_dial()
        except UserError:
            pass  # the test channels reach no phone system; the call row is what matters here
        placed = self.Call.search([("dial_key", "!=", False), ("user_id", "=", self.agent.id)])
        self.assertEqual(len(placed), 1)
        self.assertNotEqual(placed.channel_id, channel_b, "dialled on another company's line")
        self.assertEqual(placed.channel_id, self.channel)


@tagged("post_install", "-at_install")
class TestDialRules(VoiceCase):
    """Click-to-dial against the local Twilio, as real users."""

    def test_user_without_omnichannel_group_cannot_place_calls(self):
        """The Call buttons are for Omnichannel users (groups= on the views); through RPC any
        employee who typed a Phone Extension in their preferences places real calls."""
        customer = self.env["res.partner"].create({"name": "Lucía Prieto", "phone": CUSTOMER})
        employee = new_test_user(self.env, "tv_review_employee", groups="base.group_user", name="Eva Employee")
        employee.with_user(employee).write({"omni_extension": "+34 600 999 888"})
        error = None
        try:
            customer.with_user(employee).action_omni_dial()
        except UserError as exc:
            error = exc
        self.assertFalse(self.twilio.placed, "Twilio placed a call for a user outside the Omnichannel groups")
        self.assertIsInstance(error, AccessError)

    def test_unanswered_call_back_is_not_the_first_response(self):
        """A customer's call is missed; the agent calls back from the conversation and nobody
        answers. The customer got no answer: the conversation's first response stays empty, as
        it would for an inbound call nobody answered."""
        customer = self.env["res.partner"].create({"name": "Lucía Prieto", "phone": CUSTOMER})
        call = self.twilio.incoming(self.webhook_url(), CUSTOMER, "+34910000001")
        call.ring()
        call.unanswered("no-answer")
        self.process()
        missed = self.call_of(call.sid)
        self.assertEqual((missed.partner_id, missed.outcome), (customer, "missed"))
        conversation = missed.conversation_id
        self.assertFalse(conversation.first_response_date)
        conversation.with_user(self.ana).action_omni_dial()
        [placed] = self.twilio.placed
        self.twilio.run_outbound(placed["sid"], agent="answered", customer="no-answer", talk=0)
        self.process()
        back = self.env["omnichannel.call"].search([("dial_key", "!=", False)], order="id desc", limit=1)
        self.assertEqual((back.conversation_id, back.outcome), (conversation, "no_answer"))
        conversation.invalidate_recordset()
        self.assertFalse(conversation.first_response_date, "an unanswered call back counted as the first response")
        self.assertTrue(self.env["omnichannel.call"]._call_back_activities(customer), "the call back is still due")
