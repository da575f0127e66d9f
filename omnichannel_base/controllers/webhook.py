import logging
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException

from odoo import http
from odoo.exceptions import AccessDenied
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from .omnichannel_base import ApiError, error_response, json_error, unprocessable

_logger = logging.getLogger(__name__)

WEBHOOK_PREFIX = "/omnichannel/webhook/"
DEFAULT_MAX_WEBHOOK_BYTES = 4 * 1024 * 1024  # Meta, Telegram and Twilio send kilobytes


class OmnichannelWebhook(http.Controller):
    """``/omnichannel/webhook/<provider>/<key>``: where providers deliver messages and statuses.

    GET runs the provider's subscription handshake. POST is checked for authenticity over
    the raw body, before anything is parsed; an authentic delivery is stored as it came and
    answered as the provider expects once committed; it is processed in the background
    (``omnichannel.inbox``). Refusals are JSON with a 4xx status, never a 5xx: a provider
    retries 5xx for days.
    """

    @http.route(
        WEBHOOK_PREFIX + "<string:provider>/<string:key>", type="http", auth="public", csrf=False, save_session=False
    )
    def webhook(self, provider, key, **_params):
        try:
            return self._webhook(provider, key)
        except ApiError as error:
            request.env.cr.rollback()
            return json_error(error.status, error.code, error.message, error.headers)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise  # Odoo rolls back and serves the request again
        except HTTPException as error:
            request.env.cr.rollback()
            return error_response(error)
        except Exception:
            request.env.cr.rollback()
            return unprocessable()

    def _webhook(self, provider, key):
        channel = request.env["omnichannel.channel"].sudo()._find_by_webhook_key(provider, key)
        if not channel or not channel.active:
            raise ApiError(404, "unknown_webhook", "No active channel has this webhook URL.")
        implementation = channel._provider()
        httprequest = request.httprequest
        if httprequest.method in ("GET", "HEAD"):
            answer = implementation._webhook_handshake(channel, httprequest.args)
            if answer is None:
                raise ApiError(405, "method_not_allowed", "Only POST is allowed.", {"Allow": "POST"})
            return answer
        if httprequest.method != "POST":
            raise ApiError(405, "method_not_allowed", "Only GET and POST are allowed.", {"Allow": "GET, POST"})
        body = self._read_body()
        try:
            implementation._verify_webhook(channel, httprequest)
        except AccessDenied as exc:
            _logger.info("Webhook of channel %s refused: %s", channel.id, exc)
            raise ApiError(403, "invalid_signature", str(exc) or "The delivery's signature is not valid.") from None
        try:
            key = implementation._delivery_key(channel, httprequest, body)
        except Exception:  # a key is an optimisation: the body's digest deduplicates as well
            _logger.info("Webhook of channel %s: no delivery key", channel.id, exc_info=True)
            key = None
        request.env["omnichannel.inbox"].sudo()._store(
            channel,
            body,
            httprequest.mimetype,
            key=key,
            query_string=httprequest.query_string.decode("utf-8", "replace"),
        )
        try:
            return implementation._webhook_answer(channel, httprequest)
        except Exception:  # the delivery is stored: a provider's answer going wrong must not lose it
            _logger.exception("Webhook of channel %s: the provider's answer failed; plain acknowledgement", channel.id)
            return request.make_json_response({"status": "received"})

    def _read_body(self):
        httprequest = request.httprequest
        length = httprequest.content_length
        if length is None and "chunked" in httprequest.headers.get("Transfer-Encoding", "").lower():
            raise ApiError(411, "length_required", "Send the body with a Content-Length header, not chunked.")
        limit = DEFAULT_MAX_WEBHOOK_BYTES
        if length is not None and length > limit:
            raise ApiError(413, "too_large", f"The body is over the limit of {limit} bytes.")
        body = httprequest.get_data()
        if not body and httprequest.mimetype == "application/x-www-form-urlencoded":
            # Odoo parsed the form (Twilio's webhooks) before the route ran, consuming the raw
            # body: keep the fields, re-encoded, in the order they came.
            body = urlencode(list(httprequest.form.items(multi=True))).encode()
        return body
