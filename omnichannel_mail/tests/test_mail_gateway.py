import email
import email.policy
from datetime import timedelta
from email.utils import format_datetime

from odoo import fields
from odoo.tests import Form, new_test_user, tagged

from .common import MailChannelCase, delivery_status_notification


@tagged("post_install", "-at_install")
class TestMailGateway(MailChannelCase):
    def test_mail_dated_in_the_future_is_dated_when_it_arrived(self):
        # A sender whose clock runs days ahead: the mail still opens its conversation, dated now.
        message = email.message_from_bytes(self.mail(body="Mi reloj va adelantado"), policy=email.policy.SMTP)
        del message["Date"]
        message["Date"] = format_datetime(fields.Datetime.now().replace(tzinfo=None) + timedelta(days=3), usegmt=False)
        before = fields.Datetime.now()
        conversation = self.process(message.as_bytes())
        self.assertTrue(conversation, "the mail opened a conversation")
        self.assertLessEqual(conversation.interaction_ids.date, fields.Datetime.now())
        self.assertGreaterEqual(conversation.interaction_ids.date, before.replace(microsecond=0))

    def test_odd_dates_and_very_long_message_ids_still_open_conversations(self):
        for date, message_id in (
            ("Thu, 01 Jan 1970 00:00:00 +0100", "<epoch@mail.example.com>"),
            ("Mon, 30 Nov 2026 09:00:00 +0000", "<" + "x" * 400 + "@mail.example.com>"),
        ):
            message = email.message_from_bytes(self.mail(Message_ID=message_id), policy=email.policy.SMTP)
            del message["Date"]
            message["Date"] = date
            conversation = self.process(message.as_bytes())
            self.assertEqual(conversation._name, "omnichannel.conversation", date)
            interaction = conversation.interaction_ids
            self.assertGreaterEqual(interaction.date.year, 2026)
            self.assertTrue(interaction.mail_message_id, "linked to the posted mail")
            self.process(message.as_bytes())
            self.assertEqual(conversation.interaction_ids, interaction, "a redelivered copy records nothing twice")

    def test_manager_who_is_not_administrator_opens_the_channel(self):
        manager = new_test_user(
            self.env, login="omni.manager.mail", groups="omnichannel_base.group_omnichannel_manager"
        )
        form = Form(self.channel.with_user(manager))
        form.name = "Soporte y devoluciones"
        form.save()
        self.assertEqual(self.channel.name, "Soporte y devoluciones")

    def test_new_mail_opens_a_conversation_through_ingest(self):
        conversation = self.process(self.mail())
        self.assertEqual(conversation.channel_id, self.channel)
        customer = conversation.partner_id
        self.assertEqual((customer.name, customer.email), ("Lucía Fernández", "lucia.fernandez@gmail.com"))
        self.assertEqual(customer.omni_source_channel_id, self.channel)
        message = conversation.message_ids.filtered(lambda m: m.message_type == "email")
        self.assertEqual(message.author_id, customer)
        self.assertIn("talla 38", message.body)
        interaction = conversation.interaction_ids
        self.assertEqual((interaction.kind, interaction.direction), ("email", "inbound"))
        self.assertEqual(interaction.mail_message_id, message, "the timeline row links to the mail")
        self.assertEqual(interaction.summary, "Consulta sobre un pedido")
        self.assertEqual(conversation.state, "new")

    def test_known_sender_whatever_the_case(self):
        known = self.env["res.partner"].create({"name": "José García", "email": "jose.garcia@outlook.es"})
        conversation = self.process(self.mail(sender='"GARCIA, Jose" <JOSE.GARCIA@Outlook.ES>'))
        self.assertEqual(conversation.partner_id, known)

    def test_reply_threads_and_reopens_per_channel_policy(self):
        conversation = self.process(self.mail())
        agent_message = self.reply_as_agent(conversation)
        self.assertEqual(conversation.state, "open")
        self.assertTrue(conversation.first_response_date)
        # the customer's client rewrites the subject and drops References
        reply = self.mail(body="Perfecto, gracias", Subject="RV: pedido", In_Reply_To=agent_message.message_id)
        self.assertEqual(self.process(reply), conversation)
        self.assertEqual(len(conversation.interaction_ids.filtered(lambda i: i.direction == "inbound")), 2)
        conversation.action_resolve()
        again = self.mail(body="Una cosa más", In_Reply_To=agent_message.message_id, References="<other@x> <y@z>")
        self.assertEqual(self.process(again), conversation, "reopen policy: the same conversation")
        self.assertEqual(conversation.state, "open")
        conversation.action_resolve()
        self.channel.reopen_policy = "new"
        third = self.process(self.mail(body="Y otra", In_Reply_To=agent_message.message_id))
        self.assertNotEqual(third, conversation)
        self.assertEqual((third.state, third.partner_id), ("new", conversation.partner_id))
        self.assertEqual(conversation.state, "resolved")

    def test_agent_reply_goes_out_by_mail_threaded(self):
        conversation = self.process(self.mail(Message_ID="<first@mail.gmail.com>"))
        message = self.reply_as_agent(conversation)
        received = [m for m in self.smtp.messages if m["to"] == ["lucia.fernandez@gmail.com"]]
        self.assertEqual(len(received), 1, "the customer's copy went out through the mail server")
        sent = received[0]["message"]
        self.assertEqual(sent["Message-Id"], message.message_id)
        self.assertEqual(sent["In-Reply-To"], "<first@mail.gmail.com>", "threaded on the customer's mail")
        self.assertIn("soporte@tienda.example.com", sent["Reply-To"])
        self.assertIn("la tenemos", sent.get_body(("html", "plain")).get_content())
        outbound = conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.assertEqual(outbound.external_id, message.message_id)

    def test_automatic_mail_never_reopens_or_opens(self):
        conversation = self.process(self.mail())
        agent_message = self.reply_as_agent(conversation)
        conversation.action_resolve()
        ooo = self.mail(
            body="Estoy fuera de la oficina hasta el lunes.",
            Subject="Respuesta automática: Consulta",
            In_Reply_To=agent_message.message_id,
            Auto_Submitted="auto-replied",
        )
        self.assertEqual(self.process(ooo), conversation)
        self.assertEqual(conversation.state, "resolved", "an out-of-office reply reopens nothing")
        self.assertIn("fuera de la oficina", conversation.message_ids[0].body, "and it is kept")
        self.assertEqual(len(conversation.interaction_ids.filtered(lambda i: i.direction == "inbound")), 1)
        before = self.env["omnichannel.conversation"].search_count([])
        newsletter = self.mail(body="Novedades de noviembre", List_Id="<news.proveedor.example>")
        self.env["mail.thread"].message_process(False, newsletter)
        self.assertEqual(self.env["omnichannel.conversation"].search_count([]), before, "no conversation opened")
        self.assertIn("Novedades de noviembre", self.channel.message_ids[0].body, "kept on the channel")
        self.assertFalse(self.env["mail.mail"].search([("mail_message_id", "in", self.channel.message_ids.ids)]))

    def test_reply_to_a_quotation_stays_on_it_and_reaches_the_timeline(self):
        customer = self.env["res.partner"].create({"name": "Emma Thompson", "email": "emma@icloud.com"})
        product = self.env["product.product"].create({"name": "Boots", "list_price": 80})
        order = self.env["sale.order"].create(
            {"partner_id": customer.id, "order_line": [(0, 0, {"product_id": product.id})]}
        )
        sent = order.message_post(body="Your quotation", message_type="comment", subtype_xmlid="mail.mt_comment")
        reply = self.mail(
            sender="Emma Thompson <emma@icloud.com>",
            body="Could you add a second pair?",
            In_Reply_To=sent.message_id,
            Subject="Re: Quotation",
        )
        reply = reply.replace(b"soporte@tienda.example.com", b"catchall@tienda.example.com")
        self.env["mail.thread"].message_process(False, reply)
        self.assertIn("second pair", order.message_ids[0].body)
        item = customer.omnichannel_timeline()["items"][0]
        self.assertEqual(item["source"], {"model": "sale.order", "id": order.id, "name": order.name})
        self.assertEqual((item["kind"], item["direction"]), ("email", "inbound"))


@tagged("post_install", "-at_install")
class TestDeliveryReports(MailChannelCase):
    def setUp(self):
        super().setUp()
        self.conversation = self.process(self.mail())
        self.sent = self.reply_as_agent(self.conversation)
        self.outbound = self.conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.assertEqual(self.outbound.delivery_state, "sent", "accepted by the mail server")

    def test_bounce_marks_the_reply_failed_for_the_agent(self):
        report = delivery_status_notification(self.sent.message_id, "lucia.fernandez@gmail.com")
        self.env["mail.thread"].message_process(False, report)
        notification = self.sent.notification_ids.filtered(lambda n: n.res_partner_id == self.conversation.partner_id)
        self.assertEqual(notification.notification_status, "bounce", "Odoo's envelope turns red in the chatter")
        self.assertEqual(self.outbound.delivery_state, "failed")
        self.assertIn("5.1.1", self.outbound.delivery_error)
        item = self.conversation.partner_id.omnichannel_timeline()["items"][0]
        self.assertEqual(item["details"][-1][0], "Not delivered")
        self.assertNotEqual(self.conversation.state, "resolved")
        self.assertEqual(len(self.conversation.interaction_ids), 2, "a bounce is no customer message")

    def test_delayed_report_and_read_receipt_are_not_bounces(self):
        delayed = delivery_status_notification(self.sent.message_id, "lucia.fernandez@gmail.com", "delayed", "4.4.1")
        self.env["mail.thread"].message_process(False, delayed)
        self.assertEqual(self.outbound.delivery_state, "sent", "a delay is no failure")
        receipt = (
            "From: Lucía Fernández <lucia.fernandez@gmail.com>\n"
            f"To: soporte@tienda.example.com\nSubject: Leído: Re: Consulta\nIn-Reply-To: {self.sent.message_id}\n"
            "Message-ID: <mdn-1@mail.gmail.com>\nMIME-Version: 1.0\n"
            'Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"\n\n'
            "--mdn\nContent-Type: text/plain; charset=utf-8\n\nSu mensaje ha sido leído.\n"
            "--mdn\nContent-Type: message/disposition-notification\n\n"
            "Reporting-UA: mail.gmail.com\nFinal-Recipient: rfc822; lucia.fernandez@gmail.com\n"
            f"Original-Message-ID: {self.sent.message_id}\n"
            "Disposition: manual-action/MDN-sent-manually; displayed\n--mdn--\n"
        )
        self.env["mail.thread"].message_process(False, receipt.encode())
        self.assertEqual(self.outbound.delivery_state, "sent")
        notification = self.sent.notification_ids.filtered(lambda n: n.res_partner_id == self.conversation.partner_id)
        self.assertNotEqual(notification.notification_status, "bounce")
        self.assertEqual(len(self.conversation.interaction_ids), 2, "reports are automatic mail: no customer message")


@tagged("post_install", "-at_install")
class TestSendFailure(MailChannelCase):
    def test_refused_recipient_is_visible_on_the_timeline(self):
        conversation = self.process(self.mail(sender="Pablo <pablo@rejected.example.com>"))
        self.reply_as_agent(conversation)
        outbound = conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.assertEqual(outbound.delivery_state, "failed")
        self.assertTrue(outbound.delivery_error)
        self.assertFalse(self.smtp.messages, "nothing was accepted")


@tagged("post_install", "-at_install")
class TestAcknowledgement(MailChannelCase):
    def test_sent_once_per_new_conversation_as_an_automatic_reply(self):
        self.channel.mail_ack_template_id = self.env.ref("omnichannel_mail.mail_template_acknowledgement")
        conversation = self.process(self.mail(Message_ID="<ack-1@mail.gmail.com>"))
        acks = [m["message"] for m in self.smtp.messages if m["to"] == ["lucia.fernandez@gmail.com"]]
        self.assertEqual(len(acks), 1)
        self.assertEqual(acks[0]["Auto-Submitted"], "auto-replied")
        self.assertEqual(acks[0]["In-Reply-To"], "<ack-1@mail.gmail.com>")
        self.assertIn("We have received your message", acks[0]["Subject"])
        self.assertTrue(conversation.mail_ack_date)
        self.assertFalse(conversation.first_response_date, "an acknowledgement is no answer")
        self.assertEqual(len(conversation.interaction_ids), 1, "nor a timeline event")
        self.process(self.mail(body="Otra cosa", In_Reply_To="<ack-1@mail.gmail.com>"))
        to_customer = [m for m in self.smtp.messages if m["to"] == ["lucia.fernandez@gmail.com"]]
        self.assertEqual(len(to_customer), 1, "once per conversation")


@tagged("post_install", "-at_install")
class TestUnknownSendersAsLeads(MailChannelCase):
    def test_lead_for_unknown_senders_only(self):
        self.channel.mail_unknown_sender = "lead"
        self.env["res.partner"].create({"name": "Cliente Conocido", "email": "conocido@example.es"})
        stranger = self.process(self.mail(sender="Marta Vidal <marta@nuevaempresa.example>", Subject="Presupuesto"))
        lead = stranger.lead_id
        self.assertEqual((lead.type, lead.name, lead.email_from), ("lead", "Presupuesto", "marta@nuevaempresa.example"))
        self.assertEqual(lead.partner_id, stranger.partner_id)
        self.assertIn("talla 38", lead.description)
        self.assertEqual(lead.medium_id, self.env.ref("utm.utm_medium_email"))
        known = self.process(self.mail(sender="conocido@example.es"))
        self.assertFalse(known.lead_id, "known customers get no lead")
        self.channel.mail_unknown_sender = "contact"
        other = self.process(self.mail(sender="otro@desconocido.example"))
        self.assertFalse(other.lead_id)
        self.assertEqual(other.partner_id.email, "otro@desconocido.example")


@tagged("post_install", "-at_install")
class TestHtmlIsSanitised(MailChannelCase):
    def test_scripts_and_handlers_never_reach_the_chatter(self):
        message = email.message_from_bytes(self.mail(), policy=email.policy.SMTP)
        message.set_content(
            '<p onclick="steal()">Hola</p><script>alert(1)</script><img src="x" onerror="steal()">', subtype="html"
        )
        conversation = self.process(message.as_bytes())
        body = conversation.message_ids.filtered(lambda m: m.message_type == "email").body
        self.assertIn("Hola", body)
        for dangerous in ("<script", "onclick", "onerror", "alert(1)"):
            self.assertNotIn(dangerous, body)


@tagged("post_install", "-at_install")
class TestMailFromColleaguesAndOddMail(MailChannelCase):
    def test_agent_answering_from_their_mail_client(self):
        conversation = self.process(self.mail(Message_ID="<first-c@mail.gmail.com>"))
        notification = self.reply_as_agent(conversation)
        conversation.action_set_pending()
        self.smtp.messages.clear()
        answer = self.mail(
            sender="Ana Agente <ana@tienda.example.com>",
            body="Te lo confirmo: sale mañana.",
            In_Reply_To=notification.message_id,
        )
        self.assertEqual(self.process(answer), conversation)
        self.assertEqual(conversation.state, "pending", "an agent's mail is no customer message")
        outbound = conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.assertEqual(len(outbound), 2, "it is the agent's second answer")
        self.assertEqual(outbound.mapped("user_id"), self.agent)
        inbound = conversation.interaction_ids.filtered(lambda i: i.direction == "inbound")
        self.assertEqual(inbound.partner_id, conversation.partner_id, "never the agent as a customer")
        to_customer = [m for m in self.smtp.messages if m["to"] == ["lucia.fernandez@gmail.com"]]
        self.assertEqual(len(to_customer), 1, "Odoo mailed it to the customer")

    def test_mail_without_a_usable_sender_is_kept_on_the_channel(self):
        raw = self.mail(sender="Lucía <lucia@[not a domain]>")
        self.env["mail.thread"].message_process(False, raw)
        self.assertFalse(self.env["omnichannel.conversation"].search([("channel_id", "=", self.channel.id)]))
        self.assertIn("talla 38", self.channel.message_ids.filtered(lambda m: m.message_type == "email").body)
        note = self.channel.message_ids.filtered(lambda m: "opened no conversation" in m.body)
        self.assertIn("sender", note.body, "the note says why")
        self.assertEqual(self.channel.alias_id.alias_status, "valid", "the alias keeps working")
