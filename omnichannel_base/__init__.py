from . import controllers, models, tools, wizard


def post_init_hook(env):
    """Index the phones and emails partners already have, so existing customers are recognised,
    and put the orders, deliveries, invoices and payments they already have on their timelines."""
    env["res.partner"]._omni_backfill_identities()
    env["omnichannel.interaction"]._backfill_business_events()
