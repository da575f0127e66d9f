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

    def _omni_record_event(self, event, kind, direction, summary):
        """Write the ``event`` of these documents on their customers' timelines, once each.

        ``summary`` holds one ``%s`` for the document's name. The author is the user who
        made the transition, or the document's responsible when it was done by the system.
        """
        records = self.filtered("partner_id")
        if not records:
            return []
        now = fields.Datetime.now()
        Interaction = self.env["omnichannel.interaction"]
        rows = [
            (
                record.partner_id.id,
                record.partner_id.commercial_partner_id.id,
                (record.company_id or self.env.company).id,
                kind,
                direction,
                now,
                summary % record.display_name,
                record._omni_event_user().id or None,
                record._name,
                record.id,
                event,
                self.env.uid,
                self.env.uid,
                now,
                now,
            )
            for record in records
        ]
        self.env.cr.execute(
            f"""INSERT INTO omnichannel_interaction
                    (partner_id, commercial_partner_id, company_id, kind, direction, date, summary, user_id,
                     res_model, res_id, external_id, create_uid, write_uid, create_date, write_date)
                VALUES {", ".join(["%s"] * len(rows))}
                ON CONFLICT DO NOTHING RETURNING id""",
            rows,
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:  # already on the timeline: nothing changed, nobody to tell
            self.env["res.partner"].invalidate_model(["omni_interaction_ids"])
            written = Interaction.browse(ids)
            Interaction._notify_timeline(set(written.partner_id.ids) | set(written.commercial_partner_id.ids))
        return ids

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
