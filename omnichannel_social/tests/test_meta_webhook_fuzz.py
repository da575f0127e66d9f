"""Property-based fuzzing of the Messenger and Instagram webhooks, over HTTP against Odoo's real
server, with the channels of ``MetaCase``.

For each provider, ``OMNI_META_FUZZ_AUTHENTIC`` (2,000) deliveries signed as Meta signs them:
the Messenger Platform's documented events (tests/data/contracts and every event kind the
provider reads), broken at any depth, and random JSON. Each is answered 200 (413 over the size
limit) and stored; processing (in batches, as the cron job does) never raises; every delivery
ends processed or failed with a readable reason. Then ``OMNI_META_FUZZ_REFUSED`` (300) unsigned,
wrongly signed or handshake calls per provider: a JSON refusal under 500 (or the handshake's
echo of ``hub.challenge``), nothing stored. The seed and counts are printed, and repeated as
warnings so that pytest's summary shows them.
"""

import copy
import os
import sys
import time
import warnings
from collections import Counter
from urllib.parse import quote, urlencode

from hypothesis import example, given, seed
from hypothesis import strategies as st

from odoo.tests import tagged

from .meta_common import APP_SECRET, IG_ID, IGSID, PAGE_ID, PSID, MetaCase, contract
from .common import meta_signature
from .test_webhook_fuzz import (
    MAX_WEBHOOK_BYTES,
    UNREADABLE,
    any_json,
    encode,
    fuzz_settings,
    mutate,
    odd_text,
    reason_kind,
)

SEED = int(os.environ.get("OMNI_FUZZ_SEED") or 20261207)
AUTHENTIC_EXAMPLES = int(os.environ.get("OMNI_META_FUZZ_AUTHENTIC") or 2000)
REFUSED_EXAMPLES = int(os.environ.get("OMNI_META_FUZZ_REFUSED") or 300)
BATCH = 100  # deliveries processed together, as the inbox cron does

CONTRACTS = {
    "messenger": [
        contract(name)
        for name in (
            "messenger_inbound_text.json",
            "messenger_inbound_attachment.json",
            "messenger_echo.json",
            "messenger_receipts.json",
            "messenger_edit_reaction_postback.json",
        )
    ],
    "instagram": [contract("instagram_inbound.json")],
}
CUSTOMERS = {"messenger": [PSID, "24113507868303171", "1"], "instagram": [IGSID, "7000000000000001", "2"]}
ACCOUNTS = {"messenger": PAGE_ID, "instagram": IG_ID}
texts = st.sampled_from(["Hola, ¿tenéis talla M?", "STOP", "👍", "", "x" * 2001, "Línea 1\nLínea 2"]) | odd_text
mids = st.sampled_from(["m_fuzz-1", "m_fuzz-2", "mid.1457764197618:41d102a3e1ae206a38", ""]) | st.text(
    "abcdefghijklmnopqrstuvwxyz0123456789_-:.", min_size=1, max_size=40
).map(lambda text: "m_" + text)
urls = st.sampled_from(
    ["https://scontent.xx.fbcdn.net/v/t1/IMAGE.jpg?oh=1&oe=2", "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1",
     "ftp://example.com/x", "", "javascript:alert(1)"]
) | odd_text  # fmt: skip


def recent_ms():
    return st.integers(0, 30 * 86400 * 1000).map(lambda ago: int(time.time() * 1000) - ago)


# One in ten odd (a delivery holds several)
timestamps = st.tuples(
    st.integers(0, 9), recent_ms(), st.sampled_from([0, -1, "", "1749416383000", 10**17, 1.5e12, True, None, [], {}])
).map(lambda drawn: drawn[2] if drawn[0] == 7 else drawn[1])


@st.composite
def messages(draw, provider):
    message = {"mid": draw(mids)}
    kind = draw(st.sampled_from(["text"] * 3 + ["attachments", "quick_reply", "reply", "story", "mention", "deleted",
                                 "echo", "own-echo", "unsupported", "referral"]))  # fmt: skip
    if kind in ("text", "quick_reply", "reply", "story", "echo", "own-echo", "referral"):
        message["text"] = draw(texts)
    if kind == "attachments":
        message["attachments"] = [
            {"type": draw(st.sampled_from(["image", "video", "audio", "file", "share", "ig_reel", "fallback", "x"])),
             "payload": {"url": draw(urls), "title": draw(texts)}}
            for _index in range(draw(st.integers(1, 3)))
        ]  # fmt: skip
    elif kind == "quick_reply":
        message["quick_reply"] = {"payload": draw(texts)}
    elif kind == "reply":
        message["reply_to"] = {"mid": draw(mids)}
    elif kind == "story":
        message["reply_to"] = {"story": {"url": draw(urls), "id": "17950185749858237"}}
    elif kind == "mention":
        message["attachments"] = [{"type": "story_mention", "payload": {"url": draw(urls)}}]
    elif kind == "deleted":
        message["is_deleted"] = True
    elif kind in ("echo", "own-echo"):
        message["is_echo"] = True
        message["app_id"] = 1517776481860111
        if kind == "own-echo":
            message["metadata"] = draw(
                st.sampled_from(["omnichannel:abc", "omnichannel:abc:0", "omnichannel:"]) | texts
            )
    elif kind == "unsupported":
        message["is_unsupported"] = True
    elif kind == "referral":
        message["referral"] = {"ref": draw(texts), "source": "SHORTLINK", "type": "OPEN_THREAD"}
    return message


@st.composite
def events(draw, provider):
    account, customer = ACCOUNTS[provider], draw(st.sampled_from(CUSTOMERS[provider]))
    kind = draw(st.sampled_from(["message"] * 5 + ["postback", "message_edit", "reaction", "delivery", "read",
                                 "referral", "optin", "unknown"]))  # fmt: skip
    event = {"sender": {"id": customer}, "recipient": {"id": account}, "timestamp": draw(timestamps)}
    if kind == "message":
        event["message"] = draw(messages(provider))
        if event["message"].get("is_echo"):
            event["sender"], event["recipient"] = event["recipient"], event["sender"]
    elif kind == "postback":
        event["postback"] = {"mid": draw(mids), "title": draw(texts), "payload": draw(texts)}
    elif kind == "message_edit":
        event["message_edit"] = {"mid": draw(mids), "text": draw(texts), "num_edit": draw(st.integers(0, 6))}
    elif kind == "reaction":
        event["reaction"] = {
            "mid": draw(mids),
            "action": draw(st.sampled_from(["react", "unreact", "other"])),
            "reaction": "love",
            "emoji": draw(st.sampled_from(["❤️", "👍", ""]) | odd_text),
        }
    elif kind == "delivery":
        event["delivery"] = {"mids": draw(st.lists(mids, max_size=2)), "watermark": draw(timestamps)}
    elif kind == "read":
        event["read"] = draw(st.sampled_from([{"watermark": draw(timestamps)}, {"mid": draw(mids)}]))
    elif kind in ("referral", "optin"):
        event[kind] = {"ref": draw(texts)}
    else:
        event[draw(odd_text)] = draw(any_json)
    return event


@st.composite
def envelopes(draw, provider):
    return {
        "object": draw(
            st.sampled_from(
                ["page" if provider == "messenger" else "instagram"] * 9
                + ["instagram" if provider == "messenger" else "page", "user"]
            )
        ),
        "entry": [
            {
                "id": draw(st.sampled_from([ACCOUNTS[provider]] * 8 + ["555000555"])),
                "time": int(time.time() * 1000),
                "messaging": draw(st.lists(events(provider), min_size=1, max_size=3)),
            }
            for _entry in range(draw(st.integers(1, 2)))
        ],
    }


@st.composite
def deliveries(draw, provider):
    how = draw(st.sampled_from(["shape"] * 8 + ["contract"] * 2 + ["any"]))
    if how == "any":
        return draw(any_json)
    document = (
        copy.deepcopy(draw(st.sampled_from(CONTRACTS[provider]))) if how == "contract" else draw(envelopes(provider))
    )
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        mutate(document, draw)
    return document


@st.composite
def authentic_bodies(draw, provider):
    how = draw(st.sampled_from(["json"] * 20 + ["utf8-raw", "bom", "truncated"]))
    body = encode(draw(deliveries(provider)), "json" if how == "bom" else how)
    if how == "bom":
        body = b"\xef\xbb\xbf" + body
    elif how == "truncated":
        body = body[: draw(st.integers(0, len(body)))]
    return body


@st.composite
def refused_calls(draw, provider, verify_token):
    """(method, query, headers, body, challenge): a call to refuse, or a handshake to answer."""
    body = draw(authentic_bodies(provider))
    how = draw(st.sampled_from(["unsigned", "wrong", "wrong", "handshake", "method"]))
    headers = {
        "Content-Type": draw(
            st.sampled_from(["application/json", "text/plain", "", "application/x-www-form-urlencoded"])
        )
    }
    if how == "wrong":
        headers["X-Hub-Signature-256"] = draw(
            st.sampled_from(
                [
                    "sha256=" + "0" * 64,
                    meta_signature(body, "another-secret"),
                    meta_signature(body + b" ", APP_SECRET),
                    meta_signature(body, APP_SECRET).replace("sha256=", "sha1="),
                    meta_signature(body, APP_SECRET)[:-1],
                    "sha256=\xe9",
                ]
            )
        )
    if how == "handshake":
        params = {
            "hub.mode": draw(st.sampled_from(["subscribe", "subscribe", "unsubscribe", ""])),
            "hub.verify_token": draw(st.sampled_from([verify_token, verify_token, "nope", ""]) | odd_text),
            "hub.challenge": draw(
                st.sampled_from(["1158201444", ""]) | st.text(st.characters(codec="utf-8"), max_size=20)
            ),
        }
        good = params["hub.mode"] == "subscribe" and params["hub.verify_token"] == verify_token
        query = urlencode(
            {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in params.items()},
            quote_via=quote,
        )
        challenge = (
            params["hub.challenge"].encode("utf-8", "surrogatepass").decode("utf-8", "replace") if good else None
        )
        return "GET", query, {}, b"", challenge
    method = draw(st.sampled_from(["PUT", "DELETE", "PATCH"])) if how == "method" else "POST"
    return method, "", headers, body, None


def _report(summary):
    print(summary, file=sys.__stdout__, flush=True)
    warnings.warn(summary, UserWarning, stacklevel=2)


@tagged("post_install", "-at_install")
class TestMetaWebhookFuzz(MetaCase):
    def fuzz_authentic(self, channel):
        provider = channel.provider
        Inbox = self.env["omnichannel.inbox"]
        url = self.base_url() + self.path(channel)
        statuses, outcomes, reasons, failures = Counter(), Counter(), Counter(), []
        started = time.monotonic()

        def settle():
            while self.process():
                pass
            self.env.flush_all()

        @seed(SEED)
        @fuzz_settings(AUTHENTIC_EXAMPLES)
        @given(body=authentic_bodies(provider))
        def deliver(body):
            response = self.opener.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, APP_SECRET)},
                timeout=60,
            )
            statuses[response.status_code] += 1
            expected = 413 if len(body) > MAX_WEBHOOK_BYTES else 200
            if response.status_code != expected or not response.headers.get("Content-Type", "").startswith(
                "application/json"
            ):
                failures.append(f"{body[:500]!r} -> {response.status_code} {response.text[:300]}")
                raise AssertionError(failures[-1])
            if Inbox.search_count([("state", "=", "pending"), ("channel_id", "=", channel.id)]) >= BATCH:
                settle()

        try:
            deliver()
            settle()
        finally:
            deliveries = Inbox.search([("channel_id", "=", channel.id)])
            for delivery in deliveries:
                outcomes[delivery.state] += 1
                if delivery.state == "failed":
                    reasons[reason_kind(delivery.error or "")] += 1
                    if not delivery.error or UNREADABLE.search(delivery.error):
                        failures.append(f"no readable reason: {delivery.error!r} for {delivery.payload[:300]!r}")
                elif delivery.state != "done":
                    failures.append(f"left {delivery.state}: {delivery.error} for {delivery.payload[:300]!r}")
            _report(
                f"{provider} webhook authentic fuzz: seed {SEED}, {sum(statuses.values())} deliveries in "
                f"{time.monotonic() - started:.0f}s; statuses {dict(sorted(statuses.items()))}; "
                f"outcomes {dict(outcomes.most_common())}; failed for {dict(reasons.most_common(6))}"
            )
        self.assertFalse(failures, failures[:5])
        self.assertGreaterEqual(sum(statuses.values()), AUTHENTIC_EXAMPLES)
        self.assertTrue(outcomes["done"] and outcomes["failed"], outcomes)
        created = self.env["omnichannel.interaction"].search_count([("channel_id", "=", channel.id)])
        self.assertTrue(created, "some fuzzed deliveries were messages")

    def fuzz_refused(self, channel, verify_token):
        url = self.base_url() + self.path(channel)
        Inbox = self.env["omnichannel.inbox"]
        statuses, failures = Counter(), []
        before = Inbox.search_count([])

        @seed(SEED)
        @fuzz_settings(REFUSED_EXAMPLES)
        @given(call=refused_calls(channel.provider, verify_token))
        @example(call=("GET", urlencode({"hub.mode": "subscribe", "hub.verify_token": verify_token,
                                         "hub.challenge": "1158201444"}), {}, b"", "1158201444"))  # fmt: skip
        def call(call):
            method, query, headers, body, challenge = call
            response = self.opener.request(
                method, url + (f"?{query}" if query else ""), data=body, headers=headers, timeout=60
            )
            statuses[response.status_code] += 1
            content_type = response.headers.get("Content-Type", "")
            if challenge is not None:
                ok = response.status_code == 200 and response.text == challenge
            else:
                ok = 400 <= response.status_code < 500 and content_type.startswith("application/json")
                ok = ok and isinstance(response.json().get("error"), str)
            if not ok:
                failures.append(
                    f"{method} {query[:100]} {headers} {body[:200]!r} -> {response.status_code} {response.text[:200]}"
                )
                raise AssertionError(failures[-1])

        try:
            call()
        finally:
            _report(f"{channel.provider} webhook refusals fuzz: seed {SEED}; statuses {dict(sorted(statuses.items()))}")
        self.assertFalse(failures)
        self.assertEqual(Inbox.search_count([]), before, "a refused call stored a delivery")
        self.assertTrue(statuses[403] and statuses[405] and statuses[200], statuses)

    def test_messenger_authentic_deliveries(self):
        self.fuzz_authentic(self.messenger)

    def test_instagram_authentic_deliveries(self):
        self.fuzz_authentic(self.instagram)

    def test_refused_calls(self):
        self.fuzz_refused(self.messenger, "verify-messenger")
        self.fuzz_refused(self.instagram, "verify-instagram")
