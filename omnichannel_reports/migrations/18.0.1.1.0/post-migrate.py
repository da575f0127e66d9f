"""18.0.1.1.0, after the update: the service KPI facts of the conversations that existed before
(a new install gets them from the post-init hook)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["omnichannel.conversation"]._omni_recompute_kpis()
