"""Client of Meta's Graph API for the WhatsApp Cloud API. Plain Python and ``requests``, no ORM.

Every call goes through :meth:`GraphClient.request`: one place with explicit timeouts, the
bearer token, and the translation of failures into :class:`GraphError`. Callers (the Odoo
provider model) decide what an error means for a delivery: retry later when
``err.transient``, fail it otherwise, and ask for a new token on :class:`GraphAuthError`.

Meta's error body (Graph API "Handling Errors" and WhatsApp Cloud API "Error codes")::

    {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
               "error_subcode": 2494055, "error_data": {"messaging_product": "whatsapp",
               "details": "..."}, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}

Meta recommends building on ``code`` (and ``error_data.details``), not on the HTTP status or
the title inside ``message``; ``error_subcode`` is deprecated for WhatsApp since v16.0.
"""

import email.utils
import json
import time

import requests

DEFAULT_BASE_URL = "https://graph.facebook.com/v21.0"

# Codes Meta documents as "temporary / wait and retry" or as throttling. Graph API "Handling
# Errors": 1 API Unknown (possibly downtime), 2 API Service (downtime), 4 and 17 too many calls,
# 341 application limit reached. WhatsApp "Error codes": 80007 WABA rate limit, 130429
# throughput ("Rate limit hit"), 131000 "Something went wrong" (HTTP 500), 131016 service
# unavailable, 131048 spam rate limit, 131056 pair rate limit ("wait and retry"), 131057
# account in maintenance mode, 133004 server temporarily unavailable, 133016 register or
# deregister rate limit. Not here, because retrying cannot help: 100 invalid parameter, 190
# token, 131026 undeliverable, 131047 re-engagement (24 h window: a template is needed),
# 131051 unsupported message type, 368 policy block.
# Messenger Platform "Error codes": 613 calls over the rate limit, 1200 temporary send failure.
TRANSIENT_CODES = frozenset(
    {1, 2, 4, 17, 341, 613, 1200, 80007, 130429, 131000, 131016, 131048, 131056, 131057, 133004, 133016}
)
# 190 access token expired or invalid, 102 session, 104 token missing (Graph API "Handling Errors").
AUTH_CODES = frozenset({102, 104, 190})


class GraphError(Exception):
    """A Graph API call that did not succeed.

    ``status`` is the HTTP status (None when no answer came), ``code``, ``subcode``,
    ``message``, ``details`` and ``fbtrace_id`` come from Meta's error body when there is one,
    ``retry_after`` is a wait in seconds when the answer suggested one.
    """

    def __init__(
        self, message, *, status=None, code=None, subcode=None, details=None, fbtrace_id=None, retry_after=None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.subcode = subcode
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.retry_after = retry_after

    @property
    def transient(self):
        """Whether the same call may succeed later: throttling or Meta's own outage."""
        return self.status == 429 or (self.status or 0) >= 500 or self.code in TRANSIENT_CODES

    def __str__(self):
        # Meta titles most messages "(#code) Title" already; OAuth ones come without it.
        if self.code is not None and not self.message.startswith("(#"):
            return f"(#{self.code}) {self.message}"
        return self.message


class GraphTimeout(GraphError):
    """No answer within the timeout. For a send, Meta may still have accepted the message."""

    transient = True


class GraphConnectionError(GraphError):
    """The Graph API could not be reached, or the connection broke (DNS, refused, TLS, reset)."""

    transient = True


class GraphAuthError(GraphError):
    """The access token is missing, expired or revoked: only a new token helps."""


class Timeouts(tuple):
    """``(connect, read)`` seconds for ``requests``, comparable with a number by its longest part.

    Odoo's test harness compares the timeout of every request with a number
    (``BaseCase._request_handler`` in ``odoo/tests/common.py``); a plain tuple raises
    ``TypeError`` there, so the provider could not be tested against a local server.
    """

    def __new__(cls, connect, read):
        return super().__new__(cls, (connect, read))

    def __lt__(self, other):
        if isinstance(other, (int, float)):
            return max(self) < other
        return super().__lt__(other)


class GraphClient:
    """Calls to one Graph API version with one access token.

    ``base_url`` includes the version (``https://graph.facebook.com/v21.0``); tests point it
    at a local server. ``timeout`` is ``(connect, read)`` seconds or one number for both.
    """

    def __init__(self, base_url, access_token, timeout=(3.05, 10), session=None):
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.access_token = access_token
        self.timeout = Timeouts(*timeout) if isinstance(timeout, (tuple, list)) else timeout
        self.session = session or requests.Session()

    def request(self, method, path_or_url, *, params=None, json=None, files=None, data=None, raw=False):
        """Call the Graph API and return the decoded JSON body (the ``requests.Response`` if ``raw``).

        ``path_or_url`` is relative to the base URL (``"106540352242922/messages"``) or an
        absolute URL Meta handed out (paging links, media downloads); both get the bearer token.
        Raises :class:`GraphError` (or a subclass) for anything but a 2xx answer.
        """
        if path_or_url.startswith(("http://", "https://")):
            url = path_or_url
        else:
            url = f"{self.base_url}/{path_or_url.lstrip('/')}"
        headers = {"Authorization": f"Bearer {self.access_token}"}
        try:
            response = self.session.request(
                method, url, params=params, json=json, files=files, data=data, headers=headers, timeout=self.timeout
            )
        except requests.ConnectTimeout as exc:  # nothing reached Meta: safe to try again
            raise GraphConnectionError(f"cannot reach {_no_query(url)} in time ({exc.__class__.__name__})") from exc
        except requests.Timeout as exc:
            raise GraphTimeout(f"no answer from {method} {_no_query(url)} in time ({exc.__class__.__name__})") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise GraphConnectionError(f"cannot reach {_no_query(url)}: {exc}") from exc
        except requests.RequestException as exc:  # a malformed URL or request: retrying cannot help
            raise GraphError(f"cannot call {method} {_no_query(url)}: {exc}") from exc
        if not response.ok:
            raise _error_from_response(response)
        if raw:
            return response
        try:
            return response.json()
        except ValueError:
            raise GraphError(
                f"{method} {_no_query(url)} answered HTTP {response.status_code} without JSON",
                status=response.status_code,
            ) from None

    def send_message(self, phone_number_id, payload):
        """POST a message (text, media, template, ...); the answer has ``messages[0]["id"]``, the wamid."""
        return self.request("POST", f"{phone_number_id}/messages", json=payload)

    def upload_media(self, phone_number_id, filename, mimetype, content):
        """Upload a file for later sends and return its media id (Meta keeps it for 30 days)."""
        answer = self.request(
            "POST",
            f"{phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mimetype},
            files={"file": (filename, content, mimetype)},
        )
        return answer["id"]

    def media_info(self, media_id):
        """Return ``url`` (short-lived, needs the token), ``mime_type``, ``sha256``, ``file_size``, ``id``."""
        return self.request("GET", str(media_id))

    def download_media(self, url):
        """Return the bytes behind a ``media_info`` URL."""
        return self.request("GET", url, raw=True).content

    def message_templates(self, waba_id, limit=100):
        """Return every message template of a WhatsApp Business Account, following ``paging.next``."""
        templates = []
        page = self.request("GET", f"{waba_id}/message_templates", params={"limit": limit})
        while True:
            templates.extend(page.get("data", []))
            next_url = (page.get("paging") or {}).get("next")
            if not next_url:
                return templates
            page = self.request("GET", next_url)

    def get_object(self, object_id, fields):
        """Return the ``fields`` (a list) of a Graph object: a Page, an Instagram account, a user profile."""
        return self.request("GET", str(object_id), params={"fields": ",".join(fields)})

    def send_api(self, page_id, payload, file=None):
        """POST to the Messenger Platform's Send API (``/{page-id}/messages``; ``me`` for the
        token's own Page) and return the answer (``recipient_id``, ``message_id``).

        With ``file`` = (filename, bytes, mimetype) the message is sent as multipart form data,
        its JSON parts (``recipient``, ``message``...) as fields and the file as ``filedata``:
        the attachment is uploaded and sent in one call.
        """
        if file is None:
            return self.request("POST", f"{page_id}/messages", json=payload)
        data = {key: value if isinstance(value, str) else json.dumps(value) for key, value in payload.items()}
        return self.request("POST", f"{page_id}/messages", data=data, files={"filedata": file})

    def download_url(self, url):
        """Return ``(bytes, content type)`` at a public URL Meta handed out (attachments, profile
        pictures on Meta's CDN, which are signed): fetched without the access token."""
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.Timeout as exc:
            raise GraphTimeout(f"no answer from GET {_no_query(url)} in time ({exc.__class__.__name__})") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise GraphConnectionError(f"cannot reach {_no_query(url)}: {exc}") from exc
        except requests.RequestException as exc:
            raise GraphError(f"cannot call GET {_no_query(url)}: {exc}") from exc
        if not response.ok:
            raise _error_from_response(response)
        return response.content, response.headers.get("Content-Type")

    def phone_number(self, phone_number_id):
        """Return ``display_phone_number``, ``verified_name``, ``quality_rating`` and ``id`` of a number."""
        return self.request(
            "GET", str(phone_number_id), params={"fields": "display_phone_number,verified_name,quality_rating"}
        )


def _no_query(url):
    """The URL without its query string, which may carry signed media hashes."""
    return url.split("?", 1)[0]


def _error_from_response(response):
    """Build the GraphError of a non-2xx answer, from Meta's error body when there is one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    retry_after = _retry_after(response.headers)
    if not isinstance(error, dict):
        reason = response.reason or "error"
        return GraphError(f"HTTP {response.status_code} {reason}", status=response.status_code, retry_after=retry_after)
    code = error.get("code")
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    cls = GraphAuthError if response.status_code == 401 or code in AUTH_CODES else GraphError
    return cls(
        error.get("message") or f"HTTP {response.status_code}",
        status=response.status_code,
        code=_int_or_none(code),
        subcode=_int_or_none(error.get("error_subcode")),
        details=details,
        fbtrace_id=error.get("fbtrace_id"),
        retry_after=retry_after,
    )


def _retry_after(headers):
    """Seconds to wait, from ``Retry-After`` or Meta's business use case usage header, or None.

    ``X-Business-Use-Case-Usage`` maps business ids to lists of usages whose
    ``estimated_time_to_regain_access`` is in minutes (Graph API "Rate Limits").
    """
    value = headers.get("Retry-After")
    if value:
        if value.strip().isdigit():
            return int(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0, round(when.timestamp() - time.time()))
    try:
        usage = json.loads(headers.get("X-Business-Use-Case-Usage") or "{}")
        minutes = max(
            (entry.get("estimated_time_to_regain_access") or 0 for entries in usage.values() for entry in entries),
            default=0,
        )
    except (ValueError, AttributeError, TypeError):
        return None
    return minutes * 60 if minutes else None


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
