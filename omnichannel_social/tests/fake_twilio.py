"""A local stand-in for Twilio's REST API (2010-04-01, Programmable Messaging), over real HTTP on 127.0.0.1.

Tests point ``omnichannel_social.twilio_api_url`` at ``twilio.url`` and assert on what reached it::

    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        twilio.inject("POST", r"/Messages\\.json$", status=429, retry_after=3)
        ...                                   # Odoo sends
        twilio.sent[-1]["Body"]               # what Twilio accepted, with its "sid"
        twilio.post_callbacks()               # the signed status callbacks, as Twilio posts them

Endpoints, shaped as Twilio documents them ("Message resource", "Media resource", "Account
resource", "IncomingPhoneNumber resource", "Errors"):

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form: ``To``, ``From`` or
  ``MessagingServiceSid``, ``Body``, ``MediaUrl`` (repeated), ``StatusCallback``): validated as
  Twilio does (21604, 21211, 21603, 21606, 21602, 21617, 21623, 21610 for unsubscribed
  numbers), answered 201 with the Message resource (``sid`` SM…, ``status`` "queued").
- ``GET …/Messages/{Sid}.json``: the Message resource, with its latest status.
- ``GET …/Messages/{Sid}/Media/{MediaSid}``: a 307 redirect to the file on another path (as
  Twilio redirects to its media host), which needs no credentials.
- ``GET /2010-04-01/Accounts/{AccountSid}.json`` and ``…/IncomingPhoneNumbers.json?PhoneNumber=``.

Every API call needs HTTP basic auth ``AccountSid:AuthToken`` (else 401, code 20003). Errors
are Twilio's body ``{"code", "message", "more_info", "status"}``.

Status callbacks: each accepted message with a ``StatusCallback`` queues the callbacks Twilio
would post (``queued``, ``sent``, then ``delivered``, or ``undelivered``/``failed`` with the
``ErrorCode`` set in ``twilio.fates[To]``), signed as Twilio signs them, with the official
library's ``RequestValidator.compute_signature``. ``post_callbacks()`` posts them from the
calling thread (Odoo's test cursor is not shared with the fake's threads).
"""

import base64
import itertools
import json
import re
import secrets
import threading
from collections import namedtuple
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from twilio.request_validator import RequestValidator

Request = namedtuple("Request", "method path headers body query form")
API = "/2010-04-01"
TITLES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


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
    status: int | None
    code: int | None
    message: str | None
    body: bytes | str | None
    headers: dict

    @property
    def answers(self):
        return self.status is not None or self.code is not None or self.body is not None


def sid(prefix):
    return prefix + secrets.token_hex(16)


class FakeTwilio:
    """The fake Twilio API; use it as a context manager (it stops on exit)."""

    def __init__(self, account_sid, auth_token, numbers=(), friendly_name="Tienda Bilbao"):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.numbers = set(numbers)  # the account's phone numbers (E.164); empty: any From is accepted
        self.friendly_name = friendly_name
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = None
        self._ids = itertools.count(1)
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
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-twilio", daemon=True).start()

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
        """Forget requests, messages, media, callbacks, rules, fates and unsubscribed numbers."""
        with self._lock:
            self.requests = []
            self.sent = []
            self.messages = {}
            self.media = {}
            self.callbacks = []
            self.fates = {}  # To -> ("delivered",) | ("undelivered", ErrorCode) | ("failed", ErrorCode)
            self.unsubscribed = set()
            self._rules = []

    # -- test set-up ----------------------------------------------------------------------
    def inject(self, method, path_pattern, *, status=None, code=None, message=None, body=None, retry_after=None,
               headers=None, delay=0, times=1):  # fmt: skip
        """The next ``times`` requests matching fail (``status``/``code``, Twilio's body, or a raw
        ``body``) or wait ``delay`` seconds first (a timeout when longer than the client's)."""
        headers = dict(headers or {})
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if status is not None and code is None and body is None:
            code = {429: 20429, 503: 20503}.get(status, 20500 if status >= 500 else 21000)
        if code is not None and status is None:
            status = 400
        rule = _Rule(method.upper(), re.compile(path_pattern), times, delay, status, code, message, body, headers)
        with self._lock:
            self._rules.append(rule)
        return rule

    def add_media(self, content, content_type, message_sid=None, media_sid=None):
        """A file a customer sent by MMS; returns its ``MediaUrl`` (needs the account's credentials)."""
        media_sid = media_sid or sid("ME")
        with self._lock:
            self.media[media_sid] = (content, content_type)
        return f"{self.url}{API}/Accounts/{self.account_sid}/Messages/{message_sid or sid('MM')}/Media/{media_sid}"

    # -- status callbacks ------------------------------------------------------------------
    def sign(self, url, params):
        """``X-Twilio-Signature`` of ``params`` (pairs or dict) posted to ``url``, by Twilio's library."""
        if not isinstance(params, dict):
            grouped = {}
            for name, value in params:
                grouped.setdefault(name, []).append(value)
            params = _MultiDict(grouped)
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def post_callbacks(self, session=None, timeout=60):
        """Post the pending status callbacks, in order, signed; return the responses."""
        with self._lock:
            pending, self.callbacks = self.callbacks, []
        session = session or requests.Session()
        responses = []
        for url, params in pending:
            responses.append(
                session.post(url, data=params, headers={"X-Twilio-Signature": self.sign(url, params)}, timeout=timeout)
            )
        return responses

    def _queue_callbacks(self, message, status_callback):
        fate = self.fates.get(message["to"], ("delivered",))
        for status in ("queued", "sent", fate[0]):
            params = [
                ("AccountSid", self.account_sid),
                ("ApiVersion", "2010-04-01"),
                ("From", message["from"] or ""),
                ("MessageSid", message["sid"]),
                ("MessageStatus", status),
                ("SmsSid", message["sid"]),
                ("SmsStatus", status),
                ("To", message["to"]),
            ]
            if message["messaging_service_sid"]:
                params.append(("MessagingServiceSid", message["messaging_service_sid"]))
            if status in ("undelivered", "failed"):
                params.append(("ErrorCode", str(fate[1])))
            if status == "delivered":
                params.append(("RawDlrDoneDate", "2511181640"))
            self.callbacks.append((status_callback, params))


class _MultiDict(dict):
    """What RequestValidator reads repeated fields from (``getall``, as Flask's MultiDict)."""

    def getall(self, name):
        return self[name]


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
                if rule.body is not None:
                    raw = rule.body.encode() if isinstance(rule.body, str) else rule.body
                    return self._send(rule.status or 500, raw, "text/html", headers)
                raise TwilioFailure(rule.status, rule.code, rule.message)
            if path.startswith("/cdn/"):
                return self._cdn(path)
            self._check_auth()
            status, answer = self._route(method, path, query, form)
        except TwilioFailure as failure:
            return self._send(failure.status, json.dumps(failure.body()).encode(), "application/json", headers)
        if isinstance(answer, str):  # a redirect
            return self._send(307, b"", "text/plain", {**headers, "Location": answer})
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
        account = f"{API}/Accounts/{self.twilio.account_sid}"
        if path == f"{account}.json" and method == "GET":
            return 200, self._account()
        if path == f"{account}/Messages.json" and method == "POST":
            return 201, self._create_message(form)
        if path == f"{account}/IncomingPhoneNumbers.json" and method == "GET":
            return 200, self._numbers(query.get("PhoneNumber"))
        match = re.fullmatch(rf"{account}/Messages/(\w+)\.json", path)
        if match and method == "GET":
            message = self.twilio.messages.get(match.group(1))
            if message:
                return 200, message
        match = re.fullmatch(rf"{account}/Messages/\w+/Media/(\w+)", path)
        if match and method == "GET" and match.group(1) in self.twilio.media:
            return 307, f"{self.twilio.url}/cdn/{match.group(1)}"
        raise TwilioFailure(404, 20404, f"The requested resource {path} was not found")

    def _account(self):
        return {
            "sid": self.twilio.account_sid,
            "friendly_name": self.twilio.friendly_name,
            "status": "active",
            "type": "Full",
            "date_created": formatdate(usegmt=True),
            "uri": f"{API}/Accounts/{self.twilio.account_sid}.json",
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

    def _create_message(self, form):
        twilio = self.twilio
        values = {}
        for name, value in form:
            values.setdefault(name, []).append(value)
        first = {name: items[0] for name, items in values.items()}
        to, sender, service = first.get("To"), first.get("From"), first.get("MessagingServiceSid")
        body, media = first.get("Body", ""), values.get("MediaUrl", [])
        if not to:
            raise TwilioFailure(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            raise TwilioFailure(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender and not service:
            raise TwilioFailure(400, 21603, "A 'From' phone number is required.")
        if sender and twilio.numbers and sender not in twilio.numbers:
            raise TwilioFailure(
                400, 21606, f"The From phone number {sender} is not a valid, SMS-capable inbound phone number "
                "or short code for your account."
            )  # fmt: skip
        if not body and not media:
            raise TwilioFailure(400, 21602, "Message body is required.")
        if len(body) > 1600:
            raise TwilioFailure(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if len(media) > 10:
            raise TwilioFailure(400, 21623, "Number of media files exceeds allowed limit.")
        if to in twilio.unsubscribed:
            raise TwilioFailure(400, 21610, "Attempt to send to unsubscribed recipient")
        message_sid = sid("MM" if media else "SM")
        now = formatdate(usegmt=True)
        message = {
            "account_sid": twilio.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": str(len(media)),
            "num_segments": str(max(1, -(-len(body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": f"{API}/Accounts/{twilio.account_sid}/Messages/{message_sid}/Media.json"},
            "to": to,
            "uri": f"{API}/Accounts/{twilio.account_sid}/Messages/{message_sid}.json",
        }
        with twilio._lock:
            twilio.messages[message_sid] = message
            twilio.sent.append(dict(first, MediaUrl=media, sid=message_sid))
            if first.get("StatusCallback"):
                twilio._queue_callbacks(message, first["StatusCallback"])
        return message

    def _cdn(self, path):
        media = self.twilio.media.get(path.rsplit("/", 1)[-1])
        if not media:
            return self._send(404, b"Not Found", "text/plain")
        self._send(200, media[0], media[1])

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
