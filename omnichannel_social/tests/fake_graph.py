"""A local stand-in for Meta's Graph API (WhatsApp Cloud API, Messenger Platform), served over
real HTTP on 127.0.0.1.

Tests point the provider's base URL at ``graph.url`` and assert on what reached the server::

    with FakeGraph(access_token="tok") as graph:
        client = GraphClient(graph.url, "tok")
        graph.inject("POST", r"/messages$", status=429, code=130429, times=2)
        ...
        assert graph.sent[-1]["to"] == "34622000111"

Endpoints, shaped as Meta documents them (Cloud API "Messages", "Media", "Phone numbers",
Business Management API "Message templates", Graph API "Handling Errors" and "Paginated results"):

- ``POST /{phone-number-id}/messages``: validates the payload as Meta does and answers
  ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": wamid}]}``;
  ``{"status": "read", "message_id"}`` marks an inbound message read (``{"success": true}``).
- ``POST /{phone-number-id}/media`` (multipart: ``messaging_product``, ``file``, ``type``) -> ``{"id"}``.
- ``GET /{media-id}`` -> ``url``, ``mime_type``, ``sha256``, ``file_size``, ``id``; the URL
  (another path of this server, as Meta's lookaside host is another host) needs the bearer token.
- ``GET /{waba-id}/message_templates`` -> ``graph.templates`` in pages of ``limit`` (at most
  ``graph.page_size``), with ``paging.cursors`` and an absolute ``paging.next``.
- ``GET /{phone-number-id}`` -> ``graph.phone_numbers[id]`` (``fields`` honoured).

Messenger Platform (Messenger and Instagram messaging; "Send API" reference, "User Profile
API", "Instagram User Profile", "Attachment Upload API"):

- ``POST /{page-id}/messages`` (or ``/me/messages``) with a ``recipient``: JSON, or multipart
  form data whose fields are JSON and whose ``filedata`` is the file (upload and send in one
  call). Validated as Meta does: ``recipient.id``, ``messaging_type`` (RESPONSE, UPDATE,
  MESSAGE_TAG with a ``tag``), exactly one of ``message.text`` (at most ``graph.text_limit``
  characters) and ``message.attachment`` (type image, video, audio, file or template; a
  ``payload.url``, an ``attachment_id`` or the ``filedata``). RESPONSE to a recipient in
  ``graph.window_closed`` fails as Meta fails it outside the 24-hour window (code 10, subcode
  2018278); the HUMAN_AGENT tag fails for recipients in ``graph.human_agent_closed`` (past 7
  days). Answers ``{"recipient_id", "message_id"}``; ``graph.sent`` keeps each payload (fields
  decoded) with ``mid``, ``page_id`` and ``file`` ((filename, bytes, mime type) or None).
- ``GET /{id}`` of ``graph.objects`` (Pages, Instagram accounts, user profiles with
  ``first_name``/``last_name``/``name``/``username``/``profile_pic``), ``fields`` honoured.
- Files on Meta's CDN: ``url = graph.add_file(bytes, mime_type, name)``, served at that URL
  without any token (Meta's CDN URLs are signed), as attachments' ``payload.url`` and profile
  pictures are.

Every Graph call needs ``Authorization: Bearer <access_token>`` (else 401, code 190). When
``graph.phone_numbers`` is not empty, sends and uploads from other numbers fail as Meta fails
them (code 100, subcode 33); when ``graph.templates`` is not empty, templates must exist there
with that language and be approved (code 132001). Errors use Meta's body
``{"error": {"message", "type", "code", "error_subcode"?, "error_data"?, "fbtrace_id"}}``.
"""

import base64
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import secrets
import threading
from collections import namedtuple
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from requests.structures import CaseInsensitiveDict

Request = namedtuple("Request", "method path headers body query")
Request.__doc__ = "One request received: path without the query string, which is parsed into ``query``."

# Titles Meta puts in "message" as "(#code) Title", for errors injected without a message.
TITLES = {
    1: "An unknown error occurred",
    2: "Service temporarily unavailable",
    4: "Application request limit reached",
    10: "Application does not have permission for this action",
    551: "This person isn't available right now.",
    613: "Calls to this api have exceeded the rate limit.",
    1200: "Temporary send message failure. Please try again later",
    100: "Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131016: "Service unavailable",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131051: "Unsupported message type",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    132001: "Template name does not exist in the translation",
    133004: "Server temporarily unavailable",
}
# HTTP status Meta answers with, when an injected error names a code but no status.
STATUS_OF_CODE = {190: 401, 131000: 500, 2: 503, 131016: 503, 133004: 503}
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
MESSAGE_TYPES = ("text", *MEDIA_TYPES, "location", "contacts", "interactive", "template", "reaction")
TEXT_LIMIT = 4096
# Messenger Platform Send API
MESSAGE_TAGS = ("ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "CUSTOMER_FEEDBACK", "HUMAN_AGENT", "POST_PURCHASE_UPDATE")
ATTACHMENT_TYPES = ("image", "video", "audio", "file", "template")


class GraphFailure(Exception):
    """An error answer, raised inside a handler and written as Meta's error body."""

    def __init__(self, status, code, message=None, *, subcode=None, details=None, error_type="OAuthException"):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message or f"(#{code}) {TITLES.get(code, 'Error')}"
        self.subcode = subcode
        self.details = details
        self.error_type = error_type

    def body(self):
        error = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        return {"error": error}


def _missing(name):
    return GraphFailure(400, 100, f"(#100) The parameter {name} is required.")


def _no_object(method, object_id):
    # Graph API's answer for an id that does not exist or that this token cannot see.
    return GraphFailure(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        subcode=33,
        error_type="GraphMethodException",
    )


@dataclass
class _Rule:
    """An injected answer: consumed ``times`` times (forever when None) by matching requests."""

    method: str
    pattern: re.Pattern
    times: int | None
    delay: float
    status: int | None
    code: int | None
    subcode: int | None
    message: str | None
    details: str | None
    body: bytes | str | None
    headers: dict

    @property
    def answers(self):
        """Whether the rule answers by itself, rather than only delaying the normal answer."""
        return self.status is not None or self.code is not None or self.body is not None


class FakeGraph:
    """The fake Graph API server; use it as a context manager (it stops on exit)."""

    def __init__(self, access_token="tok", version="v21.0", page_size=25, on_send=None):
        self.access_token = access_token
        self.version = version
        self.page_size = page_size
        self.on_send = on_send  # called as on_send(payload, wamid) once the send is answered
        self.templates = []
        self.phone_numbers = {}
        self.objects = {}  # Messenger Platform: Pages, Instagram accounts, user profiles by id
        self.window_closed = set()  # recipients past Meta's 24-hour window
        self.human_agent_closed = set()  # recipients past the HUMAN_AGENT tag's 7 days
        self.text_limit = 2000
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._ids = itertools.count(1)
        self._server = None
        self.reset()

    # -- life cycle -----------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is None and self.callback_errors:
            raise AssertionError("on_send failed") from self.callback_errors[0]

    def start(self):
        handler = type("Handler", (_Handler,), {"graph": self})
        self._closing.clear()
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-graph", daemon=True).start()

    def stop(self):
        self._closing.set()  # wakes handlers sleeping on an injected delay
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def origin(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self):
        """Base URL of the Graph API version, for the client's settings."""
        return f"{self.origin}/{self.version}"

    def reset(self):
        """Forget requests, sends, media and injected rules (templates and numbers stay)."""
        with self._lock:
            self.requests = []
            self.sent = []
            self.read = []
            self.media = {}
            self.files = {}
            self.callback_errors = []
            self._rules = []

    # -- test set-up ----------------------------------------------------------------------
    def inject(
        self,
        method,
        path_pattern,
        *,
        status=None,
        code=None,
        subcode=None,
        message=None,
        details=None,
        body=None,
        headers=None,
        retry_after=None,
        delay=0,
        times=1,
    ):
        """Make the next ``times`` requests matching ``method`` and ``path_pattern`` fail or lag.

        ``path_pattern`` is searched in the path (without query string). Rules are consumed in
        the order they were injected. With ``status``, ``code`` or ``body`` the request gets that
        error (Meta's body with ``code``; a raw ``body`` as is, e.g. a proxy's HTML page);
        ``code`` alone takes Meta's usual status, ``status`` alone code 131000 for 5xx,
        130429 for 429 and 100 otherwise. ``delay`` seconds pass before answering (normally,
        when nothing else is given): longer than the client's timeout, it is a timeout.
        ``retry_after`` sets a ``Retry-After`` header; ``headers`` adds any others.
        """
        headers = dict(headers or {})
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if code is not None and status is None:
            status = STATUS_OF_CODE.get(code, 400)
        if status is not None and code is None and body is None:
            code = 131000 if status >= 500 else 130429 if status == 429 else 100
        rule = _Rule(
            method.upper(),
            re.compile(path_pattern),
            times=times,
            delay=delay,
            status=status,
            code=code,
            subcode=subcode,
            message=message,
            details=details,
            body=body,
            headers=headers,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def add_media(self, content, mime_type, filename=None, phone_number_id=None):
        """Store a file as if a customer had sent it, and return its media id."""
        media_id = str(900000000000000 + next(self._ids))
        with self._lock:
            self.media[media_id] = {
                "content": content,
                "mime_type": mime_type,
                "filename": filename,
                "sha256": hashlib.sha256(content).hexdigest(),
                "phone_number_id": phone_number_id,
            }
        return media_id

    def add_file(self, content, mime_type, name="file"):
        """Put a file on the fake CDN and return its absolute, signed-looking URL."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            self.files[token] = (content, mime_type)
        return f"{self.origin}/cdn/{token}/{name}?_nc_oh={secrets.token_hex(8)}&oe=6A1B2C3D"

    # -- what the handler uses ------------------------------------------------------------
    def _take_rule(self, method, path):
        with self._lock:
            for rule in self._rules:
                if rule.method == method and rule.pattern.search(path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def _wamid(self):
        return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # tests send concurrently; the default backlog of 5 resets connections
    daemon_threads = True
    block_on_close = False  # slow answers must not hold the test up at exit

    def handle_error(self, request, client_address):
        """Ignore clients that hung up (timeouts); socketserver would print a traceback."""


class _Handler(BaseHTTPRequestHandler):
    graph = None  # the FakeGraph, set on the subclass made per server

    def log_message(self, *args):
        """Keep test output quiet."""

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    # -- dispatch ------------------------------------------------------------------------
    def _serve(self, method):
        graph = self.graph
        split = urlsplit(self.path)
        path, query = split.path, dict(parse_qsl(split.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with graph._lock:
            graph.requests.append(Request(method, path, CaseInsensitiveDict(self.headers.items()), body, query))
        rule = graph._take_rule(method, path)
        if rule and rule.delay and graph._closing.wait(rule.delay):
            return  # the server is stopping
        headers = rule.headers if rule else None
        self.sent_args = None  # (payload, wamid) of an accepted send, for on_send
        try:
            if rule and rule.answers:
                return self._answer_rule(rule)
            if not path.startswith("/cdn/"):  # Meta's CDN URLs are signed: no token
                self._check_token()
            answer = self._route(method, path, query, body)
        except GraphFailure as failure:
            return self._send_json(failure.status, failure.body(), headers)
        if isinstance(answer, tuple):  # a downloaded file: (bytes, mime type)
            self._send(200, answer[0], answer[1], headers)
        else:
            self._send_json(200, answer, headers)
        if self.sent_args and self.graph.on_send:
            self._run_callback(*self.sent_args)

    def _route(self, method, path, query, body):
        """Return the JSON answer (a dict) or a file as (bytes, mime type); raise GraphFailure."""
        graph = self.graph
        prefix = f"/{graph.version}/"
        if method == "GET" and path == "/whatsapp_business/attachments/":
            media = graph.media.get(query.get("mid"))
            if not media:
                raise GraphFailure(404, 100, "Media not found")
            return media["content"], media["mime_type"]
        if method == "GET" and path.startswith("/cdn/"):
            found = graph.files.get(path.split("/")[2])
            if not found:
                raise GraphFailure(404, 100, "Media not found")
            return found
        if not path.startswith(prefix):
            raise GraphFailure(400, 2500, "Unknown path components: " + path)
        parts = path[len(prefix) :].strip("/").split("/")
        if method == "POST" and len(parts) == 2 and parts[1] == "messages":
            if self._is_send_api(body):
                return self._post_send_api(parts[0], body)
            return self._post_message(parts[0], body)
        if method == "POST" and len(parts) == 2 and parts[1] == "media":
            return self._post_media(parts[0], body)
        if method == "GET" and len(parts) == 2 and parts[1] == "message_templates":
            return self._get_templates(path, query)
        if method == "GET" and len(parts) == 1:
            return self._get_object(parts[0], query)
        raise _no_object(method, parts[0])

    # -- endpoints -----------------------------------------------------------------------
    def _post_message(self, phone_number_id, body):
        self._check_phone_number("POST", phone_number_id)
        payload = _json_body(body)
        _check_product(payload)
        if payload.get("status") == "read":
            if not payload.get("message_id"):
                raise _missing("message_id")
            with self.graph._lock:
                self.graph.read.append(payload["message_id"])
            return {"success": True}
        self._check_send(payload)
        wamid = self.graph._wamid()
        to = str(payload["to"])
        with self.graph._lock:
            self.graph.sent.append(dict(payload, wamid=wamid, phone_number_id=phone_number_id))
        message = {"id": wamid}
        if payload.get("type") == "template":
            message["message_status"] = "accepted"
        self.sent_args = (payload, wamid)
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": re.sub(r"\D", "", to)}],
            "messages": [message],
        }

    def _is_send_api(self, body):
        """Whether a POST to /messages is the Messenger Platform's (a recipient) rather than WhatsApp's."""
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            return True
        try:
            return isinstance(json.loads(body or b"{}"), dict) and "recipient" in json.loads(body or b"{}")
        except ValueError:
            return False

    def _post_send_api(self, page_id, body):
        graph = self.graph
        if page_id != "me" and graph.objects and page_id not in graph.objects:
            raise _no_object("POST", page_id)
        file = None
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            fields, files = _multipart(self.headers.get("Content-Type", ""), body)
            payload = {}
            for name, value in fields.items():
                try:
                    payload[name] = json.loads(value)
                except ValueError:
                    payload[name] = value
            if "filedata" in files:
                filename, content = files["filedata"]
                file = (filename, content, self._part_type(body, "filedata"))
        else:
            payload = _json_body(body)
        recipient = payload.get("recipient")
        if not isinstance(recipient, dict) or not recipient.get("id"):
            raise _missing("recipient[id]")
        messaging_type = payload.get("messaging_type")
        if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise GraphFailure(400, 100, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
        tag = payload.get("tag")
        if messaging_type == "MESSAGE_TAG" and tag not in MESSAGE_TAGS:
            raise GraphFailure(400, 100, "(#100) Param tag must be one of {" + ", ".join(MESSAGE_TAGS) + "}")
        to = str(recipient["id"])
        if (messaging_type != "MESSAGE_TAG" and to in graph.window_closed) or (
            tag == "HUMAN_AGENT" and to in graph.human_agent_closed
        ):
            raise GraphFailure(400, 10, "(#10) This message is sent outside of allowed window.", subcode=2018278)
        self._check_messenger_message(payload.get("message"), file)
        mid = "m_" + secrets.token_urlsafe(40)
        with graph._lock:
            graph.sent.append(dict(payload, mid=mid, page_id=page_id, file=file))
        self.sent_args = (payload, mid)
        return {"recipient_id": to, "message_id": mid}

    def _check_messenger_message(self, message, file):
        if not isinstance(message, dict) or not message:
            raise _missing("message")
        text, attachment = message.get("text"), message.get("attachment")
        if (text is None) == (attachment is None):
            raise GraphFailure(400, 100, "(#100) Must send either message.text or message.attachment")
        if text is not None:
            if not isinstance(text, str) or not text.strip():
                raise _missing("message[text]")
            if len(text) > self.graph.text_limit:
                raise GraphFailure(
                    400,
                    100,
                    f"(#100) Length of param message[text] must be less than or equal to {self.graph.text_limit}",
                )
            return
        if not isinstance(attachment, dict) or attachment.get("type") not in ATTACHMENT_TYPES:
            raise GraphFailure(
                400, 100, "(#100) Param message[attachment][type] must be one of " + str(ATTACHMENT_TYPES)
            )
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
        if not (payload.get("url") or payload.get("attachment_id") or file or attachment["type"] == "template"):
            raise GraphFailure(400, 100, "(#100) Incorrect attachment: give a url, an attachment_id or filedata")

    def _part_type(self, body, name):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == name:
                return part.get_content_type()
        return None

    def _check_send(self, payload):
        if not payload.get("to"):
            raise _missing("to")
        message_type = payload.get("type", "text")  # Meta's default type is text
        if message_type not in MESSAGE_TYPES:
            raise GraphFailure(
                400, 100, f"(#100) Param type must be one of {{{', '.join(t.upper() for t in MESSAGE_TYPES)}}}"
            )
        content = payload.get(message_type)
        if not isinstance(content, list if message_type == "contacts" else dict) or not content:
            raise _missing(message_type)
        if message_type == "text":
            text = content.get("body")
            if not isinstance(text, str) or not text.strip():
                raise _missing("text['body']")
            if len(text) > TEXT_LIMIT:
                raise GraphFailure(400, 100, f"(#100) Param text['body'] must be at most {TEXT_LIMIT} characters long.")
        elif message_type in MEDIA_TYPES:
            if bool(content.get("id")) == bool(content.get("link")):
                raise GraphFailure(400, 131008, details=f"{message_type}: exactly one of 'id' or 'link' is required")
        elif message_type == "template":
            self._check_template(content)
        elif message_type == "reaction":
            if not content.get("message_id"):
                raise _missing("reaction['message_id']")
            if "emoji" not in content:
                raise _missing("reaction['emoji']")
        elif message_type == "location":
            for key in ("latitude", "longitude"):
                if content.get(key) in (None, ""):
                    raise _missing(f"location['{key}']")

    def _check_template(self, template):
        name = template.get("name")
        if not name:
            raise _missing("template['name']")
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        if not code:
            raise _missing("template['language']")
        known = self.graph.templates
        if known and not any(
            t.get("name") == name and t.get("language") == code and t.get("status", "APPROVED") == "APPROVED"
            for t in known
        ):
            raise GraphFailure(400, 132001, details=f"template name ({name}) does not exist in {code}")

    def _post_media(self, phone_number_id, body):
        self._check_phone_number("POST", phone_number_id)
        fields, files = _multipart(self.headers.get("Content-Type", ""), body)
        _check_product(fields)
        if "file" not in files:
            raise _missing("file")
        if not fields.get("type"):
            raise _missing("type")
        filename, content = files["file"]
        return {"id": self.graph.add_media(content, fields["type"], filename, phone_number_id)}

    def _get_templates(self, path, query):
        limit = max(1, min(int(query.get("limit") or 25), self.graph.page_size))
        start = int(base64.b64decode(query["after"]).decode()) if query.get("after") else 0
        templates = self.graph.templates
        page = templates[start : start + limit]
        paging = {
            "cursors": {
                "before": base64.b64encode(str(start).encode()).decode(),
                "after": base64.b64encode(str(start + len(page)).encode()).decode(),
            }
        }
        if start + len(page) < len(templates):
            next_query = dict(query, limit=limit, after=paging["cursors"]["after"])
            paging["next"] = f"{self.graph.origin}{path}?{urlencode(next_query)}"
        return {"data": page, "paging": paging}

    def _get_object(self, object_id, query):
        graph = self.graph
        media = graph.media.get(object_id)
        if media:
            signed = urlencode({"mid": object_id, "ext": "1", "hash": secrets.token_urlsafe(12)})
            return {
                "messaging_product": "whatsapp",
                "url": f"{graph.origin}/whatsapp_business/attachments/?{signed}",
                "mime_type": media["mime_type"],
                "sha256": media["sha256"],
                "file_size": len(media["content"]),
                "id": object_id,
            }
        number = graph.phone_numbers.get(object_id, graph.objects.get(object_id))
        if number is None:
            raise _no_object("GET", object_id)
        number = dict(number, id=object_id)
        if query.get("fields"):
            wanted = set(query["fields"].split(",")) | {"id"}
            number = {key: value for key, value in number.items() if key in wanted}
        return number

    # -- checks --------------------------------------------------------------------------
    def _check_token(self):
        if self.headers.get("Authorization") != f"Bearer {self.graph.access_token}":
            raise GraphFailure(401, 190)

    def _check_phone_number(self, method, phone_number_id):
        if self.graph.phone_numbers and phone_number_id not in self.graph.phone_numbers:
            raise _no_object(method, phone_number_id)

    # -- answers -------------------------------------------------------------------------
    def _answer_rule(self, rule):
        if rule.body is not None:
            body = rule.body.encode() if isinstance(rule.body, str) else rule.body
            return self._send(rule.status or 500, body, "text/html", rule.headers)
        failure = GraphFailure(rule.status, rule.code, rule.message, subcode=rule.subcode, details=rule.details)
        return self._send_json(rule.status, failure.body(), rule.headers)

    def _send_json(self, status, answer, headers=None):
        self._send(status, json.dumps(answer).encode(), "application/json", headers)

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
            pass  # the client gave up (timeout)

    def _run_callback(self, payload, wamid):  # wamid: the message id (a mid for the Send API)
        try:
            self.graph.on_send(payload, wamid)
        except Exception as exc:  # reported when the FakeGraph block exits
            with self.graph._lock:
                self.graph.callback_errors.append(exc)


def _json_body(body):
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise GraphFailure(400, 100, "(#100) Invalid parameter", details="the body is not JSON") from None
    if not isinstance(payload, dict):
        raise GraphFailure(400, 100, "(#100) Invalid parameter", details="the body is not a JSON object")
    return payload


def _check_product(payload):
    product = payload.get("messaging_product")
    if not product:
        raise _missing("messaging_product")
    if product != "whatsapp":
        raise GraphFailure(400, 100, f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')


def _multipart(content_type, body):
    """Parse multipart/form-data into ({name: text}, {name: (filename, bytes)})."""
    fields, files = {}, {}
    if not content_type.startswith("multipart/form-data"):
        return fields, files
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True)
        if part.get_filename() is None:
            fields[name] = content.decode()
        else:
            files[name] = (part.get_filename(), content)
    return fields, files
