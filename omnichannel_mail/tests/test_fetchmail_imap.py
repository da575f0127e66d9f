from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from .common import build_mail
from .imap_server import LocalImapServer


@tagged("post_install", "-at_install")
class TestFetchmailImap(TransactionCase):
    """Mail in a real IMAP mailbox (Dovecot on 127.0.0.1) pulled by Odoo's own fetchmail.

    Fetchmail commits after each mail, as its cron does: this test works with committed
    transactions, as the cron would, and removes what it committed.
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

    def test_mailbox_feeds_conversations_and_fetching_twice_imports_nothing_twice(self):
        first = build_mail(Message_ID="<imap-1@mail.gmail.com>")
        self.imap.append(first)
        self.imap.append(build_mail(sender="José García <jose.garcia@outlook.es>", body="¿Hacéis envíos a Canarias?"))
        self.fetch()
        self.assertEqual(self.imap.unseen_count(), 0, "fetched mail is marked as read")
        emails, interactions, messages = self.state()
        self.assertEqual(emails, ["jose.garcia@outlook.es", "lucia.fernandez@gmail.com"])
        self.assertEqual(interactions, 2)

        self.fetch()  # nothing new in the mailbox
        self.imap.append(first)  # the same mail delivered to the mailbox again
        self.imap.append(build_mail(Message_ID="<imap-2@mail.gmail.com>", In_Reply_To="<imap-1@mail.gmail.com>"))
        self.fetch()
        emails, interactions_after, messages_after = self.state()
        self.assertEqual(len(emails), 2, "the reply joined Lucía's conversation; the copy opened nothing")
        self.assertEqual(interactions_after, 3, "one more: the reply; the copy is no new interaction")
        self.assertGreater(messages_after, messages)
        self.assertEqual(self.imap.count(), 4)
