from . import controllers, models, tools, wizard


def post_init_hook(env):
    """Index the phones and emails partners already have, so existing customers are recognised."""
    env["res.partner"]._omni_backfill_identities()
