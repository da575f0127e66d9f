"""The ARI client against the local ARI server over real HTTP. No database needed."""

import pytest

from odoo.addons.omnichannel_base.tools.provider import ProviderError
from odoo.addons.omnichannel_voip.tests.fake_ari import FakeAri
from odoo.addons.omnichannel_voip.tools.ari_client import AriClient, AriError, AriTimeout


@pytest.fixture
def ari():
    with FakeAri() as ari:
        yield ari


@pytest.fixture
def client(ari):
    return AriClient(ari.url, "omni", "secret", timeout=(1, 2))


def test_resources_info_channels(ari, client):
    assert client.resources()["apiVersion"]
    assert client.info()["system"]["version"].startswith("22.")
    assert client.channels() == []
    assert AriClient(ari.url + "/ari/", "omni", "secret").info(only="system")["system"]["entity_id"]
    assert (
        client.events_url("omni channel")
        == f"{ari.url.replace('http', 'ws')}/ari/events?app=omni+channel&subscribeAll=true"
    )
    assert (
        AriClient("https://pbx.example.com:8089", "u", "p")
        .events_url("a")
        .startswith("wss://pbx.example.com:8089/ari/events")
    )


def test_originate_then_conflict_is_readable(ari, client):
    ari.originate_plan("*", hold=("answered",))
    channel = client.originate(
        "PJSIP/1001", extension="+34600123456", context="omnichannel-outbound", priority=1,
        caller_id='"Ana" <+34600123456>', timeout=30, channel_id="omni-1", variables={"__OMNI_CALL": "outbound"},
    )  # fmt: skip
    assert channel["id"] == "omni-1" and channel["caller"] == {"name": "Ana", "number": "+34600123456"}
    assert ari.originated[-1]["variables"] == {"__OMNI_CALL": "outbound"}
    assert ari.originated[-1]["params"]["timeout"] == "30"
    with pytest.raises(AriError) as info:
        client.originate("PJSIP/1001", extension="+34600123456", context="omnichannel-outbound", channel_id="omni-1")
    error = info.value
    assert isinstance(error, ProviderError)
    assert (error.status, error.conflict, error.transient) == (409, True, False)
    assert str(error) == "(409) POST /ari/channels: Channel with given unique ID already exists"
    ari.runs[-1].reached("answered")
    assert client.channel("omni-1")["state"] == "Up"
    ari.runs[-1].release()
    ari.runs[-1].wait()
    with pytest.raises(AriError) as info:
        client.channel("omni-1")
    assert info.value.not_found and not info.value.transient


def test_stasis_variable_continue(ari, client):
    import threading

    routed = threading.Event()

    def listen():
        import json

        import websocket

        ws = websocket.create_connection(client.events_url("omnichannel"), header=[client.auth_header()], timeout=5)
        while True:
            event = json.loads(ws.recv())
            if event["type"] == "StasisStart":
                channel_id = event["channel"]["id"]
                client.set_variable(channel_id, "OMNI_DIAL", "PJSIP/1002")
                assert client.get_variable(channel_id, "OMNI_DIAL") == "PJSIP/1002"
                assert client.get_variable(channel_id, "CHANNEL(linkedid)") == channel_id
                routed.set()
                client.continue_in_dialplan(channel_id)
                ws.close()
                return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ari.wait_connected()
    run = ari.inbound(answer="1002", record=True).wait()
    assert routed.is_set()
    assert run.channels[1].name.startswith("PJSIP/1002-")  # OMNI_DIAL chose whom to ring
    content, mimetype = client.recording_file(run.linkedid)
    assert content.startswith(b"RIFF") and mimetype == "audio/wav"
    with pytest.raises(AriError) as info:
        client.continue_in_dialplan(run.linkedid)
    assert info.value.not_found


def test_errors_are_typed_and_transient_when_worth_retrying(ari, client):
    ari.inject("GET", r"/asterisk/info$", status=503)
    with pytest.raises(AriError) as info:
        client.info()
    assert info.value.transient and info.value.status == 503
    ari.inject("GET", r"/asterisk/info$", status=502, body=b"<html>Bad Gateway</html>")
    with pytest.raises(AriError) as info:
        client.info()
    assert info.value.transient and "HTTP 502" in str(info.value)
    with pytest.raises(AriError) as info:
        AriClient(ari.url, "omni", "wrong").info()
    assert info.value.status == 401 and not info.value.transient and "password" in str(info.value)
    with pytest.raises(AriError) as info:
        client.originate("PJSIP/1001")  # neither extension nor app
    assert info.value.status == 400 and not info.value.transient


def test_timeouts_and_unreachable(ari):
    slow = AriClient(ari.url, "omni", "secret", timeout=(1, 0.3))
    ari.inject("POST", r"/channels$", delay=1)
    with pytest.raises(AriTimeout) as info:
        slow.originate("PJSIP/1001", extension="100", context="x", channel_id="omni-t")
    assert info.value.transient and "secret" not in str(info.value)
    port = ari.url.rsplit(":", 1)[1]
    ari.stop()
    with pytest.raises(AriError) as info:
        AriClient(f"http://127.0.0.1:{port}", "omni", "secret", timeout=(0.5, 0.5)).info()
    assert info.value.transient and info.value.status is None
    with pytest.raises(AriError):
        AriClient("pbx.example.com:8088", "u", "p")
    with pytest.raises(AriError):
        AriClient("", "u", "p")
