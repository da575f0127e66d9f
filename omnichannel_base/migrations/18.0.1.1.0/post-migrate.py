"""Channel API tokens were stored in clear: keep only their hash, and drop the clear column.

Runs after the update created ``api_token_hash``; integrations keep their token, since the
events API now looks up the hash of the token it is given.
"""

from odoo.tools.sql import column_exists

from odoo.addons.omnichannel_base.models.omnichannel_channel import hash_api_token


def migrate(cr, version):
    if not version or not column_exists(cr, "omnichannel_channel", "api_token"):
        return
    cr.execute(
        """SELECT id, api_token FROM omnichannel_channel
            WHERE api_token IS NOT NULL AND api_token != '' AND api_token_hash IS NULL"""
    )
    for channel_id, token in cr.fetchall():
        cr.execute(
            "UPDATE omnichannel_channel SET api_token_hash = %s WHERE id = %s", [hash_api_token(token), channel_id]
        )
    cr.execute("ALTER TABLE omnichannel_channel DROP COLUMN api_token")
