import json
import logging
import uuid

from werkzeug.exceptions import HTTPException

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

_logger = logging.getLogger(__name__)

EVENTS_URL = "/omnichannel/api/v1/events"
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
# What only Odoo itself may say about an event: who, in which conversation, from which document.
PRIVATE_FIELDS = ("partner_id", "conversation_id", "user_id", "mail_message_id", "res_model", "res_id")


class ApiError(Exception):
    """A refusal of the events API: its HTTP status, error code and message."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def json_error(status, code, message, headers=None):
    """The JSON answer of a refused call. The message is made valid UTF-8 whatever it quotes."""
    message = str(message).encode("utf-8", "replace").decode("utf-8")
    return request.make_json_response(
        {"error": code, "message": message}, headers=list((headers or {}).items()), status=status
    )


def error_response(exc):
    """JSON for an exception that escaped the route (see ``ir.http._handle_error``): Odoo's
    form parsing of a non-JSON body, or a transaction still conflicting after Odoo's retries."""
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        if exc.code == 413:
            return json_error(413, "too_large", "The request body is too large.")
        return json_error(exc.code, "bad_request", exc.description or exc.name)
    if isinstance(exc, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
        # Not the client's fault, but nothing a 5xx would tell it better: the same call, sent
        # again, succeeds once the concurrent update is over.
        return json_error(
            409, "conflict", "Concurrent updates of the same data: send the call again.", {"Retry-After": "1"}
        )
    if isinstance(exc, UserError):
        return json_error(400, "invalid_request", exc.args[0])
    return unprocessable()


def unprocessable():
    """The answer to a call that validation let through and processing still refused (a bug,
    logged with its traceback): a client error like any other, which wrote nothing."""
    reference = uuid.uuid4().hex[:12]
    _logger.exception("%s: unexpected error, reference %s", request.httprequest.path, reference)
    return json_error(
        400, "unprocessable", f"These events could not be processed; nothing was written (reference {reference})."
    )


class OmnichannelApi(http.Controller):
    """``POST /omnichannel/api/v1/events``: a mobile app, an e-shop or any system pushes interactions.

    Body: one event object, or ``{"events": [...]}``, as JSON. See ``omnichannel.ingest`` for the
    fields; the channel comes from the bearer token, never from the body. Every answer is JSON:
    200 with the interaction ids, or an error (``{"error", "message"}``) that wrote nothing.
    """

    # Every method reaches the route, so that a GET gets a JSON 405 rather than Odoo's HTML page.
    @http.route(EVENTS_URL, type="http", auth="public", csrf=False, save_session=False)
    def post_events(self, **_params):  # query or form parameters mean nothing here
        try:
            return self._post_events()
        except ApiError as error:
            return self._refuse(error)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise  # Odoo rolls back and serves the request again
        except HTTPException as error:  # reading the body: a client that sent less than it announced
            request.env.cr.rollback()
            return error_response(error)
        except Exception:
            # Validation should have refused whatever got here: a bug, answered in JSON all the same.
            request.env.cr.rollback()
            return unprocessable()

    def _post_events(self):
        if request.httprequest.method != "POST":
            raise ApiError(405, "method_not_allowed", "Only POST is allowed.", {"Allow": "POST"})
        channel = self._authenticate()
        events = self._parse_events(self._read_body())
        for event in events:
            event["channel_id"] = channel.id
            for private in PRIVATE_FIELDS:
                event.pop(private, None)
        try:
            interactions = request.env["omnichannel.ingest"].sudo().with_company(channel.company_id).ingest(events)
        except UserError as exc:  # ValidationError included: it names the event and field
            raise ApiError(400, "invalid_event", exc.args[0]) from None
        return request.make_json_response({"interaction_ids": interactions.ids})

    def _authenticate(self):
        scheme, _sep, token = request.httprequest.headers.get("Authorization", "").partition(" ")
        channel = (
            request.env["omnichannel.channel"]
            .sudo()
            ._find_by_api_token(token.strip() if scheme.lower() == "bearer" else "")
        )
        if not channel:
            raise ApiError(
                401,
                "invalid_token",
                "A valid 'Authorization: Bearer <channel API token>' header is required.",
                {"WWW-Authenticate": 'Bearer realm="omnichannel"'},
            )
        return channel

    def _read_body(self):
        """The raw body, at most the System Parameter 'omnichannel.api_max_request_bytes' long."""
        httprequest = request.httprequest
        # JSON, or a body with no type or plain text (integrations that worked before this check
        # keep working); forms and uploads are parsed by Odoo before the route, so never JSON here.
        if httprequest.mimetype not in ("application/json", "", "text/plain"):
            raise ApiError(415, "unsupported_media_type", "Send the events as 'Content-Type: application/json'.")
        length = httprequest.content_length
        if length is None and "chunked" in httprequest.headers.get("Transfer-Encoding", "").lower():
            # Odoo would read a chunked body whole before we could count it.
            raise ApiError(411, "length_required", "Send the body with a Content-Length header, not chunked.")
        limit = self._max_request_bytes()
        if length is not None and length > limit:
            raise ApiError(
                413,
                "too_large",
                f"The body is over the limit of {limit} bytes (System Parameter "
                "'omnichannel.api_max_request_bytes'); send fewer events per call.",
            )
        return httprequest.get_data()  # cached: the same body if Odoo serves the request again

    def _max_request_bytes(self):
        value = request.env["ir.config_parameter"].sudo().get_param("omnichannel.api_max_request_bytes")
        try:
            return int(value) if value else DEFAULT_MAX_REQUEST_BYTES
        except ValueError:
            _logger.warning("System Parameter omnichannel.api_max_request_bytes is not a number: %r", value)
            return DEFAULT_MAX_REQUEST_BYTES

    def _parse_events(self, body):
        try:
            payload = json.loads(body.decode("utf-8-sig"), parse_constant=self._refuse_constant)
        except UnicodeDecodeError as exc:
            raise ApiError(400, "invalid_json", f"The body is not UTF-8: {exc.reason} at byte {exc.start}.") from None
        except RecursionError:
            raise ApiError(400, "invalid_json", "The body is nested too deeply.") from None
        except ValueError as exc:
            raise ApiError(400, "invalid_json", f"The body is not JSON: {exc}") from None
        events = payload.get("events") if isinstance(payload, dict) and "events" in payload else payload
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
            raise ApiError(400, "invalid_events", 'Send one event object or {"events": [event, ...]}.')
        return events

    @staticmethod
    def _refuse_constant(name):
        raise ValueError(f"{name} is not a JSON number")

    def _refuse(self, error):
        request.env.cr.rollback()  # a refused call writes nothing, whatever it got to
        return json_error(error.status, error.code, error.message, error.headers)
