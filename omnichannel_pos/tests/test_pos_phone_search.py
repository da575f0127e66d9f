"""The POS partner search finds a customer by a phone typed in any format, through the identities."""

from odoo import Command
from odoo.tests import TransactionCase, new_test_user, tagged

# What the POS's PartnerList searches (point_of_sale's getNewPartners), with our field added.
POS_SEARCH_FIELDS = [
    "name",
    "parent_name",
    "phone",
    "mobile",
    "omni_phone_search",
    "email",
    "barcode",
    "street",
    "zip",
    "city",
    "state_id",
    "country_id",
    "vat",
]


def pos_domain(query):
    return [
        *["|"] * (len(POS_SEARCH_FIELDS) - 1),
        *[[field, "ilike", query + "%"] for field in POS_SEARCH_FIELDS],
    ]


@tagged("post_install", "-at_install")
class TestPosPhoneSearch(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env.company.country_id = cls.env.ref("base.es")
        cls.cashier = new_test_user(
            cls.env,
            login="cajero.busca",
            groups="base.group_user,point_of_sale.group_pos_user",
            company_ids=[Command.set(cls.env.company.ids)],
        )
        # Stored as the customer once wrote it: national, with spaces.
        cls.customer = cls.env["res.partner"].create({"name": "Marta Busca", "phone": "611 98 76 54"})

    def search(self, domain):
        return self.env["res.partner"].with_user(self.cashier).search_read(domain, ["name"], limit=30)

    def test_any_format_finds_the_customer(self):
        for typed in (
            "+34611987654",  # E.164
            "+34 611 98 76 54",
            "611 98 76 54",  # national, spaced
            "611-987-654",
            "0034 611 987 654",  # 00-prefixed
            "0034611987654",
            "611987654",  # digits only, national
            "34611987654",  # digits only, with the country code
            "(+34) 611.98.76.54",
        ):
            with self.subTest(typed=typed):
                self.assertIn(self.customer.id, [row["id"] for row in self.search(pos_domain(typed))])
                self.assertEqual(
                    [row["id"] for row in self.search([("omni_phone_search", "=", typed)])], [self.customer.id]
                )

    def test_junk_finds_nothing_and_never_fails(self):
        for value in ("Marta", "12345", "611 98", "%%", "+", "00", "9" * 40, "+34 611 98 76 54 99 88", "", "%611%"):
            with self.subTest(value=value):
                found = self.search([("omni_phone_search", "ilike", value)])
                self.assertNotIn(self.customer.id, [row["id"] for row in found])
        for operator, value in (("=", False), ("=", 611987654), ("in", ["611987654"]), ("!=", "611987654")):
            with self.subTest(operator=operator, value=value):
                self.assertEqual(self.search([("omni_phone_search", operator, value)]), [])
        # The POS's whole search still finds by name.
        self.assertEqual([row["id"] for row in self.search(pos_domain("Marta Bus"))], [self.customer.id])

    def test_other_company_contact_is_not_found(self):
        other = self.env["res.company"].create({"name": "Busca Norte SL", "country_id": self.env.ref("base.es").id})
        hidden = self.env["res.partner"].create({"name": "Oculta", "phone": "+34 622 00 11 22", "company_id": other.id})
        self.assertEqual(self.search([("omni_phone_search", "=", "622001122")]), [])
        admin_view = self.env["res.partner"].with_company(other).search([("omni_phone_search", "=", "622001122")])
        self.assertEqual(admin_view, hidden)

    def test_identity_without_phone_field_is_found(self):
        """The identities are what is matched, not the stored text: a number a contact was
        given by hand (or learnt on a channel), with no phone field at all, is found too."""
        walk_in = self.env["res.partner"].create({"name": "Pablo Canal"})
        self.env["omnichannel.identity"].create({"partner_id": walk_in.id, "kind": "phone", "value": "+34633445566"})
        self.assertEqual([row["id"] for row in self.search(pos_domain("633 445 566"))], [walk_in.id])
