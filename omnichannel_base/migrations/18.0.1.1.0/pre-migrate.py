"""18.0.1.1.0: the interaction's chatter message is ``mail_message_id`` (was ``message_id``,
easily read as an RFC 5322 Message-Id). Renamed in place, so the links survive the update."""

from odoo.tools.sql import column_exists

OLD, NEW = "message_id", "mail_message_id"
TABLE = "omnichannel_interaction"


def migrate(cr, version):
    if not column_exists(cr, TABLE, OLD):
        return
    if column_exists(cr, TABLE, NEW):
        # An update with the new field ran before this migration existed: keep the new field's
        # metadata, copy what only the old column held, and drop it with its metadata.
        cr.execute(f"UPDATE {TABLE} SET {NEW} = {OLD} WHERE {NEW} IS NULL AND {OLD} IS NOT NULL")
        cr.execute(f"ALTER TABLE {TABLE} DROP COLUMN {OLD}")
        cr.execute(
            """DELETE FROM ir_model_data WHERE module = 'omnichannel_base' AND model = 'ir.model.fields'
                  AND name = 'field_omnichannel_interaction__message_id'"""
        )
        cr.execute("DELETE FROM ir_model_fields WHERE model = 'omnichannel.interaction' AND name = %s", [OLD])
        return
    cr.execute(f"ALTER TABLE {TABLE} RENAME COLUMN {OLD} TO {NEW}")
    if _constraint_exists(cr, f"{TABLE}_{OLD}_fkey"):
        cr.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT {TABLE}_{OLD}_fkey TO {TABLE}_{NEW}_fkey")
    cr.execute("UPDATE ir_model_fields SET name = %s WHERE model = 'omnichannel.interaction' AND name = %s", [NEW, OLD])
    cr.execute(
        """UPDATE ir_model_data SET name = 'field_omnichannel_interaction__mail_message_id'
            WHERE module = 'omnichannel_base' AND model = 'ir.model.fields'
              AND name = 'field_omnichannel_interaction__message_id'"""
    )


def _constraint_exists(cr, name):
    cr.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name])
    return bool(cr.fetchone())
