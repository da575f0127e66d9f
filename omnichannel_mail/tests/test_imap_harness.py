"""The local Dovecot harness itself (plain pytest, no Odoo needed)."""

import socket
from email.message import EmailMessage
from email.utils import make_msgid

try:
    from .imap_server import LocalImapServer
except ImportError:  # collected outside the Odoo addons package
    from imap_server import LocalImapServer


def _message(subject, body):
    msg = EmailMessage()
    msg["From"] = "Ana <ana@cliente.es>"
    msg["To"] = "soporte@empresa.es"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="cliente.es")
    msg.set_content(body)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_local_imap_server_round_trip():
    first = _message("Factura pendiente", "¿Podéis reenviarme la factura de marzo?")
    second = _message("Cambio de dirección", "Mi nueva dirección es Calle Mayor 1.")
    with LocalImapServer() as imap:
        assert imap.host == "127.0.0.1" and imap.port and imap.user and imap.password
        imap.append(first)
        imap.append(second)
        assert imap.count() == 2
        assert imap.unseen_count() == 2
        with imap.client() as conn:
            typ, _data = conn.select("INBOX", readonly=True)
            assert typ == "OK"
            typ, data = conn.search(None, "SUBJECT", '"Factura pendiente"')
            assert typ == "OK" and len(data[0].split()) == 1
            typ, data = conn.fetch(data[0].split()[0], "(BODY.PEEK[])")
            assert typ == "OK"
            assert data[0][1] == first
        assert imap.unseen_count() == 2, "BODY.PEEK must not mark the message seen"
        host, port, directory = imap.host, imap.port, imap.directory
    assert not directory.exists()
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex((host, port)) != 0, "Dovecot still listens after the with block"
