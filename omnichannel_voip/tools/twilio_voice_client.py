"""Client of Twilio's REST API (2010-04-01) for Programmable Voice. Plain Python and ``requests``.

Every call goes through :meth:`TwilioVoiceClient.request`: explicit timeouts, HTTP basic auth
with the Account SID and Auth Token, failures as :class:`TwilioVoiceError`. Twilio's error body
(Twilio "Errors and warnings", REST API responses)::

    {"code": 21205, "message": "Url is not a valid URL: ...",
     "more_info": "https://www.twilio.com/docs/errors/21205", "status": 400}
"""

import email.utils
import time

import requests

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
# Codes worth retrying (Twilio "Error dictionary"): 20429 too many requests, 20500 internal
# error, 20503 service unavailable. Any HTTP 429 or 5xx is as well.
TRANSIENT_CODES = frozenset({20429, 20500, 20503})
CALL_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioVoiceError(Exception):
    """A Twilio call that did not succeed: ``status`` (HTTP, None without an answer), ``code``,
    ``message``, ``more_info`` from Twilio's body, ``retry_after`` seconds when it said."""

    def __init__(self, message, *, status=None, code=None, more_info=None, retry_after=None, transient=None):
        super().__init__(message)
        self.message, self.status, self.code, self.more_info = message, status, code, more_info
        self.retry_after = retry_after
        self._transient = transient

    @property
    def transient(self):
        if self._transient is not None:
            return self._transient
        return self.status == 429 or (self.status or 0) >= 500 or self.code in TRANSIENT_CODES

    def __str__(self):
        return f"({self.code}) {self.message}" if self.code is not None else self.message


class TwilioVoiceTimeout(TwilioVoiceError):
    """No answer in time: for a new call, Twilio may have placed it all the same."""


class Timeouts(tuple):
    """``(connect, read)`` seconds, comparable with a number by its longest part (Odoo's test
    harness compares every request's timeout with a number)."""

    def __new__(cls, connect, read):
        return super().__new__(cls, (connect, read))

    def __lt__(self, other):
        if isinstance(other, (int, float)):
            return max(self) < other
        return super().__lt__(other)


class TwilioVoiceClient:
    """Calls to one Twilio account. ``base_url`` is ``https://api.twilio.com`` unless a test or
    a Twilio-compatible provider says otherwise."""

    def __init__(self, base_url, account_sid, auth_token, timeout=(3.05, 10), session=None):
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.account_sid, self.auth_token = account_sid, auth_token
        self.timeout = Timeouts(*timeout) if isinstance(timeout, (tuple, list)) else timeout
        self.session = session or requests.Session()

    def request(self, method, path_or_url, *, params=None, data=None, raw=False):
        """Call the API; return the JSON answer (the ``requests.Response`` when ``raw``)."""
        if path_or_url.startswith(("http://", "https://")):
            url = path_or_url
        else:
            url = f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}{path_or_url}"
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                auth=(self.account_sid, self.auth_token),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            # Connecting timed out: nothing reached Twilio, try again. Reading did: it may have acted.
            raise (TwilioVoiceError if isinstance(exc, requests.ConnectTimeout) else TwilioVoiceTimeout)(
                f"no answer from {method} {_no_query(url)} in time", transient=True
            ) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TwilioVoiceError(f"cannot reach {_no_query(url)}: {exc.__class__.__name__}", transient=True) from exc
        except requests.RequestException as exc:
            raise TwilioVoiceError(f"cannot call {method} {_no_query(url)}: {exc}", transient=False) from exc
        if not response.ok:
            raise _error_from_response(response)
        if raw:
            return response
        try:
            return response.json()
        except ValueError:
            raise TwilioVoiceError(
                f"{method} {_no_query(url)} answered HTTP {response.status_code} without JSON",
                status=response.status_code,
            ) from None

    def create_call(self, to, from_, url, status_callback, timeout=None):
        """Place a call (Twilio "Call resource", Create): Twilio rings ``to``, and when it answers
        runs the TwiML ``url`` returns; every progress event goes to ``status_callback``. The
        answer is the Call resource (``sid``, ``status`` "queued")."""
        data = [("To", to), ("From", from_), ("Url", url), ("Method", "POST"), ("StatusCallback", status_callback),
                ("StatusCallbackMethod", "POST")]  # fmt: skip
        data += [("StatusCallbackEvent", event) for event in CALL_EVENTS]
        if timeout:
            data.append(("Timeout", str(int(timeout))))
        return self.request("POST", "/Calls.json", data=data)

    def fetch_call(self, sid):
        return self.request("GET", f"/Calls/{sid}.json")

    def recent_calls(self, to, from_):
        """The latest calls to ``to`` from ``from_`` (newest first), as Twilio lists them."""
        answer = self.request("GET", "/Calls.json", params={"To": to, "From": from_, "PageSize": 20})
        return answer.get("calls") or []

    def account(self):
        """``friendly_name``, ``status`` (active, suspended, closed), ``type`` (Trial, Full)."""
        return self.request("GET", ".json")

    def incoming_numbers(self, phone_number):
        """The account's numbers equal to ``phone_number`` (E.164)."""
        answer = self.request("GET", "/IncomingPhoneNumbers.json", params={"PhoneNumber": phone_number})
        return answer.get("incoming_phone_numbers") or []

    def download_recording(self, url):
        """(bytes, content type) of a recording: its ``RecordingUrl`` with ``.mp3`` (Twilio
        "Recording resource": the file in the format the extension names)."""
        url = url if url.endswith((".mp3", ".wav")) else f"{url}.mp3"
        response = self.request("GET", url, raw=True)
        return response.content, response.headers.get("Content-Type") or None


def _no_query(url):
    return url.split("?", 1)[0]


def _error_from_response(response):
    try:
        body = response.json()
    except ValueError:
        body = None
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if not isinstance(body, dict) or not body.get("message"):
        return TwilioVoiceError(
            f"HTTP {response.status_code} {response.reason or 'error'}",
            status=response.status_code,
            retry_after=retry_after,
        )
    code = body.get("code")
    return TwilioVoiceError(
        str(body["message"]),
        status=response.status_code,
        code=int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None,
        more_info=body.get("more_info"),
        retry_after=retry_after,
    )


def _retry_after(value):
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, round(when.timestamp() - time.time())) if when else None
