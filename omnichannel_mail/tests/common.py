from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase

from .imap_server import LocalImapServer
from .smtp_server import LocalSmtpServer

DOMAIN = "tienda.example.com"


def build_mail(
    body="Hola, ¿tenéis la talla 38?",
    sender="Lucía Fernández <lucia.fernandez@gmail.com>",
    to=f"soporte@{DOMAIN}",
    **headers,
):
    """A plain text mail, as bytes; ``headers`` as In_Reply_To=..., Auto_Submitted=..."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = headers.pop("Subject", "Consulta sobre un pedido")
    message["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc))
    message["Message-ID"] = headers.pop("Message_ID", make_msgid(domain="mail.gmail.com"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


class MailChannelCase(TransactionCase):
    """An email channel soporte@tienda.example.com, fed through Odoo's own mail gateway."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env.company.country_id = cls.env.ref("base.es")
        alias_domain = cls.env["mail.alias.domain"].search([("name", "=", DOMAIN)]) or cls.env[
            "mail.alias.domain"
        ].create({"name": DOMAIN})
        cls.env.company.alias_domain_id = alias_domain
        cls.agent = cls.env["res.users"].create(
            {
                "name": "Ana Agente",
                "login": "ana.agente.mail",
                "email": "ana@tienda.example.com",
                "groups_id": [(6, 0, [cls.env.ref("omnichannel_base.group_omnichannel_user").id])],
            }
        )
        # Outgoing mail really goes out, over SMTP, to a server on 127.0.0.1.
        cls.smtp = LocalSmtpServer().__enter__()
        cls.addClassCleanup(cls.smtp.__exit__, None, None, None)
        cls.mail_server = cls.env["ir.mail_server"].create(
            {"name": "Local SMTP", "smtp_host": cls.smtp.host, "smtp_port": cls.smtp.port, "sequence": 1}
        )
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Soporte", "channel_type": "email", "alias_name": "soporte", "alias_domain_id": alias_domain.id}
        )

    def mail(self, **kwargs):
        return build_mail(**kwargs)

    def process(self, raw):
        thread_id = self.env["mail.thread"].message_process(False, raw)
        return self.env["omnichannel.conversation"].browse(thread_id) if thread_id else thread_id

    def reply_as_agent(self, conversation, body="Sí, la tenemos: te la reservamos hasta el viernes."):
        return conversation.with_user(self.agent).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment"
        )


class FetchmailImapCase(TransactionCase):
    """A real IMAP mailbox (Dovecot on 127.0.0.1) linked to an email channel, fetched by Odoo.

    Fetchmail commits after each mail, as its cron does: these tests work with committed
    transactions, as the cron would, and remove what they committed.
    """

    def setUp(self):
        super().setUp()
        self.imap = LocalImapServer().__enter__()
        self.addCleanup(self.imap.__exit__, None, None, None)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env.company.country_id = env.ref("base.es")
            channel = env["omnichannel.channel"].create({"name": "Buzón IMAP", "channel_type": "email"})
            server = env["fetchmail.server"].create(
                {
                    "name": "Buzón de soporte",
                    "server_type": "imap",
                    "server": self.imap.host,
                    "port": self.imap.port,
                    "is_ssl": False,
                    "user": self.imap.user,
                    "password": self.imap.password,
                    "object_id": env["ir.model"]._get_id("omnichannel.conversation"),
                    "omnichannel_channel_id": channel.id,
                }
            )
            server.button_confirm_login()
            self.assertEqual(server.state, "done", "Odoo logged in to the mailbox")
            self.channel_id, self.server_id = channel.id, server.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            conversations = env["omnichannel.conversation"].search([("channel_id", "=", self.channel_id)])
            partners = env["res.partner"].search([("omni_source_channel_id", "=", self.channel_id)])
            env["omnichannel.interaction"].search([("channel_id", "=", self.channel_id)]).unlink()
            conversations.unlink()
            partners.unlink()
            env["omnichannel.mail.failure"].search([("server_id", "=", self.server_id)]).unlink()
            env["fetchmail.server"].browse(self.server_id).unlink()
            env["omnichannel.channel"].browse(self.channel_id).unlink()

    def fetch(self):
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["fetchmail.server"].browse(self.server_id).fetch_mail()

    def state(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            conversations = env["omnichannel.conversation"].search([("channel_id", "=", self.channel_id)])
            interactions = env["omnichannel.interaction"].search([("channel_id", "=", self.channel_id)])
            return sorted(conversations.partner_id.mapped("email")), len(interactions), len(conversations.message_ids)


def delivery_status_notification(original_message_id, recipient, action="failed", status="5.1.1"):
    """A Postfix-style RFC 3464 report about our mail ``original_message_id`` to ``recipient``."""
    human = (
        "This is the mail system at host mx.tienda.example.com.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        f"<{recipient}>: host gmail-smtp-in.l.google.com said: 550 {status} The email account\n"
        "    that you tried to reach does not exist.\n"
    )
    diagnostic = f"smtp; 550-{status} The email account that you tried to reach does not exist."
    dsn = (
        "Reporting-MTA: dns; mx.tienda.example.com\n"
        "X-Postfix-Queue-ID: 4XyZ1q2kLmz9sWK\n"
        "Arrival-Date: Fri, 20 Nov 2026 10:31:02 +0100 (CET)\n"
        "\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        f"Original-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; gmail-smtp-in.l.google.com\n"
        f"Diagnostic-Code: {diagnostic}\n"
    )
    headers = (
        "Return-Path: <bounce@tienda.example.com>\n"
        f"Message-Id: {original_message_id}\n"
        "From: Soporte <soporte@tienda.example.com>\n"
        f"To: {recipient}\n"
        "Subject: Re: Consulta sobre un pedido\n"
    )
    boundary = "4XyZ1q2kLmz9sWK.1732095062/mx.tienda.example.com"
    return (
        "Return-Path: <>\n"
        "Received: by mx.tienda.example.com (Postfix) id 4XyZ1q2kLmz9sWK; Fri, 20 Nov 2026 10:31:03 +0100 (CET)\n"
        "Date: Fri, 20 Nov 2026 10:31:03 +0100 (CET)\n"
        "From: MAILER-DAEMON@mx.tienda.example.com (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"To: bounce@{DOMAIN}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\n'
        "Message-Id: <20261120093103.4XyZ1q2kLmz9sWK@mx.tienda.example.com>\n"
        "\n"
        f"--{boundary}\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n{human}\n"
        f"--{boundary}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n{dsn}\n"
        f"--{boundary}\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n"
        f"{headers}\n--{boundary}--\n"
    ).encode()
