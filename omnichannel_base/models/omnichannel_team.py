from odoo import api, fields, models


class OmnichannelTeam(models.Model):
    _name = "omnichannel.team"
    _description = "Omnichannel Team"
    _order = "sequence, name"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    user_id = fields.Many2one("res.users", string="Team Leader", domain=[("share", "=", False)])
    member_ids = fields.Many2many(
        "res.users",
        "omnichannel_team_member_rel",
        "team_id",
        "user_id",
        string="Agents",
        domain=[("share", "=", False)],
    )
    auto_assign = fields.Boolean(
        default=True,
        help="New conversations go to the agent of this team with the fewest open conversations.",
    )
    color = fields.Integer()
    conversation_ids = fields.One2many("omnichannel.conversation", "team_id")
    open_conversation_count = fields.Integer(compute="_compute_open_conversation_count")

    @api.depends("conversation_ids.state")
    def _compute_open_conversation_count(self):
        counts = dict(
            self.env["omnichannel.conversation"]._read_group(
                [("team_id", "in", self.ids), ("state", "!=", "resolved")], ["team_id"], ["__count"]
            )
        )
        for team in self:
            team.open_conversation_count = counts.get(team, 0)

    def _pick_agent(self, load=None):
        """The member with the fewest unresolved conversations (ties go to the lowest id).
        ``load`` ({user: count}, from ``_agent_load``) saves counting again when assigning many."""
        self.ensure_one()
        if not self.auto_assign or not self.member_ids:
            return self.env["res.users"]
        if load is None:
            load = self._agent_load()
        return min(self.member_ids, key=lambda user: (load.get(user, 0), user.id))

    def _agent_load(self):
        """{user: unresolved conversations} of these teams' members."""
        return dict(
            self.env["omnichannel.conversation"]._read_group(
                [("user_id", "in", self.member_ids.ids), ("state", "!=", "resolved")],
                ["user_id"],
                ["__count"],
            )
        )

    def action_view_conversations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_base.action_omnichannel_inbox")
        action["domain"] = [("team_id", "=", self.id)]
        action["context"] = {"default_team_id": self.id}
        return action
