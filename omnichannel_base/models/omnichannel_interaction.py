from odoo import fields, models

KINDS = [
    ("message", "Message"),
    ("email", "Email"),
    ("call", "Call"),
    ("visit", "Store Visit"),
    ("note", "Note"),
    ("order", "Sales Order"),
    ("delivery", "Delivery"),
    ("invoice", "Invoice"),
    ("payment", "Payment"),
    ("pos_order", "POS Order"),
]
DIALOGUE_KINDS = {"message", "email", "call"}
DIRECTIONS = [("inbound", "Inbound"), ("outbound", "Outbound"), ("internal", "Internal")]


class OmnichannelInteraction(models.Model):
    """The timeline index: one row per touchpoint with a customer, on any channel.

    Rows are written by ``omnichannel.ingest`` only. Details of business documents
    (amounts, states) are read from ``res_model``/``res_id`` when shown, so the
    index never goes stale.
    """

    _name = "omnichannel.interaction"
    _description = "Customer Interaction"
    _order = "date desc, id desc"
    _rec_name = "summary"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, ondelete="cascade", readonly=True)
    commercial_partner_id = fields.Many2one(
        "res.partner", string="Customer Company", required=True, ondelete="cascade", readonly=True
    )
    channel_id = fields.Many2one("omnichannel.channel", ondelete="restrict", readonly=True, index="btree_not_null")
    channel_type = fields.Selection(
        selection=lambda self: self.env["omnichannel.channel"]._fields["channel_type"].selection,
        readonly=True,
        index=True,
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    kind = fields.Selection(KINDS, required=True, default="message", readonly=True)
    direction = fields.Selection(DIRECTIONS, required=True, default="inbound", readonly=True)
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    summary = fields.Char(readonly=True)
    conversation_id = fields.Many2one(
        "omnichannel.conversation", ondelete="set null", readonly=True, index="btree_not_null"
    )
    message_id = fields.Many2one("mail.message", string="Message", ondelete="set null", readonly=True)
    user_id = fields.Many2one("res.users", string="Agent", readonly=True)
    res_model = fields.Char(string="Source Model", readonly=True)
    res_id = fields.Many2oneReference(string="Source Record", model_field="res_model", readonly=True)
    external_id = fields.Char(string="External ID", readonly=True, help="The provider's id for this event.")

    def init(self):
        cr = self.env.cr
        cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS omnichannel_interaction_channel_external_uniq
               ON omnichannel_interaction (channel_id, external_id) WHERE external_id IS NOT NULL"""
        )
        # The timeline pages by keyset on (date, id), per contact and per company.
        cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_interaction_partner_timeline
               ON omnichannel_interaction (partner_id, date DESC, id DESC)"""
        )
        cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_interaction_commercial_timeline
               ON omnichannel_interaction (commercial_partner_id, date DESC, id DESC)"""
        )
        cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_interaction_source
               ON omnichannel_interaction (res_model, res_id) WHERE res_model IS NOT NULL"""
        )

    def action_open_source(self):
        self.ensure_one()
        target = self.env[self.res_model].browse(self.res_id) if self.res_model else self.conversation_id
        if not target:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": target._name,
            "res_id": target.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
