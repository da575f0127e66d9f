import hashlib
from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import build_mail


@tagged("post_install", "-at_install")
class TestKeptMailHousekeeping(TransactionCase):
    def setUp(self):
        super().setUp()
        self.server = self.env["fetchmail.server"].create(
            {"name": "Buzón", "server": "127.0.0.1", "server_type": "imap", "user": "u", "password": "p"}
        )
        self.Failure = self.env["omnichannel.mail.failure"]

    def keep(self, subject):
        raw = build_mail(Subject=subject)
        return self.Failure._keep(self.server, raw, hashlib.sha256(raw).hexdigest(), "reached no email channel")

    def test_mail_imported_long_ago_is_forgotten_not_mail_still_owed(self):
        old, recent, owed = self.keep("Antiguo"), self.keep("Reciente"), self.keep("Pendiente")
        now = fields.Datetime.now()
        old.sudo().write({"state": "imported", "import_date": now - timedelta(days=31)})
        recent.sudo().write({"state": "imported", "import_date": now - timedelta(days=2)})
        self.Failure._gc_imported()
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists() and owed.exists())

    def test_a_mailbox_goes_when_it_owes_no_mail(self):
        owed = self.keep("Pendiente")
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.server.unlink()
        owed.sudo().write({"state": "imported", "import_date": fields.Datetime.now()})
        self.server.unlink()
        self.assertFalse(owed.exists())
