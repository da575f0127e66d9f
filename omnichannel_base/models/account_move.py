from odoo import api, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

CUSTOMER_TYPES = ("out_invoice", "out_refund")
POSTED = {"out_invoice": _lt("Invoice %s posted"), "out_refund": _lt("Credit note %s posted")}
PAID = {"out_invoice": _lt("Invoice %s paid"), "out_refund": _lt("Credit note %s refunded")}


class AccountMove(models.Model):
    _name = "account.move"
    _inherit = ["account.move", "omnichannel.timeline.source"]

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        for move_type, summary in POSTED.items():
            moves = posted.filtered(lambda m, move_type=move_type: m.move_type == move_type)
            moves._omni_record_event("posted", "invoice", "outbound", self.env._(summary))
        return posted

    def _invoice_paid_hook(self):
        result = super()._invoice_paid_hook()
        for move_type, summary in PAID.items():
            moves = self.filtered(lambda m, move_type=move_type: m.move_type == move_type)
            direction = "inbound" if move_type == "out_invoice" else "outbound"
            moves._omni_record_event("paid", "payment", direction, self.env._(summary))
        return result

    def _omni_event_user(self):
        return super()._omni_event_user() or self.invoice_user_id

    def _omni_timeline_details(self):
        return {
            move.id: [
                (self.env._("Amount"), move._omni_amount(move.amount_total, move.currency_id)),
                (self.env._("Payment"), move._omni_selection_label("payment_state")),
            ]
            for move in self
        }

    @api.model
    def _omni_backfill_queries(self):
        queries = []
        for move_type in CUSTOMER_TYPES:
            posted = """SELECT partner_id, company_id, 'invoice' AS kind, 'outbound' AS direction,
                               LEAST(COALESCE(invoice_date::timestamp + interval '12 hours', create_date),
                                     now() AT TIME ZONE 'UTC') AS date,
                               format(%s, name) AS summary, invoice_user_id AS user_id, id AS res_id
                          FROM account_move
                         WHERE state = 'posted' AND move_type = %s AND partner_id IS NOT NULL"""
            queries.append(("posted", posted, [self.env._(POSTED[move_type]), move_type]))
            # Only days are known: noon of that day, never later than now. Paid on the day
            # of the last reconciliation of its lines.
            paid = """SELECT m.partner_id, m.company_id, 'payment' AS kind, %s AS direction,
                             LEAST(COALESCE((SELECT MAX(apr.max_date) FROM account_move_line l
                                               JOIN account_partial_reconcile apr
                                                 ON l.id IN (apr.debit_move_id, apr.credit_move_id)
                                              WHERE l.move_id = m.id)::timestamp + interval '12 hours',
                                            m.write_date),
                                   now() AT TIME ZONE 'UTC') AS date,
                             format(%s, m.name) AS summary, m.invoice_user_id AS user_id, m.id AS res_id
                        FROM account_move m
                       WHERE m.state = 'posted' AND m.move_type = %s AND m.partner_id IS NOT NULL
                         AND m.payment_state IN ('paid', 'in_payment')"""
            direction = "inbound" if move_type == "out_invoice" else "outbound"
            queries.append(("paid", paid, [direction, self.env._(PAID[move_type]), move_type]))
        return queries
