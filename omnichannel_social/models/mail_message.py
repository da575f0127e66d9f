from collections import defaultdict

from odoo import SUPERUSER_ID, api, models
from odoo.tools import SQL

from odoo.addons.mail.tools.discuss import Store


class MailMessage(models.Model):
    _inherit = "mail.message"

    def _to_store(self, store: Store, /, **kwargs):
        """Agents' replies sent through an outbox (WhatsApp) carry how far they got, for the chatter."""
        super()._to_store(store, **kwargs)
        if self and self.env.user._is_internal():
            for message_id, delivery, _partner_ids in self._omnichannel_deliveries(
                SQL("i.mail_message_id = ANY(%s)", self.ids)
            ):
                store.add("mail.message", {"id": message_id, "omnichannel_delivery": delivery})

    @api.model
    def _omnichannel_deliveries(self, condition, with_partners=False):
        """[(message id, delivery, partner ids)] of the outbound rows matching ``condition`` (an SQL
        on ``omnichannel_interaction i``) that went through the outbox, in one query. ``delivery``
        is what the chatter shows; ``with_partners``, the partners of the internal users to tell of
        a change (the message's author and the conversation's agent), else None."""
        partners = (
            SQL(
                """ARRAY(SELECT u.partner_id FROM res_users u
                          WHERE u.active AND NOT u.share AND (u.partner_id = m.author_id OR u.id = c.user_id))"""
            )
            if with_partners
            else SQL("NULL")
        )
        self.env["omnichannel.interaction"].flush_model(["mail_message_id", "delivery_state", "delivery_error"])
        self.env["omnichannel.outbox"].flush_model(["interaction_id", "state"])
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (i.mail_message_id)
                          i.mail_message_id, i.delivery_state, i.delivery_error, o.id, o.state, %s
                     FROM omnichannel_interaction i
                     JOIN omnichannel_outbox o ON o.interaction_id = i.id
                LEFT JOIN mail_message m ON m.id = i.mail_message_id
                LEFT JOIN omnichannel_conversation c ON c.id = i.conversation_id
                    WHERE %s AND i.direction = 'outbound' AND i.mail_message_id IS NOT NULL
                 ORDER BY i.mail_message_id, o.id DESC""",
                partners,
                condition,
            )
        )
        return [
            (
                message_id,
                {
                    "state": state or "queued",
                    "error": error or False,
                    "outbox_id": outbox_id,
                    "outbox_state": outbox_state,
                },
                partner_ids,
            )
            for message_id, state, error, outbox_id, outbox_state, partner_ids in self.env.cr.fetchall()
        ]

    @api.model
    def _omnichannel_bus_send_deliveries(self, interaction_ids):
        """Push the delivery state of these rows' messages to the chatters of the internal users
        concerned (author, agent, and whoever changed it), as mail does for its notifications:
        a ``mail.record/insert`` per partner, holding only that partner's messages."""
        if not interaction_ids:
            return
        per_partner = defaultdict(list)
        user = self.env.user
        me = user.partner_id.id if user.id != SUPERUSER_ID and user._is_internal() else None
        for message_id, delivery, partner_ids in self._omnichannel_deliveries(
            SQL("i.id = ANY(%s)", sorted(set(interaction_ids))), with_partners=True
        ):
            for partner_id in {*partner_ids, me} - {None}:
                per_partner[partner_id].append({"id": message_id, "omnichannel_delivery": delivery})
        for partner_id, values in per_partner.items():
            self.env["res.partner"].browse(partner_id)._bus_send_store(Store("mail.message", values))
