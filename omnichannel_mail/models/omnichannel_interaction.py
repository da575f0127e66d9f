from odoo import api, fields, models

from ..tools import message_key


class OmnichannelInteraction(models.Model):
    _inherit = "omnichannel.interaction"

    @api.model
    def _record_document_mail(self, record, message):
        """Put ``message``, a customer's mail on ``record``'s chatter, on their timeline once."""
        author = message.author_id
        if author.user_ids.filtered(lambda user: not user.share):
            return  # a colleague's mail is no customer touchpoint
        company = record.company_id if "company_id" in record._fields and record.company_id else self.env.company
        self._insert_rows(
            [
                {
                    "partner_id": author.id,
                    "commercial_partner_id": author.commercial_partner_id.id,
                    "company_id": company.id,
                    "kind": "email",
                    "direction": "inbound",
                    "date": message.date or fields.Datetime.now(),
                    "summary": (message.subject or message.preview or record.display_name)[:200],
                    "mail_message_id": message.id,
                    "res_model": record._name,
                    "res_id": record.id,
                    "external_id": message_key(message.message_id) or f"mail.message:{message.id}",
                }
            ]
        )
