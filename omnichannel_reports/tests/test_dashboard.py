"""The Omnichannel dashboard (Dashboards app): its spreadsheet only names fields that exist, its
queries give the expected figures as an agent and as a manager, and it opens in the browser.

Five conversations of the channel "Dashboard Test Channel", handled by the agent Ana (team
"Dashboard Care"), days before today (the dashboard's default period is the last 365 days):

    conv  first message   agent replies     resolved         survey  rating  backlog
    c1    D-20 09:00      10:00             D-20 12:00       yes     5
    c2    D-18 09:00      12:00, 13:00      D-17 09:00       yes     2
    c3    D-15 09:00      11:00             D-15 15:00       yes     -
    c4    D-3  09:00      09:24             -                no      -       open
    c5    D-1  09:00      -                 -                no      -       new

First response 1, 3, 2, 0.4 h: median 1.5, average 1.6. Resolution 3, 24, 6 h: median 6,
average 11. FCR c1 yes, c2 no (two replies), c3 yes: 66.7 %. CSAT 5 and 2: 50 %; 2 ratings of
3 surveys: 66.7 %. The tour (static/tests/tours/omnichannel_dashboard_tour.js) expects the same.
"""

import json
import re
from datetime import datetime, time, timedelta

from odoo.tests import HttpCase, tagged
from odoo.tools import file_open

DASHBOARD = "omnichannel_reports/data/files/omnichannel_dashboard.json"
SAMPLE = "omnichannel_reports/data/files/omnichannel_sample_dashboard.json"
REPORT = "omnichannel.conversation.report"
# What read_group accepts as a pivot measure's aggregator here: the standard ones and the median
# the Service Analysis adds.
AGGREGATORS = {"sum", "avg", "min", "max", "count", "count_distinct", "median"}
FILTER_FIELD_TYPES = {"date": {"date", "datetime"}, "relation": {"many2one", "many2many", "one2many"}}


def load(path):
    with file_open(path) as file:
        return json.load(file)


def measure_spec(measure):
    """The read_group field spec the spreadsheet sends for a pivot measure (spreadsheet's
    pivot_model.js, _getMeasureSpecs)."""
    if measure["fieldName"] == "__count":
        return "__count"
    if measure.get("aggregator"):
        return f"{measure['fieldName']}_{measure['aggregator']}_id:{measure['aggregator']}({measure['fieldName']})"
    return measure["fieldName"]


def measure_key(measure):
    if measure["fieldName"] == "__count":
        return "__count"
    return f"{measure['fieldName']}_{measure['aggregator']}_id" if measure.get("aggregator") else measure["fieldName"]


@tagged("post_install", "-at_install")
class TestOmnichannelDashboard(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_reports.fcr_reopen_days", "7")
        user_group = cls.env.ref("omnichannel_base.group_omnichannel_user")
        manager_group = cls.env.ref("omnichannel_base.group_omnichannel_manager")
        cls.agent, cls.manager, cls.employee = cls.env["res.users"].create(
            [
                {"name": "Ana Tablero", "login": "ana.tablero", "groups_id": [(6, 0, user_group.ids)]},
                {"name": "Marta Tablero", "login": "marta.tablero", "groups_id": [(6, 0, manager_group.ids)]},
                {
                    "name": "Eva Contable",
                    "login": "eva.contable",
                    "groups_id": [(6, 0, cls.env.ref("base.group_user").ids)],
                },
            ]
        )
        for user in cls.agent | cls.manager:
            user.password = user.login  # start_tour logs in with the login as password
        cls.team = cls.env["omnichannel.team"].create({"name": "Dashboard Care", "member_ids": [(6, 0, cls.agent.ids)]})
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Dashboard Test Channel", "channel_type": "api", "team_id": cls.team.id}
        )
        cls.partner = cls.env["res.partner"].create({"name": "Lucía Tablero"})
        cls.today = datetime.combine(datetime.now().date(), time())
        cls.c1 = cls.conversation((20, 9, 0), [(20, 10, 0)], resolved=(20, 12, 0), survey=True)
        cls.c2 = cls.conversation((18, 9, 0), [(18, 12, 0), (18, 13, 0)], resolved=(17, 9, 0), survey=True)
        cls.c3 = cls.conversation((15, 9, 0), [(15, 11, 0)], resolved=(15, 15, 0), survey=True)
        cls.c4 = cls.conversation((3, 9, 0), [(3, 9, 24)], state="open")
        cls.c5 = cls.conversation((1, 9, 0), state="new")
        for conversation, value in ((cls.c1, 5), (cls.c2, 2)):
            conversation.rating_apply(value, token=conversation._rating_get_access_token())
        cls.env.flush_all()
        cls.dashboard = cls.env.ref("omnichannel_reports.spreadsheet_dashboard_omnichannel")

    @classmethod
    def at(cls, days_hours_minutes):
        days, hours, minutes = days_hours_minutes
        return cls.today - timedelta(days=days) + timedelta(hours=hours, minutes=minutes)

    @classmethod
    def conversation(cls, first_message, replies=(), resolved=None, survey=False, state="resolved"):
        replies = [cls.at(reply) for reply in replies]
        return cls.env["omnichannel.conversation"].create(
            {
                "partner_id": cls.partner.id,
                "channel_id": cls.channel.id,
                "team_id": cls.team.id,
                "user_id": cls.agent.id,
                "state": state,
                "thread_key": f"dashboard-{first_message}",
                "first_inbound_date": cls.at(first_message),
                "first_agent_reply_date": replies[0] if replies else False,
                "second_agent_reply_date": replies[1] if len(replies) > 1 else False,
                "agent_reply_count": len(replies),
                "resolved_date": resolved and cls.at(resolved),
                "first_resolved_date": resolved and cls.at(resolved),
                "csat_survey_date": cls.at(resolved) if survey else False,
            }
        )

    # ------------------------------------------------------------------ the spreadsheet file
    def test_dashboard_names_only_existing_models_and_fields(self):
        data = load(DASHBOARD)
        self.assertEqual(json.loads(self.dashboard.spreadsheet_data), data, "the installed dashboard is the file's")
        self.assertEqual(self.dashboard.main_data_model_ids.model, REPORT)
        filters = {f["id"]: f for f in data["globalFilters"]}
        self.assertEqual(
            {(f["type"], f.get("modelName")) for f in filters.values()},
            {
                ("date", None),
                ("relation", "omnichannel.channel"),
                ("relation", "omnichannel.team"),
                ("relation", "res.company"),
            },
        )
        for global_filter in filters.values():
            if global_filter.get("modelName"):
                self.assertIn(global_filter["modelName"], self.env)

        def check_data_source(where, model_name, domain, field_matching):
            self.assertIn(model_name, self.env, where)
            model = self.env[model_name]
            model.search_count(domain)  # a domain naming a missing field raises
            self.assertEqual(set(field_matching), set(filters), f"{where}: every filter applies")
            for filter_id, matching in field_matching.items():
                field = model._fields.get(matching["chain"])
                self.assertTrue(field, f"{where}: {matching['chain']}")
                self.assertIn(field.type, FILTER_FIELD_TYPES[filters[filter_id]["type"]], where)
                if field.comodel_name:
                    self.assertEqual(field.comodel_name, filters[filter_id]["modelName"], where)
            return model

        measures_of = {}
        for pivot_id, pivot in data["pivots"].items():
            where = f"pivot {pivot_id}"
            model = check_data_source(where, pivot["model"], pivot["domain"], pivot["fieldMatching"])
            for dimension in pivot["rows"] + pivot["columns"]:
                self.assertTrue(model._fields[dimension["fieldName"]]._description_groupable(self.env), where)
            measures_of[pivot_id] = {m["id"] for m in pivot["measures"]}
            for measure in pivot["measures"]:
                if measure["fieldName"] != "__count":
                    field = model._fields.get(measure["fieldName"])
                    self.assertTrue(field and field.store, f"{where}: {measure['fieldName']}")
                    self.assertIn(measure.get("aggregator", field.aggregator), AGGREGATORS, where)
            # What the spreadsheet asks for, read_group answers.
            model.read_group(
                pivot["domain"],
                [measure_spec(m) for m in pivot["measures"]],
                [r["fieldName"] for r in pivot["rows"]],
                lazy=False,
            )
        for sheet in data["sheets"]:
            for figure in sheet["figures"]:
                chart = figure["data"]
                if chart["type"].startswith("odoo_"):
                    where = f"chart {figure['id']}"
                    model = check_data_source(
                        where, chart["metaData"]["resModel"], chart["searchParams"]["domain"], chart["fieldMatching"]
                    )
                    for group_by in chart["metaData"]["groupBy"]:
                        self.assertTrue(model._fields[group_by.split(":")[0]]._description_groupable(self.env), where)
                    measure = chart["metaData"]["measure"]
                    self.assertTrue(measure == "__count" or model._fields[measure].aggregator, where)
            # Formulas name pivots and measures that exist.
            for reference, cell in sheet["cells"].items():
                content = cell.get("content", "")
                for pivot_id, measure in re.findall(r'PIVOT\.VALUE\((\d+),"([^"]+)"', content):
                    self.assertIn(measure, measures_of[pivot_id], f"{sheet['name']}!{reference}")
                for pivot_id, dimension in re.findall(r'PIVOT\.HEADER\((\d+),"#?([^"]+)"', content):
                    rows = [r["fieldName"] for r in data["pivots"][pivot_id]["rows"]]
                    self.assertIn(dimension, rows, f"{sheet['name']}!{reference}")
        # The sample shown while there is no conversation at all: plain values, nothing to load.
        sample = load(SAMPLE)
        self.assertEqual(sample["pivots"], {})
        self.assertFalse([f for s in sample["sheets"] for f in s["figures"] if f["data"]["type"].startswith("odoo_")])
        self.assertNotIn("PIVOT", json.dumps(sample))

    def test_dashboard_is_for_omnichannel_users(self):
        Dashboard = self.env["spreadsheet.dashboard"]
        self.assertIn(self.dashboard, Dashboard.with_user(self.agent).search([]))
        self.assertIn(self.dashboard, Dashboard.with_user(self.manager).search([]))
        self.assertNotIn(self.dashboard, Dashboard.with_user(self.employee).search([]))
        readonly = self.dashboard.with_user(self.agent).get_readonly_dashboard()
        self.assertNotIn("is_sample", readonly, "there are conversations: the real dashboard, not the sample")

    # ------------------------------------------------------------------ its queries
    def pivot_figures(self, user, pivot_id):
        """The read_group of a pivot of the dashboard as the browser sends it, with the default
        period (last 365 days) and the Channel filter on the test channel."""
        pivot = load(DASHBOARD)["pivots"][pivot_id]
        domain = pivot["domain"] + [
            ("date", ">=", self.today - timedelta(days=364)),
            ("channel_id", "in", self.channel.ids),
        ]
        groups = (
            self.env[REPORT]
            .with_user(user)
            .read_group(
                domain,
                [measure_spec(m) for m in pivot["measures"]],
                [r["fieldName"] for r in pivot["rows"]],
                lazy=False,
            )
        )
        return [
            {
                **{r["fieldName"]: group[r["fieldName"]] for r in pivot["rows"]},
                **{m["id"]: group[measure_key(m)] for m in pivot["measures"]},
            }
            for group in groups
        ]

    def test_dashboard_figures_as_agent_and_manager(self):
        expected_kpis = {
            "__count": 5,
            "first_response_hours:median": 1.5,
            "first_response_hours:avg": 1.6,
            "resolution_hours:median": 6.0,
            "resolution_hours:avg": 11.0,
            "first_resolution_hours:median": 6.0,
            "first_resolution_hours:avg": 11.0,
            "fcr_rate:avg": 200 / 3,
            "csat:avg": 50.0,
            "response_rate:avg": 200 / 3,
            "rated:sum": 2,
            "surveyed:sum": 3,
        }
        expected_agents = {
            "__count": 5,
            "first_response_hours:avg": 1.6,
            "first_response_hours:median": 1.5,
            "resolution_hours:avg": 11.0,
            "resolution_hours:median": 6.0,
            "fcr_rate:avg": 200 / 3,
            "csat:avg": 50.0,
        }
        for user in self.agent | self.manager:
            with self.subTest(user=user.name):
                (kpis,) = self.pivot_figures(user, "1")
                self.assertEqual(kpis.keys(), expected_kpis.keys())
                for key, value in expected_kpis.items():
                    self.assertAlmostEqual(kpis[key], value, msg=key)
                self.assertEqual(self.pivot_figures(user, "2"), [{"__count": 2}], "backlog: c4 and c5")
                (agent_row,) = self.pivot_figures(user, "3")
                self.assertEqual(agent_row.pop("user_id")[0], self.agent.id)
                for key, value in expected_agents.items():
                    self.assertAlmostEqual(agent_row[key], value, msg=key)

    # ------------------------------------------------------------------ in the browser
    def test_tour_as_agent(self):
        self.start_tour("/odoo", "omnichannel_dashboard_tour", login=self.agent.login, timeout=180)

    def test_tour_as_manager(self):
        self.start_tour("/odoo", "omnichannel_dashboard_tour", login=self.manager.login, timeout=180)
