"""The local ARI server speaks Asterisk's ARI: every event and REST answer it gives is checked
against the models of Asterisk's rest-api/api-docs (tests/data/ari/models.json), and each
scenario sends the events Asterisk sends for that call. No database needed."""

import base64
import json
import re
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket

from odoo.addons.omnichannel_voip.tests.fake_ari import FakeAri

MODELS = json.loads((Path(__file__).resolve().parent / "data" / "ari" / "models.json").read_text())
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$")
AUTH = ("omni", "secret")


def check(value, model, where="$"):
    """Fail unless ``value`` is what ``model`` documents: required fields present, no
    undocumented one, every field of its type (Channel, CallerID… recursively)."""
    spec = MODELS[model]
    fields = {}
    chain = spec
    while chain:
        fields = {**chain["properties"], **fields}
        chain = MODELS.get(chain.get("extends"))
    assert isinstance(value, dict), f"{where}: {model} must be an object"
    for name, field in fields.items():
        if field["required"]:
            assert name in value, f"{where}: {model} misses required {name}"
    for name, item in value.items():
        assert name in fields, f"{where}: {model} has undocumented field {name!r}"
        check_type(item, fields[name], f"{where}.{name}")


def check_type(value, field, where):
    kind = field["type"]
    if kind.startswith("List["):
        assert isinstance(value, list), f"{where}: a list"
        for i, item in enumerate(value):
            check_type(item, {"type": kind[5:-1]}, f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: a string"
        if "values" in field:
            assert value in field["values"], f"{where}: {value!r} not one of {field['values']}"
    elif kind in ("int", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: an integer"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: a boolean"
    elif kind == "Date":
        assert isinstance(value, str) and DATE.match(value), f"{where}: {value!r} is not an ARI date"
    elif kind in ("object", "containers"):
        assert isinstance(value, dict), f"{where}: an object"
        if where.endswith(".channelvars"):
            assert all(isinstance(v, str) for v in value.values()), f"{where}: string values"
    elif kind in MODELS:
        check(value, kind, where)
    else:
        raise AssertionError(f"{where}: type {kind} not in models.json")


class Socket:
    """A websocket-client connection to the fake that plays the listener's part by hand."""

    def __init__(self, ari, continue_stasis=True, variables=None, query="app=omnichannel&subscribeAll=true"):
        self.ari = ari
        self.events = []
        self.ws = websocket.create_connection(
            f"{ari.url.replace('http', 'ws')}/ari/events?{query}",
            header=["Authorization: Basic " + base64.b64encode(b"omni:secret").decode()],
            timeout=5,
        )
        self.continue_stasis, self.variables = continue_stasis, variables or {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                event = json.loads(self.ws.recv())
            except Exception:  # noqa: BLE001 (closed)
                return
            self.events.append(event)
            if event["type"] == "StasisStart" and self.continue_stasis:
                channel_id = event["channel"]["id"]
                for name, value in self.variables.items():
                    requests.post(f"{self.ari.url}/ari/channels/{channel_id}/variable",
                                  params={"variable": name, "value": value}, auth=AUTH, timeout=5)  # fmt: skip
                requests.post(f"{self.ari.url}/ari/channels/{channel_id}/continue", auth=AUTH, timeout=5)

    def settle(self, count=None):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(self.events) < (count or len(self.ari.events)):
            time.sleep(0.01)
        return self.events

    def close(self):
        self.ws.close()


@pytest.fixture
def ari():
    with FakeAri() as ari:
        yield ari


def summary(events, linkedid):
    """(type, leg, state or dial status) of the call's events, legs named by role."""
    rows = []
    for event in events:
        channel = event.get("channel") or event.get("peer")
        if not channel or channel.get("channelvars", {}).get("CHANNEL(linkedid)") != linkedid:
            continue
        leg = channel["name"].rsplit("-", 1)[0]
        detail = event.get("dialstatus", event.get("variable", event.get("cause", channel["state"])))
        rows.append((event["type"], leg, detail))
    return rows


# ------------------------------------------------------------ shapes
def test_every_event_of_every_scenario_matches_asterisk_models(ari):
    sock = Socket(ari, variables={"__OMNI_CALL": "inbound", "OMNI_DIAL": "PJSIP/1001&PJSIP/1002"})
    ari.wait_connected()
    runs = [
        ari.inbound(),
        ari.inbound(answer=None),
        ari.inbound(busy=("1001", "1002")),
        ari.inbound(caller="anonymous", caller_name="Anonymous"),
        ari.inbound(answer="timeout"),
        ari.inbound(record=True, answer="1002"),
    ]
    for run in runs:
        run.wait()
    for customer in ("answer", "noanswer", "busy", "rejected"):
        ari.originate_plan("+34600123456", customer=customer)
        response = requests.post(f"{ari.url}/ari/channels", auth=AUTH, timeout=5, params={
            "endpoint": "PJSIP/1001", "extension": "+34600123456", "context": "omnichannel-outbound",
            "priority": 1, "channelId": f"omni-{customer}", "callerId": '"Ana" <+34600123456>',
        }, json={"variables": {"__OMNI_CALL": "outbound", "OMNI_DIAL_KEY": f"omni-{customer}"}})  # fmt: skip
        assert response.status_code == 200, response.text
        check(response.json(), "Channel")
        ari.runs[-1].wait()
    sock.settle()
    assert len(ari.events) > 150
    kinds = set()
    for i, event in enumerate(sock.events):
        check(event, event["type"], f"event {i} ({event['type']})")
        assert event["application"] == "omnichannel" and event["asterisk_id"]
        kinds.add(event["type"])
    assert {"StasisStart", "StasisEnd", "ChannelStateChange", "Dial", "ChannelDestroyed", "ChannelVarset",
            "ChannelHangupRequest", "ChannelCreated", "ChannelDialplan"} <= kinds  # fmt: skip
    sock.close()


def test_rest_answers_match_models(ari):
    info = requests.get(f"{ari.url}/ari/asterisk/info", auth=AUTH, timeout=5).json()
    check(info, "AsteriskInfo")
    assert set(requests.get(f"{ari.url}/ari/asterisk/info?only=system", auth=AUTH, timeout=5).json()) == {"system"}
    docs = requests.get(f"{ari.url}/ari/api-docs/resources.json", auth=AUTH, timeout=5).json()
    assert docs["basePath"] == f"{ari.url}/ari" and docs["swaggerVersion"] == "1.1"
    assert any(api["path"] == "/api-docs/channels.{format}" for api in docs["apis"])
    assert requests.get(f"{ari.url}/ari/applications/omnichannel", auth=AUTH, timeout=5).status_code == 404
    sock = Socket(ari)
    ari.wait_connected()
    check(requests.get(f"{ari.url}/ari/applications/omnichannel", auth=AUTH, timeout=5).json(), "Application")
    sock.close()


def test_authentication(ari):
    assert requests.get(f"{ari.url}/ari/channels", timeout=5).status_code == 401
    wrong = requests.get(f"{ari.url}/ari/channels", auth=("omni", "nope"), timeout=5)
    assert wrong.status_code == 401 and wrong.json() == {"message": "Authentication required"}
    assert "Basic realm" in wrong.headers["WWW-Authenticate"]
    assert requests.get(f"{ari.url}/ari/channels?api_key=omni:secret", timeout=5).json() == []
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(f"{ari.url.replace('http', 'ws')}/ari/events?app=omnichannel", timeout=5)
    assert info.value.status_code == 401
    ws = websocket.create_connection(
        f"{ari.url.replace('http', 'ws')}/ari/events?app=omnichannel&api_key=omni:secret", timeout=5
    )
    ari.wait_connected()
    ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(f"{ari.url.replace('http', 'ws')}/ari/events?api_key=omni:secret", timeout=5)
    assert info.value.status_code == 400  # "HTTP request is missing param: [app]"


# ------------------------------------------------------------ scenarios, as Asterisk plays them
def test_inbound_answered_waits_in_stasis_and_carries_linkedid_and_marker(ari):
    sock = Socket(ari, variables={"__OMNI_CALL": "inbound", "OMNI_DIAL": "PJSIP/1001&PJSIP/1002"})
    ari.wait_connected()
    run = ari.inbound(caller="600123456", did="910000000", answer="1002").wait()
    events = sock.settle()
    rows = summary(events, run.linkedid)
    assert rows[:3] == [
        ("ChannelCreated", "PJSIP/trunk", "Ring"),
        ("ChannelDialplan", "PJSIP/trunk", "Ring"),
        ("StasisStart", "PJSIP/trunk", "Ring"),
    ]
    assert ("Dial", "PJSIP/1002", "ANSWER") in rows and ("Dial", "PJSIP/1001", "CANCEL") in rows
    assert ("ChannelDestroyed", "PJSIP/1001", 26) in rows  # answered elsewhere
    assert rows[-1] == ("ChannelDestroyed", "PJSIP/trunk", 16)
    start = next(e for e in events if e["type"] == "StasisStart")
    assert start["args"] == ["inbound"] and start["channel"]["dialplan"]["app_data"] == "omnichannel,inbound"
    assert start["channel"]["caller"] == {"name": "", "number": "600123456"}
    # every leg names the call (ari.conf channelvars = CHANNEL(linkedid),OMNI_CALL) and, once
    # the listener set __OMNI_CALL, inherits the marker
    legs = [e for e in events if e["type"] == "Dial"]
    assert {e["peer"]["channelvars"]["CHANNEL(linkedid)"] for e in legs} == {run.linkedid}
    assert {e["peer"]["channelvars"]["OMNI_CALL"] for e in legs} == {"inbound"}
    assert legs[0]["caller"]["id"] == run.linkedid and legs[0]["forward"] == ""
    assert not run.stuck
    sock.close()


def test_missed_busy_timeout_withheld(ari):
    sock = Socket(ari, variables={"__OMNI_CALL": "inbound"})
    ari.wait_connected()
    missed = ari.inbound(answer=None).wait()
    busy = ari.inbound(busy=("1001",)).wait()
    timeout = ari.inbound(answer="timeout").wait()
    withheld = ari.inbound(caller="anonymous", caller_name="Anonymous").wait()
    events = sock.settle()
    rows = summary(events, missed.linkedid)
    assert ("ChannelHangupRequest", "PJSIP/trunk", 16) in rows and ("Dial", "PJSIP/1001", "CANCEL") in rows
    assert not any(row[:2] == ("ChannelStateChange", "PJSIP/1001") and row[2] == "Up" for row in rows)
    rows = summary(events, busy.linkedid)
    assert ("Dial", "PJSIP/1001", "BUSY") in rows and rows[-1] == ("ChannelDestroyed", "PJSIP/trunk", 17)
    rows = summary(events, timeout.linkedid)
    assert ("Dial", "PJSIP/1001", "NOANSWER") in rows and rows[-1] == ("ChannelDestroyed", "PJSIP/trunk", 16)
    first = next(e for e in events if e.get("channel", {}).get("id") == withheld.linkedid)
    assert first["channel"]["caller"] == {"name": "Anonymous", "number": "anonymous"}
    sock.close()


def test_without_listener_stasis_fails_and_the_call_goes_on(ari):
    watcher = Socket(ari, query="app=other&subscribeAll=true")  # another app sees everything
    ari.wait_connected(app="other")
    run = ari.inbound().wait()
    rows = summary(watcher.settle(), run.linkedid)
    assert ("ChannelVarset", "PJSIP/trunk", "STASISSTATUS") in rows
    assert not any(row[0] == "StasisStart" for row in rows)
    assert ("Dial", "PJSIP/1001", "ANSWER") in rows  # the dialplan's fallback rang
    watcher.close()


def test_recorded_call_stores_its_file(ari):
    sock = Socket(ari, variables={"__OMNI_CALL": "inbound"})
    ari.wait_connected()
    run = ari.inbound(record=True).wait()
    varset = next(e for e in sock.settle() if e["type"] == "ChannelVarset" and e["variable"] == "MIXMONITOR_FILENAME")
    assert varset["value"] == f"/var/spool/asterisk/recording/{run.linkedid}.wav"
    file = requests.get(f"{ari.url}/ari/recordings/stored/{run.linkedid}/file", auth=AUTH, timeout=5)
    assert file.status_code == 200 and file.content.startswith(b"RIFF") and file.headers["Content-Type"] == "audio/wav"
    assert requests.get(f"{ari.url}/ari/recordings/stored/nope/file", auth=AUTH, timeout=5).status_code == 404
    sock.close()


def test_originate_with_our_id_is_idempotent_while_the_call_lives(ari):
    sock = Socket(ari)
    ari.wait_connected()
    ari.originate_plan("*", hold=("answered",))
    params = {"endpoint": "PJSIP/1001", "extension": "+34600123456", "context": "omnichannel-outbound",
              "priority": 1, "channelId": "omni-key-1"}  # fmt: skip
    first = requests.post(f"{ari.url}/ari/channels", params=params, auth=AUTH, timeout=5)
    assert first.status_code == 200 and first.json()["id"] == "omni-key-1" and first.json()["state"] == "Down"
    again = requests.post(f"{ari.url}/ari/channels", params=params, auth=AUTH, timeout=5)
    assert again.status_code == 409 and again.json() == {"message": "Channel with given unique ID already exists"}
    run = ari.runs[-1]
    run.reached("answered")
    listed = requests.get(f"{ari.url}/ari/channels", auth=AUTH, timeout=5).json()
    assert {c["channelvars"]["CHANNEL(linkedid)"] for c in listed} == {"omni-key-1"} and len(listed) == 2
    for channel in listed:
        check(channel, "Channel")
    run.release()
    run.wait()
    rows = summary(sock.settle(), "omni-key-1")
    assert ("StasisStart", "PJSIP/1001", "Up") in rows and ("Dial", "PJSIP/trunk", "ANSWER") in rows
    assert requests.post(f"{ari.url}/ari/channels", params={"extension": "1"}, auth=AUTH, timeout=5).status_code == 400
    assert requests.get(f"{ari.url}/ari/channels/omni-key-1", auth=AUTH, timeout=5).status_code == 404
    sock.close()


def test_continue_and_variable_need_stasis_hangup_ends_the_call(ari):
    sock = Socket(ari, continue_stasis=False)
    ari.wait_connected()
    run = ari.inbound(hold=())
    run.reached("stasis")
    channel_id = run.linkedid
    assert requests.post(f"{ari.url}/ari/channels/{channel_id}/variable", params={"variable": "X", "value": "1"},
                         auth=AUTH, timeout=5).status_code == 204  # fmt: skip
    value = requests.get(f"{ari.url}/ari/channels/{channel_id}/variable", params={"variable": "CHANNEL(linkedid)"},
                         auth=AUTH, timeout=5).json()  # fmt: skip
    check(value, "Variable")
    assert value == {"value": channel_id}
    assert requests.delete(f"{ari.url}/ari/channels/{channel_id}", auth=AUTH, timeout=5).status_code == 204
    run.wait()
    assert requests.post(f"{ari.url}/ari/channels/{channel_id}/continue", auth=AUTH, timeout=5).status_code == 404
    rows = summary(sock.settle(), channel_id)
    assert rows[-1] == ("ChannelDestroyed", "PJSIP/trunk", 16)
    assert not any(row[0] == "Dial" for row in rows)
    sock.close()


def test_faults(ari):
    ari.inject("GET", r"/channels$", status=503)
    assert requests.get(f"{ari.url}/ari/channels", auth=AUTH, timeout=5).status_code == 503
    assert requests.get(f"{ari.url}/ari/channels", auth=AUTH, timeout=5).status_code == 200
    ari.refuse_websockets(1, status=503)
    with pytest.raises(websocket.WebSocketBadStatusException):
        Socket(ari)
    sock = Socket(ari)
    ari.wait_connected()
    assert ari.drop_sockets() == 1
    sock.thread.join(5)
    assert not sock.thread.is_alive()  # the client saw the connection go
