from odoo import models
from odoo.http import request

from ..controllers.omnichannel_base import EVENTS_URL, error_response
from ..controllers.webhook import WEBHOOK_PREFIX


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _handle_error(cls, exception):
        # Odoo parses form bodies, and retries conflicting transactions, outside the route:
        # what fails there must still reach the events API's clients and the providers as JSON, not as a page.
        path = request.httprequest.path
        if path == EVENTS_URL or path.startswith(WEBHOOK_PREFIX):
            return error_response(exception)
        return super()._handle_error(exception)

    @classmethod
    def _serve_fallback(cls):
        # Nothing but the route lives under the webhook URL: a path it does not match is unknown,
        # never an attachment looked up by URL (which a NUL in the path turns into a database error).
        if request.httprequest.path.startswith(WEBHOOK_PREFIX):
            return None
        return super()._serve_fallback()
