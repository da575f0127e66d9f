from odoo import api, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

DELIVERY = _lt("Delivery %s validated")
RETURN = _lt("Return %s validated")
RECEIPT = _lt("Receipt %s validated")


class StockPicking(models.Model):
    _name = "stock.picking"
    _inherit = ["stock.picking", "omnichannel.timeline.source"]

    def _action_done(self):
        result = super()._action_done()
        done = self.filtered(lambda p: p.state == "done" and p.picking_type_code in ("outgoing", "incoming"))
        for (summary, direction), pickings in done.grouped(lambda p: p._omni_event_text()).items():
            pickings._omni_record_event("done", "delivery", direction, summary)
        return result

    def _omni_event_text(self):
        """(summary, direction) of this transfer: a delivery, a customer return or a receipt."""
        if self.return_id:
            return self.env._(RETURN), "inbound" if self.picking_type_code == "incoming" else "outbound"
        if self.picking_type_code == "outgoing":
            return self.env._(DELIVERY), "outbound"
        return self.env._(RECEIPT), "inbound"

    def _omni_timeline_details(self):
        tracking = "carrier_tracking_ref" in self._fields  # stock_delivery adds the carrier's reference
        details = {}
        for picking in self:
            details[picking.id] = [(self.env._("Status"), picking._omni_selection_label("state"))]
            if tracking and picking.carrier_tracking_ref:
                details[picking.id].append((self.env._("Tracking"), picking.carrier_tracking_ref))
        return details

    @api.model
    def _omni_backfill_queries(self):
        select = """SELECT sp.partner_id, sp.company_id, 'delivery' AS kind,
                           CASE WHEN spt.code = 'incoming' THEN 'inbound' ELSE 'outbound' END AS direction,
                           COALESCE(sp.date_done, sp.write_date) AS date,
                           format(CASE WHEN sp.return_id IS NOT NULL THEN %s
                                       WHEN spt.code = 'outgoing' THEN %s ELSE %s END, sp.name) AS summary,
                           sp.user_id, sp.id AS res_id
                      FROM stock_picking sp
                      JOIN stock_picking_type spt ON spt.id = sp.picking_type_id
                     WHERE sp.state = 'done' AND sp.partner_id IS NOT NULL
                       AND spt.code IN ('outgoing', 'incoming')"""
        return [("done", select, [self.env._(RETURN), self.env._(DELIVERY), self.env._(RECEIPT)])]
