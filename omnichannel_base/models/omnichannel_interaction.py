import logging
import time

from odoo import api, fields, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)
_logger = logging.getLogger(__name__)

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
# What the timeline filters on: kinds as a user thinks of them.
KIND_GROUPS = [
    ("messages", _lt("Messages")),
    ("calls", _lt("Calls")),
    ("visits", _lt("Visits")),
    ("orders", _lt("Orders")),
    ("deliveries", _lt("Deliveries")),
    ("invoices", _lt("Invoices")),
    ("payments", _lt("Payments")),
]
GROUP_OF_KIND = {
    "message": "messages",
    "email": "messages",
    "note": "messages",
    "call": "calls",
    "visit": "visits",
    "order": "orders",
    "pos_order": "orders",
    "delivery": "deliveries",
    "invoice": "invoices",
    "payment": "payments",
}
KIND_ICONS = {
    "message": "fa-comment",
    "email": "fa-envelope",
    "call": "fa-phone",
    "visit": "fa-street-view",
    "note": "fa-sticky-note-o",
    "order": "fa-shopping-cart",
    "delivery": "fa-truck",
    "invoice": "fa-file-text-o",
    "payment": "fa-money",
    "pos_order": "fa-shopping-bag",
}
CHANNEL_ICONS = {
    "api": "fa-plug",
    "email": "fa-envelope",
    "whatsapp": "fa-whatsapp",
    "messenger": "fa-facebook",
    "instagram": "fa-instagram",
    "telegram": "fa-telegram",
    "sms": "fa-commenting",
    "voice": "fa-phone",
    "store": "fa-shopping-bag",
    "livechat": "fa-comments",
}


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
    delivery_state = fields.Selection(
        [("sent", "Sent"), ("delivered", "Delivered"), ("read", "Read"), ("failed", "Failed")],
        readonly=True,
        help="Of outbound messages, as far as the channel reports it.",
    )
    delivery_error = fields.Char(readonly=True, help="Why the channel could not deliver the message.")

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
        # A back-office event (an order confirmed, an invoice paid) is recorded once per
        # document, whether by the state transition or by the install backfill.
        cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS omnichannel_interaction_source_event_uniq
               ON omnichannel_interaction (res_model, res_id, external_id)
               WHERE channel_id IS NULL AND res_model IS NOT NULL AND external_id IS NOT NULL"""
        )
        # At install, and at the first update of a database that had the module before
        # its back-office events: put the existing history on the timelines.
        cr.execute("SELECT 1 FROM omnichannel_interaction WHERE channel_id IS NULL AND res_model IS NOT NULL LIMIT 1")
        if not cr.fetchone():
            self._backfill_business_events()

    @api.model
    def _search(self, domain, *args, **kwargs):
        # Business events are as visible as their documents' model: an agent without
        # sales or invoicing rights finds no order or invoice event here either.
        if not self.env.su:
            hidden = self._hidden_source_models()
            if hidden:
                domain = [*domain, ("res_model", "not in", hidden)] if domain else [("res_model", "not in", hidden)]
        return super()._search(domain, *args, **kwargs)

    @api.model
    def _hidden_source_models(self):
        """Document models on the timeline whose records this user may not read at all."""
        sources = self.env["omnichannel.timeline.source"]._inherit_children
        return sorted(model for model in sources if not self.env[model].has_access("read"))

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

    # ------------------------------------------------------------ back-office events
    @api.model
    def _notify_timeline(self, partner_ids):
        """Tell open timelines of these contacts to refresh, through the bus.

        Only ids travel: each client reloads through the ORM, with its own access rights.
        """
        if partner_ids:
            group = self.env.ref("omnichannel_base.group_omnichannel_user")
            self.env["bus.bus"]._sendone(group, "omnichannel.timeline/updated", {"partner_ids": sorted(partner_ids)})

    @api.model
    def _backfill_business_events(self):
        """Put the back office's history on the timeline, with set-based SQL.

        Runs at install, so orders, deliveries, invoices and payments that existed
        before show at once. Events already recorded are skipped. Returns (rows, seconds).
        """
        started = time.perf_counter()
        self.env.flush_all()
        total = 0
        for model in sorted(self.env["omnichannel.timeline.source"]._inherit_children):
            for event, select, params in self.env[model]._omni_backfill_queries():
                self.env.cr.execute(
                    f"""INSERT INTO omnichannel_interaction
                            (partner_id, commercial_partner_id, company_id, kind, direction, date, summary,
                             user_id, res_model, res_id, external_id, create_uid, write_uid, create_date, write_date)
                        SELECT e.partner_id, p.commercial_partner_id, e.company_id, e.kind, e.direction,
                               date_trunc('second', e.date),
                               e.summary, e.user_id, %s, e.res_id, %s, %s, %s,
                               now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                          FROM ({select}) AS e
                          JOIN res_partner p ON p.id = e.partner_id
                        ON CONFLICT DO NOTHING""",
                    [model, event, self.env.uid, self.env.uid, *params],
                )
                total += self.env.cr.rowcount
        self.env["res.partner"].invalidate_model(["omni_interaction_ids"])
        seconds = time.perf_counter() - started
        _logger.info("omnichannel: %s back-office events put on the timeline in %.1f s", total, seconds)
        return total, seconds
