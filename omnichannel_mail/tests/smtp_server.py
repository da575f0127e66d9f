"""A real SMTP server on 127.0.0.1 for the tests: Odoo's mail queue talks to it as it would
to any mail server, and the tests read what it received."""

import email
import socket
from email import policy

from aiosmtpd.controller import Controller


class _Collect:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@rejected.example.com"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=policy.SMTP)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message})
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalSmtpServer:
    """``with LocalSmtpServer() as smtp:`` ... ``smtp.messages`` [{"from", "to", "message"}]."""

    def __init__(self):
        self.host, self.port = "127.0.0.1", free_port()
        self._handler = _Collect()
        self._controller = Controller(self._handler, hostname=self.host, port=self.port)

    @property
    def messages(self):
        return self._handler.messages

    def __enter__(self):
        self._controller.start()
        return self

    def __exit__(self, *exc):
        self._controller.stop()
