from . import controllers, models, tools, wizard


def post_init_hook(env):
    """Index the phones and emails partners already have, so existing customers are recognised.

    (The orders, deliveries, invoices and payments they already have are put on their
    timelines by ``omnichannel.interaction.init()``, which also runs on update.)"""
    env["res.partner"]._omni_backfill_identities()
