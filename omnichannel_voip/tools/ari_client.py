"""Client of Asterisk's REST Interface (ARI, Asterisk 20 and 22). Plain Python and ``requests``.

Every call goes through :meth:`AriClient.request`: explicit timeouts, HTTP basic auth with the
ARI user of ``ari.conf``, and failures as :class:`AriError` (a ``ProviderError``). Asterisk
answers errors as ``{"message": "Channel not found"}`` with the HTTP status of the operation's
``errorResponses`` (rest-api/api-docs/*.json), e.g. 409 "Channel with given unique ID already
exists" for an originate whose ``channelId`` is in use: the call was placed already.

``base_url`` is Asterisk's HTTP server (``http://pbx.example.com:8088``, ``/ari`` is added), and
:meth:`events_url` the matching events WebSocket (``ws://…/ari/events``).
"""

import base64
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests

from odoo.addons.omnichannel_base.tools.provider import ProviderError

DEFAULT_TIMEOUT = (3.05, 10)


class AriError(ProviderError):
    """An ARI call that did not succeed. ``status``: the HTTP status (None without an answer);
    ``code`` is the same status, shown with Asterisk's message."""

    def __init__(self, message, status=None, transient=None):
        if transient is None:
            transient = status is None or status == 429 or status >= 500
        super().__init__(message, code=status, transient=transient)
        self.status = status

    @property
    def conflict(self):
        """409: the channel id is in use (originate), or the channel is not in Stasis (continue)."""
        return self.status == 409

    @property
    def not_found(self):
        return self.status == 404


class AriTimeout(AriError):
    """No answer in time: Asterisk may have acted on the request all the same."""


class Timeouts(tuple):
    """``(connect, read)`` seconds, comparable with a number by its longest part (Odoo's test
    harness compares every request's timeout with a number)."""

    def __new__(cls, connect, read):
        return super().__new__(cls, (connect, read))

    def __lt__(self, other):
        if isinstance(other, (int, float)):
            return max(self) < other
        return super().__lt__(other)


class AriClient:
    """Calls to one Asterisk's ARI as one ARI user."""

    def __init__(self, base_url, user, password, timeout=DEFAULT_TIMEOUT, session=None):
        base_url = (base_url or "").strip().rstrip("/")
        if not base_url:
            raise AriError("The Asterisk ARI URL is not set.", transient=False)
        if base_url.endswith("/ari"):
            base_url = base_url[: -len("/ari")]
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise AriError(f"The Asterisk ARI URL must start with http:// or https:// ({base_url}).", transient=False)
        self.base_url = base_url
        self.user, self.password = user or "", password or ""
        self.timeout = Timeouts(*timeout) if isinstance(timeout, (tuple, list)) else timeout
        self.session = session or requests.Session()

    # ------------------------------------------------------------ the one choke point
    def request(self, method, path, *, params=None, json=None, raw=False):
        """Call ``/ari{path}``; return the JSON answer, None for 204, the response when ``raw``."""
        url = f"{self.base_url}/ari{path}"
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json,
                auth=(self.user, self.password),
                headers={"Accept": "application/json"} if not raw else None,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            # Connecting timed out: nothing reached Asterisk. Reading did: it may have acted.
            error = AriError if isinstance(exc, requests.ConnectTimeout) else AriTimeout
            raise error(f"Asterisk did not answer {method} /ari{path} in time.", transient=True) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise AriError(
                f"Cannot reach Asterisk at {self.base_url} ({exc.__class__.__name__}).", transient=True
            ) from exc
        except requests.RequestException as exc:
            raise AriError(f"Cannot call {method} /ari{path}: {exc}", transient=False) from exc
        if not response.ok:
            raise _error_from_response(method, path, response)
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AriError(
                f"{method} /ari{path} answered HTTP {response.status_code} without JSON.", status=response.status_code
            ) from None

    # ------------------------------------------------------------ resources the suite uses
    def resources(self):
        """``/api-docs/resources.json``: the API's version (``apiVersion``) and resource list."""
        return self.request("GET", "/api-docs/resources.json")

    def info(self, only=None):
        """AsteriskInfo: ``system.version``, ``system.entity_id``, ``config.name``, ``status``."""
        return self.request("GET", "/asterisk/info", params={"only": only} if only else None)

    def channels(self):
        """Every active channel (Channel models)."""
        return self.request("GET", "/channels") or []

    def channel(self, channel_id):
        return self.request("GET", f"/channels/{_segment(channel_id)}")

    def originate(self, endpoint, *, extension=None, context=None, priority=None, caller_id=None, timeout=None,
                  channel_id=None, variables=None, app=None, app_args=None):  # fmt: skip
        """Place a call: ring ``endpoint`` (``PJSIP/1001``); once it answers, run ``context``,
        ``extension``, ``priority`` (or the Stasis ``app``). ``channel_id`` is the new channel's
        uniqueid, chosen by us: while that channel lives, the same request again answers 409
        (:attr:`AriError.conflict`) instead of placing a second call. Returns the Channel."""
        params = {
            "endpoint": endpoint,
            "extension": extension,
            "context": context,
            "priority": priority,
            "callerId": caller_id,
            "timeout": timeout,
            "channelId": channel_id,
            "app": app,
            "appArgs": app_args,
        }
        params = {name: value for name, value in params.items() if value not in (None, "")}
        body = {"variables": {name: str(value) for name, value in variables.items()}} if variables else None
        return self.request("POST", "/channels", params=params, json=body)

    def hangup(self, channel_id, reason="normal"):
        self.request("DELETE", f"/channels/{_segment(channel_id)}", params={"reason": reason})

    def continue_in_dialplan(self, channel_id, context=None, extension=None, priority=None, label=None):
        """Let a channel in Stasis go on in the dialplan (the next priority unless told)."""
        params = {"context": context, "extension": extension, "priority": priority, "label": label}
        params = {name: value for name, value in params.items() if value not in (None, "")}
        self.request("POST", f"/channels/{_segment(channel_id)}/continue", params=params or None)

    def set_variable(self, channel_id, variable, value):
        self.request(
            "POST", f"/channels/{_segment(channel_id)}/variable", params={"variable": variable, "value": value}
        )

    def get_variable(self, channel_id, variable):
        """A variable (or dialplan function, ``CHANNEL(linkedid)``) of a channel in Stasis."""
        return self.request("GET", f"/channels/{_segment(channel_id)}/variable", params={"variable": variable})["value"]

    def recording_file(self, name):
        """(bytes, content type) of a stored recording, by its name (file name without format)."""
        response = self.request("GET", f"/recordings/stored/{_segment(name)}/file", raw=True)
        return response.content, (response.headers.get("Content-Type") or "").split(";")[0].strip() or None

    def events_url(self, app, subscribe_all=True):
        """The events WebSocket's URL for ``app`` (credentials go in an Authorization header)."""
        parts = urlsplit(self.base_url)
        query = urlencode({"app": app, "subscribeAll": "true" if subscribe_all else "false"})
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, f"{parts.path}/ari/events", query, ""))

    def auth_header(self):
        return "Authorization: Basic " + _basic(self.user, self.password)


def _segment(value):
    return quote(str(value), safe="")


def _basic(user, password):
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _error_from_response(method, path, response):
    message = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
    if response.status_code == 401:
        message = "Asterisk refused the ARI user name or password (HTTP 401)."
    elif not message:
        message = f"HTTP {response.status_code} {response.reason or 'error'}"
    return AriError(f"{method} /ari{path}: {message}", status=response.status_code)
