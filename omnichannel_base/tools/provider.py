"""What a provider's transport raises, whatever its HTTP library: the one error the outbox,
the inbox and the channel form understand."""


class ProviderError(Exception):
    """A provider refused or could not be reached.

    ``transient``: worth retrying later (rate limits, 5xx, timeouts, connection errors);
    ``retry_after``: seconds the provider asked to wait, if it said; ``code``: its error code,
    shown with ``message`` to agents and administrators.
    """

    def __init__(self, message, code=None, transient=False, retry_after=None):
        super().__init__(message)
        self.message, self.code, self.transient, self.retry_after = message, code, transient, retry_after

    def __str__(self):
        return f"({self.code}) {self.message}" if self.code not in (None, "") else self.message
