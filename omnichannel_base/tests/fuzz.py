"""Hypothesis building blocks shared by the fuzz tests of the routes the outside world reaches
(the events API here, providers' webhooks in the channel modules)."""

from hypothesis import strategies as st

# Text that has broken parsers, databases and logs somewhere.
ODD_STRINGS = [
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\udc80y",
    "\ufeff",
    "\u202eevil",
    "\u2028\u2029",
    "\U0001d518\U0001d52b\U0001d526",
    "Z\u0337\u0327\u0360",
    "\x1b[31m",
    "'; DROP TABLE res_partner; --",
    "<script>alert(1)</script>",
    "%(x)s %s {0}",
    " ",
    "\n",
]


def odd_text(extra=()):
    """Any code point (unpaired surrogates included), or one of ODD_STRINGS and ``extra``."""
    return st.one_of(st.text(st.characters(), max_size=30), st.sampled_from([*ODD_STRINGS, *extra]))


def huge_text(pieces, sizes):
    """One of ``pieces`` repeated one of ``sizes`` times: lengths around the limits under test."""
    return st.builds(lambda piece, times: piece * times, st.sampled_from(pieces), st.sampled_from(sizes))


def any_json(text):
    """Any JSON-ish value Python can write, NaN and infinities included, with ``text`` as strings and keys."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.sampled_from([0, -1, 2**31, 2**63, 10**300]),
        st.floats(),
        text,
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
    )
