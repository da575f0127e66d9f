"""The ARI event parser, without a database: each event type as Asterisk 20/22 sends it (the
``Channel`` model of rest-api/api-docs/channels.json, the events of events.json), the linkedid
from ``channelvars``, the legs' roles, numbers, hang-up causes and recordings."""

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.addons.omnichannel_voip.tools import ari_events
from odoo.addons.omnichannel_voip.tools.ari_events import PayloadError, event_key, parse_event

LINKED = "1764493200.10"
APP = "omnichannel"
OPTIONS = {"outbound_context": "omnichannel-outbound", "endpoint_template": "PJSIP/{extension}"}


def chan(id, name, state="Up", number="", caller_name="", exten="s", context="default", linked=LINKED,
         marker="inbound", app="", app_data="", vars=True):  # fmt: skip
    """A Channel exactly as ``ast_channel_snapshot_to_json`` writes it, with ari.conf's
    ``channelvars = CHANNEL(linkedid),OMNI_CALL`` (``vars``: True, "linkedid" for that one only,
    False for none)."""
    channel = {
        "id": id,
        "name": name,
        "state": state,
        "protocol_id": f"{id}@pbx",
        "caller": {"name": caller_name, "number": number},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {"context": context, "exten": exten, "priority": 2, "app_name": app, "app_data": app_data},
        "creationtime": "2025-11-30T10:00:00.000+0100",
        "language": "es",
    }
    if vars:
        channel["channelvars"] = {"CHANNEL(linkedid)": linked}
        if vars is True:
            channel["channelvars"]["OMNI_CALL"] = marker
    return channel


def event(type, second, **fields):
    """An event ``second`` seconds after 10:00 in Madrid, stamped as Asterisk does (local time, +0100)."""
    local = (datetime(2025, 11, 30, 10, 0) + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return {"type": type, "timestamp": f"{local}+0100", "application": APP, "asterisk_id": "52:54:00:12:34:56",
            **fields}  # fmt: skip


def at(second):
    return datetime(2025, 11, 30, 9, 0) + timedelta(seconds=second)


def customer(state="Ring", **kw):
    kw = {"number": "612345678", "caller_name": "LUCIA PRIETO", "exten": "910000123", "context": "from-trunk", **kw}
    return chan(LINKED, "PJSIP/trunk-00000001", state=state, **kw)


def agent_leg(ext="1001", seq="00000002", state="Ringing", **kw):
    return chan(f"1764493200.{int(seq, 16)}", f"PJSIP/{ext}-{seq}", state=state, number="612345678", exten="910000123",
                context="agents", **kw)  # fmt: skip


def parse(evt, **kw):
    return parse_event(evt, 7, **{**OPTIONS, **kw})


def one(evt, **kw):
    updates = parse(evt, **kw)
    assert len(updates) == 1, updates
    update = updates[0]
    assert update["channel_id"] == 7
    return update


# ------------------------------------------------------------------ inbound
def inbound_answered():
    return [
        event(
            "StasisStart",
            0.5,
            args=["inbound"],
            channel=customer(marker="", app="Stasis", app_data="omnichannel,inbound"),
        ),
        event("ChannelVarset", 0.6, variable="OMNI_CALL", value="inbound", channel=customer()),
        event("StasisEnd", 0.7, channel=customer()),
        event("Dial", 1.0, caller=customer(), peer=agent_leg(state="Down"), dialstring="1001", dialstatus=""),
        event("ChannelStateChange", 1.2, channel=agent_leg(state="Ringing")),
        event("Dial", 1.2, caller=customer(), peer=agent_leg(state="Ringing"), dialstatus="RINGING"),
        event("ChannelStateChange", 9.0, channel=agent_leg(state="Up")),
        event("Dial", 9.0, caller=customer(state="Up"), peer=agent_leg(state="Up"), dialstatus="ANSWER"),
        event("ChannelHangupRequest", 59.0, cause=16, channel=customer(state="Up")),
        event("ChannelDestroyed", 59.1, cause=16, cause_txt="Normal Clearing", channel=customer(state="Up")),
        event("ChannelDestroyed", 59.2, cause=16, cause_txt="Normal Clearing", channel=agent_leg(state="Up")),
    ]


def test_stasis_start_opens_an_inbound_call_with_the_customer_and_our_number():
    update = one(inbound_answered()[0])
    assert update["call_key"] == LINKED
    assert update["date"] == at(0.5)
    assert (update["direction"], update["state"]) == ("inbound", "ringing")
    assert (update["customer_number"], update["customer_name"], update["withheld"]) == (
        "612345678", "LUCIA PRIETO", False)  # fmt: skip
    assert update["our_number"] == "910000123"
    assert update["agent_extension"] is None


def test_an_answered_inbound_call_in_order():
    updates = [u for evt in inbound_answered() for u in parse(evt)]
    by_state = {}
    for update in updates:
        assert update["call_key"] == LINKED
        by_state.setdefault(update["state"], []).append(update)
    assert [u["agent_extension"] for u in by_state["ringing"]] == [None, None, "1001", "1001"]
    assert {u["agent_extension"] for u in by_state["answered"]} == {"1001"}
    assert min(u["date"] for u in by_state["answered"]) == at(9.0)
    [ended] = by_state["ended"]
    assert (ended["cause"], ended["cause_text"], ended["date"]) == (16, "Normal Clearing", at(59.1))
    assert ended["customer_number"] == "612345678"  # an end read first still names the caller
    # StasisEnd, the marker being set and the agent leg's end say nothing of the call.
    assert parse(inbound_answered()[1]) == [] and parse(inbound_answered()[2]) == []
    assert parse(inbound_answered()[-1]) == []
    # The hang-up request gives its cause ahead of the end.
    assert one(inbound_answered()[-3])["cause"] == 16


def test_each_event_reads_alone_whatever_came_before():
    # No state between events: shuffled and repeated events give the same updates (the core
    # merges them into the same row, see test_asterisk_provider).
    events = inbound_answered()
    forward = {repr(u) for evt in events for u in parse(evt)}
    backward = {repr(u) for evt in reversed(events + events) for u in parse(evt)}
    assert forward == backward


def test_a_ring_group_answered_by_the_second_agent():
    first, second = agent_leg("1001", "00000002"), agent_leg("1002", "00000003")
    events = [
        event("Dial", 1, caller=customer(), peer=first, dialstatus=""),
        event("Dial", 1, caller=customer(), peer=second, dialstatus=""),
        event(
            "Dial", 6, caller=customer(state="Up"), peer=agent_leg("1002", "00000003", state="Up"), dialstatus="ANSWER"
        ),
        event("Dial", 6, caller=customer(state="Up"), peer=first, dialstatus="CANCEL"),
        event("ChannelDestroyed", 6.1, cause=26, cause_txt="Answered elsewhere", channel=first),
    ]
    updates = [u for evt in events for u in parse(evt)]
    assert [(u["state"], u["agent_extension"]) for u in updates] == [
        ("ringing", None), ("ringing", None), ("answered", "1002"), (None, None)]  # fmt: skip
    # The agent's phone rings (SIP 180): the call rings for them.
    ringing = one(event("Dial", 1.1, caller=customer(), peer=first, dialstatus="RINGING"))
    assert (ringing["state"], ringing["agent_extension"]) == ("ringing", "1001")


def test_missed_call_the_customer_hangs_up_while_ringing():
    events = [
        event("Dial", 1, caller=customer(), peer=agent_leg(), dialstatus="RINGING"),
        event("Dial", 12, caller=customer(), peer=agent_leg(), dialstatus="CANCEL"),
        event("ChannelDestroyed", 12.1, cause=16, cause_txt="Normal Clearing", channel=customer()),
    ]
    updates = [u for evt in events for u in parse(evt)]
    assert [u["state"] for u in updates] == ["ringing", None, "ended"]
    assert not any(u["outcome"] for u in updates)  # an inbound call nobody answered: the core says missed
    assert updates[1]["agent_extension"] is None  # a leg that stopped ringing makes nobody the call's agent


@pytest.mark.parametrize("status", ["BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION"])
def test_an_agent_who_cannot_take_the_call_is_not_its_agent(status):
    update = one(event("Dial", 2, caller=customer(), peer=agent_leg(state="Busy"), dialstatus=status))
    assert (update["state"], update["agent_extension"], update["outcome"]) == (None, None, None)
    ended = one(event("ChannelDestroyed", 3, cause=17, cause_txt="User busy", channel=customer()))
    assert (ended["state"], ended["cause"], ended["outcome"]) == ("ended", 17, None)


@pytest.mark.parametrize(
    "number",
    ["", "anonymous", "Anonymous", "restricted", "Unavailable", "PRIVATE", "unknown", "<unknown>", "Withheld"],
)
def test_withheld_numbers_stay_unknown(number):
    update = one(event("StasisStart", 0, args=["inbound"], channel=customer(number=number, caller_name="Anonymous")))
    assert (update["customer_number"], update["withheld"], update["customer_name"]) == (None, True, None)


@pytest.mark.parametrize(
    ("raw", "given"),
    [("612345678", "612345678"), ("+34 612 345 678", "+34612345678"), ("0034612345678", "0034612345678"),
     ("(650) 555-1234", "6505551234"), ("+1-650-555-1234", "+16505551234")],
)  # fmt: skip
def test_numbers_are_passed_as_the_trunk_gave_them_without_punctuation(raw, given):
    # National, 00-prefixed and E.164 alike: the core resolves them with the channel's country.
    assert one(event("StasisStart", 0, args=["inbound"], channel=customer(number=raw)))["customer_number"] == given


def test_the_did_is_our_number_only_when_it_is_a_number():
    assert one(event("StasisStart", 0, args=["inbound"], channel=customer(exten="s")))["our_number"] is None
    assert one(event("StasisStart", 0, args=["inbound"], channel=customer(exten="+34910000123")))["our_number"] == (
        "+34910000123")  # fmt: skip


# ------------------------------------------------------------------ outbound (click-to-dial)
KEY = "omni-5b1f0c52-9a0e-4d59-9e44-1c2b8f1f6e20"


def agent_root(state="Ringing", **kw):
    kw = {"number": "1001", "exten": "+34612345678", "context": "omnichannel-outbound", "linked": KEY,
          "marker": "outbound", **kw}  # fmt: skip
    return chan(KEY, "PJSIP/1001-00000007", state=state, **kw)


def customer_leg(state="Down", **kw):
    kw = {"number": "910000123", "exten": "+34612345678", "context": "from-trunk", "linked": KEY, "marker": "outbound",
          **kw}  # fmt: skip
    return chan("1764493300.8", "PJSIP/trunk-00000008", state=state, **kw)


def test_click_to_dial_answered():
    events = [
        event("ChannelStateChange", 1, channel=agent_root("Ringing")),
        event("ChannelStateChange", 3, channel=agent_root("Up")),
        event("StasisStart", 3.1, args=["outbound"], channel=agent_root("Up")),
        event(
            "Dial", 3.5, caller=agent_root("Up"), peer=customer_leg(), dialstring="+34612345678@trunk", dialstatus=""
        ),
        event("ChannelStateChange", 4, channel=customer_leg("Ringing")),
        event("Dial", 4, caller=agent_root("Up"), peer=customer_leg("Ringing"), dialstatus="RINGING"),
        event("ChannelStateChange", 10, channel=customer_leg("Up")),
        event("Dial", 10, caller=agent_root("Up"), peer=customer_leg("Up"), dialstatus="ANSWER"),
        event("ChannelDestroyed", 70, cause=16, cause_txt="Normal Clearing", channel=customer_leg("Up")),
        event("ChannelDestroyed", 70.1, cause=16, cause_txt="Normal Clearing", channel=agent_root("Up")),
    ]
    updates = [u for evt in events for u in parse(evt)]
    assert {u["call_key"] for u in updates} == {KEY}  # our channelId is the linkedid: the dial key
    assert {u["direction"] for u in updates} == {"outbound"}
    ringing = [u for u in updates if u["state"] == "ringing"]
    assert ringing[0]["date"] == at(1) and ringing[0]["agent_extension"] == "1001"  # the agent's phone first
    answered = [u for u in updates if u["state"] == "answered"]
    assert min(u["date"] for u in answered) == at(10)  # when the customer answered, not the agent
    assert [u["outcome"] for u in updates if u["outcome"]] == ["answered"]
    assert updates[-1]["state"] == "ended" and updates[-1]["cause"] == 16
    stasis = one(events[2])
    assert (stasis["customer_number"], stasis["agent_extension"], stasis["state"]) == ("+34612345678", "1001", None)


@pytest.mark.parametrize(
    ("status", "cause", "outcome"),
    [("NOANSWER", 19, "no_answer"), ("BUSY", 17, "busy"), ("CONGESTION", 21, "failed"), ("CHANUNAVAIL", 1, "failed"),
     ("CONGESTION", 34, "failed"), ("NOANSWER", 16, "no_answer"), ("CANCEL", 16, None)],
)  # fmt: skip
def test_click_to_dial_not_answered(status, cause, outcome):
    dial = one(event("Dial", 30, caller=agent_root("Up"), peer=customer_leg("Ringing"), dialstatus=status))
    assert (dial["state"], dial["outcome"]) == (None, outcome)
    # The customer leg's end gives the Q.850 cause, never an outcome that could contradict the Dial's.
    leg = one(event("ChannelDestroyed", 30.1, cause=cause, cause_txt="x", channel=customer_leg("Ringing")))
    assert (leg["state"], leg["cause"], leg["outcome"]) == (None, cause, None)
    root = one(event("ChannelDestroyed", 30.2, cause=cause, cause_txt="x", channel=agent_root("Up")))
    assert (root["state"], root["cause"], root["outcome"]) == ("ended", cause, None)


def test_desk_phone_call_through_the_outbound_context_without_our_marker():
    # ari.conf lists only CHANNEL(linkedid): the outbound context tells the direction.
    root = chan("1764493400.20", "PJSIP/1002-00000014", state="Up", number="1002", exten="0612345678",
                context="omnichannel-outbound", linked="1764493400.20", vars="linkedid")  # fmt: skip
    peer = chan("1764493400.21", "PJSIP/trunk-00000015", state="Ringing", linked="1764493400.20", vars="linkedid")
    update = one(event("Dial", 2, caller=root, peer=peer, dialstatus="RINGING"))
    assert (update["direction"], update["agent_extension"], update["customer_number"]) == (
        "outbound", "1002", "0612345678")  # fmt: skip


# ------------------------------------------------------------------ recordings
@pytest.mark.parametrize(
    ("value", "ref", "name", "mimetype"),
    [
        ("/var/spool/asterisk/recording/1764493200.10.wav", "1764493200.10", "1764493200.10.wav", "audio/wav"),
        ("/var/spool/asterisk/recording/calls/2025/1764493200.10.gsm", "calls/2025/1764493200.10",
         "1764493200.10.gsm", "audio/x-gsm"),
        ("1764493200.10.wav49", "1764493200.10", "1764493200.10.wav49", "audio/wav"),
        ("/var/spool/asterisk/recording/1764493200.10", "1764493200.10", "1764493200.10.wav", "audio/wav"),
    ],
)  # fmt: skip
def test_mixmonitor_recording(value, ref, name, mimetype):
    update = one(event("ChannelVarset", 1, variable="MIXMONITOR_FILENAME", value=value, channel=customer("Up")))
    assert update["recording"] == {"ref": ref, "name": name, "mimetype": mimetype}
    assert update["state"] is None and update["call_key"] == LINKED


def test_other_variables_and_global_ones_say_nothing():
    assert parse(event("ChannelVarset", 1, variable="DIALSTATUS", value="ANSWER", channel=customer())) == []
    assert parse(event("ChannelVarset", 1, variable="MIXMONITOR_FILENAME", value="/tmp/x.wav")) == []
    assert parse(event("ChannelVarset", 1, variable="MIXMONITOR_FILENAME", value="/x/recording/../../etc/passwd.wav",
                       channel=customer())) == []  # fmt: skip


# ------------------------------------------------------------------ calls that are not ours
def test_internal_calls_are_ignored_when_ari_conf_marks_ours():
    internal = chan("1764493500.30", "PJSIP/1001-00000020", state="Ring", number="1001", exten="1002",
                    context="internal", linked="1764493500.30", marker="")  # fmt: skip
    peer = chan("1764493500.31", "PJSIP/1002-00000021", state="Ringing", linked="1764493500.30", marker="")
    for evt in (
        event("ChannelStateChange", 1, channel=internal),
        event("Dial", 1, caller=internal, peer=peer, dialstatus="RINGING"),
        event("ChannelDestroyed", 9, cause=16, cause_txt="Normal Clearing", channel=internal),
        event("ChannelVarset", 2, variable="MIXMONITOR_FILENAME", value="/r/1.wav", channel=internal),
    ):
        assert parse(evt) == []
        assert not ari_events.is_relevant(evt, **OPTIONS)
    assert ari_events.is_relevant(inbound_answered()[3], **OPTIONS)


def test_only_linkedid_in_channelvars():
    # The configuration H1's listener may meet: inbound Dials are read as inbound legs, the call
    # ends with its first leg; the agent's leg never opens a call of its own.
    root = customer(vars="linkedid")
    leg = agent_leg(vars="linkedid")
    assert one(event("StasisStart", 0, args=["inbound"], channel=root))["direction"] == "inbound"
    dial = one(event("Dial", 1, caller=root, peer=leg, dialstatus="ANSWER"))
    assert (dial["call_key"], dial["state"], dial["agent_extension"], dial["direction"]) == (
        LINKED, "answered", "1001", None)  # fmt: skip
    assert parse(event("ChannelStateChange", 1, channel=leg)) == []
    assert parse(event("ChannelDestroyed", 5, cause=16, cause_txt="", channel=leg)) == []
    assert one(event("ChannelDestroyed", 5, cause=16, cause_txt="", channel=root))["state"] == "ended"


def test_no_channelvars_at_all():
    # ari.conf untouched: Stasis and Dial still say which call (the first leg's id).
    root = customer(vars=False)
    leg = agent_leg(vars=False)
    assert one(event("StasisStart", 0, args=["inbound"], channel=root))["call_key"] == LINKED
    assert one(event("Dial", 1, caller=root, peer=leg, dialstatus="RINGING"))["call_key"] == LINKED
    assert parse(event("ChannelDestroyed", 5, cause=16, cause_txt="", channel=leg)) == []
    # A click-to-dial's channel is ours by its id.
    origin = chan(KEY, "PJSIP/1001-00000007", state="Ringing", vars=False)
    assert one(event("ChannelStateChange", 1, channel=origin))["agent_extension"] == "1001"


def test_native_linkedid_field_wins():
    leg = agent_leg(vars=False)
    leg["linkedid"] = LINKED
    assert one(event("Dial", 1, peer=leg, dialstatus="RINGING"))["call_key"] == LINKED


def test_channelvars_names_are_read_whatever_their_case():
    leg = agent_leg(vars=False)
    leg["channelvars"] = {"CHANNEL(LINKEDID)": LINKED, "omni_call": "inbound"}
    assert one(event("ChannelStateChange", 1, channel=leg))["call_key"] == LINKED


# ------------------------------------------------------------------ the rest
@pytest.mark.parametrize(
    ("name", "template", "extension"),
    [("PJSIP/1001-0000002a", "PJSIP/{extension}", "1001"), ("SIP/ana-000000b1", "SIP/{extension}", "ana"),
     ("Local/1001@agents-00000001;1", "Local/{extension}@agents", "1001"),
     ("Local/1001@agents-00000001;2", "PJSIP/{extension}", "1001@agents"), ("PJSIP/1001", "PJSIP/{extension}", "1001"),
     ("IAX2/1003-1234", "PJSIP/{extension}", "1003"), ("", "PJSIP/{extension}", None)],
)  # fmt: skip
def test_extension_of_channel_names(name, template, extension):
    assert ari_events.extension_of(name, template) == extension


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2025-11-30T10:00:01.250+0100", datetime(2025, 11, 30, 9, 0, 1, 250000)),
     ("2025-11-30T04:00:01.000-0500", datetime(2025, 11, 30, 9, 0, 1)),
     ("2025-11-30T09:00:01.5Z", datetime(2025, 11, 30, 9, 0, 1, 500000)),
     ("2025-11-30T09:00:01+00:00", datetime(2025, 11, 30, 9, 0, 1))],
)  # fmt: skip
def test_ari_timestamps_become_naive_utc(value, expected):
    assert ari_events.parse_timestamp(value) == expected


@pytest.mark.parametrize(
    "bad",
    [None, [], "x", {}, {"type": 3}, event("Dial", 1, peer=agent_leg()), event("ChannelDestroyed", 1),
     event("StasisStart", 1, channel={"name": "x"}), {**event("Dial", 1, peer=agent_leg(), dialstatus=""),
                                                       "timestamp": "yesterday"}],
)  # fmt: skip
def test_unusable_events_are_refused_with_a_reason(bad):
    with pytest.raises(PayloadError):
        parse(bad)


def test_events_of_no_interest():
    for evt in (event("ChannelDialplan", 1, channel=customer(), dialplan_app="Dial", dialplan_app_data="x"),
                event("BridgeCreated", 1, bridge={}), event("ChannelCreated", 1, channel=customer())):  # fmt: skip
        assert parse(evt) == []
        assert not ari_events.is_relevant(evt)


def test_event_keys_are_stable_and_distinct():
    events = inbound_answered()
    keys = [event_key(7, evt) for evt in events]
    assert len(set(keys)) == len(keys)
    assert keys == [event_key(7, dict(reversed(list(evt.items())))) for evt in events]  # the same event, re-serialised
    assert event_key(8, events[0]) != keys[0]
    assert keys[0].startswith(f"ari:7:StasisStart:{LINKED}:")


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(
    type=st.sampled_from(sorted(ari_events.EVENT_TYPES)),
    fields=st.dictionaries(
        st.sampled_from(
            ["channel", "peer", "caller", "args", "dialstatus", "cause", "cause_txt", "variable", "value", "timestamp"]
        ),
        json_value,
        max_size=6,
    ),  # fmt: skip
)
def test_any_json_is_read_or_refused_with_payload_error(type, fields):
    try:
        updates = parse({"type": type, **fields}, default_date=datetime(2025, 1, 1))
    except PayloadError:
        return
    for update in updates:
        assert isinstance(update["call_key"], str) and update["call_key"]
        assert isinstance(update["date"], datetime)
