import json

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import OmnichannelCase

# The two spellings of one US number: international on the Spanish channel,
# national on the US one.
ON_SPANISH_CHANNEL = "+1 (650) 555-1234"
ON_US_CHANNEL = "650.555.1234"
NUMBER = "+16505551234"


class MultiCompanyCase(OmnichannelCase):
    """Two companies, Spanish (the test company) and US, each with its channel, agent and
    the users who work in them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_es = cls.company
        cls.company_us = cls.env["res.company"].create(
            {"name": "Tienda USA Inc", "country_id": cls.env.ref("base.us").id}
        )
        cls.channel_es = cls.channel
        cls.channel_us = cls.env["omnichannel.channel"].create(
            {"name": "US app", "channel_type": "api", "company_id": cls.company_us.id}
        )
        both = [(6, 0, (cls.company_es | cls.company_us).ids)]
        cls.agent.write({"company_ids": both})
        cls.agent_es = new_test_user(
            cls.env,
            "agent.es",
            groups="omnichannel_base.group_omnichannel_user",
            company_id=cls.company_es.id,
            company_ids=[(6, 0, cls.company_es.ids)],
        )
        cls.agent_us = new_test_user(
            cls.env,
            "agent.us",
            groups="omnichannel_base.group_omnichannel_user",
            company_id=cls.company_us.id,
            company_ids=[(6, 0, cls.company_us.ids)],
        )
        cls.manager_us = new_test_user(
            cls.env,
            "manager.us",
            groups="omnichannel_base.group_omnichannel_manager",
            company_id=cls.company_us.id,
            company_ids=[(6, 0, cls.company_us.ids)],
        )
        # An ordinary salesperson of both companies, in no Omnichannel group.
        cls.salesperson = new_test_user(
            cls.env,
            "sales.person",
            groups="sales_team.group_sale_salesman,base.group_partner_manager",
            company_id=cls.company_es.id,
            company_ids=both,
        )

    def from_es(self, **values):
        return self.ingest.ingest(self.event(channel_id=self.channel_es.id, **values))

    def from_us(self, **values):
        return self.ingest.ingest(self.event(channel_id=self.channel_us.id, **values))


@tagged("post_install", "-at_install")
class TestSharedContacts(MultiCompanyCase):
    def test_one_number_on_two_companies_channels_is_one_shared_contact(self):
        spanish = self.from_es(sender={"phone": ON_SPANISH_CHANNEL, "name": "Dana Whitfield"})
        american = self.from_us(sender={"phone": ON_US_CHANNEL})
        contact = spanish.partner_id
        self.assertEqual(american.partner_id, contact, "one person, one contact")
        self.assertFalse(contact.company_id, "unknown senders become shared contacts")
        self.assertEqual(contact.omni_identity_ids.mapped("value"), [NUMBER])
        self.assertFalse(contact.omni_identity_ids.company_id)
        # Each company works its own conversation with that one contact.
        self.assertEqual(spanish.conversation_id.company_id, self.company_es)
        self.assertEqual(american.conversation_id.company_id, self.company_us)
        for agent, own, other in ((self.agent_es, spanish, american), (self.agent_us, american, spanish)):
            self.assertEqual(contact.with_user(agent).omni_identity_ids.value, NUMBER)
            conversations = self.env["omnichannel.conversation"].with_user(agent)
            self.assertEqual(conversations.search([("partner_id", "=", contact.id)]), own.conversation_id)
            self.assertEqual(contact.with_user(agent).omni_interaction_count, 1)
            with self.assertRaises(AccessError):
                other.conversation_id.with_user(agent).read(["state"])

    def test_same_new_sender_on_both_companies_in_one_batch(self):
        interactions = self.ingest.ingest(
            [
                self.event(channel_id=self.channel_es.id, sender={"phone": ON_SPANISH_CHANNEL, "provider_id": "u-7"}),
                self.event(channel_id=self.channel_us.id, sender={"provider_id": "u-7"}),
            ]
        )
        self.assertEqual(len(interactions.partner_id), 1)

    def test_channel_can_keep_new_contacts_in_its_company(self):
        self.channel_us.new_contacts_restricted = True
        american = self.from_us(sender={"phone": ON_US_CHANNEL, "email": "dana@example.com"})
        restricted = american.partner_id
        self.assertEqual(restricted.company_id, self.company_us)
        self.assertEqual(restricted.omni_identity_ids.company_id, self.company_us)

        # Never found from the other company's channels: the Spanish one gets its own contact.
        spanish = self.from_es(sender={"phone": ON_SPANISH_CHANNEL})
        self.assertNotEqual(spanish.partner_id, restricted)
        self.assertFalse(spanish.partner_id.company_id)
        self.assertFalse(self.from_es(sender={"email": "DANA@example.com"}).partner_id == restricted)
        # Nor shown there.
        Identity = self.env["omnichannel.identity"].with_user(self.agent_es)
        self.assertFalse(Identity.search([("partner_id", "=", restricted.id)]))
        with self.assertRaises(AccessError):
            restricted.omni_identity_ids.with_user(self.agent_es).read(["value"])
        with self.assertRaises(AccessError):
            restricted.with_user(self.agent_es).read(["name"])
        # The US channel keeps finding its own contact before the shared one.
        self.assertEqual(self.from_us(sender={"phone": ON_US_CHANNEL}).partner_id, restricted)

    def test_restricted_back_office_contact_is_not_found_by_its_fields(self):
        """Contacts whose identities were never indexed are matched by their fields: only
        where the channel's company may see them."""
        restricted = self.env["res.partner"].create(
            {
                "name": "Solo USA",
                "company_id": self.company_us.id,
                "phone": "+1 650 555 9876",
                "email": "solo@us.example",
            }
        )
        restricted.omni_identity_ids.unlink()
        self.assertNotEqual(self.from_es(sender={"phone": "+16505559876"}).partner_id, restricted)
        self.assertEqual(self.from_us(sender={"email": "solo@us.example"}).partner_id, restricted)
        restricted.omni_identity_ids.unlink()
        self.assertNotEqual(self.from_es(sender={"email": "solo@us.example"}).partner_id, restricted)

    def test_nearest_company_contact_wins(self):
        shared = self.env["res.partner"].create({"name": "Shared Sam", "phone": "+1 650 555 0001"})
        mine = self.env["res.partner"].create(
            {"name": "US Sam", "company_id": self.company_us.id, "phone": "+1 650 555 0001"}
        )
        self.assertEqual(self.from_us(sender={"phone": "6505550001"}).partner_id, mine)
        self.assertEqual(self.from_es(sender={"phone": "+16505550001"}).partner_id, shared)
        (shared | mine).omni_identity_ids.unlink()  # found by their fields: the same rule
        self.assertEqual(self.from_us(sender={"phone": "6505550001"}).partner_id, mine)

    def test_branch_finds_parent_company_contacts(self):
        """As Odoo's partner rule: a branch sees its parent company's contacts."""
        branch = self.env["res.company"].create({"name": "USA West", "parent_id": self.company_us.id})
        channel = self.env["omnichannel.channel"].create({"name": "West app", "company_id": branch.id})
        parent_contact = self.from_us(sender={"email": "p@us.example"}).partner_id
        parent_contact.company_id = self.company_us
        interaction = self.ingest.ingest(self.event(channel_id=channel.id, sender={"email": "p@us.example"}))
        self.assertEqual(interaction.partner_id, parent_contact)


@tagged("post_install", "-at_install")
class TestIdentityFollowsContact(MultiCompanyCase):
    def test_salesperson_moves_contact_to_a_company_and_back(self):
        contact = self.from_es(sender={"phone": ON_SPANISH_CHANNEL, "email": "dana@example.com"}).partner_id
        contact.with_user(self.salesperson).write({"company_id": self.company_es.id})
        self.assertEqual(contact.omni_identity_ids.company_id, self.company_es)
        self.assertNotEqual(self.from_us(sender={"phone": ON_US_CHANNEL}).partner_id, contact)

        contact.with_user(self.salesperson).write({"company_id": False, "email": "dana@new.example"})
        self.assertFalse(contact.omni_identity_ids.company_id)
        self.assertIn("dana@new.example", contact.omni_identity_ids.mapped("value"))
        self.assertEqual(self.from_us(sender={"email": "dana@new.example"}).partner_id, contact)

    def test_contacts_of_a_company_follow_it(self):
        firm = self.env["res.partner"].create({"name": "Acme", "is_company": True})
        employee = self.env["res.partner"].create({"name": "Jo", "parent_id": firm.id, "email": "jo@acme.example"})
        firm.with_user(self.salesperson).company_id = self.company_us
        self.assertEqual(employee.company_id, self.company_us)
        self.assertEqual(employee.omni_identity_ids.company_id, self.company_us)

    def test_moving_onto_an_identifier_the_company_already_has(self):
        """The contact already known there keeps the identifier; the moving contact's copy
        is dropped, and the write succeeds."""
        shared = self.from_es(sender={"phone": ON_SPANISH_CHANNEL}).partner_id
        shared.phone = ON_SPANISH_CHANNEL
        self.channel_us.new_contacts_restricted = True
        local = self.env["res.partner"].create(
            {"name": "US Dana", "company_id": self.company_us.id, "phone": ON_US_CHANNEL}
        )
        self.assertEqual(local.omni_identity_ids.company_id, self.company_us)

        shared.with_user(self.salesperson).write({"company_id": self.company_us.id})
        self.assertFalse(shared.omni_identity_ids.filtered(lambda i: i.value == NUMBER))
        self.assertEqual(local.omni_identity_ids.value, NUMBER)
        self.assertEqual(self.from_us(sender={"phone": ON_US_CHANNEL}).partner_id, local)
        # Back to shared, its phone field is indexed again (shared, no conflict there).
        shared.with_user(self.salesperson).write({"company_id": False})
        self.assertEqual(shared.omni_identity_ids.mapped("value"), [NUMBER])
        self.assertFalse(shared.omni_identity_ids.company_id)

    def test_identity_added_by_hand_takes_its_contacts_company(self):
        restricted = self.env["res.partner"].create({"name": "Solo USA", "company_id": self.company_us.id})
        identity = (
            self.env["omnichannel.identity"]
            .with_user(self.agent_us)
            .create({"partner_id": restricted.id, "kind": "email", "value": "Solo@US.example", "company_id": False})
        )
        self.assertEqual(identity.company_id, self.company_us)
        self.assertNotEqual(self.from_es(sender={"email": "solo@us.example"}).partner_id, restricted)
        self.assertEqual(self.from_us(sender={"email": "solo@us.example"}).partner_id, restricted)

    def test_merge_keeps_identities_in_the_surviving_contacts_company(self):
        self.channel_us.new_contacts_restricted = True
        kept = self.from_us(sender={"email": "dana@example.com"}).partner_id
        merged = self.from_es(sender={"phone": ON_SPANISH_CHANNEL, "provider_id": "u-9"}).partner_id
        self.env["base.partner.merge.automatic.wizard"].create({})._merge((kept | merged).ids, kept)
        self.assertEqual(
            set(kept.omni_identity_ids.mapped("value")), {"dana@example.com", NUMBER, "api:u-9"}, "nothing lost"
        )
        self.assertEqual({identity.company_id for identity in kept.omni_identity_ids}, {self.company_us})
        self.assertEqual(self.from_us(sender={"provider_id": "u-9"}).partner_id, kept)
        self.assertNotEqual(self.from_es(sender={"provider_id": "u-9"}).partner_id, kept)


@tagged("post_install", "-at_install")
class TestWhoChangesIdentities(MultiCompanyCase):
    def test_agent_adds_and_corrects_but_cannot_repoint(self):
        first = self.from_us(sender={"phone": ON_US_CHANNEL}).partner_id
        second = self.from_us(sender={"email": "other@example.com"}).partner_id
        Identity = self.env["omnichannel.identity"].with_user(self.agent_us)
        added = Identity.create({"partner_id": first.id, "kind": "email", "value": "dana@example.com"})
        added.write({"value": "dana@example.org"})
        self.assertEqual(added.value, "dana@example.org")
        with self.assertRaises(AccessError):
            added.write({"partner_id": second.id})
        with self.assertRaises(AccessError):
            first.omni_identity_ids.with_user(self.agent).write({"partner_id": second.id})
        self.assertEqual(added.partner_id, first)

    def test_manager_repoints_into_the_new_contacts_company(self):
        shared = self.from_us(sender={"phone": ON_US_CHANNEL}).partner_id
        restricted = self.env["res.partner"].create({"name": "Solo USA", "company_id": self.company_us.id})
        identity = shared.omni_identity_ids.with_user(self.manager_us)
        identity.write({"partner_id": restricted.id})
        self.assertEqual(identity.partner_id, restricted)
        self.assertEqual(identity.company_id, self.company_us)
        self.assertEqual(self.from_us(sender={"phone": ON_US_CHANNEL}).partner_id, restricted)

    def test_taken_identifier_is_refused_clearly(self):
        self.from_us(sender={"phone": ON_US_CHANNEL, "name": "Dana"})
        other = self.from_us(sender={"email": "other@example.com"}).partner_id
        with self.assertRaisesRegex(ValidationError, "already identifies Dana"):
            self.env["omnichannel.identity"].with_user(self.agent_us).create(
                {"partner_id": other.id, "kind": "phone", "value": ON_US_CHANNEL}
            )


@tagged("post_install", "-at_install")
class TestCompanyRecordRules(MultiCompanyCase):
    def test_agents_see_their_companies_only(self):
        self.channel_es.new_contacts_restricted = True
        self.channel_us.new_contacts_restricted = True
        es = self.from_es(sender={"phone": "+34600000501"})
        us = self.from_us(sender={"phone": "+16505550501"})
        records = {
            "omnichannel.channel": (self.channel_es, self.channel_us),
            "omnichannel.conversation": (es.conversation_id, us.conversation_id),
            "omnichannel.interaction": (es, us),
            "omnichannel.identity": (es.partner_id.omni_identity_ids, us.partner_id.omni_identity_ids),
        }
        for model, (of_es, of_us) in records.items():
            both = (of_es | of_us).ids
            for user, own, other in ((self.agent_es, of_es, of_us), (self.agent_us, of_us, of_es)):
                Model = self.env[model].with_user(user)
                self.assertEqual(Model.search([("id", "in", both)]), own, f"{model} for {user.login}")
                with self.assertRaises(AccessError, msg=f"{model} for {user.login}"):
                    other.with_user(user).read(["display_name"])
            # Someone working in both companies sees both.
            self.assertEqual(set(self.env[model].with_user(self.agent).search([("id", "in", both)]).ids), set(both))


@tagged("post_install", "-at_install")
class TestSharedContactsOverHttp(HttpCase):
    def test_two_companies_tokens_one_contact(self):
        Channel = self.env["omnichannel.channel"]
        company_es = self.env.company
        company_es.country_id = self.env.ref("base.es")
        company_us = self.env["res.company"].create(
            {"name": "Tienda USA Inc", "country_id": self.env.ref("base.us").id}
        )
        Channel.create({"name": "ES app", "company_id": company_es.id}).api_token = "token-es"
        Channel.create({"name": "US app", "company_id": company_us.id}).api_token = "token-us"
        ids = []
        for token, phone in (("token-es", ON_SPANISH_CHANNEL), ("token-us", ON_US_CHANNEL)):
            response = self.url_open(
                "/omnichannel/api/v1/events",
                data=json.dumps({"sender": {"phone": phone}, "body": "Hi"}),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            self.assertEqual(response.status_code, 200, response.text)
            ids += response.json()["interaction_ids"]
        interactions = self.env["omnichannel.interaction"].browse(ids)
        self.assertEqual(interactions.company_id, company_es | company_us)
        self.assertEqual(len(interactions.partner_id), 1)
        self.assertFalse(interactions.partner_id.company_id)
