"""18.0.1.1.0, after the update:

- channel API tokens were stored in clear: keep only their hash, and drop the clear column.
  Integrations keep their token, since the events API looks up the hash of the token it is given;
- identities take their contact's company, which they now always have;
- conversations resolved before get their first resolution (the only one known);
- dates that clients sent in the future (the events API accepted them) come back to when the
  event was recorded, and so do the contacts' last contact dates.
"""

from odoo import SUPERUSER_ID, api
from odoo.tools.sql import column_exists

from odoo.addons.omnichannel_base.models.omnichannel_channel import hash_api_token


def migrate(cr, version):
    if not version:
        return
    _identities_follow_their_contacts(cr)
    _first_resolutions(cr)
    _no_dates_in_the_future(cr)
    if not column_exists(cr, "omnichannel_channel", "api_token"):
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


def _identities_follow_their_contacts(cr):
    """Identities added by hand before 18.0.1.1.0 could carry another company than their
    contact's; an identity now always has its contact's company."""
    env = api.Environment(cr, SUPERUSER_ID, {})
    cr.execute(
        """SELECT DISTINCT i.partner_id FROM omnichannel_identity i JOIN res_partner p ON p.id = i.partner_id
            WHERE i.company_id IS DISTINCT FROM p.company_id"""
    )
    partner_ids = [row[0] for row in cr.fetchall()]
    if partner_ids:
        env["omnichannel.identity"]._follow_partner_company(env["res.partner"].browse(partner_ids))


def _first_resolutions(cr):
    cr.execute(
        """UPDATE omnichannel_conversation
              SET first_resolved_date = resolved_date, first_resolution_hours = resolution_hours
            WHERE resolved_date IS NOT NULL AND first_resolved_date IS NULL"""
    )


def _no_dates_in_the_future(cr):
    cr.execute(
        """UPDATE omnichannel_interaction SET date = LEAST(date, create_date)
            WHERE date > (now() AT TIME ZONE 'UTC') + interval '5 minutes'"""
    )
    cr.execute(
        """UPDATE res_partner p
              SET omni_last_contact_date = (SELECT MAX(i.date) FROM omnichannel_interaction i
                                             WHERE i.partner_id = p.id AND i.channel_id IS NOT NULL)
            WHERE p.omni_last_contact_date > (now() AT TIME ZONE 'UTC') + interval '5 minutes'"""
    )
