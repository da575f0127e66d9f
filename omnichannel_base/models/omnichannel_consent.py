from odoo import _, api, fields, models
from odoo.exceptions import UserError


class OmnichannelConsent(models.Model):
    """A customer's choice to receive, or no longer receive, messages on one channel.

    Rows are a record of what happened, never edited: the last one per contact and channel
    says where they stand. Customers opt out by keyword (STOP, BAJA…), by the provider's own
    signal (WhatsApp's marketing opt-out) or through an agent; they opt in again the same ways.
    """

    _name = "omnichannel.consent"
    _description = "Channel Consent"
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, ondelete="cascade", readonly=True)
    channel_id = fields.Many2one("omnichannel.channel", required=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="channel_id.company_id", store=True, index=True)
    opt = fields.Selection([("out", "Opted Out"), ("in", "Opted In")], string="Choice", required=True, readonly=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True)
    source = fields.Selection(
        [("keyword", "Keyword"), ("provider", "Provider"), ("agent", "Agent")], required=True, readonly=True
    )
    reason = fields.Char(readonly=True, help="The customer's words, or the provider's signal.")
    user_id = fields.Many2one("res.users", string="Recorded By", readonly=True)

    def init(self):
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_consent_last
               ON omnichannel_consent (partner_id, channel_id, date DESC, id DESC)"""
        )

    @api.model
    def _record(self, values_list):
        """Record choices [{partner_id, channel_id, opt, date, source, reason}] and say so in
        the chatter of the customer's conversation on that channel, if there is one."""
        records = self.sudo().create(values_list)
        for consent in records:
            conversation = (
                self.env["omnichannel.conversation"]
                .sudo()
                .search(
                    [("partner_id", "=", consent.partner_id.id), ("channel_id", "=", consent.channel_id.id)], limit=1
                )
            )
            if conversation:
                body = (
                    _("%(customer)s opted out of %(channel)s: nothing more will be sent to them here.")
                    if consent.opt == "out"
                    else _("%(customer)s opted in again to %(channel)s.")
                ) % {"customer": consent.partner_id.name, "channel": consent.channel_id.name}
                conversation.message_post(body=body, message_type="notification", subtype_xmlid="mail.mt_note")
        return records

    @api.model
    def _opted_out(self, partner, channel):
        """Whether the last choice of ``partner`` on ``channel`` is an opt-out."""
        self.flush_model()
        self.env.cr.execute(
            """SELECT opt FROM omnichannel_consent WHERE partner_id = %s AND channel_id = %s
            ORDER BY date DESC, id DESC LIMIT 1""",
            [partner.id, channel.id],
        )
        row = self.env.cr.fetchone()
        return bool(row and row[0] == "out")

    @api.model
    def _check_can_send(self, partner, channel):
        if self._opted_out(partner, channel):
            raise UserError(
                _(
                    "%(customer)s opted out of %(channel)s: nothing can be sent to them there until "
                    "they opt in again (for example by writing START or ALTA).",
                    customer=partner.display_name,
                    channel=channel.name,
                )
            )
