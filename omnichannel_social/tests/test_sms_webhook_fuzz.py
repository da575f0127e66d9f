"""Property-based fuzzing of the Twilio webhook, over HTTP against Odoo's real server.

``OMNI_SMS_FUZZ`` (2,000 by default) form payloads, every one correctly signed with the
official ``twilio`` library's RequestValidator: Twilio's incoming SMS/MMS and status callback
shapes with values broken in any way (odd text, NUL, huge bodies, repeated and unknown fields,
non-phone senders, foreign media URLs, unknown statuses and error codes), and random forms.
Every answer is under 500: the empty TwiML for what is stored, JSON ``{"error", "message"}``
for a refusal. Deliveries are processed in small batches; each ends processed or failed with
a readable reason. A shorter run of unsigned and wrongly signed forms is refused 403 in JSON,
storing nothing. Seed: ``OMNI_FUZZ_SEED``.
"""

import os
import re
import sys
import time
import warnings
from collections import Counter
from urllib.parse import urlencode

from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st

from odoo.tests import tagged

from odoo.addons.omnichannel_base.tests import fuzz

from ..models.omnichannel_provider_twilio import EMPTY_TWIML
from .sms_common import ACCOUNT_SID, CUSTOMER_PHONE, SERVICE_SID, SmsCase, new_sid

SEED = int(os.environ.get("OMNI_FUZZ_SEED") or 20261207)
EXAMPLES = int(os.environ.get("OMNI_SMS_FUZZ") or 2000)
REFUSED = int(os.environ.get("OMNI_SMS_FUZZ_REFUSED") or 200)
BATCH = 25  # deliveries processed together, as the inbox cron does
UNREADABLE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Exit|Interrupt)\b|^<|^\S*$")


def encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Form values are UTF-8 text: lone surrogates cannot be sent at all
def mostly(common, odd, one_in=5):
    """``common``, and ``odd`` one time in ``one_in`` (``a | b`` would draw each half the time)."""
    return st.tuples(st.integers(1, one_in), common, odd).map(lambda drawn: drawn[2] if drawn[0] == 1 else drawn[1])


odd_text = fuzz.odd_text(extra=["STOP", "baja", "START", "ALTA", "+", "0", "-1", "1e309", "null"]).filter(encodable)
huge = fuzz.huge_text(["x", "é", "😀", "\x00", " "], [160, 1601, 20000])  # over ingest's limit: REGRESSIONS
BODIES = ["Hola, ¿tenéis la talla M?", "STOP", "Baja", "start", "ALTA.", "👍", "", "Línea 1\nLínea 2",
          "ñandú pingüino acción 👨‍👩‍👧‍👦 ❤️‍🔥 " * 60]  # fmt: skip
bodies = mostly(st.sampled_from(BODIES) | st.text(max_size=60).filter(encodable), odd_text | huge)
PHONES = [CUSTOMER_PHONE, "+34612000001", "+34612000002", "+14155552671", "612000003", "TIENDA", "22395", "+", "",
          "whatsapp:+34612000004", "+3461200000000000000"]  # fmt: skip
phones = mostly(st.sampled_from(PHONES), odd_text)
REPEATED = [f"SM{n:032x}" for n in range(1, 9)]  # redeliveries, and statuses of messages seen before
# One in ten odd (hypothesis favours the ends of a range, so draw a number and pick)
sids = st.tuples(
    st.integers(0, 19),
    st.builds(lambda: new_sid()),
    st.sampled_from(REPEATED),
    st.sampled_from(["", "SM" + "0" * 200, "MM∞", "../../etc", "SM x"]) | odd_text,
).map(lambda drawn: drawn[3] if drawn[0] < 2 else drawn[2] if drawn[0] < 5 else drawn[1])
STATUSES = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "accepted", "canceled",
            "received", "receiving", "scheduled", "partially_delivered", "DELIVERED", "teleported", ""]  # fmt: skip
statuses = mostly(st.sampled_from(STATUSES), odd_text)
ERROR_CODES = ["30003", "30005", "30006", "30007", "21610", "0", "", "-1", "99999999999", "abc"]
error_codes = mostly(st.sampled_from(ERROR_CODES), odd_text)
CONTENT_TYPES = ["image/jpeg", "image/png", "text/vcard", "video/mp4", "application/pdf", "", "x", "a/b; c=d"]
FIELD_NAMES = ["MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "To", "Body", "NumMedia",
               "MessageStatus", "SmsStatus", "ErrorCode", "ErrorMessage", "OptOutType", "MediaUrl0",
               "MediaContentType0", "MediaUrl11", "NumSegments", "ApiVersion", "MessagingServiceSid"]  # fmt: skip
field_names = mostly(st.sampled_from(FIELD_NAMES), odd_text.filter(bool), one_in=3)


@st.composite
def media_urls(draw, twilio):
    how = draw(st.sampled_from(["ours", "ours", "missing", "foreign", "junk", "long"]))
    if how == "ours":
        return twilio.add_media(b"\x89PNG fuzz", "image/png")
    if how == "missing":
        return f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MMx/Media/ME{'0' * 32}"
    if how == "foreign":
        return "https://evil.example.com/media/1"
    if how == "long":
        return twilio.url + "/" + "a" * 3000
    return draw(odd_text)


@st.composite
def forms(draw, twilio):
    """(pairs, what): a form as Twilio would post it, broken in up to three places, or random."""
    what = draw(st.sampled_from(["sms"] * 4 + ["mms"] * 2 + ["status"] * 4 + ["random"]))
    sid = draw(sids)
    if what in ("sms", "mms"):
        media = []
        if what == "mms":
            media = [
                (draw(media_urls(twilio)), draw(st.sampled_from(CONTENT_TYPES))) for _ in range(draw(st.integers(1, 3)))
            ]
        pairs = SmsCase.sms(draw(bodies), sender=draw(phones), sid=sid, media=media,
                            opt_out_type=draw(st.sampled_from([None, None, "STOP", "START", "HELP", "x"])))  # fmt: skip
    elif what == "status":
        pairs = SmsCase.status(sid, draw(statuses), to=draw(phones))
        if draw(st.booleans()):
            pairs.append(("ErrorCode", draw(error_codes)))
        if draw(st.integers(0, 3)) == 0:
            pairs.append(("ErrorMessage", draw(odd_text)))
        if draw(st.booleans()):
            pairs.append(("MessagingServiceSid", SERVICE_SID))
    else:
        pairs = draw(st.lists(st.tuples(field_names, odd_text | bodies), max_size=8))
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
    return pairs, what


def fuzz_settings(examples):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )


# Forms that once broke something, run first.
REGRESSIONS = [
    # Odoo passes form fields to the route as keyword arguments: these names collide with its parameters
    [("self", "x"), ("MessageSid", "SM" + "1" * 32), ("SmsStatus", "received"), ("From", CUSTOMER_PHONE)],
    [("provider", "email"), ("key", "x"), ("MessageSid", "SM" + "2" * 32), ("MessageStatus", "sent")],
    # a body over ingest's limit (omnichannel.max_body_chars, 65,536): failed with the reason, not retried
    SmsCase.sms("😀" * 65537, sid="SM" + "3" * 32),
]


@tagged("post_install", "-at_install")
class TestSmsWebhookFuzz(SmsCase):
    def report(self, summary):
        print(summary, file=sys.__stdout__, flush=True)
        warnings.warn(summary, UserWarning, stacklevel=2)

    def test_signed_forms(self):
        statuses, outcomes, reasons, failures = Counter(), Counter(), Counter(), []
        Inbox = self.env["omnichannel.inbox"]
        url = self.webhook_url()
        pending, timings = [], Counter()
        started = time.monotonic()

        def settle():
            """Process the stored deliveries; each must end done, or failed with a readable reason."""
            deliveries = Inbox.browse(pending)
            pending.clear()
            begin = time.monotonic()
            try:
                while self.process():
                    pass
                self.env.flush_all()
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

        @seed(SEED)
        @fuzz_settings(EXAMPLES)
        @given(form=forms(self.twilio))
        @example(form=(REGRESSIONS[0], "regression"))
        @example(form=(REGRESSIONS[1], "regression"))
        @example(form=(REGRESSIONS[2], "regression"))
        def post(form):
            pairs, _what = form
            body = urlencode(pairs).encode()
            before = Inbox.search_count([])
            begin = time.monotonic()
            response = self.opener.post(
                url,
                data=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": self.sign(pairs, url),
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
                if response.text != EMPTY_TWIML or not content_type.startswith("text/xml"):
                    problem = "an authentic form was not answered with empty TwiML"
                else:
                    stored = Inbox.search([], order="id desc", limit=1)
                    if Inbox.search_count([]) > before:
                        pending.append(stored.id)
            elif not content_type.startswith("application/json") or not {"error", "message"} <= set(response.json()):
                problem = "a refusal that is not JSON {error, message}"
            elif len(body) <= 4 * 1024 * 1024 and response.status_code == 403:
                problem = "an authentic form was refused as forged"
            if not problem and len(pending) >= BATCH:
                problem = settle()
            if problem:
                failures.append(problem)
                raise AssertionError(f"{problem}: {pairs!r:.1500} -> {response.status_code} {response.text[:300]}")

        try:
            post()
            problem = settle()
            if problem:
                failures.append(problem)
        finally:
            self.report(
                f"twilio webhook fuzz: seed {SEED} (OMNI_FUZZ_SEED), {sum(statuses.values())} signed forms in "
                f"{time.monotonic() - started:.0f}s (posting {timings['posting']:.0f}s, processing "
                f"{timings['processing']:.0f}s); statuses {dict(sorted(statuses.items()))}; "
                f"outcomes {dict(outcomes.most_common())}; failed for {dict(reasons.most_common(6))}"
            )
        self.assertFalse(failures, failures[:3])
        self.assertGreaterEqual(sum(statuses.values()), EXAMPLES)
        self.assertTrue(outcomes["done"] and outcomes["failed"], outcomes)

    def test_unsigned_and_wrongly_signed_forms_are_refused(self):
        statuses, failures = Counter(), []
        Inbox = self.env["omnichannel.inbox"]
        url = self.webhook_url()

        @seed(SEED)
        @fuzz_settings(REFUSED)
        @given(
            form=forms(self.twilio),
            how=st.sampled_from(["none", "empty", "other-token", "other-url", "tampered", "junk", "json"]),
            junk=odd_text,
        )
        def post(form, how, junk):
            pairs, _what = form
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            signature = {
                "none": None,
                "empty": "",
                "other-token": self.sign(pairs, url, token="another-token"),
                "other-url": self.sign(pairs, url + "x"),
                "tampered": self.sign([*pairs, ("Body", "tampered " + junk)], url),
                "junk": junk.encode("utf-8").decode("latin-1").replace("\n", " ").replace("\r", " ").strip() or "x",
                "json": self.sign(pairs, url),
            }[how]
            if signature is not None:
                headers["X-Twilio-Signature"] = signature
            if how == "json":
                headers["Content-Type"] = "application/json"
            before = Inbox.search_count([])
            response = self.opener.post(url, data=urlencode(pairs).encode(), headers=headers, timeout=60)
            statuses[response.status_code] += 1
            problem = None
            if response.status_code != 403 and not (response.status_code == 413 and how != "json"):
                problem = f"not refused 403 ({response.status_code})"
            elif not response.headers.get("Content-Type", "").startswith("application/json"):
                problem = "a refusal that is not JSON"
            elif Inbox.search_count([]) != before:
                problem = "a refused form was stored"
            if problem:
                failures.append(problem)
                raise AssertionError(f"{problem}: {how} {pairs!r:.800} -> {response.text[:300]}")

        post()
        self.report(f"twilio webhook refusals fuzz: seed {SEED}, statuses {dict(sorted(statuses.items()))}")
        self.assertFalse(failures)
