"""A local stand-in for Telegram's Bot API, served over real HTTP on 127.0.0.1.

Tests point the ``omnichannel_social.telegram_url`` setting at ``telegram.url`` and assert on
what reached the server::

    with FakeTelegram(token="123456:TEST") as telegram:
        client = TelegramClient(telegram.url, "123456:TEST")
        telegram.inject("sendMessage", status=429, retry_after=3)
        ...
        assert telegram.sent[-1]["text"] == "Hola"

The contract, as the Bot API documents it ("Making requests", ``ResponseParameters``, the
methods below, "Using a Local Bot API Server" for file paths):

- ``/bot<token>/<method>``, GET or POST, parameters in the query string, as JSON, form-encoded
  or multipart (files); method names are case-insensitive. Answers are
  ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
  "parameters"?: {"retry_after"}}``; a wrong token is 401 "Unauthorized", an unknown method
  404 "Not Found".
- ``getMe``, ``getWebhookInfo``, ``setWebhook`` (``url``, ``secret_token`` of 1-256 characters
  A-Z a-z 0-9 _ -, ``allowed_updates``; an empty url removes the webhook), ``sendMessage``
  (text of 1-4,096 UTF-16 code units), ``sendPhoto`` / ``sendDocument`` (a file uploaded as
  multipart, caption up to 1,024), ``getFile`` (``file_path``; none over 20 MB),
  ``answerCallbackQuery``; ``GET /file/bot<token>/<file_path>`` downloads.
- Chats in ``telegram.blocked`` answer sends with 403 "Forbidden: bot was blocked by the user".

Faults: ``inject(method, status=..., retry_after=..., description=..., body=..., delay=...,
times=1)``: a 429 carries ``parameters.retry_after`` (and a ``Retry-After`` header, as Telegram
sends), a 5xx Telegram's JSON or a raw ``body`` (a proxy's HTML page), and ``delay`` seconds
longer than the client's timeout is a timeout.
"""

import itertools
import json
import re
import threading
from collections import namedtuple
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from requests.structures import CaseInsensitiveDict

from .fake_graph import _multipart

Request = namedtuple("Request", "method path headers body params")
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class TelegramFailure(Exception):
    """An error answer, raised inside a handler and written as Telegram's error body."""

    def __init__(self, status, description=None, retry_after=None):
        super().__init__(description)
        self.status = status
        self.description = description or DESCRIPTIONS.get(status, "Bad Request")
        if status == 429 and description is None:
            self.description = f"Too Many Requests: retry after {retry_after or 1}"
        self.retry_after = retry_after if retry_after is not None else (1 if status == 429 else None)

    def body(self):
        answer = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            answer["parameters"] = {"retry_after": self.retry_after}
        return answer


@dataclass
class _Rule:
    method: str
    times: int
    status: int = None
    retry_after: int = None
    description: str = None
    body: bytes = None
    delay: float = 0


class FakeTelegram:
    """A Bot API server for one bot (``token``)."""

    def __init__(self, token="123456789:AAE-fake-token-for-tests", username="TiendaBilbaoBot"):
        self.token = token
        self.bot = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Tienda Bilbao",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = None
        self.reset()

    # -- life cycle -----------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        handler = type("Handler", (_Handler,), {"telegram": self})
        self._closing.clear()
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-telegram", daemon=True).start()

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
        """Forget requests, sends, files, blocks, injected faults and the webhook."""
        with self._lock:
            self.requests = []
            self.sent = []
            self.files = {}
            self.blocked = set()
            self.answered_callbacks = []
            self.webhook = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
            self.webhook_secret = None
            self._rules = []
            self._message_ids = itertools.count(1001)
            self._file_ids = itertools.count(1)

    # -- test controls --------------------------------------------------------------------
    def inject(self, method, status=None, retry_after=None, description=None, body=None, delay=0, times=1):
        """Make the next ``times`` calls of ``method`` (a Bot API method name, or "download")
        fail with ``status`` (Telegram's error JSON, or the raw ``body``), or lag ``delay`` seconds."""
        with self._lock:
            self._rules.append(
                _Rule(
                    method.lower(),
                    times,
                    status,
                    retry_after,
                    description,
                    body.encode() if isinstance(body, str) else body,
                    delay,
                )
            )

    def add_file(self, content, file_path=None, file_size=None):
        """A file a user sent; returns its file_id (what an update's photo or document carries)."""
        number = next(self._file_ids)
        file_id = f"AgACAgQAAxkBAAI{number:06d}"
        with self._lock:
            self.files[file_id] = {
                "content": content,
                "file_path": file_path or f"documents/file_{number}.bin",
                "file_size": len(content) if file_size is None else file_size,
                "file_unique_id": f"AQAD{number:06d}",
            }
        return file_id

    def _take_rule(self, method):
        with self._lock:
            for rule in self._rules:
                if rule.method == method:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule
        return None


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        """Ignore clients that hung up (timeouts)."""


class _Handler(BaseHTTPRequestHandler):
    telegram = None

    def log_message(self, *args):
        """Keep test output quiet."""

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def _serve(self, http_method):
        telegram = self.telegram
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = unquote(split.path)
        try:
            params, files = self._params(split.query, body)
        except TelegramFailure as failure:
            return self._json(failure.status, failure.body())
        with telegram._lock:
            telegram.requests.append(
                Request(http_method, path, CaseInsensitiveDict(self.headers.items()), body, params)
            )
        download = re.fullmatch(r"/file/bot([^/]+)/(.+)", path)
        call = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)", path)
        method = "download" if download else call.group(2).lower() if call else None
        rule = telegram._take_rule(method) if method else None
        if rule and rule.delay and telegram._closing.wait(rule.delay):
            return
        try:
            if rule and rule.body is not None:
                return self._send(rule.status or 502, rule.body, "text/html")
            if rule and rule.status:
                raise TelegramFailure(rule.status, rule.description, rule.retry_after)
            if download:
                if download.group(1) != telegram.token:
                    raise TelegramFailure(401)
                return self._download(download.group(2))
            if not call:
                raise TelegramFailure(404)
            if call.group(1) != telegram.token:
                raise TelegramFailure(401)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise TelegramFailure(404)
            result = handler(params, files)
        except TelegramFailure as failure:
            headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else None
            return self._json(failure.status, failure.body(), headers)
        self._json(200, {"ok": True, "result": result})

    def _params(self, query, body):
        """Parameters from the query string and the body (JSON, form or multipart), and the files."""
        params, files = dict(parse_qsl(query)), {}
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and body:
            try:
                decoded = json.loads(body)
            except ValueError:
                raise TelegramFailure(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(decoded, dict):
                raise TelegramFailure(400, "Bad Request: JSON object expected")
            params.update(decoded)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace")))
        elif content_type.startswith("multipart/form-data"):
            fields, files = _multipart(content_type, body)
            params.update(fields)
        return params, files

    # -- methods ----------------------------------------------------------------------------
    def _m_getme(self, params, files):
        return self.telegram.bot

    def _m_getwebhookinfo(self, params, files):
        return dict(self.telegram.webhook)

    def _m_setwebhook(self, params, files):
        url = params.get("url", "")
        secret = params.get("secret_token")
        if secret is not None and not SECRET.match(str(secret)):
            raise TelegramFailure(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        with self.telegram._lock:
            self.telegram.webhook = {
                "url": url,
                "has_custom_certificate": False,
                "pending_update_count": 0,
                **({"allowed_updates": allowed} if allowed else {}),
            }
            self.telegram.webhook_secret = secret
        return True

    def _chat(self, params):
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise TelegramFailure(400, "Bad Request: chat_id is empty")
        chat_id = str(chat_id)
        if not re.fullmatch(r"-?\d+|@\w+", chat_id):
            raise TelegramFailure(400, "Bad Request: chat not found")
        if chat_id in self.telegram.blocked:
            raise TelegramFailure(403)
        return chat_id

    def _message(self, chat_id, **content):
        telegram = self.telegram
        with telegram._lock:
            message_id = next(telegram._message_ids)
        chat_type = (
            "private" if not chat_id.startswith("-") else "supergroup" if chat_id.startswith("-100") else "group"
        )
        message = {
            "message_id": message_id,
            "from": {key: telegram.bot[key] for key in ("id", "is_bot", "first_name", "username")},
            "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "type": chat_type},
            "date": 1767225600,
            **content,
        }
        return message

    def _m_sendmessage(self, params, files):
        chat_id = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise TelegramFailure(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le", "surrogatepass")) // 2 > TEXT_LIMIT:
            raise TelegramFailure(400, "Bad Request: message is too long")
        message = self._message(chat_id, text=text)
        with self.telegram._lock:
            self.telegram.sent.append({"method": "sendMessage", "chat_id": chat_id, "text": text, "message": message})
        return message

    def _send_file(self, params, files, field, method):
        chat_id = self._chat(params)
        if field not in files:
            if params.get(field):  # a file_id or URL sent again
                files = {field: (None, b"")}
            else:
                raise TelegramFailure(400, f"Bad Request: there is no {field} in the request")
        caption = params.get("caption")
        if caption and len(caption.encode("utf-16-le", "surrogatepass")) // 2 > CAPTION_LIMIT:
            raise TelegramFailure(400, "Bad Request: message caption is too long")
        filename, content = files[field]
        file_id = self.telegram.add_file(content, f"{field}s/{filename}")
        if field == "photo":
            content_field = {"photo": [{"file_id": file_id, "file_unique_id": "x", "width": 800, "height": 600}]}
        else:
            content_field = {"document": {"file_id": file_id, "file_unique_id": "x", "file_name": filename}}
        message = self._message(chat_id, **content_field, **({"caption": caption} if caption else {}))
        with self.telegram._lock:
            self.telegram.sent.append(
                {
                    "method": method,
                    "chat_id": chat_id,
                    "caption": caption,
                    "filename": filename,
                    "content": content,
                    "message": message,
                }
            )
        return message

    def _m_sendphoto(self, params, files):
        return self._send_file(params, files, "photo", "sendPhoto")

    def _m_senddocument(self, params, files):
        return self._send_file(params, files, "document", "sendDocument")

    def _m_getfile(self, params, files):
        file_id = params.get("file_id")
        stored = self.telegram.files.get(file_id)
        if not stored:
            raise TelegramFailure(400, "Bad Request: invalid file_id")
        result = {"file_id": file_id, "file_unique_id": stored["file_unique_id"], "file_size": stored["file_size"]}
        if stored["file_size"] > DOWNLOAD_LIMIT:
            raise TelegramFailure(400, "Bad Request: file is too big")
        result["file_path"] = stored["file_path"]
        return result

    def _m_answercallbackquery(self, params, files):
        if not params.get("callback_query_id"):
            raise TelegramFailure(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        with self.telegram._lock:
            self.telegram.answered_callbacks.append(params["callback_query_id"])
        return True

    def _download(self, file_path):
        for stored in self.telegram.files.values():
            if stored["file_path"] == file_path:
                return self._send(200, stored["content"], "application/octet-stream")
        raise TelegramFailure(404)

    # -- answers -------------------------------------------------------------------------
    def _json(self, status, answer, headers=None):
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
            pass
