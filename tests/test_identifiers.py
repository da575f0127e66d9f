"""Database-free tests of the identifier normalisation every channel relies on."""

import pytest

from odoo.addons.omnichannel_base.tools.identifiers import normalize_email, normalize_phone


@pytest.mark.parametrize(
    "typed, region, expected",
    [
        ("+34612345678", "ES", "+34612345678"),
        ("+34 612 34 56 78", "ES", "+34612345678"),
        ("612 34 56 78", "ES", "+34612345678"),
        ("0034612345678", "ES", "+34612345678"),
        ("0034 612-34-56-78", "US", "+34612345678"),
        ("(+34) 612.34.56.78", None, "+34612345678"),
        ("07700 900123", "GB", "+447700900123"),
        ("+44 7700 900123", "ES", "+447700900123"),
        ("(415) 555-2671", "US", "+14155552671"),
    ],
)
def test_phone_formats(typed, region, expected):
    assert normalize_phone(typed, region) == expected


@pytest.mark.parametrize(
    "typed, region",
    [("", "ES"), ("hello", "ES"), ("12", "ES"), ("612345678", None), ("+34 6", "ES"), ("00", "ES"), ("00x", "ES")]
    + [("0034", "ES"), ("001", "ES"), ("00" + "1" * 300, "ES")],
)
def test_bad_phones(typed, region):
    with pytest.raises(ValueError):
        normalize_phone(typed, region)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("Emma.Thompson@Example.COM", "emma.thompson@example.com"),
        ("Emma <emma@example.com>", "emma@example.com"),
        ("josé@correos.ñandú.es", "josé@correos.xn--and-6ma2c.es"),
    ],
)
def test_emails(typed, expected):
    assert normalize_email(typed) == expected


@pytest.mark.parametrize("typed", ["", "nobody", "a@b", "two@@example.com", "x y@example.com"])
def test_bad_emails(typed):
    with pytest.raises(ValueError):
        normalize_email(typed)
