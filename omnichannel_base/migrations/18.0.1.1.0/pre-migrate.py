"""18.0.1.1.0: the interaction's chatter message is ``mail_message_id`` (was ``message_id``,
easily read as an RFC 5322 Message-Id). Renamed in place, so the links survive the update."""


def migrate(cr, version):
    cr.execute(
        """SELECT 1 FROM information_schema.columns
            WHERE table_name = 'omnichannel_interaction' AND column_name = 'message_id'"""
    )
    if not cr.fetchone():
        return
    cr.execute(
        """SELECT 1 FROM information_schema.columns
            WHERE table_name = 'omnichannel_interaction' AND column_name = 'mail_message_id'"""
    )
    if cr.fetchone():  # an update with the new field ran before this migration: merge the two
        cr.execute(
            """UPDATE omnichannel_interaction SET mail_message_id = message_id
                WHERE mail_message_id IS NULL AND message_id IS NOT NULL"""
        )
        cr.execute("ALTER TABLE omnichannel_interaction DROP COLUMN message_id")
    else:
        cr.execute("ALTER TABLE omnichannel_interaction RENAME COLUMN message_id TO mail_message_id")
    cr.execute(
        """UPDATE ir_model_fields SET name = 'mail_message_id'
            WHERE model = 'omnichannel.interaction' AND name = 'message_id'"""
    )
    cr.execute(
        """UPDATE ir_model_data SET name = 'field_omnichannel_interaction__mail_message_id'
            WHERE module = 'omnichannel_base' AND model = 'ir.model.fields'
              AND name = 'field_omnichannel_interaction__message_id'"""
    )
