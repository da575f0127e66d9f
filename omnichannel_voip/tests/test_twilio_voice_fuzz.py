"""Property-based fuzzing of the Twilio Voice webhook, over HTTP against Odoo's real server.

``OMNI_VOICE_FUZZ`` (2,000 by default) forms, every one correctly signed with the official
``twilio`` library's RequestValidator for the URL it is posted to: the voice webhook of an inbound
call, the call's status callbacks, dialed legs' statuses, <Dial> actions, recording callbacks and
click-to-dial TwiML requests, on our callback URLs (``call``, ``dir``, ``step``, ``to``) or odd
ones, with values broken in any way (odd text, NUL, huge values, repeated and unknown fields,
unknown statuses, withheld and non-phone callers), and random forms. Every answer is under 500:
TwiML for what is stored, JSON ``{"error", "message"}`` for a refusal. Deliveries are processed in
small batches; each ends processed or failed with a readable reason. Seed: ``OMNI_FUZZ_SEED``.
"""

import os
import re
import sys
import time
import warnings
from collections import Counter
from urllib.parse import urlencode
from xml.etree import ElementTree

from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st

from odoo.tests import tagged

from odoo.addons.omnichannel_base.tests import fuzz

from .fake_twilio_voice import sign
from .test_twilio_voice import ACCOUNT_SID, ANA, AUTH_TOKEN, BERTA, CUSTOMER, OUR_NUMBER, VoiceCase, new_sid

SEED = int(os.environ.get("OMNI_FUZZ_SEED") or 20261130)
EXAMPLES = int(os.environ.get("OMNI_VOICE_FUZZ") or 2000)
BATCH = 25  # deliveries processed together, as the inbox cron does
UNREADABLE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Exit|Interrupt)\b|^<|^\S*$")
TWIML_TAGS = {"Dial", "Reject", "Number", "Client", "Sip"}


def encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def mostly(common, odd, one_in=5):
    """``common``, and ``odd`` one time in ``one_in``."""
    return st.tuples(st.integers(1, one_in), common, odd).map(lambda drawn: drawn[2] if drawn[0] == 1 else drawn[1])


odd_text = fuzz.odd_text(extra=["+", "0", "-1", "client:", "sip:", "anonymous", "null", "1e309"]).filter(encodable)
huge = fuzz.huge_text(["x", "é", "😀", "\x00", " "], [65, 129, 2001, 20000])
PHONES = [CUSTOMER, "+34612000001", "612000002", "+14155552671", "anonymous", "Restricted", "+266696687", "",
          ANA, BERTA, "sip:1001@pbx.example.com", "+3461200000000000000", "TIENDA"]  # fmt: skip
phones = mostly(st.sampled_from(PHONES), odd_text)
REPEATED = [f"CA{n:032x}" for n in range(1, 7)]  # the same calls again: redeliveries, later events
sids = st.tuples(
    st.integers(0, 19),
    st.builds(lambda: new_sid()),
    st.sampled_from(REPEATED),
    st.sampled_from(["", "CA" + "0" * 200, "CA∞", "../../etc", "CA x"]) | odd_text,
).map(lambda drawn: drawn[3] if drawn[0] < 2 else drawn[2] if drawn[0] < 6 else drawn[1])
STATUSES = ["queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled",
            "COMPLETED", "teleported", ""]  # fmt: skip
statuses = mostly(st.sampled_from(STATUSES), odd_text)
DIAL_STATUSES = ["completed", "answered", "busy", "no-answer", "failed", "canceled", "maybe", ""]
RECORDING_STATUSES = ["completed", "in-progress", "absent", "failed", "transcribed", ""]
DIRECTIONS = ["inbound", "outbound-api", "outbound-dial", "trunking-originating", ""]
STEPS = [None, None, "dial", "leg", "recording", "status", "connect", "teleport"]
FIELD_NAMES = ["CallSid", "ParentCallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "CallerName",
               "Timestamp", "CallDuration", "DialCallStatus", "DialCallDuration", "RecordingSid", "RecordingUrl",
               "RecordingStatus", "CallbackSource", "SequenceNumber"]  # fmt: skip
field_names = mostly(st.sampled_from(FIELD_NAMES), odd_text.filter(bool), one_in=3)
TIMESTAMPS = ["Mon, 30 Nov 2026 09:00:05 +0000", "Tue, 31 Feb 2026 25:61:00 +0000", "yesterday", "",
              "Sat, 01 Jan 0001 00:00:00 +0000", "Fri, 31 Dec 9999 23:59:59 +1400"]  # fmt: skip
numbers = st.sampled_from(["95", "0", "", "-3", "1e9", "99999999999", "x"])


@st.composite
def queries(draw):
    """Our callback URL's query, or something else on it."""
    step = draw(st.sampled_from(STEPS))
    if step is None and draw(st.booleans()):
        return {}
    query = {
        "call": draw(mostly(st.sampled_from(REPEATED + ["omni-1", "omni-2"]), odd_text)),
        "dir": draw(st.sampled_from(["in", "out", "sideways", ""])),
    }
    if step:
        query["step"] = step
    if step == "connect" or draw(st.integers(0, 9)) == 0:
        query["to"] = draw(mostly(st.sampled_from([CUSTOMER, "+14155552671", "612"]), odd_text))
    return query


@st.composite
def forms(draw, twilio):
    """(pairs, query, what): a request as Twilio would send it, broken in up to three places, or random."""
    what = draw(st.sampled_from(["incoming"] * 3 + ["status"] * 3 + ["leg"] * 3 + ["dial"] * 2 + ["recording"] * 2
                                + ["connect", "random"]))  # fmt: skip
    call_sid = draw(sids)
    query = draw(queries())
    status = draw(statuses)
    if what == "incoming":
        pairs = twilio.common(call_sid, draw(phones), OUR_NUMBER, draw(st.sampled_from(["ringing", "queued", ""])),
                              draw(st.sampled_from(["inbound"] * 4 + DIRECTIONS)))  # fmt: skip
        if draw(st.booleans()):
            pairs.append(("CallerName", draw(mostly(st.sampled_from(["PRIETO LUCIA", ""]), odd_text | huge))))
        query = {} if draw(st.integers(0, 3)) else query
    elif what in ("status", "leg"):
        pairs = twilio.common(call_sid, draw(phones), draw(phones), status, draw(st.sampled_from(DIRECTIONS)),
                              draw(sids) if what == "leg" else None)  # fmt: skip
        pairs += [("CallbackSource", "call-progress-events"), ("SequenceNumber", draw(numbers)),
                  ("Timestamp", draw(mostly(st.sampled_from(TIMESTAMPS), odd_text)))]  # fmt: skip
        if draw(st.booleans()):
            pairs.append(("CallDuration", draw(numbers)))
    elif what == "dial":
        pairs = twilio.common(call_sid, draw(phones), OUR_NUMBER, "in-progress", draw(st.sampled_from(DIRECTIONS)))
        pairs += [("DialCallStatus", draw(mostly(st.sampled_from(DIAL_STATUSES), odd_text))),
                  ("DialCallDuration", draw(numbers)), ("DialCallSid", draw(sids))]  # fmt: skip
    elif what == "recording":
        recording_sid = draw(st.sampled_from(["RE" + "1" * 32, "RE" + "2" * 32, ""]) | odd_text)
        url = draw(st.sampled_from([
            f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}",
            f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'0' * 32}",
            "https://evil.example.com/Recordings/RE1", "", "ftp://x", twilio.url + "/" + "a" * 3000,
        ]))  # fmt: skip
        pairs = [("AccountSid", ACCOUNT_SID), ("CallSid", call_sid), ("RecordingSid", recording_sid),
                 ("RecordingStatus", draw(mostly(st.sampled_from(RECORDING_STATUSES), odd_text))),
                 ("RecordingUrl", url), ("RecordingDuration", draw(numbers)),
                 ("RecordingSource", "DialVerb")]  # fmt: skip
        if draw(st.booleans()):
            query = dict(query, step="recording")
    elif what == "connect":
        pairs = twilio.common(call_sid, OUR_NUMBER, draw(phones), "in-progress", "outbound-api")
        query = dict(query, step="connect")
    else:
        pairs = draw(st.lists(st.tuples(field_names, odd_text | st.sampled_from(STATUSES)), max_size=8))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        if not pairs:
            break
        index = draw(st.integers(0, len(pairs) - 1))
        name, value = pairs[index]
        action = draw(st.sampled_from(["drop", "replace", "huge", "nul", "repeat", "junk"]))
        if action == "drop":
            del pairs[index]
        elif action == "replace":
            pairs[index] = (name, draw(odd_text))
        elif action == "huge":
            pairs[index] = (name, draw(huge))
        elif action == "nul":
            at = draw(st.integers(0, len(value)))
            pairs[index] = (name, value[:at] + "\x00" + value[at:])
        elif action == "repeat":
            pairs.append((name, draw(odd_text)))
        else:
            pairs.append((draw(field_names), draw(odd_text)))
    return pairs, query, what


def fuzz_settings(examples):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )


REGRESSIONS = [
    # Odoo passes form fields and query arguments to the route as keyword arguments
    ([("self", "x"), ("CallSid", "CA" + "1" * 32), ("CallStatus", "ringing"), ("From", CUSTOMER)], {"provider": "x"}),
    ([("key", "x"), ("CallSid", "CA" + "2" * 32), ("DialCallStatus", "completed")], {"call": "CA1", "step": "dial"}),
    # a customer's number with "+" in our connect URL: signed as written, not as decoded
    (
        [("CallSid", "CA" + "3" * 32), ("CallStatus", "in-progress"), ("Direction", "outbound-api"), ("To", ANA)],
        {"call": "omni-1", "dir": "out", "step": "connect", "to": CUSTOMER},
    ),
]


@tagged("post_install", "-at_install")
class TestTwilioVoiceWebhookFuzz(VoiceCase):
    def report(self, summary):
        print(summary, file=sys.__stdout__, flush=True)
        warnings.warn(summary, UserWarning, stacklevel=2)

    def test_signed_forms(self):
        self.channel.tv_record = True
        statuses, outcomes, reasons, answers, failures = Counter(), Counter(), Counter(), Counter(), []
        Inbox = self.env["omnichannel.inbox"]
        pending, timings = [], Counter()
        started = time.monotonic()

        def settle():
            deliveries = Inbox.browse(pending)
            pending.clear()
            begin = time.monotonic()
            try:
                self.process()
            except Exception as exc:  # noqa: BLE001 (what the assertion reports)
                return f"processing raised {exc!r}"
            timings["processing"] += time.monotonic() - begin
            for delivery in deliveries:
                outcomes[delivery.state] += 1
                if delivery.state == "failed":
                    reasons[re.sub(r"\d+|'.*", "", delivery.error or "")[:70]] += 1
                    if not delivery.error or UNREADABLE.search(delivery.error):
                        return f"no readable reason for delivery {delivery.id}: {delivery.error!r}"
                elif delivery.state != "done":
                    return f"delivery {delivery.id} left {delivery.state}: {delivery.error}"
            return None

        def post(pairs, query):
            url = self.webhook_url(**query)
            body = urlencode(pairs).encode()
            before = Inbox.search_count([])
            begin = time.monotonic()
            response = self.opener.post(
                url,
                data=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": sign(AUTH_TOKEN, url, pairs),
                },
                timeout=60,
            )
            timings["posting"] += time.monotonic() - begin
            statuses[response.status_code] += 1
            problem = None
            content_type = response.headers.get("Content-Type", "")
            if response.status_code >= 500:
                problem = "status >= 500"
            elif response.status_code == 200:
                if not content_type.startswith("text/xml"):
                    problem = "an authentic form was not answered with TwiML"
                else:
                    root = ElementTree.fromstring(response.content)
                    answers[" ".join(child.tag for child in root) or "empty"] += 1
                    if root.tag != "Response" or {e.tag for e in root.iter()} - TWIML_TAGS - {"Response"}:
                        problem = "not TwiML we write"
                    if Inbox.search_count([]) > before:
                        pending.append(Inbox.search([], order="id desc", limit=1).id)
            elif not content_type.startswith("application/json") or not {"error", "message"} <= set(response.json()):
                problem = "a refusal that is not JSON {error, message}"
            elif response.status_code == 403:
                problem = "an authentic form was refused as forged"
            if not problem and len(pending) >= BATCH:
                problem = settle()
            if problem:
                failures.append(problem)
                raise AssertionError(
                    f"{problem}: {pairs!r:.1500} {query} -> {response.status_code} {response.text[:300]}"
                )

        @seed(SEED)
        @fuzz_settings(EXAMPLES)
        @given(form=forms(self.twilio))
        @example(form=(*REGRESSIONS[0], "regression"))
        @example(form=(*REGRESSIONS[1], "regression"))
        @example(form=(*REGRESSIONS[2], "regression"))
        def run(form):
            pairs, query, _what = form
            post(pairs, query)

        try:
            run()
            problem = settle()
            if problem:
                failures.append(problem)
        finally:
            self.report(
                f"twilio voice webhook fuzz: seed {SEED} (OMNI_FUZZ_SEED), {sum(statuses.values())} signed forms in "
                f"{time.monotonic() - started:.0f}s (posting {timings['posting']:.0f}s, processing "
                f"{timings['processing']:.0f}s); statuses {dict(sorted(statuses.items()))}; answers "
                f"{dict(answers.most_common())}; outcomes {dict(outcomes.most_common())}; failed for "
                f"{dict(reasons.most_common(6))}"
            )
        self.assertFalse(failures, failures[:3])
        self.assertGreaterEqual(sum(statuses.values()), EXAMPLES)
        self.assertTrue(outcomes["done"] and outcomes["failed"], outcomes)
        self.assertTrue(answers["Dial"] and answers["empty"], answers)
