from odoo import _, api, fields, models
from odoo.exceptions import UserError


class OmnichannelConsent(models.Model):
    """A customer's choice to receive, or no longer receive, messages on one channel.

    Rows are a record of what happened, never edited: the last one per contact and channel
    says where they stand. Customers opt out by keyword (STOP, BAJA…) or by the provider's own
    signal, and opt in again the same ways ("agent" is for choices recorded by hand, by scripts
    or imports, until the inbox has an action for it). A choice covers every message
    (``scope`` "all": a keyword, an agent) or only marketing (WhatsApp's "stop promotions"): a
    customer who stopped promotions may still be answered.
    """

    _name = "omnichannel.consent"
    _description = "Channel Consent"
    _order = "date desc, id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, ondelete="cascade", readonly=True)
    channel_id = fields.Many2one("omnichannel.channel", required=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="channel_id.company_id", store=True, index=True)
    opt = fields.Selection([("out", "Opted Out"), ("in", "Opted In")], string="Choice", required=True, readonly=True)
    scope = fields.Selection(
        [("all", "All Messages"), ("marketing", "Marketing Only")],
        required=True,
        default="all",
        readonly=True,
    )
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
                if consent.scope == "marketing":
                    body = (
                        _("%(customer)s opted out of marketing messages on %(channel)s; they can still be answered.")
                        if consent.opt == "out"
                        else _("%(customer)s accepts marketing messages on %(channel)s again.")
                    )
                else:
                    body = (
                        _("%(customer)s opted out of %(channel)s: nothing more will be sent to them here.")
                        if consent.opt == "out"
                        else _("%(customer)s opted in again to %(channel)s.")
                    )
                body %= {"customer": consent.partner_id.name, "channel": consent.channel_id.name}
                conversation.message_post(body=body, message_type="notification", subtype_xmlid="mail.mt_note")
        return records

    @api.model
    def _opted_out(self, partner, channel, marketing=False):
        """Whether ``partner`` refuses messages on ``channel``: any message when their last choice
        for all messages is an opt-out; a marketing one also when their last choice of any kind is."""
        self.flush_model()
        self.env.cr.execute(
            """SELECT (SELECT opt FROM omnichannel_consent
                        WHERE partner_id = %(partner)s AND channel_id = %(channel)s AND scope = 'all'
                        ORDER BY date DESC, id DESC LIMIT 1),
                      (SELECT opt FROM omnichannel_consent
                        WHERE partner_id = %(partner)s AND channel_id = %(channel)s
                        ORDER BY date DESC, id DESC LIMIT 1)""",
            {"partner": partner.id, "channel": channel.id},
        )
        last_for_all, last_of_any = self.env.cr.fetchone()
        return last_for_all == "out" or (marketing and last_of_any == "out")

    @api.model
    def _check_can_send(self, partner, channel, marketing=False):
        if self._opted_out(partner, channel):
            raise UserError(
                _(
                    "%(customer)s opted out of %(channel)s: nothing can be sent to them there until "
                    "they opt in again (for example by writing START or ALTA).",
                    customer=partner.display_name,
                    channel=channel.name,
                )
            )
        if marketing and self._opted_out(partner, channel, marketing=True):
            raise UserError(
                _(
                    "%(customer)s opted out of marketing messages on %(channel)s: send them service "
                    "messages only.",
                    customer=partner.display_name,
                    channel=channel.name,
                )
            )
