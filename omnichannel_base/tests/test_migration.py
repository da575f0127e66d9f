"""The 18.0.1.1.0 migration scripts, run on this database's data as an update would run them."""

import importlib.util
from pathlib import Path

from odoo import fields
from odoo.tests import TransactionCase, tagged
from odoo.tools.sql import column_exists

from .common import OmnichannelCase

SCRIPTS = Path(__file__).resolve().parents[1] / "migrations" / "18.0.1.1.0"


def script(name):
    spec = importlib.util.spec_from_file_location(f"omnichannel_migration_{name.replace('-', '_')}", SCRIPTS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestPreMigrate(TransactionCase):
    def setUp(self):
        super().setUp()
        self.env.flush_all()
        cr = self.env.cr
        cr.execute("SELECT id, mail_message_id FROM omnichannel_interaction WHERE mail_message_id IS NOT NULL LIMIT 5")
        self.links = dict(cr.fetchall())
        self.assertTrue(self.links, "demo data links interactions to chatter messages")
        # The database as 18.0.1.0.0 left it.
        cr.execute("ALTER TABLE omnichannel_interaction RENAME COLUMN mail_message_id TO message_id")
        cr.execute(
            """SELECT conname FROM pg_constraint
                WHERE conrelid = 'omnichannel_interaction'::regclass AND contype = 'f'
                  AND conkey = ARRAY[(SELECT attnum FROM pg_attribute
                                       WHERE attrelid = 'omnichannel_interaction'::regclass
                                         AND attname = 'message_id')]"""
        )
        (name,) = cr.fetchone()
        if name != "omnichannel_interaction_message_id_fkey":  # a database installed at 18.0.1.1.0
            old_name = "omnichannel_interaction_message_id_fkey"
            cr.execute(f"ALTER TABLE omnichannel_interaction RENAME CONSTRAINT {name} TO {old_name}")
        cr.execute(
            """UPDATE ir_model_fields SET name = 'message_id'
                WHERE model = 'omnichannel.interaction' AND name = 'mail_message_id'"""
        )
        cr.execute(
            """UPDATE ir_model_data SET name = 'field_omnichannel_interaction__message_id'
                WHERE module = 'omnichannel_base' AND name = 'field_omnichannel_interaction__mail_message_id'"""
        )

    def assert_migrated(self):
        cr = self.env.cr
        self.assertFalse(column_exists(cr, "omnichannel_interaction", "message_id"))
        cr.execute("SELECT id, mail_message_id FROM omnichannel_interaction WHERE id = ANY(%s)", [list(self.links)])
        self.assertEqual(dict(cr.fetchall()), self.links, "every link survives")
        cr.execute(
            "SELECT name FROM ir_model_fields WHERE model = 'omnichannel.interaction' AND name LIKE '%%message_id'"
        )
        self.assertEqual(cr.fetchall(), [("mail_message_id",)])
        self.assertTrue(self.env.ref("omnichannel_base.field_omnichannel_interaction__mail_message_id"))

    def test_rename_keeps_the_links(self):
        script("pre-migrate.py").migrate(self.env.cr, "18.0.1.0.0")
        self.assert_migrated()
        self.env.cr.execute(
            "SELECT 1 FROM pg_constraint WHERE conname = 'omnichannel_interaction_mail_message_id_fkey'"
        )
        self.assertTrue(self.env.cr.fetchone())

    def test_an_early_update_already_made_the_new_column(self):
        cr = self.env.cr
        # What an update with the new field and no migration did: a new, empty column and its metadata.
        cr.execute("ALTER TABLE omnichannel_interaction ADD COLUMN mail_message_id int")
        cr.execute(
            """INSERT INTO ir_model_fields (model, model_id, name, field_description, ttype, state, store)
               SELECT model, model_id, 'mail_message_id', field_description, ttype, state, store
                 FROM ir_model_fields WHERE model = 'omnichannel.interaction' AND name = 'message_id'"""
        )
        script("pre-migrate.py").migrate(cr, "18.0.1.0.0")
        self.assertFalse(column_exists(cr, "omnichannel_interaction", "message_id"))
        cr.execute("SELECT id, mail_message_id FROM omnichannel_interaction WHERE id = ANY(%s)", [list(self.links)])
        self.assertEqual(dict(cr.fetchall()), self.links)
        cr.execute(
            "SELECT count(*) FROM ir_model_fields WHERE model = 'omnichannel.interaction' AND name = 'message_id'"
        )
        self.assertEqual(cr.fetchone()[0], 0)


@tagged("post_install", "-at_install")
class TestPostMigrate(OmnichannelCase):
    def test_old_data_is_brought_in_line(self):
        cr = self.env.cr
        interaction = self.ingest.ingest(self.event(sender={"email": "futuro@example.com"}, body="Hola"))
        partner, conversation = interaction.partner_id, interaction.conversation_id
        conversation.action_resolve()
        self.env.flush_all()
        # What 18.0.1.0.0 could leave behind.
        cr.execute("UPDATE omnichannel_interaction SET date = '9999-12-31 23:00:00' WHERE id = %s", [interaction.id])
        cr.execute("UPDATE res_partner SET omni_last_contact_date = '9999-12-31 23:00:00' WHERE id = %s", [partner.id])
        cr.execute(
            "UPDATE omnichannel_conversation SET first_resolved_date = NULL, first_resolution_hours = 0 WHERE id = %s",
            [conversation.id],
        )
        other = self.env["res.company"].create({"name": "Tienda Norte"})
        cr.execute("UPDATE omnichannel_identity SET company_id = %s WHERE partner_id = %s", [other.id, partner.id])
        self.env.invalidate_all()

        script("post-migrate.py").migrate(cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertLessEqual(interaction.date, fields.Datetime.now())
        self.assertEqual(partner.omni_last_contact_date, interaction.date)
        self.assertEqual(conversation.first_resolved_date, conversation.resolved_date)
        self.assertEqual(conversation.first_resolution_hours, conversation.resolution_hours)
        self.assertTrue(partner.omni_identity_ids)
        self.assertTrue(all(i.company_id == partner.company_id for i in partner.omni_identity_ids))
