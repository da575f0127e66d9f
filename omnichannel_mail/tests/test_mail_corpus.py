"""Real clients' mail (tests/data/mail, see its README) through Odoo's mail gateway."""

import base64
import random
from pathlib import Path

from odoo.tests import tagged

from .common import MailChannelCase, build_mail

CORPUS = Path(__file__).parent / "data" / "mail"


@tagged("post_install", "-at_install")
class TestMailCorpus(MailChannelCase):
    def setUp(self):
        super().setUp()
        self.smtp.messages.clear()  # the server lives as long as the class

    def sent_to(self, address):
        return [m for m in self.smtp.messages if address in m["to"]]

    def load(self, name, agent_message=None, quotation_message=None):
        data = (CORPUS / name).read_bytes()
        if agent_message:
            data = data.replace(b"{{AGENT_MESSAGE_ID}}", agent_message.message_id.encode())
        if quotation_message:
            data = data.replace(b"{{QUOTATION_MESSAGE_ID}}", quotation_message.message_id.encode())
        self.assertNotIn(b"{{", data, f"{name}: a placeholder is left")
        return data

    def agent_thread(self, sender):
        """A conversation opened by ``sender``'s mail, and the agent's answer to it."""
        conversation = self.process(self.mail(sender=sender, Subject="Su pedido S00051 ha sido enviado"))
        return conversation, self.reply_as_agent(conversation)

    def email_of(self, conversation):
        return conversation.message_ids.filtered(lambda m: m.message_type == "email")[:1]

    def conversations(self):
        return self.env["omnichannel.conversation"].search([("channel_id", "=", self.channel.id)])

    # ------------------------------------------------------------ new conversations
    def test_01_gmail_new_request(self):
        conversation = self.process(self.load("01_gmail_new_request.eml"))
        self.assertEqual(conversation.state, "new")
        self.assertEqual(conversation.partner_id.name, "Lucía Fernández")
        self.assertEqual(conversation.partner_id.email, "lucia.fernandez@gmail.com")
        message = self.email_of(conversation)
        self.assertEqual(message.subject, "Pedido S00042: la chaqueta llegó en talla equivocada")
        self.assertIn("¿Podéis enviarme la talla correcta?", message.body)
        self.assertEqual(conversation.interaction_ids.summary, message.subject)

    def test_05_yahoo_alternative_with_unknown_references(self):
        conversation = self.process(self.load("05_multipart_alternative_only.eml"))
        self.assertEqual((conversation.partner_id.email, conversation.state), ("oliver.bennett@yahoo.co.uk", "new"))
        self.assertIn("<", self.email_of(conversation).body, "the HTML alternative is the body")

    def test_06_nested_parts_inline_image_and_pdf(self):
        conversation = self.process(self.load("06_nested_inline_image.eml"))
        message = self.email_of(conversation)
        self.assertEqual(
            sorted(message.attachment_ids.mapped("name")), ["captura_error_pago.png", "justificante_pago_S00060.pdf"]
        )
        self.assertNotIn("cid:", message.body, "the inline image points at its attachment")
        png = message.attachment_ids.filtered(lambda a: a.name.endswith(".png"))
        self.assertTrue(png.raw.startswith(b"\x89PNG"))

    def test_07_to_11_charsets_and_encodings(self):
        expected = {
            "07_quoted_printable.eml": ["cumpleaños", "pequeña", "niña"],
            "08_base64_body.eml": ["432,60 €", "«Bahía»", "180×280"],
            "09_iso_8859_1.eml": ["¿Me podéis decir", "Ramón Pérez Ibáñez"],
            "10_windows_1252.eml": ["7,50 € por taza – ¿ese precio", "“Club Ciclista Alameda”", "‘entrega en 5 días’"],
        }
        for name, texts in expected.items():
            with self.subTest(name):
                body = self.email_of(self.process(self.load(name))).body
                for text in texts:
                    self.assertIn(text, body)
                self.assertNotIn("\ufffd", body)
                self.assertNotIn("=C3", body)
        conversation = self.process(self.load("11_rfc2047_headers.eml"))
        self.assertEqual(
            self.email_of(conversation).subject,
            "Devolución del pedido S00077 — reembolso pendiente desde hace 15 días ✔",
        )
        self.assertEqual(conversation.partner_id.name, "María del Carmen Núñez")

    def test_12_forward_as_attachment_stays_one_attachment(self):
        conversation = self.process(self.load("12_forwarded.eml"))
        self.assertEqual(conversation.partner_id.email, "lucia.fernandez@gmail.com")
        attachments = self.email_of(conversation).attachment_ids
        self.assertIn("Aviso de entrega fallida - envío PQ4F2X0712345670128001X.eml", attachments.mapped("name"))
        self.assertEqual(len(self.conversations()), 1, "the forwarded mail opens nothing of its own")

    def test_13_calendar_invite_keeps_the_ics(self):
        conversation = self.process(self.load("13_calendar_invite.eml"))
        self.assertEqual(conversation.partner_id.email, "daniel.ortiz@hotelmirador.example")
        message = self.email_of(conversation)
        self.assertIn("invite.ics", message.attachment_ids.mapped("name"))
        self.assertNotIn("BEGIN:VCALENDAR", message.body)

    def test_14_ten_megabyte_attachment(self):
        payload = random.Random(2026).randbytes(10 * 1024 * 1024)
        template = (CORPUS / "14_large_attachment.template.eml").read_bytes()
        raw = template.replace(
            b"{{LARGE_ATTACHMENT_BASE64}}", base64.encodebytes(payload).decode().rstrip("\n").encode()
        )
        conversation = self.process(raw)
        attachment = self.email_of(conversation).attachment_ids.filtered(lambda a: a.name == "catalogo_2026.zip")
        self.assertEqual(attachment.file_size, 10 * 1024 * 1024)
        self.assertEqual(attachment.raw, payload)

    def test_17_no_message_id(self):
        conversation = self.process(self.load("17_no_message_id.eml"))
        self.assertEqual(conversation.partner_id.email, "tpv@franquicia-gijon.example")
        self.assertTrue(conversation.interaction_ids.external_id, "Odoo gave it an id of its own")

    def test_21_undecodable_parts_are_kept(self):
        conversation = self.process(self.load("21_undecodable_part.eml"))
        message = self.email_of(conversation)
        self.assertIn("Adjuntamos albarán de entrega nº 4471", message.body)
        self.assertEqual(sorted(message.attachment_ids.mapped("name")), ["albaran_4471.txt", "etiqueta_envio_4471.pdf"])
        self.assertIn(b"\xff\xfe", message.attachment_ids.filtered(lambda a: a.name.endswith(".txt")).raw)

    def test_23_24_one_customer_whatever_the_domain_spelling(self):
        unicode_mail = self.process(self.load("23_unicode_domain.eml"))
        punycode_mail = self.process(self.load("24_punycode_domain.eml"))
        self.assertEqual(unicode_mail.partner_id, punycode_mail.partner_id)
        self.assertEqual(unicode_mail.partner_id.name, "Zoë Müller")
        identities = unicode_mail.partner_id.omni_identity_ids.filtered(lambda i: i.kind == "email")
        self.assertEqual(identities.mapped("value"), ["zoe@xn--mller-bckerei-hfb76a.de"])

    # ------------------------------------------------------------ replies
    def test_02_03_04_replies_join_the_agents_conversation(self):
        cases = [
            ("02_gmail_reply.eml", "Lucía Fernández <lucia.fernandez@gmail.com>"),
            ("03_outlook_reply_rewritten_subject.eml", "José García <jose.garcia@outlook.es>"),
            ("04_apple_mail_reply.eml", "Emma Thompson <emma@icloud.com>"),
        ]
        for name, sender in cases:
            with self.subTest(name):
                conversation, agent_message = self.agent_thread(sender)
                conversation.action_set_pending()
                count = len(self.conversations())
                self.assertEqual(self.process(self.load(name, agent_message)), conversation)
                self.assertEqual(len(self.conversations()), count, "no new conversation")
                self.assertEqual(conversation.state, "open", "the customer's answer wakes it up")
                self.assertEqual(self.email_of(conversation).author_id, conversation.partner_id)

    def test_16_19_20_26_automatic_mail_changes_nothing(self):
        for name, sender in [
            ("16_out_of_office.eml", "Carmen Ortega <carmen.ortega@reformasortega.example>"),
            ("19_gmail_vacation.eml", "Lucía Fernández <lucia.fernandez@gmail.com>"),
            ("26_read_receipt.eml", "Daniel Clarke <daniel.clarke@fastmail.com>"),
        ]:
            with self.subTest(name):
                conversation, agent_message = self.agent_thread(sender)
                conversation.action_set_pending()
                customer = conversation.partner_id.email

                def state(conversation=conversation, customer=customer):
                    return len(self.conversations()), len(conversation.interaction_ids), len(self.sent_to(customer))

                before = state()
                self.env["mail.thread"].message_process(False, self.load(name, agent_message))
                self.assertEqual(conversation.state, "pending", "an automatic reply wakes nothing up")
                after = state()
                self.assertEqual(after, before, "no conversation, no customer message, nothing sent back")
                self.assertNotEqual(
                    agent_message.notification_ids.mapped("notification_status"), ["bounce"], "a receipt is no bounce"
                )
        count = len(self.conversations())
        self.env["mail.thread"].message_process(False, self.load("20_x_autoreply.eml"))
        self.assertEqual(len(self.conversations()), count)
        self.assertIn("hostalsolymar", self.channel.message_ids[0].email_from, "kept on the channel")

    def test_18_mailing_list_opens_nothing(self):
        self.env["mail.thread"].message_process(False, self.load("18_mailing_list.eml"))
        self.assertFalse(self.conversations())
        self.assertEqual(len(self.channel.message_ids.filtered(lambda m: m.message_type == "email")), 1)
        self.assertFalse(self.sent_to("comercio-centro@lists.asociacion-comerciantes.example"))
        self.assertFalse(self.sent_to("rosa@floristeriavidal.example"), "nothing answers the list")

    # ------------------------------------------------------------ delivery reports
    def test_15_bounce_and_25_delay(self):
        conversation, agent_message = self.agent_thread("Pedro Alonso <pedro.alonso@antiguo-isp.example>")
        outbound = conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.env["mail.thread"].message_process(False, self.load("25_dsn_delayed.eml", agent_message))
        self.assertEqual(outbound.delivery_state, "sent", "still on its way")
        self.assertEqual(conversation.partner_id.message_bounce, 0)
        self.env["mail.thread"].message_process(False, self.load("15_dsn_bounce.eml", agent_message))
        self.assertEqual(outbound.delivery_state, "failed")
        self.assertIn("5.1.1", outbound.delivery_error)
        self.assertEqual(conversation.partner_id.message_bounce, 1)
        self.assertEqual(len(self.conversations()), 1, "reports open no conversation")
        self.assertEqual(conversation.state, "open")

    # ------------------------------------------------------------ other documents
    def test_22_reply_to_a_quotation(self):
        customer = self.env["res.partner"].create({"name": "Javier Moreno", "email": "javier.moreno@icloud.com"})
        product = self.env["product.product"].create({"name": "Sofá Alba", "list_price": 899})
        order = self.env["sale.order"].create(
            {"partner_id": customer.id, "order_line": [(0, 0, {"product_id": product.id})]}
        )
        quotation = order.message_post(body="Su presupuesto", message_type="comment", subtype_xmlid="mail.mt_comment")
        self.env["mail.thread"].message_process(
            False, self.load("22_reply_to_quotation.eml", quotation_message=quotation)
        )
        reply = order.message_ids.filtered(lambda m: m.message_type == "email")
        self.assertEqual(reply.author_id, customer)
        self.assertFalse(self.conversations(), "it stays on the quotation")
        item = customer.omnichannel_timeline()["items"][0]
        self.assertEqual(item["source"]["model"], "sale.order")
        self.assertEqual(item["source"]["id"], order.id)
        self.env["mail.thread"].message_process(
            False, self.load("22_reply_to_quotation.eml", quotation_message=quotation)
        )
        self.assertEqual(len(customer.omnichannel_timeline()["items"]), 1, "a second delivery adds nothing")

    def test_corpus_has_every_required_kind(self):
        self.assertGreaterEqual(len(list(CORPUS.glob("*.eml"))), 20)
        self.assertTrue(build_mail())
