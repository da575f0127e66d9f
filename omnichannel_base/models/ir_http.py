from odoo import models
from odoo.http import request

from ..controllers.omnichannel_base import EVENTS_URL, error_response


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _handle_error(cls, exception):
        # Odoo parses form bodies, and retries conflicting transactions, outside the route:
        # what fails there must still reach the events API's clients as JSON, not as a page.
        if request.httprequest.path == EVENTS_URL:
            return error_response(exception)
        return super()._handle_error(exception)
