from odoo import api, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# An order counts as paid from "paid" on: closing the session posts it ("done"), or it is invoiced.
PAID_STATES = ("paid", "done", "invoiced")
PAID = _lt("POS order %s paid")
REFUNDED = _lt("POS refund %s")
# What makes a paid order a refund, in SQL for the backfill; ``_omni_is_refund`` says the same.
REFUND_SQL = """(o.amount_total < 0 OR EXISTS (SELECT 1 FROM pos_order_line l
                                                 WHERE l.order_id = o.id AND l.refunded_orderline_id IS NOT NULL))"""


class PosOrder(models.Model):
    _name = "pos.order"
    _inherit = ["pos.order", "omnichannel.timeline.source"]

    @api.model_create_multi
    def create(self, vals_list):
        # The POS sends its orders already in state "paid".
        orders = super().create(vals_list)
        orders.filtered(lambda order: order.state in PAID_STATES and order.partner_id)._omni_record_payment()
        return orders

    def write(self, vals):
        if "state" not in vals and "partner_id" not in vals:
            return super().write(vals)
        # A customer's paid order: paid now, or given its customer once paid (to invoice it).
        before = {order.id for order in self if order.state in PAID_STATES and order.partner_id}
        result = super().write(vals)
        self.filtered(
            lambda order: order.id not in before and order.state in PAID_STATES and order.partner_id
        )._omni_record_payment()
        return result

    def _omni_is_refund(self):
        return self.amount_total < 0 or bool(self.lines.refunded_orderline_id)

    def _omni_record_payment(self):
        """Write the payment of these paid orders on their customers' timelines, or their refund."""
        if not self:
            return
        refunds = self.filtered(lambda order: order._omni_is_refund())
        (self - refunds)._omni_record_event("paid", "pos_order", "inbound", self.env._(PAID))
        refunds._omni_record_event("refunded", "pos_order", "outbound", self.env._(REFUNDED))

    def _omni_event_date(self):
        # When the till rang the order up, as the backfill dates it: an order synced late
        # because the POS was offline lands where it happened.
        return self.date_order

    def _omni_event_user(self):
        return super()._omni_event_user() or self.user_id

    def _omni_timeline_details(self):
        # pos_hr's cashier is the employee who rang the order up, else its user.
        cashier_field = "cashier" if "cashier" in self._fields else None
        details = {}
        for order in self:
            methods = order.payment_ids.payment_method_id
            details[order.id] = [
                (self.env._("Amount"), order._omni_amount(order.amount_total, order.currency_id)),
                (self.env._("Shop"), order.config_id.name or ""),
                (self.env._("Cashier"), (cashier_field and order[cashier_field]) or order.user_id.name or ""),
                (self.env._("Payment"), ", ".join(methods.mapped("name"))),
                (self.env._("Receipt"), order.pos_reference or ""),
            ]
        return details

    @api.model
    def _omni_backfill_queries(self):
        # Capped as the till's events are, at the time of the statement: now() is when the
        # transaction began, possibly before the last orders were rung up.
        queries = []
        for event, direction, summary, refund in (
            ("paid", "inbound", PAID, False),
            ("refunded", "outbound", REFUNDED, True),
        ):
            select = f"""SELECT o.partner_id, o.company_id, 'pos_order' AS kind, %s AS direction,
                                LEAST(o.date_order, statement_timestamp() AT TIME ZONE 'UTC') AS date,
                                format(%s, o.name) AS summary, o.user_id, o.id AS res_id
                           FROM pos_order o
                          WHERE o.state IN %s AND o.partner_id IS NOT NULL
                            AND {"" if refund else "NOT "}{REFUND_SQL}"""
            queries.append((event, select, [direction, self.env._(summary), PAID_STATES]))
        return queries
