from odoo import _, models


class MergePartnerAutomatic(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_foreign_keys(self, src_partners, dst_partner):
        """Keep every conversation when merging.

        Odoo's generic merge deletes rows whose foreign key cannot move because of a
        unique index; ours allows one open conversation per customer and channel, so the
        merged-away customer's open conversations that would collide are resolved first.
        """
        Conversation = self.env["omnichannel.conversation"].sudo()
        open_of_dst = Conversation.search([("partner_id", "=", dst_partner.id), ("state", "!=", "resolved")])
        taken = {(c.channel_id.id, c.thread_key or "") for c in open_of_dst}
        colliding = Conversation.search([("partner_id", "in", src_partners.ids), ("state", "!=", "resolved")]).filtered(
            lambda c: (c.channel_id.id, c.thread_key or "") in taken
        )
        for conversation in colliding:
            conversation.message_post(
                body=_(
                    "Resolved while merging %(merged)s into %(kept)s, who already has an open conversation here.",
                    merged=conversation.partner_id.display_name,
                    kept=dst_partner.display_name,
                ),
                message_type="notification",
            )
        colliding.action_resolve()
        # The merged-away contacts' phones and emails still recognise the customer: their
        # identities move to the kept contact, no longer mirroring a field of it.
        self.env["omnichannel.identity"].sudo().search(
            [("partner_id", "in", src_partners.ids), ("origin", "=", "field")]
        ).write({"origin": "manual"})
        return super()._update_foreign_keys(src_partners, dst_partner)
