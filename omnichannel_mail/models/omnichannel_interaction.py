from odoo import api, fields, models


class OmnichannelInteraction(models.Model):
    _inherit = "omnichannel.interaction"

    @api.model
    def _record_document_mail(self, record, message):
        """Put ``message``, a customer's mail on ``record``'s chatter, on their timeline once."""
        author = message.author_id
        if author.user_ids.filtered(lambda user: not user.share):
            return  # a colleague's mail is no customer touchpoint
        company = record.company_id if "company_id" in record._fields and record.company_id else self.env.company
        now = fields.Datetime.now()
        summary = message.subject or message.preview or record.display_name
        self.env.cr.execute(
            """INSERT INTO omnichannel_interaction
                   (partner_id, commercial_partner_id, company_id, kind, direction, date, summary, message_id,
                    res_model, res_id, external_id, create_uid, write_uid, create_date, write_date)
               VALUES (%s, %s, %s, 'email', 'inbound', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT DO NOTHING""",
            [
                author.id,
                author.commercial_partner_id.id,
                company.id,
                message.date or now,
                summary[:200],
                message.id,
                record._name,
                record.id,
                message.message_id or f"mail.message:{message.id}",
                self.env.uid,
                self.env.uid,
                now,
                now,
            ],
        )
        if self.env.cr.rowcount:
            self.env["res.partner"].invalidate_model(["omni_interaction_ids"])
            self._notify_timeline({author.id, author.commercial_partner_id.id})
