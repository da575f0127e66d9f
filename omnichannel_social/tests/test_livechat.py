import json

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME, Opener
from odoo.tools import mute_logger

OPERATOR_PASSWORD = "sofia.operadora"
PORTAL_PASSWORD = "pablo.portal"


@tagged("post_install", "-at_install")
class TestLivechatBridge(HttpCase):
    """Odoo's website live chat, driven through its own HTTP routes: a visitor (an anonymous guest
    or a portal user) opens a session and writes, an operator who is in no Omnichannel group
    answers from Discuss, and the bridge records it all on one conversation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.operator = cls.env["res.users"].create(
            {
                "name": "Sofía Operadora",
                "login": "sofia.operadora",
                "password": OPERATOR_PASSWORD,
                "email": "sofia@example.com",
                "groups_id": [
                    (6, 0, [cls.env.ref("base.group_user").id, cls.env.ref("im_livechat.im_livechat_group_user").id])
                ],
            }
        )
        cls.env["bus.presence"].create({"user_id": cls.operator.id, "status": "online"})
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Lucía Agente",
                "login": "lucia.agente.livechat",
                "email": "lucia@example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        cls.livechat = cls.env["im_livechat.channel"].create({"name": "Soporte web", "user_ids": [cls.operator.id]})
        cls.channel = cls.env["omnichannel.channel"].search([("livechat_channel_id", "=", cls.livechat.id)])

    def setUp(self):
        super().setUp()
        self.visitor = self.new_opener()
        self.operator_opener = self.login(self.operator.login, OPERATOR_PASSWORD)

    # ------------------------------------------------------------ as the browsers do
    def new_opener(self):
        opener = Opener(self.cr)
        opener.cookies[TEST_CURSOR_COOKIE_NAME] = self.http_request_key
        return opener

    def login(self, login, password):
        saved = self.opener
        self.authenticate(login, password)
        opener, self.opener = self.opener, saved
        return opener

    def rpc(self, opener, route, params):
        saved, self.opener = self.opener, opener
        try:
            return self.make_jsonrpc_request(route, params)
        finally:
            self.opener = saved
            self.env.invalidate_all()

    def start_session(self, opener=None, chatbot=None):
        data = self.rpc(
            opener or self.visitor,
            "/im_livechat/get_session",
            {
                "channel_id": self.livechat.id,
                "anonymous_name": "Visitor",
                "persisted": True,
                **({"chatbot_script_id": chatbot.id} if chatbot else {}),
            },
        )
        return self.env["discuss.channel"].browse(data["discuss.channel"][0]["id"])

    def say(self, opener, session, text):
        """Post in the session as Odoo's live chat window (visitor) or Discuss (operator) does."""
        data = self.rpc(
            opener,
            "/mail/message/post",
            {
                "thread_model": "discuss.channel",
                "thread_id": session.id,
                "post_data": {"body": text, "message_type": "comment", "subtype_xmlid": "mail.mt_comment"},
            },
        )
        return self.env["mail.message"].browse(data["mail.message"][0]["id"])

    def conversation_of(self, session):
        return self.env["omnichannel.conversation"].search(
            [("channel_id", "=", self.channel.id), ("thread_key", "=", str(session.id))]
        )

    def interaction_of(self, session, message):
        return self.env["omnichannel.interaction"].search(
            [("channel_id", "=", self.channel.id), ("external_id", "=", f"{session.id}:{message.id}")]
        )

    # ------------------------------------------------------------ tests
    def test_channel_follows_each_livechat_channel(self):
        self.assertEqual(len(self.channel), 1)
        self.assertEqual(
            (self.channel.channel_type, self.channel.provider, self.channel.name, self.channel.company_id),
            ("livechat", "livechat", "Soporte web", self.operator.company_id),
        )
        found = self.channel.with_user(self.env.ref("base.user_admin")).action_test_connection()
        self.assertIn("Soporte web: 1 operators, 1 available now.", found["params"]["message"])
        # Live chat has no webhook: its URL answers 403 and stores nothing.
        response = self.url_open(
            f"/omnichannel/webhook/livechat/{self.channel.sudo().webhook_key}", data=b"{}", timeout=12
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(self.env["omnichannel.inbox"].search([("channel_id", "=", self.channel.id)]))

    def test_guest_and_operator_on_one_conversation(self):
        session = self.start_session()
        guest = session.channel_member_ids.guest_id
        self.assertTrue(guest)
        last_bus = self.env["bus.bus"].sudo().search([], order="id desc", limit=1).id
        asked = self.say(self.visitor, session, "Hola, ¿enviáis a Canarias?")

        # Odoo's live chat as before: the operator is told at once, and reads it.
        notified = self.env["bus.bus"].sudo().search([("id", ">", last_bus)])
        new_messages = [json.loads(n.message) for n in notified if f'"discuss.channel",{session.id}]' in n.channel]
        self.assertIn(
            asked.id,
            [
                message["id"]
                for n in new_messages
                if n["type"] == "discuss.channel/new_message"
                for message in n["payload"]["data"]["mail.message"]
            ],
        )
        seen = self.rpc(self.operator_opener, "/discuss/channel/messages", {"channel_id": session.id})
        self.assertIn(asked.id, seen["messages"])

        conversation = self.conversation_of(session)
        self.assertEqual(len(conversation), 1)
        customer = conversation.partner_id
        self.assertEqual(customer.name, f"Visitor #{guest.id}")
        self.assertIn(f"livechat:{guest.id}", customer.omni_identity_ids.mapped("value"))
        inbound = self.interaction_of(session, asked)
        self.assertEqual(
            (inbound.direction, inbound.partner_id, inbound.conversation_id, inbound.summary),
            ("inbound", customer, conversation, "Hola, ¿enviáis a Canarias?"),
        )
        self.assertEqual(inbound.mail_message_id.model, "omnichannel.conversation")
        self.assertEqual(inbound.mail_message_id.author_id, customer)

        answer = self.say(self.operator_opener, session, "Sí, en 48 horas.")
        self.assertEqual(answer.author_id, self.operator.partner_id)
        outbound = self.interaction_of(session, answer)
        self.assertEqual(
            (outbound.direction, outbound.user_id, outbound.conversation_id, outbound.partner_id),
            ("outbound", self.operator, conversation, customer),
        )
        self.assertEqual(outbound.mail_message_id.author_id, self.operator.partner_id)
        self.assertEqual(conversation.user_id, self.operator)
        self.assertEqual(conversation.state, "open")
        self.assertTrue(conversation.first_response_date)
        # The visitor reads the answer in the live chat window, which holds only the two messages:
        # the bridge posted nothing there, and the operator follows no copy of them.
        read = self.rpc(self.visitor, "/discuss/channel/messages", {"channel_id": session.id})
        self.assertEqual(set(read["messages"]), {asked.id, answer.id})
        self.assertNotIn(self.operator.partner_id, conversation.message_partner_ids)
        self.assertFalse(
            self.env["mail.notification"].search(
                [("res_partner_id", "=", self.operator.partner_id.id), ("mail_message_id.res_id", "=", conversation.id)]
            )
        )
        # On the customer's timeline, both.
        self.assertEqual(
            self.env["omnichannel.interaction"].search([("partner_id", "=", customer.id)]), inbound | outbound
        )

    def test_chatbot_email_of_a_known_customer_is_only_a_claim(self):
        """Anyone can type a customer's email: an anonymous visitor who does is not merged into
        that customer, and their chat stays off the customer's timeline; the agents are told."""
        marta = self.env["res.partner"].create({"name": "Marta Ruiz", "email": "marta.ruiz@example.com"})
        bot = self.env["chatbot.script"].create(
            {
                "title": "Asistente",
                "script_step_ids": [
                    (0, 0, {"step_type": "text", "message": "¡Hola! Soy el asistente."}),
                    (0, 0, {"step_type": "question_email", "message": "¿Cuál es tu email?"}),
                    (0, 0, {"step_type": "text", "message": "Gracias, te escribimos pronto."}),
                ],
            }
        )
        self.livechat.rule_ids = [(0, 0, {"chatbot_script_id": bot.id})]
        session = self.start_session(chatbot=bot)
        guest = session.channel_member_ids.guest_id
        greetings = session.message_ids.sorted("id")
        self.assertEqual(len(greetings), 2)
        self.assertFalse(self.conversation_of(session), "a chatbot's greeting alone opens no conversation")

        email = self.say(self.visitor, session, "Marta.Ruiz@example.com")
        anonymous = self.conversation_of(session).partner_id
        self.assertEqual(anonymous.name, f"Visitor #{guest.id}")
        self.rpc(self.visitor, "/chatbot/step/trigger", {"channel_id": session.id})

        conversation = self.conversation_of(session)
        self.assertEqual(conversation.partner_id, anonymous)
        self.assertTrue(anonymous.exists(), "no merge on a guest's word")
        self.assertFalse(anonymous.email, "Marta's email stays Marta's: her mail is not routed to the visitor")
        self.assertFalse(session.sudo().omni_partner_id)
        self.assertNotIn(f"livechat:{guest.id}", marta.omni_identity_ids.mapped("value"))
        self.assertFalse(self.env["omnichannel.interaction"].search([("partner_id", "=", marta.id)]))
        self.assertFalse(self.env["omnichannel.conversation"].search([("partner_id", "=", marta.id)]))
        claim = conversation.message_ids.filtered(lambda m: m.subtype_id == self.env.ref("mail.mt_note"))
        self.assertEqual(len(claim), 1)
        self.assertIn("The visitor says they are Marta Ruiz (marta.ruiz@example.com)", claim.preview)
        interactions = self.env["omnichannel.interaction"].search([("conversation_id", "=", conversation.id)])
        thanks = session.message_ids.filtered(lambda m: m.message_type == "comment").sorted("id")[-1]
        self.assertEqual(
            interactions.sorted("id").mapped(lambda i: (i.external_id, i.direction)),
            [
                (f"{session.id}:{email.id}", "inbound"),
                (f"{session.id}:{greetings[0].id}", "outbound"),
                (f"{session.id}:{greetings[1].id}", "outbound"),
                (f"{session.id}:{thanks.id}", "outbound"),
            ],
        )
        self.assertEqual(interactions.partner_id, anonymous)
        self.assertEqual(
            interactions.mail_message_id.filtered(lambda m: m.author_id != anonymous).author_id,
            bot.operator_partner_id,
            "the chatbot's messages are signed by the chatbot in the conversation too",
        )
        # Their next message joins the same conversation, still as the visitor's.
        later = self.say(self.visitor, session, "¿Y el pedido 1234?")
        self.assertEqual(self.interaction_of(session, later).conversation_id, conversation)
        self.assertEqual(self.interaction_of(session, later).partner_id, anonymous)

    def test_chatbot_phone_of_a_known_customer_is_only_a_claim(self):
        andres = self.env["res.partner"].create({"name": "Andrés Gil", "mobile": "612 34 56 78"})
        bot = self.env["chatbot.script"].create(
            {
                "title": "Asistente",
                "script_step_ids": [(0, 0, {"step_type": "question_phone", "message": "¿Tu teléfono?"})],
            }
        )
        self.livechat.rule_ids = [(0, 0, {"chatbot_script_id": bot.id})]
        session = self.start_session(chatbot=bot)
        self.say(self.visitor, session, "+34 612-345-678")
        self.rpc(self.visitor, "/chatbot/step/trigger", {"channel_id": session.id})
        conversation = self.conversation_of(session)
        self.assertNotEqual(conversation.partner_id, andres)
        self.assertTrue(conversation.partner_id.name.startswith("Visitor #"))
        self.assertFalse(self.env["omnichannel.interaction"].search([("partner_id", "=", andres.id)]))
        self.assertIn("Andrés Gil (+34612345678)", conversation.message_ids.mapped("preview")[0])

    def test_transcript_email_of_a_known_customer_is_only_a_claim(self):
        marta = self.env["res.partner"].create({"name": "Marta Ruiz", "email": "marta.ruiz@example.com"})
        session = self.start_session()
        self.say(self.visitor, session, "Soy Marta, cambiad la dirección de mi pedido")
        customer = self.conversation_of(session).partner_id
        self.rpc(
            self.visitor,
            "/im_livechat/email_livechat_transcript",
            {"channel_id": session.id, "email": "marta.ruiz@example.com"},
        )
        later = self.say(self.visitor, session, "A la calle Mayor 1")
        self.assertEqual(self.conversation_of(session).partner_id, customer)
        self.assertEqual(self.interaction_of(session, later).partner_id, customer)
        self.assertTrue(customer.exists())
        self.assertFalse(self.env["omnichannel.interaction"].search([("partner_id", "=", marta.id)]))

    def test_transcript_email_names_an_unknown_visitor(self):
        session = self.start_session()
        self.say(self.visitor, session, "Quería información")
        customer = self.conversation_of(session).partner_id
        self.rpc(
            self.visitor,
            "/im_livechat/email_livechat_transcript",
            {"channel_id": session.id, "email": "nuevo.cliente@example.com"},
        )
        self.assertEqual(self.conversation_of(session).partner_id, customer, "no one else to merge with")
        self.assertEqual((customer.name, customer.email), ("nuevo.cliente@example.com", "nuevo.cliente@example.com"))
        self.assertIn("nuevo.cliente@example.com", customer.omni_identity_ids.mapped("value"))

    def test_operator_sending_a_transcript_identifies_no_one(self):
        session = self.start_session()
        self.say(self.visitor, session, "Hola")
        customer = self.conversation_of(session).partner_id
        session.with_user(self.operator)._email_livechat_transcript("sofia.copia@example.com")
        self.assertFalse(customer.email)
        self.assertFalse(session.sudo().omni_partner_id)

    def test_portal_user_is_known_from_the_start(self):
        portal = self.env["res.users"].create(
            {
                "name": "Pablo Portal",
                "login": "pablo.portal",
                "password": PORTAL_PASSWORD,
                "email": "pablo@example.com",
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        opener = self.login(portal.login, PORTAL_PASSWORD)
        session = self.start_session(opener)
        message = self.say(opener, session, "Soy cliente, ¿mi pedido?")
        interaction = self.interaction_of(session, message)
        self.assertEqual((interaction.direction, interaction.partner_id), ("inbound", portal.partner_id))
        self.assertEqual(self.conversation_of(session).partner_id, portal.partner_id)
        self.assertFalse(self.env["res.partner"].search([("name", "like", "Visitor #")]))

    def test_rating_becomes_the_conversations_csat(self):
        session = self.start_session()
        self.say(self.visitor, session, "¿Horario de la tienda?")
        self.say(self.operator_opener, session, "De 10 a 20 h.")
        self.rpc(self.visitor, "/im_livechat/feedback", {"channel_id": session.id, "rate": 5, "reason": "Muy rápido"})
        conversation = self.conversation_of(session)
        self.assertEqual(conversation.rating_last_value, 5)
        csat = conversation.rating_ids
        self.assertEqual(
            (len(csat), csat.feedback, csat.partner_id, csat.rated_partner_id, csat.consumed),
            (1, "Muy rápido", conversation.partner_id, self.operator.partner_id, True),
        )
        self.assertEqual(csat.message_id.model, "omnichannel.conversation")
        # The visitor changes their mind: still one rating, the new one.
        self.rpc(self.visitor, "/im_livechat/feedback", {"channel_id": session.id, "rate": 1, "reason": "Al final no"})
        self.assertEqual(conversation.rating_last_value, 1)
        self.assertEqual(len(conversation.rating_ids), 1)
        # Leaving the chat ends its conversation.
        self.rpc(self.visitor, "/im_livechat/visitor_leave_session", {"channel_id": session.id})
        self.assertEqual(conversation.state, "resolved")

    def test_agent_answers_from_the_conversation(self):
        session = self.start_session()
        self.say(self.visitor, session, "¿Tenéis la talla 38?")
        conversation = self.conversation_of(session)
        reply = conversation.with_user(self.agent).message_post(
            body="Sí, en azul y en negro.", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        read = self.rpc(self.visitor, "/discuss/channel/messages", {"channel_id": session.id})
        posted = self.env["mail.message"].browse(max(read["messages"]))
        self.assertEqual((posted.author_id, posted.body), (self.agent.partner_id, reply.body))
        interaction = self.interaction_of(session, posted)
        self.assertEqual(
            (interaction.direction, interaction.mail_message_id, interaction.user_id),
            ("outbound", reply, self.agent),
        )
        self.assertEqual(len(conversation.message_ids.filtered(lambda m: m.body == reply.body)), 1)
        # A later message in the session does not record the agent's reply a second time.
        self.say(self.visitor, session, "Gracias")
        self.assertEqual(len(conversation.interaction_ids), 3)
        self.rpc(self.visitor, "/im_livechat/visitor_leave_session", {"channel_id": session.id})
        conversation.action_reopen()
        with self.assertRaises(UserError):
            conversation.with_user(self.agent).message_post(
                body="¿Sigues ahí?", message_type="comment", subtype_xmlid="mail.mt_comment"
            )

    @mute_logger("odoo.addons.omnichannel_social.models.discuss_channel")
    def test_bridge_failure_never_reaches_the_visitor(self):
        session = self.start_session()
        # A message over the ingest limit: the bridge fails, the live chat does not.
        self.env["ir.config_parameter"].sudo().set_param("omnichannel.max_body_chars", "10")
        long_text = self.say(self.visitor, session, "Un mensaje bastante largo")
        self.assertEqual(long_text.model, "discuss.channel")
        self.assertFalse(self.conversation_of(session))
        answer = self.say(self.operator_opener, session, "Dime")
        self.assertEqual(answer.author_id, self.operator.partner_id)
        # Once the cause is gone, the next message catches up with what was missed.
        self.env["ir.config_parameter"].sudo().set_param("omnichannel.max_body_chars", "65536")
        short = self.say(self.visitor, session, "Hola")
        recorded = self.conversation_of(session).interaction_ids
        self.assertEqual(
            set(recorded.mapped("external_id")), {f"{session.id}:{m.id}" for m in (long_text, answer, short)}
        )
        # An archived channel records nothing, and the live chat still works.
        self.channel.active = False
        quiet = self.say(self.visitor, session, "¿Hola?")
        self.assertFalse(self.interaction_of(session, quiet))
