from odoo import api, fields, models
from odoo.tools.misc import formatLang


class OmnichannelTimelineSource(models.AbstractModel):
    """A back-office document whose state transitions show on its customer's timeline.

    Inherit it next to the model (``_inherit = ["sale.order", "omnichannel.timeline.source"]``)
    and implement the three hooks: record events on transitions with ``_omni_record_event``,
    describe the live details with ``_omni_timeline_details``, and give the install
    backfill its SQL with ``_omni_backfill_queries``.
    """

    _name = "omnichannel.timeline.source"
    _description = "Timeline Source Document"

    def _auto_init(self):
        # Not init(): sale.order's and account.move's own init() do not call super().
        result = super()._auto_init()
        if not self._abstract:
            # Once every model of the installing module has its table: this source's history,
            # from before the module that made it a source, goes on the timelines.
            self.pool.post_init(self.env["omnichannel.interaction"]._backfill_source, self._name)
        return result

    def _omni_record_event(self, event, kind, direction, summary):
        """Write the ``event`` of these documents on their customers' timelines, once each.

        ``summary`` holds one ``%s`` for the document's name. The author is the user who
        made the transition, or the document's responsible when it was done by the system.
        Whoever acts (a salesperson, a billing user) needs no Omnichannel rights for it.
        """
        now = fields.Datetime.now()
        return self.env["omnichannel.interaction"]._insert_rows(
            [
                {
                    "partner_id": record.partner_id.id,
                    "commercial_partner_id": record.partner_id.commercial_partner_id.id,
                    "company_id": (record.company_id or self.env.company).id,
                    "kind": kind,
                    "direction": direction,
                    "date": min(record._omni_event_date() or now, now),
                    "summary": summary % record.display_name,
                    "user_id": record._omni_event_user().id or None,
                    "res_model": record._name,
                    "res_id": record.id,
                    "external_id": event,
                }
                for record in self.filtered("partner_id")
            ]
        )

    def _omni_event_date(self):
        """When the event happened, if not now (never later than now)."""
        return False

    def _omni_event_user(self):
        if not self.env.user._is_superuser() and not self.env.user.share:
            return self.env.user
        return self.env["res.users"]

    def _omni_timeline_details(self):
        """{record id: [(label, formatted value)]}: what the timeline shows of each document, read live."""
        return {record.id: [] for record in self}

    @api.model
    def _omni_backfill_queries(self):
        """[(event, SELECT, params)] for the install backfill.

        Each SELECT yields the columns partner_id, company_id, kind, direction, date,
        summary, user_id and res_id of the documents whose ``event`` happened.
        """
        return []

    # ------------------------------------------------------------ helpers for the hooks
    def _omni_amount(self, amount, currency):
        return formatLang(self.env, amount, currency_obj=currency)

    def _omni_selection_label(self, field_name):
        return dict(self._fields[field_name]._description_selection(self.env)).get(self[field_name], "")
