from odoo import _, api, fields, models


class OmnichannelDeliveryStatus(models.Model):
    """Statuses that arrived before the message they are about was recorded.

    A provider may report "delivered" before the sender's transaction, which learnt the
    message's id, has committed. Such a status waits here and is applied when the id is
    recorded (``omnichannel.outbox._mark_sent``). Statuses about messages that never
    appear are dropped after a week.
    """

    _name = "omnichannel.delivery.status"
    _description = "Early Delivery Status"
    _order = "date, id"

    channel_id = fields.Many2one("omnichannel.channel", required=True, ondelete="cascade", readonly=True)
    external_id = fields.Char(required=True, readonly=True, index=True)
    state = fields.Selection(
        [("sent", "Sent"), ("delivered", "Delivered"), ("read", "Read"), ("failed", "Failed")],
        required=True,
        readonly=True,
    )
    date = fields.Datetime(readonly=True)
    error = fields.Char(readonly=True)

    _sql_constraints = [
        ("status_unique", "UNIQUE(channel_id, external_id, state)", "This status is already waiting."),
    ]

    @api.model
    def _apply(self, statuses):
        """Apply provider statuses [{channel_id, external_id, state, date, error, callback_data}]."""
        if not statuses:
            return
        now = fields.Datetime.now()
        statuses = sorted(
            (dict(s, external_id=str(s["external_id"]), date=s.get("date") or now) for s in statuses),
            key=lambda s: s["date"],
        )
        self.env["omnichannel.outbox"]._reconcile(statuses)
        updates = [(s["channel_id"], s["external_id"], s["state"], s.get("error") or None) for s in statuses]
        found = self.env["omnichannel.interaction"].sudo()._advance_delivery_states(updates)
        self._post_failures(
            [s for s in statuses if s["state"] == "failed" and found.get((s["channel_id"], s["external_id"]))]
        )
        early = [s for s in statuses if (s["channel_id"], s["external_id"]) not in found]
        if early:
            self.env.cr.execute(
                """INSERT INTO omnichannel_delivery_status (channel_id, external_id, state, date, error,
                                                            create_uid, write_uid, create_date, write_date)
                   SELECT u.*, %s, %s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                     FROM unnest(%s::int[], %s::varchar[], %s::varchar[], %s::timestamp[], %s::varchar[]) AS u
                   ON CONFLICT DO NOTHING""",
                [
                    self.env.uid,
                    self.env.uid,
                    *(
                        list(column)
                        for column in zip(
                            *(
                                (s["channel_id"], s["external_id"], s["state"], s["date"], s.get("error"))
                                for s in early
                            ),
                            strict=True,
                        )
                    ),
                ],
            )

    @api.model
    def _apply_waiting(self, channel, external_id):
        """Apply what waited for ``external_id``, now recorded."""
        waiting = self.sudo().search([("channel_id", "=", channel.id), ("external_id", "=", external_id)])
        if waiting:
            statuses = [
                {
                    "channel_id": s.channel_id.id,
                    "external_id": s.external_id,
                    "state": s.state,
                    "date": s.date,
                    "error": s.error,
                }
                for s in waiting
            ]
            waiting.unlink()
            self._apply(statuses)

    def _post_failures(self, statuses):
        """A failed delivery says why in the conversation's chatter, for the agent to act on."""
        Interaction = self.env["omnichannel.interaction"].sudo()
        for status in statuses:
            interaction = Interaction.search(
                [("channel_id", "=", status["channel_id"]), ("external_id", "=", str(status["external_id"]))], limit=1
            )
            if interaction.conversation_id:
                interaction.conversation_id.message_post(
                    body=_(
                        "Not delivered: %(summary)s. %(channel)s says: %(error)s",
                        summary=interaction.summary or "",
                        channel=interaction.channel_id.name,
                        error=status.get("error") or _("no reason given"),
                    ),
                    message_type="notification",
                    subtype_xmlid="mail.mt_note",
                )

    @api.autovacuum
    def _gc_old(self):
        self.env.cr.execute(
            "DELETE FROM omnichannel_delivery_status WHERE create_date < now() AT TIME ZONE 'UTC' - interval '7 days'"
        )
