"""Who sees which Service Analysis rows, in two companies, each user acting as herself.

    company  team                          conversations (agent)
    North    Care   (members Ana, Bruno)   k1 (Ana), k2 (Bruno)
    North    Sales  (member Bruno, led by Leo)   k3 (Bruno)
    North    none                          k4 (nobody)
    South    South care (member Sara)      k5 (Ana: she works in North only), k6 (Sara)

Agents see their own rows and their teams' (as member or leader); managers every row of the
companies they work in. The company rule wins over the assignment: Ana does not see k5, as she
does not see the conversation itself.
"""

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, tagged

MENU = "omnichannel_reports.menu_omnichannel_service_analysis"
ACTION = "omnichannel_reports.action_omnichannel_conversation_report"


@tagged("post_install", "-at_install")
class TestReportAccess(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.north = cls.env["res.company"].create({"name": "North Shop"})
        cls.south = cls.env["res.company"].create({"name": "South Shop"})
        agent_group = cls.env.ref("omnichannel_base.group_omnichannel_user")
        manager_group = cls.env.ref("omnichannel_base.group_omnichannel_manager")
        cls.ana = cls.user("Ana", agent_group, cls.north)
        cls.bruno = cls.user("Bruno", agent_group, cls.north)
        cls.leo = cls.user("Leo", agent_group, cls.north)
        cls.sara = cls.user("Sara", agent_group, cls.south)
        cls.north_manager = cls.user("Nora", manager_group, cls.north)
        cls.both_manager = cls.user("Marc", manager_group, cls.north, cls.south)
        Team = cls.env["omnichannel.team"]
        cls.care = Team.create(
            {"name": "Care", "company_id": cls.north.id, "member_ids": [Command.set((cls.ana | cls.bruno).ids)]}
        )
        cls.sales = Team.create(
            {
                "name": "Sales",
                "company_id": cls.north.id,
                "user_id": cls.leo.id,
                "member_ids": [Command.set(cls.bruno.ids)],
            }
        )
        cls.south_care = Team.create(
            {"name": "South care", "company_id": cls.south.id, "member_ids": [Command.set(cls.sara.ids)]}
        )
        north_app = cls.channel("North app", cls.north)
        south_app = cls.channel("South app", cls.south)
        cls.k1 = cls.conversation(north_app, cls.care, cls.ana)
        cls.k2 = cls.conversation(north_app, cls.care, cls.bruno)
        cls.k3 = cls.conversation(north_app, cls.sales, cls.bruno)
        cls.k4 = cls.conversation(north_app, None, None)
        cls.k5 = cls.conversation(south_app, cls.south_care, cls.ana)
        cls.k6 = cls.conversation(south_app, cls.south_care, cls.sara)
        cls.all = cls.k1 | cls.k2 | cls.k3 | cls.k4 | cls.k5 | cls.k6
        cls.env.flush_all()

    @classmethod
    def user(cls, name, group, *companies):
        return cls.env["res.users"].create(
            {
                "name": name,
                "login": f"{name.lower()}.report.access",
                "company_id": companies[0].id,
                "company_ids": [Command.set([company.id for company in companies])],
                "groups_id": [Command.set(group.ids)],
            }
        )

    @classmethod
    def channel(cls, name, company):
        return cls.env["omnichannel.channel"].create({"name": name, "channel_type": "api", "company_id": company.id})

    @classmethod
    def conversation(cls, channel, team, agent):
        return cls.env["omnichannel.conversation"].create(
            {
                "partner_id": cls.env["res.partner"].create({"name": f"Customer of {channel.name}"}).id,
                "channel_id": channel.id,
                "team_id": team.id if team else False,
                "user_id": agent.id if agent else False,
                "state": "open",
            }
        )

    def report(self, user, companies=None):
        companies = companies or user.company_ids
        return (
            self.env["omnichannel.conversation.report"].with_user(user).with_context(allowed_company_ids=companies.ids)
        )

    def visible(self, user, companies=None):
        """The conversations ``user`` sees in the report, by search and by read_group (the dashboard)."""
        report = self.report(user, companies)
        rows = report.search([("conversation_id", "in", self.all.ids)])
        counted = report._read_group([("conversation_id", "in", self.all.ids)], ["conversation_id"], ["__count"])
        self.assertEqual(rows.conversation_id, report.env["omnichannel.conversation"].union(*(c for c, __ in counted)))
        return rows.conversation_id.sudo()

    def test_agent_sees_own_and_team_rows(self):
        self.assertEqual(self.visible(self.ana), self.k1 | self.k2, "her own and her team's; not Sales', not South's")
        self.assertEqual(self.visible(self.bruno), self.k1 | self.k2 | self.k3, "both of his teams")
        self.assertEqual(self.visible(self.leo), self.k3, "the team he leads")
        self.assertEqual(self.visible(self.sara), self.k5 | self.k6, "her team's, whoever the agent")

    def test_company_rule_wins_over_assignment(self):
        # Ana is the agent of k5, but South is not one of her companies (nor the conversation hers to open).
        self.assertFalse(self.visible(self.ana) & self.k5)
        with self.assertRaises(AccessError):
            self.k5.with_user(self.ana).with_context(allowed_company_ids=self.north.ids).read(["name"])

    def test_membership_change_applies_at_once(self):
        self.sales.member_ids = [Command.link(self.ana.id)]
        self.assertEqual(self.visible(self.ana), self.k1 | self.k2 | self.k3)
        self.care.member_ids = [Command.unlink(self.ana.id)]
        self.assertEqual(self.visible(self.ana), self.k1 | self.k3, "still her own conversation")

    def test_managers_see_their_companies(self):
        self.assertEqual(self.visible(self.north_manager), self.k1 | self.k2 | self.k3 | self.k4)
        self.assertEqual(self.visible(self.both_manager), self.all)
        self.assertEqual(self.visible(self.both_manager, self.south), self.k5 | self.k6, "the companies switched on")

    def test_kpi_figures_follow_the_rows(self):
        def volume(user):
            return self.report(user)._read_group(
                [("conversation_id", "in", self.all.ids)], [], ["__count", "nbr:sum", "first_response_hours:median"]
            )[0][:2]

        self.assertEqual(volume(self.ana), (2, 2))
        self.assertEqual(volume(self.north_manager), (4, 4))
        self.assertEqual(volume(self.both_manager), (6, 6))

    def test_read_only(self):
        report = self.report(self.north_manager)
        row = report.search([("conversation_id", "=", self.k1.id)])
        for operation in ("write", "create", "unlink"):
            self.assertFalse(report.has_access(operation), operation)
        with self.assertRaises(AccessError):
            row.write({"nbr": 2})
        employee = self.env["res.users"].create(
            {
                "name": "Clara",
                "login": "clara.report.access",
                "groups_id": [Command.set(self.env.ref("base.group_user").ids)],
            }
        )
        self.assertFalse(self.env["omnichannel.conversation.report"].with_user(employee).has_access("read"))

    def test_agent_reaches_the_analysis_from_the_menu(self):
        menus = self.env["ir.ui.menu"].with_user(self.ana)._visible_menu_ids()
        self.assertIn(self.env.ref(MENU).id, menus)
        self.assertIn(self.env.ref("omnichannel_reports.menu_omnichannel_reporting").id, menus)
        self.assertNotIn(self.env.ref("omnichannel_reports.menu_omnichannel_channel_mix").id, menus)
        self.assertIn(
            self.env.ref("omnichannel_reports.menu_omnichannel_channel_mix").id,
            self.env["ir.ui.menu"].with_user(self.north_manager)._visible_menu_ids(),
        )
        # What the web client loads to open the menu: the action, then its views.
        action = self.env["ir.actions.actions"].with_user(self.ana)._for_xml_id(ACTION)
        self.assertEqual(action["res_model"], "omnichannel.conversation.report")
        report = self.report(self.ana)
        views = report.get_views([(False, "pivot"), (False, "graph"), (False, "list"), (False, "search")])
        self.assertEqual(set(views["views"]), {"pivot", "graph", "list", "search"})
        self.assertIn('name="first_response_hours"', views["views"]["pivot"]["arch"])
        fields = views["models"]["omnichannel.conversation.report"]["fields"]
        self.assertEqual(fields["first_response_hours_median"]["aggregator"], "median")
        # ...and the pivot's first request, as the agent: her own and her team's rows only.
        groups = report.web_read_group(
            [("conversation_id", "in", self.all.ids)], ["__count", "first_response_hours:avg"], ["user_id"], lazy=False
        )["groups"]
        self.assertEqual(
            {group["user_id"][0]: group["__count"] for group in groups}, {self.ana.id: 1, self.bruno.id: 1}
        )
