"""Searching calls by name or number, as a many2one's autocomplete or a filter on the Calls list does."""

import signal
from contextlib import contextmanager

from odoo.tests import tagged

from .test_call_core import CallCase

SEARCH_SECONDS = 10


class SearchHung(Exception):
    pass


@contextmanager
def time_limit(seconds):
    """Fail instead of hanging: a search that never ends is the bug shown here, and Odoo's own
    worker limits (limit_time_cpu) are what end it in production."""

    def expired(_signum, _frame):
        raise SearchHung(f"the search did not end within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@tagged("post_install", "-at_install")
class TestCallNameSearch(CallCase):
    def test_an_agent_can_search_calls_by_name(self):
        """``_rec_name = "display_name"`` makes ``display_name``'s search method search
        ``display_name`` again: name_search (a many2one's autocomplete, a custom filter on the
        Calls list, any RPC search on display_name) loops in the domain parser for ever, taking
        the worker's CPU until Odoo kills it."""
        self.Call._apply_updates(self.inbound_answered())
        call = self.call_of("1764493200.10")
        self.assertEqual(call.partner_id, self.customer)
        Call = self.Call.with_user(self.agent)
        try:
            with time_limit(SEARCH_SECONDS):
                found = Call.name_search("Lucía")
                by_display_name = Call.search([("display_name", "ilike", "Lucía")])
        except SearchHung as exc:
            self.fail(f"searching calls by name hangs: {exc}")
        self.assertIn(call.id, [record_id for record_id, _name in found])
        self.assertIn(call, by_display_name)
