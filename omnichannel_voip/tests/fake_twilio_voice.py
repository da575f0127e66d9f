"""A local stand-in for Twilio Programmable Voice, over real HTTP on 127.0.0.1: the REST API our
client calls, and the calls themselves, whose webhooks it posts to Odoo signed as Twilio signs them.

    with FakeTwilioVoice(ACCOUNT_SID, AUTH_TOKEN, numbers={"+34910000001"}) as twilio:
        call = twilio.incoming(webhook_url, "+34612345678", "+34910000001")  # posts the voice webhook
        call.twiml                       # what Odoo answered (ElementTree), call.targets: who it dials
        call.ring(); call.answer("+34600111222"); call.hang_up(talk=95)   # signed callbacks, in order
        twilio.placed[-1]                # a call Odoo created through the Calls API (click-to-dial)
        twilio.run_outbound(sid, customer="answered", talk=42)

REST endpoints, shaped as Twilio documents them ("Call resource", "Recording resource",
"Account resource", "IncomingPhoneNumber resource", "Errors"), see tests/data/twilio/README.md:

- ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` (``To``, ``From``, ``Url``, ``Method``,
  ``StatusCallback``, ``StatusCallbackEvent`` (repeated), ``StatusCallbackMethod``, ``Timeout``):
  validated as Twilio does (21201 no To, 21213 no From, 21205 no Url, 21211 invalid To, 21210 a
  From not on the account), answered 201 with the Call resource (``sid`` CA…, ``status`` queued).
- ``GET …/Calls/{Sid}.json``; ``GET …/Calls.json?To=&From=`` (newest first, ``calls``).
- ``GET …/Recordings/{Sid}.mp3`` / ``.wav``: the audio (needs the account's credentials).
- ``GET /2010-04-01/Accounts/{AccountSid}.json`` and ``…/IncomingPhoneNumbers.json?PhoneNumber=``.

Every API call needs HTTP basic auth ``AccountSid:AuthToken`` (else 401, code 20003). ``inject``
makes the next matching requests fail or wait, before (``delay``) or after (``delay_after``: the
call is placed, the answer comes late) handling them.

Webhooks are posted from the calling thread (Odoo's test cursor is not shared with the server's
threads), each signed with the official library's ``RequestValidator.compute_signature``, with the
form fields Twilio sends for that request (the voice webhook; status callbacks with
``CallbackSource``, ``SequenceNumber``, ``Timestamp``, ``CallDuration``; the <Dial> action with
``DialCallStatus``, ``DialCallSid``, ``DialCallDuration``; recording status callbacks).
"""

import base64
import itertools
import json
import re
import secrets
import threading
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

import requests
from requests.structures import CaseInsensitiveDict
from twilio.request_validator import RequestValidator

Request = namedtuple("Request", "method path headers body query form")
Posted = namedtuple("Posted", "url params response")
API = "/2010-04-01"
TITLES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
RECORDING_AUDIO = b"ID3\x04\x00fake mp3 of a recorded call"


class TwilioFailure(Exception):
    def __init__(self, status, code, message=None):
        super().__init__(message)
        self.status, self.code = status, code
        self.message = message or TITLES.get(code, "Error")

    def body(self):
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


@dataclass
class _Rule:
    method: str
    pattern: re.Pattern
    times: int | None
    delay: float
    delay_after: float
    status: int | None
    code: int | None
    message: str | None
    headers: dict

    @property
    def answers(self):
        return self.status is not None or self.code is not None


def sid(prefix):
    return prefix + secrets.token_hex(16)


class _MultiDict(dict):
    """What RequestValidator reads repeated fields from (``getall``, as Flask's MultiDict)."""

    def getall(self, name):
        return self[name]


def sign(auth_token, url, params):
    grouped = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    return RequestValidator(auth_token).compute_signature(url, _MultiDict(grouped))


class FakeTwilioVoice:
    """The fake; use it as a context manager (it stops on exit)."""

    def __init__(self, account_sid, auth_token, numbers=(), friendly_name="Tienda Bilbao"):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.numbers = set(numbers)
        self.friendly_name = friendly_name
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = None
        self.session = requests.Session()
        self.reset()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        handler = type("Handler", (_Handler,), {"twilio": self})
        self._closing.clear()
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-twilio-voice", daemon=True).start()

    def stop(self):
        self._closing.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self):
        with self._lock:
            self.requests = []
            self.placed = []  # the forms of calls created through the API, with their "sid"
            self.calls = {}  # sid -> Call resource
            self.recordings = {}  # sid -> (bytes, content type)
            self.posted = []  # every webhook posted to Odoo: Posted(url, params, response)
            self._rules = []
            self._epoch = datetime.now(timezone.utc).replace(microsecond=0)
            self._clock = itertools.count()

    def inject(self, method, path_pattern, *, status=None, code=None, message=None, retry_after=None, delay=0,
               delay_after=0, times=1):  # fmt: skip
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if status is not None and code is None:
            code = {429: 20429, 503: 20503}.get(status, 20500 if status >= 500 else 21000)
        if code is not None and status is None:
            status = 400
        rule = _Rule(
            method.upper(), re.compile(path_pattern), times, delay, delay_after, status, code, message, headers
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    # -- posting webhooks as Twilio ----------------------------------------------------------
    def now(self):
        """Twilio's clock: one second further at each event, so that dates are in order."""
        return self._epoch + timedelta(seconds=next(self._clock))

    def post(self, url, params, signature=...):
        headers = {"X-Twilio-Signature": sign(self.auth_token, url, params) if signature is ... else signature}
        response = self.session.post(url, data=params, headers=headers, timeout=60)
        self.posted.append(Posted(url, params, response))
        return response

    def common(self, call_sid, from_, to, status, direction, parent_sid=None):
        """The fields of every voice request (Twilio "TwiML voice: your response", request parameters)."""
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call_sid),
            ("CallStatus", status),
            ("Called", to),
            ("CalledCity", ""),
            ("CalledCountry", "ES"),
            ("CalledState", ""),
            ("CalledZip", ""),
            ("Caller", from_),
            ("CallerCity", ""),
            ("CallerCountry", "ES"),
            ("CallerState", ""),
            ("CallerZip", ""),
            ("Direction", direction),
            ("From", from_),
            ("FromCity", ""),
            ("FromCountry", "ES"),
            ("FromState", ""),
            ("FromZip", ""),
            ("To", to),
            ("ToCity", ""),
            ("ToCountry", "ES"),
            ("ToState", ""),
            ("ToZip", ""),
        ]
        if parent_sid:
            params.append(("ParentCallSid", parent_sid))
        return params

    def status_params(self, leg, status, sequence, duration=None):
        """A status callback (Twilio "Call resource": StatusCallback parameters)."""
        params = self.common(leg.sid, leg.from_, leg.to, status, leg.direction, leg.parent_sid)
        params += [
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", str(sequence)),
            ("Timestamp", format_datetime(self.now())),
        ]
        if status in ("completed", "busy", "no-answer", "failed", "canceled"):
            params += [("CallDuration", str(duration or 0)), ("Duration", str(-(-(duration or 0) // 60)))]
            params.append(("SipResponseCode", {"completed": "200", "busy": "486", "no-answer": "487",
                                               "canceled": "487", "failed": "404"}[status]))  # fmt: skip
        return params

    def incoming(self, webhook_url, from_, to, caller_name=None, status_callback=None):
        """A customer calls our number: Twilio posts the voice webhook and runs the TwiML."""
        call = VoiceCall(self, sid("CA"), from_, to, "inbound", status_callback=status_callback or webhook_url)
        params = self.common(call.sid, from_, to, "ringing", "inbound")
        params.append(("CallToken", "%7B%22parentCallInfoToken%22%3A%22eyJ%22%7D"))
        if caller_name:
            params.append(("CallerName", caller_name))
        call.answer_twiml(self.post(webhook_url, params))
        return call

    # -- outbound calls created through the API ----------------------------------------------
    def run_outbound(self, call_sid, agent="answered", customer="answered", talk=42):
        """Play a call Odoo created: Twilio rings the agent (``agent``: answered, no-answer,
        busy, failed); when they answer, it fetches the call's TwiML and runs the <Dial> of
        the customer (``customer``: answered, no-answer, busy, failed, canceled)."""
        resource = self.calls[call_sid]
        form = next(f for f in self.placed if f["sid"] == call_sid)
        call = VoiceCall(self, call_sid, resource["from"], resource["to"], "outbound-api",
                         status_callback=form.get("StatusCallback"),
                         events=form.get("StatusCallbackEvent") or ["completed"])  # fmt: skip
        call.parent_status("initiated")
        call.parent_status("ringing")
        if agent != "answered":
            call.parent_status(agent)
            return call
        call.parent_status("in-progress")
        params = self.common(call.sid, call.from_, call.to, "in-progress", "outbound-api")
        call.answer_twiml(self.post(form["Url"], params))
        if call.targets:
            call.ring()
            if customer == "answered":
                call.answer(call.targets[0])
                call.hang_up(talk=talk)
            else:
                call.unanswered(customer)
        call.parent_status("completed", duration=talk + 10)
        return call


@dataclass
class Leg:
    sid: str
    from_: str
    to: str
    direction: str
    parent_sid: str | None = None
    callback: str | None = None
    events: tuple = ()
    sequence: int = 0


@dataclass
class VoiceCall:
    """One call as Twilio runs it: its TwiML, its legs, the webhooks it posts."""

    twilio: FakeTwilioVoice
    sid: str
    from_: str
    to: str
    direction: str
    status_callback: str | None = None
    events: list = field(default_factory=lambda: ["completed"])
    twiml: object = None
    dial: object = None
    targets: list = field(default_factory=list)
    legs: dict = field(default_factory=dict)
    answered: str | None = None
    sequence: int = 0

    def answer_twiml(self, response):
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/xml"), response.headers["Content-Type"]
        self.twiml = ElementTree.fromstring(response.content)
        assert self.twiml.tag == "Response", response.text
        self.dial = self.twiml.find("Dial")
        self.targets = []
        if self.dial is not None:
            for noun in self.dial:
                target = ("client:" + noun.text) if noun.tag == "Client" else noun.text
                self.targets.append(target)
                caller = self.dial.get("callerId") or self.from_
                events = tuple((noun.get("statusCallbackEvent") or "completed").split())
                callback = noun.get("statusCallback")
                self.legs[target] = Leg(sid("CA"), caller, target, "outbound-dial", self.sid, callback, events)

    def parent_status(self, status, duration=None):
        """The call's own status callback (the number's "Call status changes" URL for an inbound
        call, the StatusCallback of one created through the API), for the events it asked."""
        event = {"in-progress": "answered", "initiated": "initiated", "ringing": "ringing"}.get(status, "completed")
        if not self.status_callback or event not in self.events:
            return None
        parent = Leg(self.sid, self.from_, self.to, self.direction)
        params = self.twilio.status_params(parent, status, self.sequence, duration)
        self.sequence += 1
        return self.twilio.post(self.status_callback, params)

    def leg_status(self, target, status, duration=None):
        leg = self.legs[target]
        event = {"in-progress": "answered", "initiated": "initiated", "ringing": "ringing"}.get(status, "completed")
        if not leg.callback or event not in leg.events:
            return None
        params = self.twilio.status_params(leg, status, leg.sequence, duration)
        leg.sequence += 1
        return self.twilio.post(leg.callback, params)

    def ring(self):
        for target in self.targets:
            self.leg_status(target, "initiated")
        for target in self.targets:
            self.leg_status(target, "ringing")

    def answer(self, target):
        """``target`` picks up; Twilio hangs up the other legs."""
        self.answered = target
        self.leg_status(target, "in-progress")
        for other in self.targets:
            if other != target:
                self.leg_status(other, "canceled")

    def hang_up(self, talk=60):
        """The answered leg ends after ``talk`` seconds: its completed status, the recording (when
        the <Dial> records), the <Dial> action; Twilio then runs the action's TwiML (empty: the end)."""
        leg = self.legs[self.answered]
        self.leg_status(self.answered, "completed", duration=talk)
        if self.dial.get("record", "do-not-record") != "do-not-record":
            self.recording(talk)
        self.action("completed", leg.sid, talk)

    def unanswered(self, status="no-answer"):
        """Nobody picks up before the <Dial> timeout (or busy, failed, canceled)."""
        for target in self.targets:
            self.leg_status(target, status)
        first = self.legs[self.targets[0]].sid if self.targets else None
        self.action(status, first, 0)

    def action(self, status, dial_sid, duration):
        url = self.dial.get("action")
        if not url:
            return None
        params = self.twilio.common(self.sid, self.from_, self.to, "in-progress", self.direction)
        params += [("DialCallStatus", status), ("DialCallDuration", str(duration))]
        if dial_sid:
            params.append(("DialCallSid", dial_sid))
        response = self.twilio.post(url, params)
        assert response.status_code == 200, response.text
        return response

    def recording(self, talk, status="completed"):
        url = self.dial.get("recordingStatusCallback")
        if not url:
            return None
        recording_sid = sid("RE")
        twilio = self.twilio
        with twilio._lock:
            twilio.recordings[recording_sid] = (RECORDING_AUDIO, "audio/mpeg")
        params = [
            ("AccountSid", twilio.account_sid),
            ("CallSid", self.sid),
            ("ErrorCode", "0"),
            ("RecordingChannels", "2"),
            ("RecordingDuration", str(talk)),
            ("RecordingSid", recording_sid),
            ("RecordingSource", "DialVerb"),
            ("RecordingStartTime", format_datetime(twilio.now())),
            ("RecordingStatus", status),
            ("RecordingTrack", "both"),
            ("RecordingUrl", f"{twilio.url}{API}/Accounts/{twilio.account_sid}/Recordings/{recording_sid}"),
        ]
        return twilio.post(url, params)

    def end(self, duration=100):
        """The call ends: the parent's completed status (the number's "Call status changes")."""
        return self.parent_status("completed", duration)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        """Clients that hung up (timeouts) are no error here."""


class _Handler(BaseHTTPRequestHandler):
    twilio = None

    def log_message(self, *args):
        """Quiet."""

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def _serve(self, method):
        twilio = self.twilio
        split = urlsplit(self.path)
        path, query = split.path, dict(parse_qsl(split.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) if method == "POST" else []
        with twilio._lock:
            twilio.requests.append(Request(method, path, CaseInsensitiveDict(self.headers.items()), body, query, form))
        rule = self._take_rule(method, path)
        if rule and rule.delay and twilio._closing.wait(rule.delay):
            return
        headers = rule.headers if rule else {}
        try:
            if rule and rule.answers:
                raise TwilioFailure(rule.status, rule.code, rule.message)
            self._check_auth()
            status, answer = self._route(method, path, query, form)
        except TwilioFailure as failure:
            return self._send(failure.status, json.dumps(failure.body()).encode(), "application/json", headers)
        if rule and rule.delay_after and twilio._closing.wait(rule.delay_after):
            return
        if isinstance(answer, tuple):  # a file
            return self._send(status, answer[0], answer[1], headers)
        self._send(status, json.dumps(answer).encode(), "application/json", headers)

    def _take_rule(self, method, path):
        twilio = self.twilio
        with twilio._lock:
            for rule in twilio._rules:
                if rule.method == method and rule.pattern.search(path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            twilio._rules.remove(rule)
                    return rule
        return None

    def _check_auth(self):
        expected = base64.b64encode(f"{self.twilio.account_sid}:{self.twilio.auth_token}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            raise TwilioFailure(401, 20003)

    def _route(self, method, path, query, form):
        twilio = self.twilio
        account = f"{API}/Accounts/{twilio.account_sid}"
        if path == f"{account}.json" and method == "GET":
            return 200, self._account()
        if path == f"{account}/Calls.json" and method == "POST":
            return 201, self._create_call(form)
        if path == f"{account}/Calls.json" and method == "GET":
            calls = [c for c in reversed(list(twilio.calls.values()))
                     if c["to"] == query.get("To", c["to"]) and c["from"] == query.get("From", c["from"])]  # fmt: skip
            return 200, {"calls": calls[: int(query.get("PageSize") or 50)], "page": 0, "page_size": 50}
        if path == f"{account}/IncomingPhoneNumbers.json" and method == "GET":
            return 200, self._numbers(query.get("PhoneNumber"))
        match = re.fullmatch(rf"{account}/Calls/(\w+)\.json", path)
        if match and method == "GET" and match.group(1) in twilio.calls:
            return 200, twilio.calls[match.group(1)]
        match = re.fullmatch(rf"{account}/Recordings/(\w+)\.(mp3|wav)", path)
        if match and method == "GET" and match.group(1) in twilio.recordings:
            content, content_type = twilio.recordings[match.group(1)]
            return 200, (content, "audio/x-wav" if match.group(2) == "wav" else content_type)
        raise TwilioFailure(404, 20404, f"The requested resource {path} was not found")

    def _account(self):
        twilio = self.twilio
        return {
            "sid": twilio.account_sid,
            "friendly_name": twilio.friendly_name,
            "status": "active",
            "type": "Full",
            "date_created": formatdate(usegmt=True),
            "uri": f"{API}/Accounts/{twilio.account_sid}.json",
        }

    def _numbers(self, phone_number):
        found = [n for n in sorted(self.twilio.numbers) if not phone_number or n == phone_number]
        return {
            "incoming_phone_numbers": [
                {
                    "sid": "PN" + format(abs(hash(n)), "032x")[:32],
                    "phone_number": n,
                    "friendly_name": n,
                    "capabilities": {"sms": True, "mms": True, "voice": True},
                }
                for n in found
            ],
            "page": 0,
            "page_size": 50,
        }

    def _create_call(self, form):
        twilio = self.twilio
        values = {}
        for name, value in form:
            values.setdefault(name, []).append(value)
        first = {name: items[0] for name, items in values.items()}
        to, from_, url = first.get("To"), first.get("From"), first.get("Url")
        if not to:
            raise TwilioFailure(400, 21201, "No 'To' number is specified")
        if not (E164.match(to) or to.startswith(("client:", "sip:"))):
            raise TwilioFailure(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            raise TwilioFailure(400, 21213, "No 'From' number is specified")
        if twilio.numbers and from_ not in twilio.numbers:
            raise TwilioFailure(400, 21210, f"Source phone number not verified: {from_}")
        if not url or not url.startswith(("http://", "https://")):
            raise TwilioFailure(400, 21205, f"Url is not a valid URL: {url}")
        call_sid = sid("CA")
        now = formatdate(usegmt=True)
        call = {
            "account_sid": twilio.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": from_,
            "from_formatted": from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": call_sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {"recordings": f"{API}/Accounts/{twilio.account_sid}/Calls/{call_sid}/Recordings.json"},
            "to": to,
            "to_formatted": to,
            "trunk_sid": None,
            "uri": f"{API}/Accounts/{twilio.account_sid}/Calls/{call_sid}.json",
        }
        with twilio._lock:
            twilio.calls[call_sid] = call
            twilio.placed.append(dict(first, StatusCallbackEvent=values.get("StatusCallbackEvent", []), sid=call_sid))
        return call

    def _send(self, status, body, content_type, headers=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            pass
