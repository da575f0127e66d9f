from odoo.tests import HttpCase, tagged

from .common import DOMAIN, build_mail
from .smtp_server import LocalSmtpServer

CUSTOMER = "tour.cliente@gmail.com"
INBOUND_ID = "<envio-sevilla.tour@mail.gmail.com>"


@tagged("post_install", "-at_install")
class TestMailTour(HttpCase):
    """An agent answers a real inbound mail from the inbox with a canned response."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # MailChannelCase's set-up (it is a TransactionCase): alias domain, SMTP, channel.
        cls.env.company.country_id = cls.env.ref("base.es")
        alias_domain = cls.env["mail.alias.domain"].search([("name", "=", DOMAIN)]) or cls.env[
            "mail.alias.domain"
        ].create({"name": DOMAIN})
        cls.env.company.alias_domain_id = alias_domain
        cls.smtp = LocalSmtpServer().__enter__()
        cls.addClassCleanup(cls.smtp.__exit__, None, None, None)
        cls.env["ir.mail_server"].create(
            {"name": "Local SMTP", "smtp_host": cls.smtp.host, "smtp_port": cls.smtp.port, "sequence": 1}
        )
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Soporte", "channel_type": "email", "alias_name": "soporte", "alias_domain_id": alias_domain.id}
        )

    def test_agent_answers_an_email_with_a_canned_response(self):
        raw = build_mail(
            sender=f"Tour Cliente <{CUSTOMER}>",
            body="¿Cuánto tarda el envío a Sevilla?",
            Subject="Envío a Sevilla",
            Message_ID=INBOUND_ID,
        )
        thread_id = self.env["mail.thread"].message_process(False, raw)
        conversation = self.env["omnichannel.conversation"].browse(thread_id)
        self.assertEqual((conversation.channel_id, conversation.partner_id.email), (self.channel, CUSTOMER))
        self.assertEqual(conversation.state, "new")
        inbound = conversation.message_ids.filtered(lambda m: m.message_type == "email")
        self.assertEqual(inbound.message_id, INBOUND_ID, "the gateway posted the customer's mail")
        canned = self.env.ref("omnichannel_mail.canned_response_shipping")
        self.assertFalse(canned.last_used)

        self.start_tour("/odoo", "omnichannel_mail_tour", login="admin")

        self.assertEqual(conversation.state, "resolved")
        self.assertEqual(conversation.user_id, self.env.ref("base.user_admin"))
        self.assertTrue(conversation.first_response_date)
        outbound = conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.assertEqual(len(outbound), 1)
        self.assertTrue(outbound.summary.startswith("Los pedidos salen en 24 horas"), outbound.summary)
        self.assertTrue(canned.last_used, "the composer posted the canned response as used")

        # The web request queued the customer's copy for after its commit, a hook test cursors
        # skip: send the queue as Odoo's mail cron does.
        self.env["mail.mail"].search([("model", "=", conversation._name), ("res_id", "=", conversation.id)]).send()
        received = [m["message"] for m in self.smtp.messages if m["to"] == [CUSTOMER]]
        self.assertEqual(len(received), 1, "the answer went out through the mail server")
        sent = received[0]
        self.assertIn("24 horas laborables", sent.get_body(("html", "plain")).get_content())
        self.assertEqual(sent["In-Reply-To"], INBOUND_ID, "threaded on the customer's mail")
