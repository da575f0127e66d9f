from odoo import _, api, models
from odoo.exceptions import UserError


def empty_parse():
    """What ``_parse_webhook`` returns: everything one delivery says, by what it changes."""
    return {
        # dicts accepted by omnichannel.ingest; an event may add "media" ([{"ref", "name",
        # "mimetype"}], fetched in the background) and "reply_to" (external id it answers)
        "events": [],
        # {"channel_id", "external_id", "state" (sent|delivered|read|failed), "date", "error",
        #  "callback_data" (the outbox key the provider echoes back, if any)}
        "statuses": [],
        # {"channel_id", "external_id" (message reacted to), "sender" (as in events), "emoji" ("" = removed)}
        "reactions": [],
        # {"channel_id", "sender", "opt" ("out" | "in"), "date", "reason", "scope" ("all" | "marketing")}
        "consents": [],
        # {"channel_id", "old" (sender), "new" (sender)}: a customer's new number or account
        "identity_changes": [],
        # {"channel_id", "body"}: what the provider says about the account, noted in the channel's chatter
        "notes": [],
        # {"channel_id", "external_id" (message changed), "body" (new text, or None), "date",
        #  "removed" (bool)}: the customer edited or deleted (unsent) a message
        "edits": [],
        # {"channel_id", "recipient" (the customer, as an event's sender), "state" (delivered|read),
        #  "date"}: everything sent to the customer up to ``date`` reached that state
        "watermarks": [],
    }


class OmnichannelProvider(models.AbstractModel):
    """Who carries a channel: Meta for WhatsApp, Twilio for SMS, Odoo's mail gateway for email…

    Channel modules inherit this as ``omnichannel.provider.<code>``; the code is what a
    channel's ``provider`` field holds and what the webhook URL names
    (``/omnichannel/webhook/<code>/<key>``). A provider only translates between its protocol
    and ``omnichannel.ingest``: it never resolves customers or opens conversations itself.

    Inbound: the route checks ``_verify_webhook`` over the raw body, stores the delivery in
    ``omnichannel.inbox`` and answers ``_webhook_answer``; a cron job later calls
    ``_parse_webhook`` on batches of deliveries. Outbound: providers with ``_uses_outbox``
    have their agents' replies queued in ``omnichannel.outbox`` and delivered by ``_deliver``
    from a cron job; the others send from ``_send``, inside the agent's transaction.
    """

    _name = "omnichannel.provider"
    _description = "Omnichannel Provider"
    _channel_types = ()  # the channel types this provider can carry
    _uses_outbox = False
    _reply_window_hours = 0  # free-form replies only this long after the customer's last message

    def init(self):
        # Channels made before their provider's module was installed get it now (their stored
        # compute ran when no provider for their type existed yet).
        if self._name != "omnichannel.provider" and self._channel_types:
            self.env.cr.execute(
                "UPDATE omnichannel_channel SET provider = %s WHERE provider IS NULL AND channel_type = ANY(%s)",
                [self._code(), list(self._channel_types)],
            )

    @api.model
    def _code(self):
        return self._name.removeprefix("omnichannel.provider.")

    @api.model
    def _timeouts(self, read_param, default):
        """(connect, read) seconds for calls to the provider: ``default``, its read part replaced
        by the setting ``read_param`` when it is set (a slow network, tests)."""
        try:
            read = float(self.env["ir.config_parameter"].sudo().get_param(read_param) or 0)
        except ValueError:
            read = 0
        return (default[0], read) if read > 0 else default

    # ------------------------------------------------------------ webhooks
    @api.model
    def _webhook_handshake(self, channel, params):
        """Answer a GET on the webhook URL (a subscription check): a werkzeug response, or
        None when this provider has none (the route then answers 405)."""
        return None

    @api.model
    def _verify_webhook(self, channel, httprequest):
        """Raise ``odoo.exceptions.AccessDenied`` unless ``httprequest`` (its raw body and
        headers) really comes from the provider. Runs before anything is parsed or stored."""
        raise NotImplementedError(f"{self._code()} receives no webhooks")

    @api.model
    def _delivery_key(self, channel, httprequest, body):
        """The provider's own id for this delivery (Telegram's ``update_id``), when it has one:
        a delivery sent again with other bytes is then still stored once. None (the default)
        deduplicates on the body itself. Must not raise on odd bodies: return None."""
        return None

    @api.model
    def _webhook_answer(self, channel, httprequest):
        """The answer to an authentic delivery, once stored (TwiML for Twilio, say)."""
        from odoo.http import request  # noqa: PLC0415 (only reachable inside a request)

        return request.make_json_response({"status": "received"})

    @api.model
    def _parse_webhook(self, delivery):
        """Read one stored ``omnichannel.inbox`` delivery: a dict shaped as ``empty_parse()``.

        Raise ``ValueError`` (or ``UserError``) with a readable reason when the delivery
        cannot be used: it is kept as failed, for an administrator to replay.
        """
        raise NotImplementedError(f"{self._code()} receives no webhooks")

    @api.model
    def _fetch_profile(self, channel, provider_id):
        """The public profile of a customer known by ``provider_id`` on ``channel``: {"name",
        "image" (bytes or None)}. Asked in the background for contacts whose first message came
        without a name (events with ``"profile": True``). Raises ``ProviderError``."""
        raise NotImplementedError(f"{self._code()} has no profiles")

    @api.model
    def _download_media(self, channel, ref):
        """The file a message referred to by ``ref``: (name, mimetype, bytes). Raises
        ``ProviderError`` (transient or not)."""
        raise NotImplementedError(f"{self._code()} has no media to download")

    # ------------------------------------------------------------ sending
    @api.model
    def _window_hours(self, channel):
        """How long after the customer's last message agents may write freely on ``channel``
        (0: always). ``_reply_window_hours`` unless the channel's settings change it."""
        return self._reply_window_hours

    @api.model
    def _window_note(self, channel, hours, end, is_open, now):
        """What the conversation says of its messaging window (``end``: when it closes)."""
        if is_open:
            minutes = int((end - now).total_seconds() // 60)
            return _(
                "Replies can be written freely for another %(hours)s h %(minutes)02d min.",
                hours=minutes // 60,
                minutes=minutes % 60,
            )
        return _("The %(hours)s-hour window for free replies is closed until the customer writes again.", hours=hours)

    @api.model
    def _check_reply(self, conversation, message):
        """Raise ``UserError`` when ``message`` may not go to the customer as it is (outside
        a messaging window, say). Called in the agent's transaction, before anything is queued."""

    @api.model
    def _send(self, conversation, message):
        """Deliver an agent's ``mail.message`` now, inside the agent's transaction (providers
        without an outbox, such as email). Return the provider's id for the message, or
        ``False`` when the channel has no outbound transport (the API channel: its clients
        read replies back from Odoo)."""
        return False

    @api.model
    def _outbox_payload(self, conversation, message):
        """What the outbox keeps to send ``message`` later: a JSON-able dict, read back by ``_deliver``."""
        return {
            "type": "text",
            "text": message.preview or "",
            "attachment_ids": message.attachment_ids.ids,
        }

    @api.model
    def _deliver(self, outbox):
        """Send one ``omnichannel.outbox`` row, outside any agent's transaction; return the
        provider's message id. Raise ``ProviderError``: transient ones are retried."""
        raise UserError(_("%(provider)s cannot send messages.", provider=self._description))

    @api.model
    def _test_connection(self, channel):
        """Check the channel's settings against the provider: a sentence saying what was found."""
        raise UserError(_("%(provider)s has no connection to test.", provider=self._description))
