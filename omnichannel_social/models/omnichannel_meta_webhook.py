import hashlib
import hmac

from werkzeug.wrappers import Response

from odoo import _, api, models
from odoo.exceptions import AccessDenied
from odoo.http import request


class OmnichannelMetaWebhook(models.AbstractModel):
    """What every Meta webhook shares (WhatsApp, Messenger, Instagram): the ``hub.challenge``
    subscription check and the ``X-Hub-Signature-256`` signature. A provider lists it first in
    its ``_inherit`` and says where the channel keeps its verify token and App Secret."""

    _name = "omnichannel.meta.webhook"
    _description = "Meta Webhook Checks"

    def _meta_tokens(self, channel):
        """(verify token, App Secret) of ``channel``."""
        raise NotImplementedError

    @api.model
    def _meta_channels(self, account_field, ids, delivery):
        """{account id: channel} among this provider's active channels whose ``account_field``
        is in ``ids`` (one Meta app delivers for all its numbers or pages at once), and only
        those of the same app: the App Secret of the channel whose URL received the delivery,
        which signed it. A delivery signed with one app's secret never writes into another
        app's channel, in this company or another."""
        secret = self._meta_tokens(delivery.channel_id.sudo())[1]
        channels = (
            self.env["omnichannel.channel"]
            .sudo()
            .search([("provider", "=", self._code()), (account_field, "in", list(ids)), ("active", "=", True)])
            .filtered(lambda channel: secret and self._meta_tokens(channel)[1] == secret)
        )
        return {channel[account_field]: channel for channel in channels}

    @api.model
    def _webhook_handshake(self, channel, params):
        """Meta's subscription check: echo ``hub.challenge`` when ``hub.verify_token`` is ours."""
        token = params.get("hub.verify_token") or ""
        expected = self._meta_tokens(channel.sudo())[0] or ""
        if (
            params.get("hub.mode") != "subscribe"
            or not expected
            or not hmac.compare_digest(token.encode(), expected.encode())
        ):
            return request.make_json_response(
                {"error": "invalid_verify_token", "message": "hub.verify_token does not match the channel's."},
                status=403,
            )
        return Response(params.get("hub.challenge", ""), status=200, content_type="text/plain; charset=utf-8")

    @api.model
    def _verify_webhook(self, channel, httprequest):
        """``X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, raw body)>``, in constant time."""
        secret = self._meta_tokens(channel.sudo())[1]
        if not secret:
            raise AccessDenied(_("The channel has no App Secret: deliveries cannot be checked, so none is accepted."))
        scheme, _sep, signature = httprequest.headers.get("X-Hub-Signature-256", "").partition("=")
        expected = hmac.new(secret.encode(), httprequest.get_data(), hashlib.sha256).hexdigest()
        if scheme != "sha256" or not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            raise AccessDenied(_("X-Hub-Signature-256 is missing or does not match the body."))
