from odoo import api, fields, models

BUSINESS_HOURS_FIELDS = (
    "agent_response_business_hours",
    "first_resolution_business_hours",
    "resolution_business_hours",
)
BUSINESS_HOURS_BATCH = 1000


class OmnichannelTeam(models.Model):
    _inherit = "omnichannel.team"

    resource_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Working Hours",
        domain="['|', ('company_id', '=', False), ('company_id', '=', company_id)]",
        help="When set, response and resolution times are also measured in the working hours of this "
        "calendar (its time zone and public holidays).",
    )
    # A new calendar applies to the team's past conversations in the background (see
    # _omni_cron_recompute_business_hours): in the request, thousands of them would time out.
    omni_business_hours_pending = fields.Boolean(
        string="Business Hours to Recompute",
        readonly=True,
        copy=False,
        help="The working hours changed: a scheduled action recomputes the business hours of the team's conversations.",
    )
    omni_business_hours_last_id = fields.Integer(
        string="Business Hours Recomputed Up To",
        readonly=True,
        copy=False,
        help="The last conversation (by id) whose business hours were recomputed with the new working hours.",
    )

    def write(self, vals):
        changed = self.browse()
        if "resource_calendar_id" in vals:
            changed = self.filtered(
                lambda team: team.resource_calendar_id.id != (vals["resource_calendar_id"] or False)
            )
        result = super().write(vals)
        if changed:
            # start over, also when a run for the previous calendar is under way
            changed.sudo().write({"omni_business_hours_pending": True, "omni_business_hours_last_id": 0})
            cron = self.env.ref("omnichannel_reports.ir_cron_omnichannel_business_hours", raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger()
        return result

    @api.model
    def _omni_cron_recompute_business_hours(self, limit=BUSINESS_HOURS_BATCH):
        """Recompute the business hours of the conversations of teams whose working hours changed,
        ``limit`` conversations per call, resuming after the last one done (scheduled action).

        The cron calls it again at once while it reports conversations remaining, committing the
        batch in between; an interrupted run resumes at the next call."""
        teams = (
            self.sudo().with_context(active_test=False).search([("omni_business_hours_pending", "=", True)], order="id")
        )
        conversations = self.env["omnichannel.conversation"].sudo().with_context(active_test=False)
        budget, done = limit, 0
        for team in teams:
            if budget <= 0:
                break
            batch = conversations.search(
                [("team_id", "=", team.id), ("id", ">", team.omni_business_hours_last_id)], order="id", limit=budget
            )
            for name in BUSINESS_HOURS_FIELDS:
                self.env.add_to_compute(conversations._fields[name], batch)
            batch.flush_recordset(list(BUSINESS_HOURS_FIELDS))
            if len(batch) < budget:
                team.write({"omni_business_hours_pending": False, "omni_business_hours_last_id": 0})
            else:
                team.omni_business_hours_last_id = batch[-1].id
            budget -= len(batch)
            done += len(batch)
            batch.invalidate_recordset()
        remaining = sum(
            conversations.search_count([("team_id", "=", team.id), ("id", ">", team.omni_business_hours_last_id)])
            for team in teams.filtered("omni_business_hours_pending")
        )
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return remaining
