"""Twilio Voice: the parser and TwiML (pure), and whole calls over HTTP against Odoo's server,
with every webhook signed by the official ``twilio`` library and a local Twilio (fake_twilio_voice)."""

import itertools
import json
import secrets
from pathlib import Path
from unittest.mock import patch
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, VoiceResponse

from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tests.common import _super_send

from ..tools import twilio_voice
from .fake_twilio_voice import RECORDING_AUDIO, FakeTwilioVoice, sign

ACCOUNT_SID = "AC" + "1f2e3d4c" * 4
AUTH_TOKEN = "twilio-voice-auth-token-for-tests"
OUR_NUMBER = "+34910000001"
CUSTOMER = "+34612345678"
ANA = "+34600111222"  # Ana's mobile, typed "+34 600 111 222" in her user
BERTA = "client:berta"  # Berta answers in Twilio's app
READ_TIMEOUT = 0.5
DATA = Path(__file__).parent / "data" / "twilio"
SIDS = itertools.count(1)


def new_sid(prefix="CA"):
    return f"{prefix}{next(SIDS):08x}{secrets.token_hex(12)}"


def canonical(xml):
    """XML with attributes sorted, to compare documents whatever their attribute order."""
    root = ElementTree.fromstring(xml)
    for element in root.iter():
        attributes = sorted(element.attrib.items())
        element.attrib.clear()
        element.attrib.update(attributes)
        element.text = (element.text or "").strip() or None
        element.tail = None
    return ElementTree.tostring(root, encoding="unicode")


class VoiceCase(HttpCase):
    """A Spanish company's phone channel on Twilio Voice, wired to a local Twilio (``cls.twilio``):
    Ana (a mobile number) and Berta (Twilio's app) answer its calls."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = FakeTwilioVoice(ACCOUNT_SID, AUTH_TOKEN, numbers={OUR_NUMBER})
        cls.twilio.start()
        cls.addClassCleanup(cls.twilio.stop)
        ICP = cls.env["ir.config_parameter"].sudo()
        ICP.set_param("omnichannel_voip.twilio_api_url", cls.twilio.url)
        ICP.set_param("omnichannel_voip.twilio_read_timeout", str(READ_TIMEOUT))
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.ana = new_test_user(cls.env, "tv_ana", groups="omnichannel_base.group_omnichannel_user", name="Ana Voz")
        cls.ana.omni_extension = "+34 600 111 222"
        cls.berta = new_test_user(
            cls.env, "tv_berta", groups="omnichannel_base.group_omnichannel_user", name="Berta Voz"
        )
        cls.berta.omni_extension = BERTA
        cls.admin = new_test_user(
            cls.env, "tv_admin", groups="base.group_system,omnichannel_base.group_omnichannel_manager", name="Iker"
        )
        cls.team = cls.env["omnichannel.team"].create(
            {"name": "Phones", "member_ids": [(6, 0, (cls.ana | cls.berta).ids)]}
        )
        cls.channel = cls.env["omnichannel.channel"].create(
            {
                "name": "Centralita",
                "channel_type": "voice",
                "provider": "twilio_voice",
                "team_id": cls.team.id,
                "tv_account_sid": ACCOUNT_SID,
                "tv_auth_token": AUTH_TOKEN,
                "tv_number": OUR_NUMBER,
            }
        )
        cls.webhook_path = "/omnichannel/webhook/twilio_voice/" + cls.channel.sudo().webhook_key

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

    def webhook_url(self, **query):
        self.env.flush_all()  # what the test changed, seen by the server's requests
        url = self.base_url() + self.webhook_path
        return f"{url}?{urlencode(query)}" if query else url

    def post_form(self, params, url=None, signature=..., token=AUTH_TOKEN):
        url = url or self.webhook_url()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is ...:
            signature = sign(token, url, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.opener.post(url, data=urlencode(params).encode(), headers=headers, timeout=60)

    def process(self):
        Inbox = self.env["omnichannel.inbox"]
        while Inbox._process_due():
            pass
        self.env.flush_all()

    def call_of(self, key):
        return self.env["omnichannel.call"].search([("channel_id", "=", self.channel.id), ("call_key", "=", key)])

    def deliveries(self):
        return self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)])

    def pops_for(self, user):
        self.env.cr.precommit.run()  # Odoo writes bus messages just before the commit
        return self.env["bus.bus"].search(
            [("channel", "like", f'"res.partner",{user.partner_id.id}]'), ("message", "like", "screen_pop")]
        )

    def assert_all_ok(self):
        bad = [(p.url, p.response.status_code, p.response.text[:200]) for p in self.twilio.posted if not p.response.ok]
        self.assertFalse(bad)


# ---------------------------------------------------------------------------------------------- pure
@tagged("post_install", "-at_install")
class TestTwilioVoiceParser(TransactionCase):
    """tools/twilio_voice.py on the documented forms of tests/data/twilio/."""

    def form(self, name, **changes):
        pairs = parse_qsl((DATA / name).read_text().strip(), keep_blank_values=True)
        pairs = [(k, changes.pop(k)) if k in changes else (k, v) for k, v in pairs]
        return [p for p in pairs if p[1] is not None] + [(k, v) for k, v in changes.items() if v is not None]

    def test_inbound_call_webhook(self):
        pairs = self.form("voice_webhook_inbound.txt")
        self.assertTrue(twilio_voice.is_incoming_call(dict(pairs), {}))
        [update] = twilio_voice.read_form(pairs, {})
        self.assertEqual(update["call_key"], dict(pairs)["CallSid"])
        self.assertEqual(update["direction"], "inbound")
        self.assertEqual(update["state"], "ringing")
        self.assertEqual(update["customer_number"], "+34612345678")
        self.assertEqual(update["our_number"], "+34910000001")
        self.assertEqual(update["customer_name"], "PRIETO LUCIA")
        self.assertFalse(update["withheld"])
        self.assertIsNone(update["date"])  # no Timestamp: the delivery's reception

    def test_withheld_callers(self):
        for caller in ("anonymous", "Anonymous", "restricted", "+266696687", "+8656696", ""):
            with self.subTest(caller=caller):
                [update] = twilio_voice.read_form(self.form("voice_webhook_inbound.txt", From=caller), {})
                self.assertTrue(update["withheld"])
                self.assertIsNone(update["customer_number"])

    def test_status_callbacks_of_the_call(self):
        parent = dict(self.form("status_callback_completed.txt"))
        for status, state in (("ringing", "ringing"), ("in-progress", None), ("completed", "ended"),
                              ("busy", "ended"), ("no-answer", "ended"), ("failed", "ended"),
                              ("canceled", "ended")):  # fmt: skip
            with self.subTest(status=status):
                [update] = twilio_voice.read_form(self.form("status_callback_completed.txt", CallStatus=status), {})
                self.assertEqual(update["call_key"], parent["CallSid"])
                self.assertEqual(update["state"], state)
                self.assertEqual(update["direction"], "inbound")
                self.assertIsNone(update["outcome"])  # inbound: the core says missed or answered
                self.assertIsNone(update["talk_seconds"])  # the whole call's time is not talk time
                self.assertEqual(str(update["date"]), "2026-11-30 09:02:21")

    def test_agent_legs_of_an_inbound_call(self):
        query = {"call": "CA" + "a" * 32, "dir": "in", "step": "leg"}
        leg = dict(self.form("status_callback_leg_ringing.txt"))
        [ringing] = twilio_voice.read_form(self.form("status_callback_leg_ringing.txt"), query)
        self.assertEqual((ringing["call_key"], ringing["state"]), ("CA" + "a" * 32, "ringing"))
        self.assertEqual(ringing["agent_extension"], leg["To"])
        self.assertEqual(ringing["direction"], "inbound")
        form = self.form("status_callback_leg_ringing.txt", CallStatus="in-progress")
        [answered] = twilio_voice.read_form(form, query)
        self.assertEqual(answered["state"], "answered")
        [ended] = twilio_voice.read_form(
            self.form("status_callback_leg_ringing.txt", CallStatus="completed", CallDuration="95"), query
        )
        self.assertEqual((ended["state"], ended["talk_seconds"]), ("ended", 95))
        for status in ("no-answer", "busy", "canceled", "failed", "initiated"):
            # One agent of several: the call goes on ringing the others.
            form = self.form("status_callback_leg_ringing.txt", CallStatus=status)
            self.assertEqual(twilio_voice.read_form(form, query), [], status)
        # Without our query, the parent's CallSid still names the call.
        [update] = twilio_voice.read_form(self.form("status_callback_leg_ringing.txt"), {})
        self.assertEqual(update["call_key"], leg["ParentCallSid"])

    def test_customer_leg_of_a_click_to_dial(self):
        query = {"call": "omni-1234", "dir": "out", "step": "leg"}
        expected = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "no_answer"}
        for status, outcome in expected.items():
            form = self.form("status_callback_leg_ringing.txt", CallStatus=status, To=CUSTOMER)
            [update] = twilio_voice.read_form(form, query)
            self.assertEqual((update["call_key"], update["state"], update["outcome"]), ("omni-1234", "ended", outcome))
            self.assertEqual(update["customer_number"], CUSTOMER)
            self.assertIsNone(update["agent_extension"])

    def test_dial_action(self):
        inbound = {"call": "CA" + "b" * 32, "dir": "in", "step": "dial"}
        [update] = twilio_voice.read_form(self.form("dial_action_completed.txt"), inbound)
        self.assertEqual((update["state"], update["outcome"], update["talk_seconds"]), ("ended", "answered", 95))
        [update] = twilio_voice.read_form(self.form("dial_action_completed.txt", DialCallStatus="no-answer"), inbound)
        self.assertEqual((update["state"], update["outcome"], update["cause_text"]), ("ended", None, "no-answer"))
        outbound = dict(inbound, call="omni-9", dir="out")
        [update] = twilio_voice.read_form(self.form("dial_action_completed.txt", DialCallStatus="busy"), outbound)
        self.assertEqual((update["call_key"], update["outcome"]), ("omni-9", "busy"))

    def test_click_to_dial_agent_leg(self):
        query = {"call": "omni-7", "dir": "out", "step": "status"}
        form = self.form("status_callback_completed.txt", Direction="outbound-api", To=ANA, From=OUR_NUMBER)
        [update] = twilio_voice.read_form(form, query)
        self.assertEqual((update["direction"], update["agent_extension"], update["outcome"]), ("outbound", ANA, None))
        form = self.form("status_callback_completed.txt", Direction="outbound-api", To=ANA, CallStatus="no-answer")
        [update] = twilio_voice.read_form(form, query)
        self.assertEqual((update["state"], update["outcome"]), ("ended", "no_answer"))

    def test_recording_status_callback(self):
        query = {"call": "CA" + "c" * 32, "dir": "in", "step": "recording"}
        pairs = self.form("recording_status_callback.txt")
        [update] = twilio_voice.read_form(pairs, query)
        self.assertEqual(update["call_key"], "CA" + "c" * 32)
        self.assertEqual(
            update["recording"],
            {
                "ref": dict(pairs)["RecordingUrl"],
                "name": dict(pairs)["RecordingSid"] + ".mp3",
                "mimetype": "audio/mpeg",
            },
        )
        self.assertEqual(twilio_voice.read_form(self.form("recording_status_callback.txt", RecordingStatus="absent"),
                                                query), [])  # fmt: skip

    def test_unusable_forms(self):
        cases = {
            "no CallSid": self.form("voice_webhook_inbound.txt", CallSid=None),
            "unknown CallStatus": self.form("voice_webhook_inbound.txt", CallStatus="teleported"),
            "NUL": self.form("voice_webhook_inbound.txt", From="+34\x00612"),
            "not a call id": self.form("voice_webhook_inbound.txt", CallSid="../../etc/passwd"),
            "longer than": self.form("voice_webhook_inbound.txt", CallSid="CA" + "0" * 200),
            "unknown DialCallStatus": self.form("dial_action_completed.txt", DialCallStatus="maybe"),
            "without RecordingSid": self.form("recording_status_callback.txt", RecordingUrl=None),
        }
        for reason, pairs in cases.items():
            with self.subTest(reason), self.assertRaisesRegex(twilio_voice.PayloadError, reason):
                twilio_voice.read_form(pairs, {})
        with self.assertRaisesRegex(twilio_voice.PayloadError, "unknown step"):
            twilio_voice.read_form(self.form("voice_webhook_inbound.txt"), {"step": "teleport"})

    def test_signature_is_twilios(self):
        url = "https://odoo.example.com/omnichannel/webhook/twilio_voice/k?call=CA1&step=dial"
        pairs = self.form("dial_action_completed.txt")
        expected = RequestValidator(AUTH_TOKEN).compute_signature(url, dict(pairs))
        self.assertEqual(twilio_voice.signature(AUTH_TOKEN, url, pairs), expected)
        self.assertTrue(twilio_voice.is_authentic(AUTH_TOKEN, [url], pairs, expected))
        # Twilio's libraries accept the URL with the scheme's port, and without it.
        with_port = url.replace(".com/", ".com:443/")
        self.assertTrue(twilio_voice.is_authentic(AUTH_TOKEN, [with_port], pairs, expected))
        self.assertFalse(twilio_voice.is_authentic(AUTH_TOKEN, [url + "x"], pairs, expected))
        self.assertFalse(twilio_voice.is_authentic("other", [url], pairs, expected))

    def test_twiml_is_what_twilios_library_writes(self):
        hook = "https://odoo.example.com/omnichannel/webhook/twilio_voice/k"
        ours = twilio_voice.dial_twiml(
            [ANA, BERTA, "sip:1001@pbx.example.com"],
            action=f"{hook}?call=CA1&dir=in&step=dial",
            leg_callback=f"{hook}?call=CA1&dir=in&step=leg",
            timeout=25,
            recording_callback=f"{hook}?call=CA1&dir=in&step=recording",
        )
        legs = {"status_callback_event": "initiated ringing answered completed",
                "status_callback": f"{hook}?call=CA1&dir=in&step=leg", "status_callback_method": "POST"}  # fmt: skip
        response = VoiceResponse()
        dial = Dial(
            action=f"{hook}?call=CA1&dir=in&step=dial",
            method="POST",
            timeout=25,
            record="record-from-answer-dual",
            recording_status_callback=f"{hook}?call=CA1&dir=in&step=recording",
            recording_status_callback_method="POST",
            recording_status_callback_event="completed",
        )
        dial.number(ANA, **legs)
        dial.client("berta", **legs)
        dial.sip("sip:1001@pbx.example.com", **legs)
        response.append(dial)
        self.assertEqual(canonical(ours), canonical(str(response)))
        rejected = VoiceResponse()
        rejected.reject(reason="busy")
        self.assertEqual(canonical(twilio_voice.reject_twiml()), canonical(str(rejected)))
        self.assertEqual(canonical(twilio_voice.empty_twiml()), canonical(str(VoiceResponse())))


# ---------------------------------------------------------------------------------------------- HTTP
@tagged("post_install", "-at_install")
class TestTwilioVoiceCalls(VoiceCase):
    def test_inbound_call_rings_the_team_answered_and_recorded(self):
        self.channel.tv_record = True
        call = self.twilio.incoming(self.webhook_url(), CUSTOMER, OUR_NUMBER, caller_name="PRIETO LUCIA")
        self.assertEqual(sorted(call.targets), sorted([ANA, BERTA]))  # Ana's number in E.164
        dial = call.dial
        self.assertEqual(dial.get("timeout"), "30")
        self.assertEqual(dial.get("record"), "record-from-answer-dual")
        self.assertIsNone(dial.get("callerId"))  # agents see the customer's number
        for url in (dial.get("action"), dial.get("recordingStatusCallback"), dial[0].get("statusCallback")):
            query = parse_qs(urlsplit(url).query)
            self.assertEqual((query["call"], query["dir"]), ([call.sid], ["in"]))
            self.assertTrue(url.startswith(self.webhook_url() + "?"))
        call.ring()
        self.process()
        # It rings for both agents: each sees who is calling.
        self.assertEqual(len(self.pops_for(self.ana)), 1)
        self.assertEqual(len(self.pops_for(self.berta)), 1)
        self.assertEqual(self.call_of(call.sid).state, "ringing")
        call.answer(ANA)
        call.hang_up(talk=95)
        call.end(duration=110)
        self.assert_all_ok()
        self.process()
        self.assertFalse(self.deliveries().filtered(lambda d: d.state != "done").mapped("error"))
        row = self.call_of(call.sid)
        self.assertEqual(len(row), 1)
        self.assertEqual((row.direction, row.state, row.outcome), ("inbound", "ended", "answered"))
        self.assertEqual((row.customer_number, row.our_number), (CUSTOMER, OUR_NUMBER))
        self.assertEqual(row.user_id, self.ana)
        self.assertEqual(row.talk_seconds, 95)
        self.assertTrue(row.ring_date <= row.answer_date <= row.end_date)
        self.assertEqual(row.partner_id.name, "PRIETO LUCIA")
        self.assertEqual(row.interaction_id.kind, "call")
        self.assertEqual(len(self.pops_for(self.ana)), 1)  # once per call
        # The recording, downloaded with the account's credentials, is on the call.
        self.env["omnichannel.media"]._cron_download()
        self.assertEqual(row.recording_attachment_id.raw, RECORDING_AUDIO)
        self.assertEqual(row.recording_attachment_id.mimetype, "audio/mpeg")
        download = [r for r in self.twilio.requests if "/Recordings/" in r.path]
        self.assertEqual(len(download), 1)
        self.assertTrue(download[0].path.endswith(".mp3"))
        self.assertTrue(download[0].headers["Authorization"].startswith("Basic "))

    def test_inbound_call_rings_the_agent_of_the_open_conversation(self):
        api = self.env["omnichannel.channel"].create({"name": "App", "channel_type": "api", "team_id": self.team.id})
        message = self.env["omnichannel.ingest"].ingest(
            {"channel_id": api.id, "external_id": "m1", "kind": "message", "direction": "inbound",
             "sender": {"phone": "612 34 56 78", "name": "Lucía Prieto"}, "body": "¿Y mi pedido?"}
        )  # fmt: skip
        message.conversation_id.user_id = self.berta
        call = self.twilio.incoming(self.webhook_url(), CUSTOMER, OUR_NUMBER)
        self.assertEqual(call.targets, [BERTA])
        self.assertEqual(call.dial[0].tag, "Client")
        self.assertIsNone(call.dial.get("record"))  # the channel does not record
        call.ring()
        call.answer(BERTA)
        call.hang_up(talk=30)
        call.end(40)
        self.process()
        row = self.call_of(call.sid)
        self.assertEqual((row.partner_id, row.user_id, row.outcome), (message.partner_id, self.berta, "answered"))
        self.assertTrue(row.partner_known)
        self.assertFalse(self.pops_for(self.ana))

    def test_missed_calls_make_one_call_back(self):
        for _attempt in range(2):
            call = self.twilio.incoming(self.webhook_url(), CUSTOMER, OUR_NUMBER)
            call.ring()
            call.unanswered("no-answer")
            call.end(duration=31)
        self.assert_all_ok()
        self.process()
        calls = self.env["omnichannel.call"].search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(calls), 2)
        self.assertEqual(set(calls.mapped("outcome")), {"missed"})
        self.assertEqual(set(calls.mapped("hangup_cause_text")), {"no-answer"})
        activities = calls.conversation_id.activity_ids
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.activity_type_id, self.env.ref("omnichannel_voip.activity_type_call_back"))

    def test_withheld_caller(self):
        call = self.twilio.incoming(self.webhook_url(), "anonymous", OUR_NUMBER)
        self.assertEqual(sorted(call.targets), sorted([ANA, BERTA]))
        call.ring()
        call.answer(BERTA)
        call.hang_up(talk=12)
        call.end(20)
        self.process()
        row = self.call_of(call.sid)
        self.assertTrue(row.withheld)
        self.assertFalse(row.customer_number)
        self.assertEqual(row.outcome, "answered")

    def test_nobody_to_ring_rejects_the_call(self):
        self.team.member_ids = self.admin  # no phone extension
        call = self.twilio.incoming(self.webhook_url(), CUSTOMER, OUR_NUMBER)
        self.assertEqual([element.tag for element in call.twiml], ["Reject"])
        call.parent_status("busy")
        self.process()
        self.assertEqual(self.call_of(call.sid).outcome, "missed")

    def test_click_to_dial_every_outcome(self):
        cases = [
            ("answered", "answered", "answered", 42),
            ("answered", "busy", "busy", 0),
            ("answered", "no-answer", "no_answer", 0),
            ("answered", "failed", "failed", 0),
            ("answered", "canceled", "no_answer", 0),
            ("no-answer", None, "no_answer", 0),
            ("busy", None, "busy", 0),
        ]
        customer = self.env["res.partner"].create({"name": "Lucía Prieto", "phone": "612 34 56 78"})
        for agent, fate, outcome, talk in cases:
            with self.subTest(agent=agent, customer=fate):
                self.twilio.reset()
                action = customer.with_user(self.ana).action_omni_dial()
                self.assertEqual(action["tag"], "display_notification")
                [placed] = self.twilio.placed
                row = self.env["omnichannel.call"].search([("dial_key", "!=", False)], order="id desc", limit=1)
                self.assertEqual((placed["To"], placed["From"], placed["Method"]), (ANA, OUR_NUMBER, "POST"))
                self.assertEqual(placed["StatusCallbackEvent"], ["initiated", "ringing", "answered", "completed"])
                connect = parse_qs(urlsplit(placed["Url"]).query)
                expected = {"call": [row.dial_key], "dir": ["out"], "step": ["connect"], "to": [CUSTOMER]}
                self.assertEqual(connect, expected)
                self.assertEqual(parse_qs(urlsplit(placed["StatusCallback"]).query)["call"], [row.dial_key])
                documented = json.loads((DATA / "call_create_response.json").read_text())
                self.assertEqual(set(self.twilio.calls[placed["sid"]]), set(documented))
                call = self.twilio.run_outbound(placed["sid"], agent=agent, customer=fate, talk=talk)
                self.assert_all_ok()
                if agent == "answered":
                    self.assertEqual(call.targets, [CUSTOMER])
                    self.assertEqual(call.dial.get("callerId"), OUR_NUMBER)
                self.process()
                row.invalidate_recordset()
                self.assertEqual(self.env["omnichannel.call"].search_count([("dial_key", "=", row.dial_key)]), 1)
                self.assertEqual((row.direction, row.state, row.outcome), ("outbound", "ended", outcome))
                self.assertEqual(row.user_id, self.ana)
                self.assertEqual(row.talk_seconds, talk)
                self.assertFalse(self.pops_for(self.ana))  # she placed it: no pop-up

    def test_click_to_dial_answer_lost_places_one_call(self):
        """Twilio placed the call but its answer came too late: the call is found, not placed again."""
        customer = self.env["res.partner"].create({"name": "Lucía Prieto", "phone": CUSTOMER})
        self.twilio.inject("POST", r"/Calls\.json$", delay_after=READ_TIMEOUT * 3)
        customer.with_user(self.ana).action_omni_dial()
        self.assertEqual(len(self.twilio.placed), 1)
        row = self.env["omnichannel.call"].search([("dial_key", "!=", False)], order="id desc", limit=1)
        self.assertNotEqual(row.state, "ended")
        self.twilio.run_outbound(self.twilio.placed[0]["sid"], talk=20)
        self.process()
        self.assertEqual((row.outcome, row.talk_seconds), ("answered", 20))

    def test_click_to_dial_refused(self):
        customer = self.env["res.partner"].create({"name": "Lucía Prieto", "phone": CUSTOMER})
        self.twilio.inject("POST", r"/Calls\.json$", code=21215, message="Account not authorized to call +34612345678.")
        action = customer.with_user(self.ana).action_omni_dial()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Voice geographic permissions", action["params"]["message"])
        self.twilio.inject("POST", r"/Calls\.json$", status=503)
        action = customer.with_user(self.ana).action_omni_dial()
        self.assertIn("Service Unavailable", action["params"]["message"])
        self.assertFalse(self.twilio.placed)
        failed = self.env["omnichannel.call"].search([("partner_id", "=", customer.id)])
        self.assertEqual(failed.mapped("outcome"), ["failed", "failed"], "each attempt kept as a failed call")

    def test_forged_requests_are_refused(self):
        pairs = self.twilio.common(new_sid(), CUSTOMER, OUR_NUMBER, "ringing", "inbound")
        before = self.env["omnichannel.inbox"].search_count([])
        for signature in (None, "", sign("another-token", self.webhook_url(), pairs),
                          sign(AUTH_TOKEN, self.webhook_url() + "x", pairs),
                          sign(AUTH_TOKEN, self.webhook_url(), [*pairs, ("Extra", "1")])):  # fmt: skip
            response = self.post_form(pairs, signature=signature)
            self.assertEqual(response.status_code, 403, response.text)
            self.assertEqual(response.json()["error"], "invalid_signature")
        # Our callback URLs sign their query too: another call's key is another URL.
        url = self.webhook_url(call="CA1", dir="in", step="dial")
        response = self.post_form(
            pairs, url=self.webhook_url(call="CA2", dir="in", step="dial"), signature=sign(AUTH_TOKEN, url, pairs)
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.env["omnichannel.inbox"].search_count([]), before)

    def test_redelivery_is_stored_once(self):
        url = self.webhook_url(call="CA" + "d" * 32, dir="in", step="leg")
        leg = self.twilio.common(new_sid(), CUSTOMER, ANA, "ringing", "outbound-dial", "CA" + "d" * 32)
        leg += [("CallbackSource", "call-progress-events"), ("SequenceNumber", "1"),
                ("Timestamp", "Mon, 30 Nov 2026 09:00:05 +0000")]  # fmt: skip
        for _attempt in range(3):
            response = self.post_form(leg, url=url)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(canonical(response.text), canonical(twilio_voice.empty_twiml()))
        self.assertEqual(len(self.deliveries()), 1)
        self.process()
        row = self.call_of("CA" + "d" * 32)
        self.assertEqual((row.state, row.user_id), ("ringing", self.ana))
        self.assertEqual(len(self.pops_for(self.ana)), 1)

    def test_unusable_delivery_kept_failed_then_replayed(self):
        """A recording status Twilio adds later fails with its reason; once understood, replaying it works."""
        self.channel.tv_record = True
        call = self.twilio.incoming(self.webhook_url(), CUSTOMER, OUR_NUMBER)
        call.ring()
        call.answer(ANA)
        call.hang_up(talk=5)
        call.recording(5, status="transcribed")
        self.process()
        failed = self.deliveries().filtered(lambda d: d.state == "failed")
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed.error, "Not a Twilio call or callback: unknown RecordingStatus 'transcribed'")
        with patch.object(twilio_voice, "RECORDING_STATUSES", {*twilio_voice.RECORDING_STATUSES, "transcribed"}):
            failed.with_user(self.admin).action_replay()
        self.assertEqual(failed.state, "done")

    def test_connect_twiml_checks_its_url(self):
        pairs = self.twilio.common(new_sid(), OUR_NUMBER, ANA, "in-progress", "outbound-api")
        response = self.post_form(pairs, url=self.webhook_url(call="omni-1", dir="out", step="connect", to="612"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(canonical(response.text), canonical(str(VoiceResponse())))  # not a number: hang up

    def test_test_connection_and_foreign_recordings(self):
        action = self.channel.with_user(self.admin).action_test_connection()
        self.assertIn("Tienda Bilbao", str(action))
        self.assertIn(OUR_NUMBER, str(action))
        provider = self.env["omnichannel.provider.twilio_voice"]
        self.twilio.reset()
        from odoo.addons.omnichannel_base.tools.provider import ProviderError  # noqa: PLC0415

        with self.assertRaisesRegex(ProviderError, "not on the Twilio API"):
            provider._download_media(self.channel, "https://evil.example.com/Recordings/RE1")
        self.assertFalse(self.twilio.requests)

    def test_documented_examples_match_the_fake(self):
        """The fake posts at least the fields Twilio documents for each request (tests/data/twilio)."""
        self.channel.tv_record = True
        call = self.twilio.incoming(self.webhook_url(), CUSTOMER, OUR_NUMBER, caller_name="PRIETO LUCIA")
        call.ring()
        call.answer(ANA)
        call.hang_up(talk=3)
        call.end(5)
        posted = [dict(p.params) for p in self.twilio.posted]
        shapes = {
            "voice_webhook_inbound.txt": lambda form: "CallerName" in form,
            "status_callback_completed.txt": lambda form: (
                form.get("Direction") == "inbound" and "CallbackSource" in form
            ),
            "status_callback_leg_ringing.txt": lambda form: (
                form.get("CallStatus") == "ringing" and "ParentCallSid" in form
            ),
            "dial_action_completed.txt": lambda form: "DialCallStatus" in form,
            "recording_status_callback.txt": lambda form: "RecordingSid" in form,
        }
        for name, is_shape in shapes.items():
            documented = {k for k, _v in parse_qsl((DATA / name).read_text().strip(), keep_blank_values=True)}
            ours = next(form for form in posted if is_shape(form))
            self.assertFalse(documented - set(ours), name)
