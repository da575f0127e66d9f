"""The POS's server API: the customer context a cashier sees, and the store interactions they log.

Everything runs as a real cashier: a user in point_of_sale.group_pos_user (and base.group_user),
in no Omnichannel group.
"""

import json
import threading
from datetime import timedelta
from functools import partial

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.exceptions import AccessError, UserError
from odoo.service.model import retrying
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.omnichannel_base.models.omnichannel_interaction import CHANNEL_ICONS

CASHIER_GROUPS = "base.group_user,point_of_sale.group_pos_user"


class PosCase(TransactionCase):
    """A Spanish shop with a POS (and an open session), a cashier, a messaging channel, a team
    and a customer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.company.country_id = cls.env.ref("base.es")
        cls.cashier = cls.new_cashier("cajera.sol", cls.company)
        cls.agent = new_test_user(
            cls.env, login="agente.sol", groups="omnichannel_base.group_omnichannel_user", name="Ana Agente"
        )
        cls.team = cls.env["omnichannel.team"].create(
            {"name": "Tienda Sol", "member_ids": [Command.set(cls.agent.ids)]}
        )
        channel_types = dict(cls.env["omnichannel.channel"]._fields["channel_type"].selection)
        # WhatsApp when omnichannel_social is installed (as in the suite's test database).
        cls.message_type = "whatsapp" if "whatsapp" in channel_types else "api"
        cls.messages = cls.env["omnichannel.channel"].create(
            {"name": "Mensajes", "channel_type": cls.message_type, "team_id": cls.team.id}
        )
        cls.config = cls.env["pos.config"].create({"name": "Tienda Sol"})
        cls.session = cls.env["pos.session"].create({"config_id": cls.config.id, "user_id": cls.cashier.id})
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Sol", "phone": "+34 611 22 33 44"})

    @classmethod
    def new_cashier(cls, login, company, companies=None):
        cashier = new_test_user(
            cls.env,
            login=login,
            groups=CASHIER_GROUPS,
            company_id=company.id,
            company_ids=[Command.set((companies or company).ids)],
        )
        omni = cls.env.ref("omnichannel_base.group_omnichannel_user") | cls.env.ref(
            "omnichannel_base.group_omnichannel_manager"
        )
        assert not cashier.groups_id & omni, "a cashier is in no Omnichannel group"
        return cashier

    @classmethod
    def message(cls, partner, text, days_ago=0, channel=None, external_id=None):
        return cls.env["omnichannel.ingest"].ingest(
            {
                "channel_id": (channel or cls.messages).id,
                "partner_id": partner.id,
                "external_id": external_id or f"msg-{partner.id}-{text}",
                "body": text,
                "date": fields.Datetime.now() - timedelta(days=days_ago),
            }
        )

    @classmethod
    def pos_order(cls, partner, amount, days_ago=0, state="paid", session=None):
        order = cls.env["pos.order"].create(
            {
                "session_id": (session or cls.session).id,
                "partner_id": partner.id,
                "amount_tax": 0.0,
                "amount_total": amount,
                "amount_paid": amount,
                "amount_return": 0.0,
            }
        )
        order.write({"state": state, "date_order": fields.Datetime.now() - timedelta(days=days_ago)})
        return order

    def context(self, partner=None, user=None, config=None, companies=None):
        user = user or self.cashier
        Partner = self.env["res.partner"].with_user(user)
        if companies:
            Partner = Partner.with_context(allowed_company_ids=companies.ids)
        result = Partner.browse((partner or self.customer).id).omnichannel_pos_context((config or self.config).id)
        json.dumps(result)  # what the POS receives
        return result

    def log(self, values, partner=None, user=None, config=None):
        return (
            self.env["res.partner"]
            .with_user(user or self.cashier)
            .browse((partner or self.customer).id)
            .omnichannel_pos_log((config or self.config).id, values)
        )

    def interactions(self, partner=None):
        return self.env["omnichannel.interaction"].sudo().search([("partner_id", "=", (partner or self.customer).id)])


@tagged("post_install", "-at_install")
class TestPosContext(PosCase):
    def test_cashier_sees_the_whole_context(self):
        customer = self.customer
        self.message(customer, "¿Tenéis la zapatilla roja en la talla 38?", days_ago=1)
        conversation = self.env["omnichannel.conversation"].search([("partner_id", "=", customer.id)])
        self.assertEqual(conversation.state, "new")
        self.env["omnichannel.consent"]._record(
            [
                {
                    "partner_id": customer.id,
                    "channel_id": self.messages.id,
                    "opt": "out",
                    "scope": "marketing",
                    "source": "keyword",
                    "date": fields.Datetime.now() - timedelta(hours=2),
                }
            ]
        )
        in_store = self.pos_order(customer, 59.0, days_ago=3)
        self.pos_order(customer, 12.0, days_ago=0, state="draft")  # not paid: not an order yet
        product = self.env["product.product"].create({"name": "Bolso", "list_price": 80.0})
        online = self.env["sale.order"].create(
            {"partner_id": customer.id, "order_line": [Command.create({"product_id": product.id})]}
        )
        online.action_confirm()
        online.date_order = fields.Datetime.now() - timedelta(days=2)
        program = self.env["loyalty.program"].create(
            {"name": "Puntos Sol", "program_type": "loyalty", "portal_point_name": "puntos"}
        )
        card = self.env["loyalty.card"].create({"program_id": program.id, "partner_id": customer.id, "points": 120})

        context = self.context()

        self.assertEqual(context["partner"], {"id": customer.id, "name": "Lucía Sol"})
        [message] = context["interactions"]
        self.assertEqual(message["summary"], "¿Tenéis la zapatilla roja en la talla 38?")
        self.assertEqual(message["channel_type"], self.message_type)
        self.assertEqual(message["icon"], CHANNEL_ICONS[self.message_type])
        self.assertEqual(message["direction"], "inbound")
        self.assertEqual(message["kind_label"], "Message")
        self.assertEqual(
            context["last_contact"],
            {"date": message["date"], "channel_type": self.message_type, "channel_label": message["channel_label"]},
        )
        self.assertEqual(context["preferred_channel"]["channel_type"], self.message_type)
        [open_conversation] = context["conversations"]
        self.assertEqual(open_conversation["id"], conversation.id)
        self.assertEqual(open_conversation["state"], "new")
        self.assertEqual(open_conversation["state_label"], "New")
        self.assertEqual(open_conversation["agent"], "Ana Agente")
        self.assertEqual(open_conversation["team"], "Tienda Sol")
        self.assertEqual(open_conversation["icon"], CHANNEL_ICONS[self.message_type])
        [consent] = context["consents"]
        self.assertEqual(consent["channel_name"], "Mensajes")
        self.assertEqual((consent["opt"], consent["opt_label"]), ("out", "Opted Out of Marketing"))
        # Newest first, whichever their origin; the draft POS order is left out.
        self.assertEqual(
            [(order["model"], order["id"], order["origin"]) for order in context["orders"]],
            [("sale.order", online.id, "online"), ("pos.order", in_store.id, "store")],
        )
        self.assertEqual(context["orders"][1]["origin_label"], "In store")
        self.assertIn("59.00", context["orders"][1]["amount"])
        # (Other programs, such as the demo data's, may have given points for the sale too.)
        self.assertIn({"program": "Puntos Sol", "points": "120 puntos", "code": card.code}, context["loyalty"])
        self.assertIn([self.team.id, "Tienda Sol"], context["teams"])
        # Opening the panel writes nothing: a shop without a store channel gets one with its first visit.
        self.assertFalse(self.config.omni_channel_id)
        self.assertIs(context["store_channel"], False)
        self.log({"kind": "visit", "note": "", "uuid": "first-visit"}, partner=customer)
        store = self.config.omni_channel_id
        self.assertEqual((store.channel_type, store.name, store.company_id), ("store", "Tienda Sol", self.company))
        context = self.context()
        self.assertEqual(context["store_channel"], {"id": store.id, "name": "Tienda Sol"})
        self.assertFalse(context["default_team_id"])
        store.team_id = self.team
        # Listed first, before teams that sort ahead of it.
        online = self.env["omnichannel.team"].create({"name": "Aaa Atención online", "company_id": self.company.id})
        context = self.context()
        self.assertEqual(context["default_team_id"], self.team.id)
        self.assertEqual(context["teams"][0], [self.team.id, "Tienda Sol"])
        self.assertIn([online.id, "Aaa Atención online"], context["teams"][1:])

    def test_consent_is_where_the_customer_stands(self):
        """Per channel, what may be sent, as sending decides it (``_opted_out``): a later
        marketing choice does not lift an opt-out of every message."""
        Consent = self.env["omnichannel.consent"]
        sms = self.env["omnichannel.channel"].create({"name": "SMS Sol", "channel_type": "sms"})
        now = fields.Datetime.now()

        def choose(channel, opt, scope, hours_ago):
            Consent._record(
                [
                    {
                        "partner_id": self.customer.id,
                        "channel_id": channel.id,
                        "opt": opt,
                        "scope": scope,
                        "source": "keyword",
                        "date": now - timedelta(hours=hours_ago),
                    }
                ]
            )

        def standing():
            return {c["channel_name"]: (c["opt"], c["opt_label"], c["date"]) for c in self.context()["consents"]}

        choose(self.messages, "out", "all", 5)  # STOP
        choose(self.messages, "out", "marketing", 3)  # and, later, "stop promotions"
        choose(sms, "out", "marketing", 4)
        stop = fields.Datetime.to_string(now - timedelta(hours=5))
        self.assertTrue(Consent._opted_out(self.customer, self.messages))
        self.assertEqual(
            standing(),
            {
                "Mensajes": ("out", "Opted Out", stop),
                "SMS Sol": ("out", "Opted Out of Marketing", fields.Datetime.to_string(now - timedelta(hours=4))),
            },
        )
        choose(self.messages, "in", "marketing", 1)  # "resume promotions" lifts no STOP
        self.assertTrue(Consent._opted_out(self.customer, self.messages))
        self.assertEqual(standing()["Mensajes"], ("out", "Opted Out", stop))
        choose(self.messages, "in", "all", 0)  # START
        self.assertFalse(Consent._opted_out(self.customer, self.messages, marketing=True))
        self.assertEqual(standing()["Mensajes"], ("in", "Opted In", fields.Datetime.to_string(now)))

    def test_new_customer_has_an_empty_context(self):
        context = self.context(self.env["res.partner"].create({"name": "Nadie"}))
        self.assertEqual(context["last_contact"], {"date": False, "channel_type": False, "channel_label": False})
        self.assertFalse(context["preferred_channel"])
        for key in ("interactions", "conversations", "consents", "orders", "loyalty"):
            self.assertEqual(context[key], [], key)

    def test_last_interactions_only_on_channels_newest_first(self):
        for day in range(10):
            self.message(self.customer, f"Mensaje {day}", days_ago=day)
        self.pos_order(self.customer, 10.0)  # a POS order is an order, not a channel interaction
        summaries = [item["summary"] for item in self.context()["interactions"]]
        self.assertEqual(summaries, [f"Mensaje {day}" for day in range(8)])

    def test_company_reads_its_contacts(self):
        company = self.env["res.partner"].create({"name": "Olivares Sol", "is_company": True})
        buyer = self.env["res.partner"].create({"name": "Carmen", "parent_id": company.id})
        self.message(buyer, "Pedido de aceite")
        self.pos_order(buyer, 30.0)
        context = self.context(company)
        self.assertEqual([i["summary"] for i in context["interactions"]], ["Pedido de aceite"])
        self.assertEqual(len(context["conversations"]), 1)
        self.assertEqual(len(context["orders"]), 1)

    def test_cost_does_not_grow_with_the_history(self):
        """Each part of the panel is a LIMITed query: as many queries for 3 interactions as for 600."""
        self.message(self.customer, "Hola")
        self.context()  # warms the registry and translation caches

        def queries():
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            self.context()
            return self.env.cr.sql_log_count - before

        few = queries()
        self.env.flush_all()
        self.env.cr.execute(
            """INSERT INTO omnichannel_interaction (partner_id, commercial_partner_id, channel_id, channel_type,
                       company_id, kind, direction, date, summary, external_id)
               SELECT %s, %s, %s, %s, %s, 'message', 'inbound', now() at time zone 'utc' - n * interval '1 hour',
                      'Mensaje ' || n, 'bulk-' || n
                 FROM generate_series(1, 600) n""",
            [self.customer.id, self.customer.id, self.messages.id, self.message_type, self.company.id],
        )
        self.assertEqual(queries(), few)
        self.assertLessEqual(few, 30)

    def test_front_end_reads_the_settings(self):
        """The POS loads pos.config with its own search_read: the cashier gets the new fields."""
        self.config.omni_show_context = False
        data = (
            self.env["pos.config"]
            .with_user(self.cashier)
            ._load_pos_data({"pos.session": {"data": [{"config_id": self.config.id}]}})
        )
        self.assertIs(data["data"][0]["omni_show_context"], False)
        self.assertIn("omni_channel_id", data["data"][0])
        self.assertTrue(self.env["pos.config"].create({"name": "Otra"}).omni_show_context)

    def test_settings_page_edits_the_pos(self):
        store = self.env["omnichannel.channel"].create({"name": "Tienda Sol (calle)", "channel_type": "store"})
        settings = self.env["res.config.settings"].create(
            {"pos_config_id": self.config.id, "pos_omni_channel_id": store.id, "pos_omni_show_context": False}
        )
        settings.execute()
        self.assertEqual(self.config.omni_channel_id, store)
        self.assertFalse(self.config.omni_show_context)
        self.assertEqual(self.config._omni_store_channel(), store)


@tagged("post_install", "-at_install")
class TestPosContextAccess(PosCase):
    def test_refused_to_users_without_pos_rights(self):
        portal = new_test_user(self.env, login="portal.sol", groups="base.group_portal")
        employee = new_test_user(self.env, login="empleado.sol", groups="base.group_user")
        for user in (portal, employee):
            with self.assertRaisesRegex(AccessError, "Only Point of Sale users"):
                self.context(user=user)
            with self.assertRaisesRegex(AccessError, "Only Point of Sale users"):
                self.log({"kind": "visit", "note": "Hola", "uuid": "u1"}, user=user)
        self.assertFalse(self.interactions())

    def test_omnichannel_agent_may_ask(self):
        self.env["res.users"].browse(self.agent.id).groups_id = [
            Command.link(self.env.ref("omnichannel_base.group_omnichannel_user").id)
        ]
        self.assertEqual(self.context(user=self.agent)["partner"]["id"], self.customer.id)

    def test_refused_for_a_bad_config(self):
        with self.assertRaisesRegex(UserError, "No point of sale has the id"):
            self.env["res.partner"].with_user(self.cashier).browse(self.customer.id).omnichannel_pos_context("1")
        with self.assertRaisesRegex(UserError, "No point of sale has the id"):
            self.env["res.partner"].with_user(self.cashier).browse(self.customer.id).omnichannel_pos_context(10**9)
        with self.assertRaisesRegex(UserError, "one customer at a time"):
            self.env["res.partner"].with_user(self.cashier).browse([]).omnichannel_pos_context(self.config.id)


@tagged("post_install", "-at_install")
class TestPosContextCompanies(PosCase):
    """A second company (its own chart of accounts, shop, channel and cashier)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.north = cls.env["res.company"].create({"name": "Tienda Norte SL", "country_id": cls.env.ref("base.es").id})
        cls.env["account.chart.template"].try_loading("generic_coa", company=cls.north, install_demo=False)
        cls.north_config = cls.env["pos.config"].with_company(cls.north).create({"name": "Tienda Norte"})
        cls.north_session = cls.env["pos.session"].create(
            {"config_id": cls.north_config.id, "user_id": cls.env.user.id}
        )
        cls.north_messages = cls.env["omnichannel.channel"].create(
            {"name": "Mensajes Norte", "channel_type": cls.message_type, "company_id": cls.north.id}
        )
        cls.cashier_both = cls.new_cashier("cajero.ambas", cls.company, cls.company | cls.north)
        cls.north_customer = cls.env["res.partner"].create({"name": "Iker Norte", "company_id": cls.north.id})
        # The shared customer wrote to both companies and bought in both shops.
        cls.message(cls.customer, "Hola Sol")
        cls.message(cls.customer, "Hola Norte", channel=cls.north_messages)
        cls.env["omnichannel.consent"]._record(
            [
                {"partner_id": cls.customer.id, "channel_id": channel.id, "opt": "in", "source": "agent"}
                for channel in (cls.messages, cls.north_messages)
            ]
        )
        cls.pos_order(cls.customer, 10.0)
        cls.pos_order(cls.customer, 20.0, session=cls.north_session)

    def test_only_the_current_company_shows(self):
        for user, companies, config, expected, channel in (
            (self.cashier, None, self.config, "Sol", "Mensajes"),
            (self.cashier_both, self.company, self.config, "Sol", "Mensajes"),
            (self.cashier_both, self.north, self.north_config, "Norte", "Mensajes Norte"),
        ):
            context = self.context(user=user, config=config, companies=companies)
            self.assertEqual([i["summary"] for i in context["interactions"]], [f"Hola {expected}"])
            self.assertEqual([c["name"] for c in context["conversations"]], [f"Lucía Sol · {channel}"])
            self.assertEqual([c["channel_name"] for c in context["consents"]], [channel])
            self.assertEqual([o["name"].split("/")[0] for o in context["orders"]], [f"Tienda {expected}"])
            # Teams of the shop's company only: Sol's team takes no conversation for the north shop.
            self.assertEqual(self.team.id in [team_id for team_id, _name in context["teams"]], expected == "Sol")
        # Working in both companies at once (the back office), a POS user sees both.
        both = self.context(user=self.cashier_both, companies=self.company | self.north)
        self.assertEqual(len(both["interactions"]), 2)

    def test_other_company_refused(self):
        with self.assertRaises(AccessError):
            self.context(self.north_customer)
        with self.assertRaisesRegex(AccessError, "company you are not working in"):
            self.context(config=self.north_config)
        with self.assertRaisesRegex(AccessError, "company you are not working in"):
            self.context(user=self.cashier_both, config=self.north_config, companies=self.company)
        with self.assertRaises(AccessError):
            self.log({"kind": "visit", "note": "x", "uuid": "u1"}, partner=self.north_customer)
        north = self.context(
            self.north_customer, user=self.cashier_both, config=self.north_config, companies=self.north
        )
        self.assertEqual(north["partner"]["name"], "Iker Norte")


@tagged("post_install", "-at_install")
class TestPosLog(PosCase):
    def test_visit_lands_on_the_timeline_once(self):
        values = {"kind": "visit", "note": "Se prueba la zapatilla roja", "team_id": False, "uuid": "0b5c-visit-1"}
        result = self.log(values)
        interaction = self.env["omnichannel.interaction"].sudo().browse(result["interaction_id"])
        store = self.config.omni_channel_id
        self.assertEqual(result["conversation_id"], False)
        self.assertEqual(interaction.partner_id, self.customer)
        self.assertEqual(interaction.channel_id, store)
        self.assertEqual((interaction.kind, interaction.direction), ("visit", "inbound"))
        self.assertEqual(interaction.user_id, self.cashier)
        self.assertEqual(interaction.external_id, "pos-0b5c-visit-1")
        self.assertEqual(interaction.summary, "Visit · Se prueba la zapatilla roja")
        self.assertFalse(interaction.conversation_id)
        # The POS replays a call it made offline: nothing more is written.
        self.assertEqual(self.log(values), result)
        self.assertEqual(len(self.interactions()), 1)
        # A visit needs no note.
        self.log({"kind": "visit", "uuid": "0b5c-visit-2"})
        self.assertEqual(self.interactions()[0].summary, "Visit")

    def test_request_opens_a_conversation_for_the_team_once(self):
        values = {
            "kind": "request",
            "note": "Pedir la talla 38 <urgente>\ny llamarla",
            "team_id": self.team.id,
            "uuid": "3f2e-request",
        }
        result = self.log(values)
        conversation = self.env["omnichannel.conversation"].browse(result["conversation_id"])
        self.assertEqual(conversation.partner_id, self.customer)
        self.assertEqual(conversation.channel_id, self.config.omni_channel_id)
        self.assertEqual(conversation.team_id, self.team)
        self.assertEqual(conversation.user_id, self.agent)  # the team's auto-assignment
        self.assertEqual(conversation.state, "new")
        self.assertTrue(conversation.last_message_date)
        interaction = self.env["omnichannel.interaction"].sudo().browse(result["interaction_id"])
        self.assertEqual(interaction.conversation_id, conversation)
        self.assertEqual(interaction.summary, "Request · Pedir la talla 38 <urgente> y llamarla")
        note = conversation.message_ids.filtered(lambda m: "llamarla" in m.body)
        self.assertEqual(note.author_id, self.cashier.partner_id)
        self.assertEqual(note.subtype_id, self.env.ref("mail.mt_note"))
        self.assertIn("Request logged at Tienda Sol by", note.body)
        self.assertIn("Pedir la talla 38 &lt;urgente&gt;<br>y llamarla", note.body)
        self.assertEqual(self.log(values), result)
        self.assertEqual(len(self.interactions()), 1)
        self.assertEqual(self.env["omnichannel.conversation"].search_count([("partner_id", "=", self.customer.id)]), 1)
        # A second request opens its own conversation, even with the first one still open.
        second = self.log(dict(values, kind="complaint", note="La talla 38 no llegó", uuid="3f2e-complaint"))
        self.assertNotEqual(second["conversation_id"], result["conversation_id"])
        # The cashier, in no Omnichannel group, sees both in the context.
        self.assertEqual(len(self.context()["conversations"]), 2)

    def test_store_visits_count_as_contact(self):
        self.message(self.customer, "Hola", days_ago=5)
        self.log({"kind": "visit", "note": "Mira abrigos", "uuid": "v1"})
        self.log({"kind": "complaint", "note": "Cremallera rota", "uuid": "v2"})
        context = self.context()
        self.assertEqual(context["last_contact"]["channel_type"], "store")
        self.assertEqual(context["preferred_channel"]["channel_type"], "store")
        customer = self.customer.with_user(self.agent)
        self.env["res.users"].browse(self.agent.id).invalidate_recordset()
        self.assertEqual(customer.omni_last_contact_channel_type, "store")
        self.assertEqual(customer.omni_preferred_channel_type, "store")
        self.assertTrue(customer.omni_last_contact_date)

    def test_visit_logged_offline_keeps_its_time(self):
        # The till was offline when the cashier logged it: it lands when it happened, not when sent.
        logged_at = (fields.Datetime.now() - timedelta(hours=3)).replace(microsecond=0)
        result = self.log({"kind": "visit", "note": "Recoge un paquete", "uuid": "late-1", "date": str(logged_at)})
        self.assertEqual(self.env["omnichannel.interaction"].sudo().browse(result["interaction_id"]).date, logged_at)
        # A till whose clock runs ahead cannot put it in the future.
        ahead = fields.Datetime.now() + timedelta(days=2)
        result = self.log({"kind": "visit", "note": "Otra", "uuid": "late-2", "date": str(ahead)})
        self.assertLessEqual(
            self.env["omnichannel.interaction"].sudo().browse(result["interaction_id"]).date, fields.Datetime.now()
        )

    def test_uuid_of_another_customer_is_refused(self):
        values = {"kind": "visit", "note": "Mira bolsos", "uuid": "same-uuid"}
        self.log(values)
        other = self.env["res.partner"].create({"name": "Otra Clienta"})
        with self.assertRaisesRegex(UserError, "already logged for another customer"):
            self.log(values, partner=other)
        self.assertFalse(self.interactions(other))
        self.assertEqual(len(self.interactions()), 1)

    def test_bad_values_are_readable_errors(self):
        other_company = self.env["res.company"].create({"name": "Otra SL"})
        foreign_team = self.env["omnichannel.team"].create({"name": "Fuera", "company_id": other_company.id})
        cases = [
            (None, "needs its kind, note and uuid"),
            ({"kind": "party", "note": "x", "uuid": "u1"}, "not a kind of store interaction"),
            ({"kind": "visit", "note": 42, "uuid": "u1"}, "must be text"),
            ({"kind": "visit", "note": "a\x00b", "uuid": "u1"}, "cannot be stored"),
            ({"kind": "visit", "note": "\ud800", "uuid": "u1"}, "cannot be stored"),
            ({"kind": "visit", "note": "x" * 1001, "uuid": "u1"}, "keep it under 1000"),
            ({"kind": "request", "note": "", "uuid": "u1"}, "Write down what the customer"),
            ({"kind": "visit", "note": "x", "team_id": foreign_team.id, "uuid": "u1"}, "No active team"),
            ({"kind": "visit", "note": "x", "team_id": "3", "uuid": "u1"}, "No active team"),
            ({"kind": "visit", "note": "x"}, "without a valid uuid"),
            ({"kind": "visit", "note": "x", "uuid": "a b"}, "without a valid uuid"),
            ({"kind": "visit", "note": "x", "uuid": "u1", "date": "yesterday"}, "must read YYYY-MM-DD"),
            ({"kind": "visit", "note": "x", "uuid": "u1", "date": 1764460800}, "must read YYYY-MM-DD"),
            ({"kind": "visit", "note": "x", "uuid": "u1", "date": "2020-01-01 10:00:00"}, "more than 30 days ago"),
        ]
        for values, message in cases:
            with self.subTest(values=values), self.assertRaisesRegex(UserError, message):
                self.log(values)
        self.assertFalse(self.interactions())

    def test_archived_store_channel_is_explained(self):
        self.config.omni_channel_id = self.env["omnichannel.channel"].create(
            {"name": "Tienda cerrada", "channel_type": "store", "active": False}
        )
        with self.assertRaisesRegex(UserError, "is archived"):
            self.log({"kind": "visit", "note": "x", "uuid": "u1"})


@tagged("post_install", "-at_install")
class TestConcurrentLog(TransactionCase):
    """The POS replays a queued call while the first delivery is still being written: two
    transactions log the same uuid at once. They commit, as two requests would; the test
    removes what they committed."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            cashier = new_test_user(env, login="cajero.doble", groups=CASHIER_GROUPS)
            self.ids = {
                "cashier": cashier.id,
                "config": env["pos.config"].create({"name": "Tienda Doble"}).id,
                "team": env["omnichannel.team"].create({"name": "Equipo Doble"}).id,
                "partner": env["res.partner"].create({"name": "Cliente Doble"}).id,
            }
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            config = env["pos.config"].browse(self.ids["config"])
            channel = config.omni_channel_id
            env["omnichannel.interaction"].search([("channel_id", "=", channel.id)]).unlink()
            env["omnichannel.conversation"].search([("channel_id", "=", channel.id)]).unlink()
            config.unlink()
            channel.unlink()
            env["omnichannel.team"].browse(self.ids["team"]).unlink()
            cashier = env["res.users"].browse(self.ids["cashier"])
            partners = env["res.partner"].browse(self.ids["partner"]) | cashier.partner_id
            cashier.unlink()
            partners.unlink()

    def test_same_uuid_at_once_lands_once(self):
        values = {"kind": "request", "note": "Talla 38", "team_id": self.ids["team"], "uuid": "doble-1"}
        with self.registry.cursor() as cr:  # the store channel exists before the tills call
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["pos.config"].browse(self.ids["config"])._omni_store_channel()
        first_wrote, second_started = threading.Event(), threading.Event()
        results, errors = [], []

        def log(env):
            partner = env["res.partner"].with_user(self.ids["cashier"]).browse(self.ids["partner"])
            return partner.omnichannel_pos_log(self.ids["config"], values)

        def first():
            try:
                second_started.wait(10)
                with self.registry.cursor() as cr:
                    results.append(log(api.Environment(cr, SUPERUSER_ID, {})))
                    first_wrote.set()
                    threading.Event().wait(1.0)  # still open while the second runs into our rows
            except Exception as exc:  # reported by the main thread
                errors.append(exc)
                first_wrote.set()

        def second():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    cr.execute("SELECT 1")  # its snapshot predates the first's commit
                    second_started.set()
                    first_wrote.wait(10)
                    results.append(retrying(partial(log, env), env))  # as Odoo's RPC retries
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertFalse(errors, errors)
        self.assertEqual(len(results), 2)
        self.assertEqual(results[0], results[1])
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            channel = env["pos.config"].browse(self.ids["config"]).omni_channel_id
            self.assertEqual(env["omnichannel.interaction"].search_count([("channel_id", "=", channel.id)]), 1)
            self.assertEqual(env["omnichannel.conversation"].search_count([("channel_id", "=", channel.id)]), 1)
