from odoo import api, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# state reached -> (event, direction, summary)
ORDER_EVENTS = {
    "sent": ("quotation_sent", "outbound", _lt("Quotation %s sent")),
    "sale": ("confirmed", "internal", _lt("Order %s confirmed")),
    "cancel": ("cancelled", "internal", _lt("Order %s cancelled")),
}


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "omnichannel.timeline.source"]

    def write(self, vals):
        if "state" not in vals:
            return super().write(vals)
        before = {order.id: order.state for order in self}
        result = super().write(vals)
        for state, (event, direction, summary) in ORDER_EVENTS.items():
            reached = self.filtered(lambda order, state=state: order.state == state and before.get(order.id) != state)
            reached._omni_record_event(event, "order", direction, self.env._(summary))
        return result

    def _omni_event_user(self):
        return super()._omni_event_user() or self.user_id

    def _omni_timeline_details(self):
        return {
            order.id: [
                (self.env._("Amount"), order._omni_amount(order.amount_total, order.currency_id)),
                (self.env._("Status"), order._omni_selection_label("state")),
            ]
            for order in self
        }

    @api.model
    def _omni_backfill_queries(self):
        queries = []
        for state, (event, direction, summary) in ORDER_EVENTS.items():
            # When it happened: confirmation stamps date_order; the other transitions leave no date.
            date = "date_order" if state == "sale" else "write_date"
            select = f"""SELECT partner_id, company_id, 'order' AS kind, %s AS direction, {date} AS date,
                                format(%s, name) AS summary, user_id, id AS res_id
                           FROM sale_order WHERE state = %s"""
            queries.append((event, select, [direction, self.env._(summary), state]))
        return queries
