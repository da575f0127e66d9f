"""18.0.1.1.0, before the update: the KPI columns, so that the update does not compute them one
conversation at a time (post-migrate fills them set-based)."""

from odoo.addons.omnichannel_reports.hooks import create_kpi_columns


def migrate(cr, version):
    if version:
        create_kpi_columns(cr)
