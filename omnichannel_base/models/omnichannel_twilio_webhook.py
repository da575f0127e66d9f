from odoo import _, api, models
from odoo.exceptions import AccessDenied

from ..tools import twilio_signature


class OmnichannelTwilioWebhook(models.AbstractModel):
    """What every Twilio webhook shares (SMS in omnichannel_social, Voice in omnichannel_voip, which
    do not depend on each other): the ``X-Twilio-Signature`` check. A provider lists it first in its
    ``_inherit`` and says where the channel keeps its Auth Token."""

    _name = "omnichannel.twilio.webhook"
    _description = "Twilio Webhook Checks"

    def _twilio_auth_token(self, channel):
        """The Auth Token of ``channel``'s Twilio account."""
        raise NotImplementedError

    @api.model
    def _webhook_urls(self, channel, httprequest):
        """The URLs Twilio may have signed: the one Odoo received (behind a proxy, as
        ``proxy_mode`` rebuilds it) and the channel's, as the administrator gave it to Twilio."""
        return twilio_signature.signed_urls(httprequest, channel.sudo().webhook_url)

    @api.model
    def _verify_webhook(self, channel, httprequest):
        """``X-Twilio-Signature``: base64 HMAC-SHA1 (Auth Token) of the URL and the sorted form fields."""
        token = self._twilio_auth_token(channel.sudo())
        if not token:
            raise AccessDenied(
                _("The channel has no Twilio Auth Token: deliveries cannot be checked, so none is accepted.")
            )
        if httprequest.mimetype != "application/x-www-form-urlencoded":
            # Twilio posts forms; a signature of the URL alone must not vouch for any other body.
            raise AccessDenied(_("Twilio posts application/x-www-form-urlencoded forms only."))
        params = list(httprequest.form.items(multi=True))
        received = httprequest.headers.get("X-Twilio-Signature", "")
        if not twilio_signature.is_authentic(token, self._webhook_urls(channel, httprequest), params, received):
            raise AccessDenied(_("X-Twilio-Signature is missing or does not match the URL and the fields."))
