import json
import logging

from odoo import http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

_logger = logging.getLogger(__name__)


class OmnichannelApi(http.Controller):
    """``POST /omnichannel/api/v1/events``: a mobile app, an e-shop or any system pushes interactions.

    Body: one event object, or ``{"events": [...]}``. See ``omnichannel.ingest`` for the fields;
    the channel comes from the bearer token, never from the body.
    """

    @http.route(
        "/omnichannel/api/v1/events",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def post_events(self):
        auth = request.httprequest.headers.get("Authorization", "")
        scheme, _sep, token = auth.partition(" ")
        channel = (
            request.env["omnichannel.channel"]
            .sudo()
            ._find_by_api_token(token.strip() if scheme.lower() == "bearer" else "")
        )
        if not channel:
            response = self._error(
                401, "invalid_token", "A valid 'Authorization: Bearer <channel API token>' header is required."
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="omnichannel"'
            return response
        try:
            payload = json.loads(request.httprequest.get_data(as_text=True) or "null")
        except (ValueError, UnicodeDecodeError) as exc:
            return self._error(400, "invalid_json", f"The body is not JSON: {exc}")
        events = payload.get("events") if isinstance(payload, dict) and "events" in payload else payload
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
            return self._error(400, "invalid_events", 'Send one event object or {"events": [event, ...]}.')
        for event in events:
            event["channel_id"] = channel.id
            for private in ("partner_id", "conversation_id", "user_id", "mail_message_id", "res_model", "res_id"):
                event.pop(private, None)
        try:
            interactions = request.env["omnichannel.ingest"].sudo().with_company(channel.company_id).ingest(events)
        except (ValidationError, UserError) as exc:
            return self._error(400, "invalid_event", str(exc.args[0]))
        return request.make_json_response({"interaction_ids": interactions.ids})

    def _error(self, status, code, message):
        return request.make_json_response({"error": code, "message": message}, status=status)
