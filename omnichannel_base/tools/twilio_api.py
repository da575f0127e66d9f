"""Client of Twilio's REST API (2010-04-01), shared by the SMS (omnichannel_social) and Voice
(omnichannel_voip) providers, which do not depend on each other. Plain Python and ``requests``.

Every call goes through :meth:`TwilioApi.request`: explicit timeouts, HTTP basic auth with the
Account SID and Auth Token, and failures as :class:`TwilioError`. Twilio's error body
(Twilio "Error handling")::

    {"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.",
     "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}

Each channel module subclasses :class:`TwilioApi` with the resources it uses (Messages, Calls).
"""

import email.utils
import time

import requests

DEFAULT_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
# Codes worth retrying (Twilio "Error dictionary"): 20429 too many requests, 20500 internal
# error, 20503 service unavailable, 30001 queue overflow (Messaging). Any HTTP 429 or 5xx is as well.
TRANSIENT_CODES = frozenset({20429, 20500, 20503, 30001})


class TwilioError(Exception):
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


class TwilioTimeout(TwilioError):
    """No answer in time: for a send, Twilio may have accepted the message all the same."""


class Timeouts(tuple):
    """``(connect, read)`` seconds, comparable with a number by its longest part (Odoo's test
    harness compares every request's timeout with a number)."""

    def __new__(cls, connect, read):
        return super().__new__(cls, (connect, read))

    def __lt__(self, other):
        if isinstance(other, (int, float)):
            return max(self) < other
        return super().__lt__(other)


class TwilioApi:
    """Calls to one Twilio account. ``base_url`` is ``https://api.twilio.com`` unless a test
    or a Twilio-compatible provider says otherwise."""

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
            raise (TwilioError if isinstance(exc, requests.ConnectTimeout) else TwilioTimeout)(
                f"no answer from {method} {_no_query(url)} in time", transient=True
            ) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TwilioError(f"cannot reach {_no_query(url)}: {exc.__class__.__name__}", transient=True) from exc
        except requests.RequestException as exc:
            raise TwilioError(f"cannot call {method} {_no_query(url)}: {exc}", transient=False) from exc
        if not response.ok:
            raise _error_from_response(response)
        if raw:
            return response
        try:
            return response.json()
        except ValueError:
            raise TwilioError(
                f"{method} {_no_query(url)} answered HTTP {response.status_code} without JSON",
                status=response.status_code,
            ) from None

    def account(self):
        """``friendly_name``, ``status`` (active, suspended, closed), ``type`` (Trial, Full)."""
        return self.request("GET", ".json")

    def incoming_numbers(self, phone_number):
        """The account's numbers equal to ``phone_number`` (E.164)."""
        answer = self.request("GET", "/IncomingPhoneNumbers.json", params={"PhoneNumber": phone_number})
        return answer.get("incoming_phone_numbers") or []

    def download(self, url):
        """(bytes, content type) of a file of the account (a message's media, a recording). Twilio
        may answer with a redirect to the file; ``requests`` drops the credentials when the
        redirect leaves the API's host."""
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
        return TwilioError(
            f"HTTP {response.status_code} {response.reason or 'error'}",
            status=response.status_code,
            retry_after=retry_after,
        )
    code = body.get("code")
    return TwilioError(
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
