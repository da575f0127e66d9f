"""Normalisation of the identifiers customers reach us with. Pure Python, no ORM.

Phones become E.164 with phonenumbers; emails are lower-cased with an IDNA
(punycode) domain. Both raise ``ValueError`` with a human reason on bad input.
"""

import re

import phonenumbers

_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_NAME_ADDR_RE = re.compile(r"<([^<>]+)>\s*$")


def normalize_phone(number, region=None):
    """Return ``number`` in E.164 (``+34911234567``), reading national numbers in ``region``.

    Accepts what people type: spaces, dots, dashes, parentheses, ``+`` or ``00``
    international prefixes. One parse per number keeps backfills of millions cheap;
    only the number's length is checked (``is_possible_number``), not its allocation.
    """
    raw = (number or "").strip()
    if not raw:
        raise ValueError("empty phone number")
    try:
        parsed = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        digits = re.sub(r"\D", "", raw)
        # '0034…' is international everywhere, even where the exit code is not 00.
        if not digits.startswith("00"):
            raise ValueError(f"cannot read {raw!r} as a phone number ({exc})") from None
        parsed = _parse_after_exit_code(digits, raw)
    if not phonenumbers.is_possible_number(parsed):
        digits = re.sub(r"\D", "", raw)
        if digits.startswith("00"):
            parsed = _parse_after_exit_code(digits, raw)
        if not phonenumbers.is_possible_number(parsed):
            raise ValueError(f"{raw!r} does not have the digits of a phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parse_after_exit_code(digits, raw):
    """'0034…' read as '+34…'; '00' followed by no number is no phone number either."""
    try:
        return phonenumbers.parse("+" + digits[2:], None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"cannot read {raw!r} as a phone number ({exc})") from None


def normalize_email(email):
    """Return ``email`` lower-cased with an ASCII (IDNA) domain; accepts ``Name <addr>``."""
    raw = (email or "").strip()
    match = _NAME_ADDR_RE.search(raw)
    if match:
        raw = match.group(1).strip()
    if not _EMAIL_RE.match(raw):
        raise ValueError(f"{email!r} is not an email address")
    local, domain = raw.rsplit("@", 1)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{email!r} has an invalid domain ({exc})") from None
    return f"{local}@{domain}".lower()


def email_spellings(normalized):
    """The forms Odoo may have stored a normalized email in: its domain in ASCII (IDNA)
    and in Unicode, since Odoo's ``email_normalized`` keeps the domain as it was typed."""
    local, domain = normalized.rsplit("@", 1)
    spellings = {normalized}
    try:
        spellings.add(f"{local}@{domain.encode('ascii').decode('idna')}".lower())
    except UnicodeError:
        pass
    return spellings
