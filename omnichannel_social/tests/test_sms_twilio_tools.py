"""The pure Twilio tools, without a database: our signature against the official library's,
the form reader, and the REST client against the local fake Twilio."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from odoo.addons.omnichannel_social.tests.fake_twilio import FakeTwilio
from odoo.addons.omnichannel_social.tools import twilio
from odoo.addons.omnichannel_social.tools.twilio_client import TwilioClient, TwilioError, TwilioTimeout

SID = "AC" + "0a1b2c3d" * 4
TOKEN = "auth-token"
URL = "https://crm.example.com/omnichannel/webhook/twilio/abc?x=1"
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


class MultiDict(dict):
    def getall(self, name):
        return self[name]


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(text, text), max_size=8), url=st.sampled_from([URL, "http://127.0.0.1:8069/w"]))
def test_signature_is_the_official_librarys(pairs, url):
    grouped = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    expected = RequestValidator(TOKEN).compute_signature(url, MultiDict(grouped))
    assert twilio.signature(TOKEN, url, pairs) == expected
    assert twilio.is_authentic(TOKEN, [url], pairs, expected)
    assert not twilio.is_authentic("other", [url], pairs, expected)
    assert not twilio.is_authentic(TOKEN, [url + "/"], pairs, expected)


def test_signature_with_or_without_the_default_port():
    params = [("Body", "Hola"), ("From", "+34612345678")]
    for signed in ("https://crm.example.com:443/w", "https://crm.example.com/w"):
        signature = twilio.signature(TOKEN, signed, params)
        assert twilio.is_authentic(TOKEN, ["https://crm.example.com/w"], params, signature)
        assert twilio.is_authentic(TOKEN, ["https://crm.example.com:443/w"], params, signature)
    assert not twilio.is_authentic(TOKEN, ["https://crm.example.com/w"], params, "")
    assert not twilio.is_authentic("", ["https://crm.example.com/w"], params, twilio.signature("", "x", params))
    assert twilio.url_variants("http://[::1:/x") == ["http://[::1:/x"]


def test_parse_form():
    message = twilio.parse_form(
        [
            ("MessageSid", "MM1"),
            ("SmsStatus", "received"),
            ("From", "+34612345678"),
            ("Body", ""),
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/a/Media/ME1"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://api.twilio.com/a/Media/ME2"),
            ("MediaContentType1", "bad type"),
            ("OptOutType", "stop"),
        ]  # fmt: skip
    )
    assert message["type"] == "message"
    assert message["media"] == [
        {"url": "https://api.twilio.com/a/Media/ME1", "mimetype": "image/jpeg"},
        {"url": "https://api.twilio.com/a/Media/ME2", "mimetype": None},
    ]
    assert message["opt_out_type"] == "STOP"
    status = twilio.parse_form([("MessageSid", "SM1"), ("MessageStatus", "undelivered"), ("ErrorCode", "30005")])
    assert (status["type"], status["state"], status["error_code"]) == ("status", "failed", 30005)
    assert twilio.parse_form([("MessageSid", "SM1"), ("MessageStatus", "queued")])["state"] is None
    for bad in ([], [("MessageSid", "x" * 65)], [("MessageSid", "SM1"), ("MessageStatus", "nope")],
                [("MessageSid", "SM1"), ("SmsStatus", "received")],
                [("MessageSid", "SM1"), ("Body", "x"), ("From", "+3"), ("MediaUrl0", "ftp://x")]):  # fmt: skip
        with pytest.raises(twilio.PayloadError):
            twilio.parse_form(bad)


@pytest.fixture
def fake():
    with FakeTwilio(SID, TOKEN, numbers={"+34910000001"}) as fake:
        yield fake


def test_client_errors_and_retry_hints(fake):
    client = TwilioClient(fake.url, SID, TOKEN, timeout=(3.05, 0.5))
    fake.inject("POST", r"/Messages\.json$", status=429, retry_after=30)
    with pytest.raises(TwilioError) as caught:
        client.send_message({"To": "+34612345678", "From": "+34910000001", "Body": "x"})
    assert (caught.value.code, caught.value.retry_after, caught.value.transient) == (20429, 30, True)
    fake.inject("POST", r"/Messages\.json$", status=500)
    with pytest.raises(TwilioError) as caught:
        client.send_message({"To": "+34612345678", "From": "+34910000001", "Body": "x"})
    assert caught.value.transient
    fake.inject("POST", r"/Messages\.json$", delay=2)
    started = time.monotonic()
    with pytest.raises(TwilioTimeout):
        client.send_message({"To": "+34612345678", "From": "+34910000001", "Body": "x"})
    assert time.monotonic() - started < 1.5
    with pytest.raises(TwilioError) as caught:
        TwilioClient(fake.url, SID, "wrong").account()
    assert (caught.value.status, caught.value.code, caught.value.transient) == (401, 20003, False)
    fake.unsubscribed.add("+34612000000")
    with pytest.raises(TwilioError) as caught:
        client.send_message({"To": "+34612000000", "From": "+34910000001", "Body": "x"})
    assert (caught.value.code, caught.value.transient) == (21610, False)
    sent = client.send_message(
        {"To": "+34612345678", "From": "+34910000001", "Body": "Hola", "MediaUrl": ["https://x/1"]}
    )
    assert sent["sid"].startswith("MM") and sent["status"] == "queued"
    assert client.fetch_message(sent["sid"])["to"] == "+34612345678"
    assert client.incoming_numbers("+34910000001")[0]["phone_number"] == "+34910000001"
    assert client.incoming_numbers("+34910000009") == []
    url = fake.add_media(b"GIF89a", "image/gif")
    assert client.download_media(url) == (b"GIF89a", "image/gif")


def test_fake_posts_status_callbacks_signed_as_twilio(fake):
    received = []
    import http.server  # noqa: PLC0415
    import threading  # noqa: PLC0415
    from urllib.parse import parse_qsl  # noqa: PLC0415

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.headers["X-Twilio-Signature"], parse_qsl(body, keep_blank_values=True)))
            self.send_response(200)
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        callback = f"http://127.0.0.1:{server.server_address[1]}/cb"
        fake.fates["+34612000001"] = ("undelivered", 30006)
        client = TwilioClient(fake.url, SID, TOKEN)
        client.send_message({"To": "+34612000001", "From": "+34910000001", "Body": "x", "StatusCallback": callback})
        assert [r.status_code for r in fake.post_callbacks()] == [200, 200, 200]
    finally:
        server.shutdown()
        server.server_close()
    assert [dict(params)["MessageStatus"] for _sig, params in received] == ["queued", "sent", "undelivered"]
    signature, params = received[-1]
    assert dict(params)["ErrorCode"] == "30006"
    assert twilio.is_authentic(TOKEN, [callback], params, signature)
