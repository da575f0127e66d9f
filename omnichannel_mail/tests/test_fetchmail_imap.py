from odoo.tests import tagged

from .common import FetchmailImapCase, build_mail


@tagged("post_install", "-at_install")
class TestFetchmailImap(FetchmailImapCase):
    """Mail in a real IMAP mailbox (Dovecot on 127.0.0.1) pulled by Odoo's own fetchmail."""

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
