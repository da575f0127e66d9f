from odoo.tools.sql import column_exists, create_column, drop_view_if_exists

# Stored computed KPI fields: created here, before the ORM sees them, so that it does not compute
# them conversation by conversation; post_init_hook fills them with a few UPDATEs instead.
KPI_COLUMNS = {
    "agent_response_hours": "double precision",
    "agent_response_business_hours": "double precision",
    "first_resolution_business_hours": "double precision",
    "resolution_business_hours": "double precision",
    "fcr_state": "varchar",
    "fcr": "boolean",
}


def create_kpi_columns(cr):
    for name, column_type in KPI_COLUMNS.items():
        if not column_exists(cr, "omnichannel_conversation", name):
            create_column(cr, "omnichannel_conversation", name, column_type)


def pre_init_hook(env):
    create_kpi_columns(env.cr)


def post_init_hook(env):
    """KPI facts of the conversations that exist before the module, set-based."""
    env["omnichannel.conversation"]._omni_recompute_kpis()


def uninstall_hook(env):
    """Odoo drops the tables and views of uninstalled models, not materialized views: the cohorts'."""
    drop_view_if_exists(env.cr, "omnichannel_retention_report")
