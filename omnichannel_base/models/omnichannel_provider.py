from odoo import api, models


class OmnichannelProvider(models.AbstractModel):
    """The protocol side of a channel type. Channel modules inherit this as
    ``omnichannel.provider.<channel_type>`` and implement the hooks their channel needs;
    ``omnichannel.channel._provider()`` dispatches to them.

    A provider only translates: it never resolves customers or creates conversations
    itself, it hands events to ``omnichannel.ingest``.
    """

    _name = "omnichannel.provider"
    _description = "Omnichannel Provider"

    @api.model
    def _verify_webhook(self, channel, request):
        """Raise ``odoo.exceptions.AccessDenied`` unless ``request`` really comes from the provider."""
        raise NotImplementedError(f"{channel.channel_type} channels receive no webhooks")

    @api.model
    def _parse_webhook(self, channel, payload):
        """Return the events (dicts accepted by ``omnichannel.ingest.ingest``) found in ``payload``."""
        raise NotImplementedError(f"{channel.channel_type} channels receive no webhooks")

    @api.model
    def _send(self, conversation, message):
        """Deliver an agent's ``mail.message`` to the customer of ``conversation``.

        Return the provider's id for the sent message, or ``False`` when this channel
        type has no outbound transport (the reply is then only logged, as for the API
        channel, whose clients read replies back from Odoo).
        """
        return False
