"""The customer context at the till, in the browser (static/tests/tours/customer_context_tour.js).

A cashier with point_of_sale's user group only, in no Omnichannel group, runs the real POS:
finds a customer by her phone given in another format than the one on her contact, sees her
WhatsApp message and open conversation, logs a store visit, and pays. Then a back-office agent
sees the visit and the paid order on the customer's timeline, through the API and in the
timeline widget. Offline (the browser's offline event, as when the shop's network drops), the
context says so and a visit logged meanwhile is sent once back online, or when the till restarts;
a context the server refuses is a message in the dialog. Two of point_of_sale's own tours check
that the POS still works as before.
"""

from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.point_of_sale.tests.test_frontend import TestPointOfSaleHttpCommon

NOTE_ONLINE = "Se prueba la talla 38; pedirla en rojo y llamarla"
NOTE_OFFLINE = "Ha pasado a recoger un paquete"
NOTE_RELOAD = "Deja un vale de regalo para su hermana"
NOTE_OTHER_TAB = "Otra pestaña: quiere el catálogo"


@tagged("post_install", "-at_install")
class TestPosCustomerContextTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.env.ref("point_of_sale.pos_config_main")
        # The shop is in Spain: national numbers are Spanish ones.
        cls.config.company_id.country_id = cls.env.ref("base.es")
        cls.config.omni_show_context = True
        cls.cashier = new_test_user(
            cls.env,
            "pos.omni.cashier",
            password="pos.omni.cashier",  # start_tour logs in with the login as password
            groups="base.group_user,point_of_sale.group_pos_user",
            name="Carla Cajera",
            tz="Europe/Madrid",
            company_id=cls.config.company_id.id,
        )
        cls.agent = new_test_user(
            cls.env,
            "pos.omni.agent",
            password="pos.omni.agent",
            groups="base.group_user,omnichannel_base.group_omnichannel_user,point_of_sale.group_pos_user",
            name="Ana Agente",
            tz="Europe/Madrid",
            company_id=cls.config.company_id.id,
        )
        cls.team = cls.env["omnichannel.team"].create(
            {"name": "Tienda Madrid", "member_ids": [(6, 0, cls.agent.ids)], "company_id": cls.config.company_id.id}
        )
        cls.whatsapp = cls.env["omnichannel.channel"].create(
            {
                "name": "WhatsApp Tienda",
                "channel_type": "whatsapp",
                "team_id": cls.team.id,
                "company_id": cls.config.company_id.id,
            }
        )
        cls.store = cls.env["omnichannel.channel"].create(
            {
                "name": "Tienda Gran Vía",
                "channel_type": "store",
                "team_id": cls.team.id,
                "company_id": cls.config.company_id.id,
            }
        )
        cls.config.omni_channel_id = cls.store
        # Her number was typed on her contact the national way; she gives it the international
        # way (as her WhatsApp shows it): only the identity lookup reads both as one number.
        cls.customer = cls.env["res.partner"].create({"name": "Marta Quintana", "phone": "612 34 56 78"})
        message = cls.env["omnichannel.ingest"].ingest(
            {
                "channel_id": cls.whatsapp.id,
                "external_id": "wamid.talla38",
                "date": fields.Datetime.now() - timedelta(days=1),
                "sender": {"phone": "+34612345678"},
                "body": "¿Tenéis la talla 38 en rojo?",
            }
        )
        assert message.partner_id == cls.customer, "the WhatsApp sender is the customer"
        cls.conversation = message.conversation_id
        cls.conversation.user_id = cls.agent
        cls.env["omnichannel.consent"]._record(
            [
                {
                    "partner_id": cls.customer.id,
                    "channel_id": cls.whatsapp.id,
                    "opt": "out",
                    "scope": "marketing",
                    "source": "keyword",
                    "reason": "BAJA",
                }
            ]
        )
        # Her loyalty card (a program not run at this till, so that the sale stays a plain one).
        program = cls.env["loyalty.program"].create(
            {"name": "Club Tienda", "program_type": "loyalty", "pos_ok": False, "company_id": cls.config.company_id.id}
        )
        cls.env["loyalty.card"].create({"program_id": program.id, "partner_id": cls.customer.id, "points": 120})
        # The cashier opened the register this morning.
        cls.config.with_user(cls.cashier).open_ui()
        cls.config.current_session_id.with_user(cls.cashier).set_opening_control(0, "")

    def start_pos_tour(self, tour):
        self.start_tour(f"/pos/ui?config_id={self.config.id}", tour, login=self.cashier.login, timeout=180)

    def store_interactions(self):
        return self.env["omnichannel.interaction"].search(
            [("partner_id", "=", self.customer.id), ("channel_id", "=", self.store.id)], order="id"
        )

    def test_cashier_sees_context_logs_visit_and_pays(self):
        self.start_pos_tour("omnichannel_pos_context_tour")

        self.env.invalidate_all()
        visits = self.store_interactions()
        self.assertEqual(len(visits), 1, "one visit logged")
        self.assertEqual(
            (visits.kind, visits.direction, visits.user_id), ("visit", "inbound", self.cashier), "by the cashier"
        )
        self.assertIn(NOTE_ONLINE, visits.summary)
        follow_up = visits.conversation_id
        self.assertTrue(follow_up, "the visit opened a conversation")
        self.assertEqual((follow_up.team_id, follow_up.channel_id), (self.team, self.store))

        order = self.env["pos.order"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(order), 1)
        self.assertIn(order.state, ("paid", "done", "invoiced"))

        # The back office sees both on her timeline: an agent with POS user rights.
        items = self.customer.with_user(self.agent).omnichannel_timeline()["items"]
        visit_items = [item for item in items if item["kind"] == "visit"]
        self.assertEqual(len(visit_items), 1)
        self.assertIn(NOTE_ONLINE, visit_items[0]["summary"])
        self.assertEqual(visit_items[0]["channel_type"], "store")
        order_items = [item for item in items if item["kind"] == "pos_order"]
        self.assertEqual(len(order_items), 1, items)
        self.assertEqual(order_items[0]["source"], {"model": "pos.order", "id": order.id, "name": order.display_name})

        # ... and so does the timeline widget on her contact.
        self.start_tour(
            f"/odoo/res.partner/{self.customer.id}",
            "omnichannel_pos_timeline_tour",
            login=self.agent.login,
            timeout=120,
        )

    def test_offline_visit_is_queued_and_sent_once_online(self):
        self.start_pos_tour("omnichannel_pos_context_offline_tour")

        self.env.invalidate_all()
        visits = self.store_interactions()
        # The request another tab of the till had queued is not written over by this tab's visit.
        self.assertEqual(len(visits), 2, "each queued interaction was sent once")
        self.assertEqual(
            sorted(visits.mapped("summary")), sorted([f"Visit · {NOTE_OFFLINE}", f"Request · {NOTE_OTHER_TAB}"])
        )
        self.assertEqual(visits.user_id, self.cashier)
        self.assertFalse(visits.conversation_id, "no team asked offline")
        self.assertEqual(self.env["pos.order"].search_count([("partner_id", "=", self.customer.id)]), 1)

    def test_offline_visit_survives_a_restart_of_the_till(self):
        self.start_pos_tour("omnichannel_pos_context_reload_tour")

        self.env.invalidate_all()
        visits = self.store_interactions()
        self.assertEqual(len(visits), 1)
        self.assertIn(NOTE_RELOAD, visits.summary)

    def test_failed_context_is_a_message_not_an_error_dialog(self):
        self.start_pos_tour("omnichannel_pos_context_error_tour")


@tagged("post_install", "-at_install")
class TestPointOfSaleToursStillPass(TestPointOfSaleHttpCommon):
    """Two of point_of_sale's own tours, with this module installed: the product screen (where
    the Customer Context button sits) and the customer search (phone searches go through the
    identity lookup too). point_of_sale's test_frontend.py runs them the same way."""

    def test_product_screen_tour(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        # In test_01_pos_basic_order, an earlier tour of the same session opened the register.
        self.main_pos_config.current_session_id.set_opening_control(0, None)
        self.start_pos_tour("ProductScreenTour")

    def test_customer_search_tour(self):
        self.env["res.partner"].create(
            {
                "name": "John Doe",
                "street": "1 street of astreet",
                "city": "Acity",
                "state_id": self.env.ref("base.state_us_30").id,
                "country_id": self.env.ref("base.us").id,
                "zip": "26432685463",
                "phone": "9898989899",
                "mobile": "0987654321",
                "email": "john@doe.com",
            }
        )
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("PosCustomerAllFieldsDisplayed")
