"""The Graph API client against the local fake Graph API, over real HTTP on 127.0.0.1.

No database needed except by the last test, which runs the client inside Odoo's test
harness (it patches ``requests`` for every Odoo test class).
"""

import hashlib
import json
import threading
import time

import pytest
import requests

from odoo.tests import TransactionCase

from odoo.addons.omnichannel_social.tests.fake_graph import FakeGraph
from odoo.addons.omnichannel_social.tools.graph_client import (
    GraphAuthError,
    GraphClient,
    GraphConnectionError,
    GraphError,
    GraphTimeout,
)

TOKEN = "EAAtest-token"
PHONE_ID = "106540352242922"
# tests/data/contracts/whatsapp_send_request.json, as Meta's "send messages" documents it.
TEXT_PAYLOAD = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "16505551234",
    "type": "text",
    "text": {"preview_url": False, "body": "Yes, it also comes in blue and green."},
}


@pytest.fixture
def graph():
    with FakeGraph(access_token=TOKEN) as graph:
        yield graph


@pytest.fixture
def client(graph):
    return GraphClient(graph.url, TOKEN)


def _raises(call, *args, **kwargs):
    with pytest.raises(GraphError) as info:
        call(*args, **kwargs)
    return info.value


def _payload(**changes):
    """The contract's text payload with ``changes``; a change to None removes the key."""
    return {key: value for key, value in dict(TEXT_PAYLOAD, **changes).items() if value is not None}


def _send(client, **changes):
    return client.send_message(PHONE_ID, _payload(**changes))


# -- sends ----------------------------------------------------------------------------------
def test_send_text_answers_as_meta_documents(graph, client):
    answer = client.send_message(PHONE_ID, TEXT_PAYLOAD)

    # whatsapp_send_response.json
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": "16505551234", "wa_id": "16505551234"}]
    wamid = answer["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    request = graph.requests[-1]
    assert (request.method, request.path) == ("POST", f"/v21.0/{PHONE_ID}/messages")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.body) == TEXT_PAYLOAD
    assert graph.sent == [dict(TEXT_PAYLOAD, wamid=wamid, phone_number_id=PHONE_ID)]


def test_send_media_and_template(graph, client):
    media_id = client.upload_media(PHONE_ID, "photo.jpg", "image/jpeg", b"\xff\xd8jpeg")
    image = {"messaging_product": "whatsapp", "to": "+34 622 000 111", "type": "image", "image": {"id": media_id}}
    document = {
        "messaging_product": "whatsapp",
        "to": "34622000111",
        "type": "document",
        "document": {"link": "https://example.com/invoice.pdf", "filename": "invoice.pdf"},
    }
    graph.templates = [{"name": "order_ready", "language": "es", "status": "APPROVED", "category": "UTILITY"}]
    template = {
        "messaging_product": "whatsapp",
        "to": "34622000111",
        "type": "template",
        "template": {
            "name": "order_ready",
            "language": {"code": "es"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "S00042"}]}],
        },
    }

    answers = [client.send_message(PHONE_ID, payload) for payload in (image, document, template)]

    assert answers[0]["contacts"] == [{"input": "+34 622 000 111", "wa_id": "34622000111"}]
    assert answers[2]["messages"][0]["message_status"] == "accepted"
    assert [sent["type"] for sent in graph.sent] == ["image", "document", "template"]
    assert [sent["wamid"] for sent in graph.sent] == [answer["messages"][0]["id"] for answer in answers]


@pytest.mark.parametrize(
    "changes, code, message",
    [
        ({"messaging_product": None}, 100, "(#100) The parameter messaging_product is required."),
        ({"messaging_product": "sms"}, 100, '(#100) Param messaging_product must be one of {WHATSAPP} - got "sms".'),
        ({"to": ""}, 100, "(#100) The parameter to is required."),
        ({"text": None}, 100, "(#100) The parameter text is required."),
        ({"text": {"body": " "}}, 100, "(#100) The parameter text['body'] is required."),
        ({"text": {"body": "x" * 4097}}, 100, "(#100) Param text['body'] must be at most 4096 characters long."),
        ({"type": "fax"}, 100, None),
        ({"type": "image", "image": {"caption": "no id nor link"}}, 131008, None),
        ({"type": "template", "template": {"language": {"code": "es"}}}, 100, None),
        ({"type": "template", "template": {"name": "order_ready"}}, 100, None),
        ({"type": "reaction", "reaction": {"emoji": "👍"}}, 100, None),
    ],
)
def test_fake_refuses_what_meta_refuses(graph, client, changes, code, message):
    err = _raises(client.send_message, PHONE_ID, _payload(**changes))

    assert (err.status, err.code, err.transient) == (400, code, False)
    assert str(err).startswith(f"(#{code}) ")
    if message:
        assert str(err) == message
    assert graph.sent == []


def test_template_must_exist_and_be_approved(graph, client):
    graph.templates = [{"name": "promo", "language": "es", "status": "PAUSED"}]

    for name, language in (("promo", "es"), ("unknown", "es"), ("promo", "en")):
        template = {"name": name, "language": {"code": language}}
        err = _raises(_send, client, type="template", template=template, text=None)
        assert (err.code, err.transient) == (132001, False)
        assert err.details == f"template name ({name}) does not exist in {language}"
    assert graph.sent == []


def test_only_known_numbers_send(graph, client):
    graph.phone_numbers = {PHONE_ID: {"display_phone_number": "+1 555 123 4567"}}

    err = _raises(client.send_message, "999", TEXT_PAYLOAD)

    assert (err.status, err.code, err.subcode) == (400, 100, 33)
    assert "Object with ID '999' does not exist" in str(err)


def test_mark_read(graph, client):
    answer = client.send_message(
        PHONE_ID, {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"}
    )

    assert answer == {"success": True}
    assert graph.read == ["wamid.IN1"]
    assert graph.sent == []


# -- errors ---------------------------------------------------------------------------------
def test_meta_error_body_becomes_graph_error(graph, client):
    graph.inject(
        "POST",
        r"/messages$",
        code=131047,
        subcode=2494010,
        details="Message failed to send because more than 24 hours have passed since the customer last replied.",
    )

    err = _raises(_send, client)

    assert (err.status, err.code, err.subcode) == (400, 131047, 2494010)
    assert err.message == "(#131047) Re-engagement message"
    assert str(err) == "(#131047) Re-engagement message"
    assert err.details.startswith("Message failed to send because more than 24 hours")
    assert err.fbtrace_id
    assert err.retry_after is None
    assert not err.transient


@pytest.mark.parametrize(
    "code, transient",
    # Meta answers these with HTTP 400: only the code says whether waiting helps.
    [(100, False), (131026, False), (131047, False), (131051, False), (368, False)]
    + [(4, True), (80007, True), (130429, True), (131048, True), (131056, True), (131057, True)],
)
def test_transient_by_meta_code(graph, client, code, transient):
    graph.inject("POST", r"/messages$", status=400, code=code)

    err = _raises(_send, client)

    assert (err.status, err.code, err.transient) == (400, code, transient)


def test_bad_token(graph):
    client = GraphClient(graph.url, "expired")

    with pytest.raises(GraphAuthError) as info:
        _send(client)

    err = info.value
    assert (err.status, err.code, err.transient) == (401, 190, False)
    assert str(err) == "(#190) Invalid OAuth access token - Cannot parse access token"
    assert graph.sent == []


def test_rate_limit_is_transient_with_retry_after(graph, client):
    graph.inject("POST", r"/messages$", status=429, code=130429, retry_after=30, times=2)

    for _attempt in range(2):
        err = _raises(_send, client)
        assert (err.status, err.code, err.transient, err.retry_after) == (429, 130429, True, 30)
        assert str(err) == "(#130429) Rate limit hit"
    assert _send(client)["messages"][0]["id"]
    assert len(graph.sent) == 1


def test_retry_after_from_business_use_case_usage(graph, client):
    usage = {"102290129340398": [{"type": "whatsapp", "call_count": 100, "estimated_time_to_regain_access": 2}]}
    graph.inject("GET", r"/message_templates$", code=80007, headers={"X-Business-Use-Case-Usage": json.dumps(usage)})

    err = _raises(client.message_templates, "102290129340398")

    assert (err.code, err.transient, err.retry_after) == (80007, True, 120)


def test_server_errors_are_transient(graph, client):
    graph.inject("POST", r"/messages$", status=500)
    graph.inject("POST", r"/messages$", status=502, body="<html>Bad Gateway</html>")

    err = _raises(_send, client)
    assert (err.status, err.code, err.transient) == (500, 131000, True)
    err = _raises(_send, client)
    assert (err.status, err.code, err.transient) == (502, None, True)
    assert str(err) == "HTTP 502 Bad Gateway"
    assert _send(client)  # rules are consumed in order, then the fake answers normally


def test_timeout_is_transient(graph):
    client = GraphClient(graph.url, TOKEN, timeout=(1, 0.3))
    graph.inject("POST", r"/messages$", delay=5)

    started = time.monotonic()
    with pytest.raises(GraphTimeout) as info:
        _send(client)

    assert time.monotonic() - started < 2
    assert (info.value.status, info.value.transient) == (None, True)
    assert _send(client)["messages"]


def test_slow_answer_within_timeout(graph, client):
    graph.inject("GET", PHONE_ID, delay=0.2)
    graph.phone_numbers = {PHONE_ID: {"display_phone_number": "+1 555 123 4567"}}

    assert client.phone_number(PHONE_ID)["display_phone_number"] == "+1 555 123 4567"


def test_unreachable_server_is_transient():
    with FakeGraph() as graph:
        url = graph.url
    client = GraphClient(url, TOKEN, timeout=(1, 1))

    with pytest.raises(GraphConnectionError) as info:
        _send(client)

    assert info.value.transient


# -- media ----------------------------------------------------------------------------------
def test_upload_media_as_multipart(graph, client):
    content = b"%PDF-1.7 invoice"

    media_id = client.upload_media(PHONE_ID, "invoice.pdf", "application/pdf", content)

    request = graph.requests[-1]
    assert (request.method, request.path) == ("POST", f"/v21.0/{PHONE_ID}/media")
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    stored = graph.media[media_id]
    assert (stored["content"], stored["mime_type"], stored["filename"]) == (content, "application/pdf", "invoice.pdf")


def test_upload_needs_meta_fields(graph, client):
    files = {"file": ("a.txt", b"hi", "text/plain")}

    err = _raises(client.request, "POST", f"{PHONE_ID}/media", files=files, data={"messaging_product": "whatsapp"})
    assert str(err) == "(#100) The parameter type is required."
    err = _raises(client.request, "POST", f"{PHONE_ID}/media", files=files, data={"type": "text/plain"})
    assert str(err) == "(#100) The parameter messaging_product is required."
    assert graph.media == {}


def test_media_info_and_download(graph, client):
    content = b"\xff\xd8 a photo"
    media_id = graph.add_media(content, "image/jpeg")

    info = client.media_info(media_id)

    assert info["id"] == media_id
    assert info["mime_type"] == "image/jpeg"
    assert info["sha256"] == hashlib.sha256(content).hexdigest()
    assert info["file_size"] == len(content)
    assert client.download_media(info["url"]) == content
    assert graph.requests[-1].headers["Authorization"] == f"Bearer {TOKEN}"
    assert requests.get(info["url"], timeout=5).status_code == 401  # the URL alone is not enough


def test_media_info_of_unknown_media(graph, client):
    err = _raises(client.media_info, "123")

    assert (err.status, err.code, err.subcode, err.transient) == (400, 100, 33, False)


# -- account --------------------------------------------------------------------------------
def test_message_templates_across_pages(graph, client):
    graph.page_size = 2
    graph.templates = [{"name": f"t{n}", "language": "es", "status": "APPROVED"} for n in range(5)]

    templates = client.message_templates("102290129340398")

    assert [template["name"] for template in templates] == ["t0", "t1", "t2", "t3", "t4"]
    pages = [r for r in graph.requests if r.path == "/v21.0/102290129340398/message_templates"]
    assert len(pages) == 3
    assert "after" not in pages[0].query
    assert all(page.query.get("after") for page in pages[1:])


def test_phone_number(graph, client):
    graph.phone_numbers = {
        PHONE_ID: {
            "display_phone_number": "+1 555-123-4567",
            "verified_name": "Omnichannel Demo",
            "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED",
        }
    }

    assert client.phone_number(PHONE_ID) == {
        "display_phone_number": "+1 555-123-4567",
        "verified_name": "Omnichannel Demo",
        "quality_rating": "GREEN",
        "id": PHONE_ID,
    }
    assert graph.requests[-1].query == {"fields": "display_phone_number,verified_name,quality_rating"}


# -- the fake for other tests ---------------------------------------------------------------
def test_on_send_and_concurrent_sends():
    seen = []
    with FakeGraph(access_token=TOKEN, on_send=lambda payload, wamid: seen.append((payload["to"], wamid))) as graph:
        recipients = [f"3462200{n:04d}" for n in range(40)]
        threads = [
            threading.Thread(target=_send, args=(GraphClient(graph.url, TOKEN),), kwargs={"to": to})
            for to in recipients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(sent["to"] for sent in graph.sent) == recipients
        assert len({sent["wamid"] for sent in graph.sent}) == 40
        # on_send runs after the answer is written, as Meta's webhooks follow its answers: the
        # last callbacks may still be running when the clients have their answers.
        deadline = time.monotonic() + 10
        while len(seen) < len(recipients) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(seen) == sorted((sent["to"], sent["wamid"]) for sent in graph.sent)


def test_on_send_failure_is_reported():
    def on_send(payload, wamid):
        raise ValueError("webhook refused")

    with pytest.raises(AssertionError, match="on_send failed") as info:
        with FakeGraph(access_token=TOKEN, on_send=on_send) as graph:
            _send(GraphClient(graph.url, TOKEN))
    assert isinstance(info.value.__cause__, ValueError)


def test_reset(graph, client):
    graph.inject("POST", r"/messages$", status=500, times=None)
    graph.add_media(b"x", "text/plain")
    _raises(_send, client)

    graph.reset()

    assert (graph.requests, graph.sent, graph.media) == ([], [], {})
    assert _send(client)


# -- inside Odoo's test harness -------------------------------------------------------------
class TestGraphClientInOdooTests(TransactionCase):
    def test_send_through_odoo_request_guard(self):
        """Odoo compares each request's timeout with a number; the (connect, read) pair must allow it."""
        with FakeGraph(access_token=TOKEN) as graph:
            answer = GraphClient(graph.url, TOKEN).send_message(PHONE_ID, TEXT_PAYLOAD)

        self.assertTrue(answer["messages"][0]["id"].startswith("wamid."))
