from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

from odoo.tests import TransactionCase

DOMAIN = "tienda.example.com"


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
        cls.channel = cls.env["omnichannel.channel"].create(
            {"name": "Soporte", "channel_type": "email", "alias_name": "soporte", "alias_domain_id": alias_domain.id}
        )

    def mail(self, body="Hola, ¿tenéis la talla 38?", sender="Lucía Fernández <lucia.fernandez@gmail.com>", **headers):
        """A plain text mail to the channel, as bytes; ``headers`` as In_Reply_To=..., Auto_Submitted=..."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = f"soporte@{DOMAIN}"
        message["Subject"] = headers.pop("Subject", "Consulta sobre un pedido")
        message["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc))
        message["Message-ID"] = headers.pop("Message_ID", make_msgid(domain="mail.gmail.com"))
        for name, value in headers.items():
            message[name.replace("_", "-")] = value
        message.set_content(body)
        return message.as_bytes()

    def process(self, raw):
        thread_id = self.env["mail.thread"].message_process(False, raw)
        return self.env["omnichannel.conversation"].browse(thread_id) if thread_id else thread_id

    def reply_as_agent(self, conversation, body="Sí, la tenemos: te la reservamos hasta el viernes."):
        return conversation.with_user(self.agent).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment"
        )
