from datetime import datetime

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import OmnichannelCase


@tagged("post_install", "-at_install")
class TestIdentityResolution(OmnichannelCase):
    def test_phone_formats_resolve_to_one_partner(self):
        first = self.ingest.ingest(self.event(external_id="m1", sender={"phone": "612 34 56 78", "name": "Lucía"}))
        partner = first.partner_id
        self.assertEqual(partner.name, "Lucía")
        self.assertEqual(partner.omni_source_channel_id, self.channel)
        self.assertEqual(partner.omni_identity_ids.mapped("value"), ["+34612345678"])
        for i, typed in enumerate(["+34 612 345 678", "0034612345678", "+34612345678", "(+34) 612-34-56-78"]):
            interaction = self.ingest.ingest(self.event(external_id=f"m{i + 2}", sender={"phone": typed}))
            self.assertEqual(interaction.partner_id, partner, typed)

    def test_national_number_read_in_channel_company_country(self):
        self.company.country_id = self.env.ref("base.uk")
        interaction = self.ingest.ingest(self.event(sender={"phone": "07700 900123"}))
        self.assertEqual(interaction.partner_id.omni_identity_ids.value, "+447700900123")

    def test_email_case_insensitive(self):
        first = self.ingest.ingest(self.event(sender={"email": "Emma.Thompson@Example.COM", "name": "Emma"}))
        again = self.ingest.ingest(self.event(sender={"email": "emma.thompson@example.com"}))
        self.assertEqual(first.partner_id, again.partner_id)
        self.assertEqual(first.partner_id.omni_identity_ids.value, "emma.thompson@example.com")

    def test_existing_partner_found_by_fields(self):
        """Partners created in the back office are recognised by their phone, mobile or email."""
        jose = self.env["res.partner"].create({"name": "José García", "mobile": "+34 655 11 22 33"})
        emma = self.env["res.partner"].create({"name": "Emma Stone", "email": "EMMA@stone.example"})
        self.assertEqual(self.ingest.ingest(self.event(sender={"phone": "655112233"})).partner_id, jose)
        self.assertEqual(self.ingest.ingest(self.event(sender={"email": "emma@stone.example"})).partner_id, emma)

    def test_partner_found_by_field_without_identity(self):
        """A partner whose identities were never indexed (e.g. written by SQL) is still matched."""
        partner = self.env["res.partner"].create({"name": "Sin Índice", "phone": "+34 699 00 00 01"})
        partner.omni_identity_ids.unlink()
        interaction = self.ingest.ingest(self.event(sender={"phone": "699000001"}))
        self.assertEqual(interaction.partner_id, partner)
        self.assertEqual(partner.omni_identity_ids.mapped("value"), ["+34699000001"])

    def test_phone_field_changes_follow(self):
        partner = self.env["res.partner"].create({"name": "Pablo", "phone": "611 000 001"})
        partner.phone = "611 000 002"
        self.assertEqual(partner.omni_identity_ids.mapped("value"), ["+34611000002"])

    def test_provider_id_then_phone_link_to_same_partner(self):
        first = self.ingest.ingest(self.event(sender={"provider_id": "998877", "phone": "+34 600 000 111"}))
        by_id = self.ingest.ingest(self.event(sender={"provider_id": "998877"}))
        self.assertEqual(first.partner_id, by_id.partner_id)
        self.assertIn("api:998877", first.partner_id.omni_identity_ids.mapped("value"))

    def test_batch_with_one_new_sender_twice_creates_one_partner(self):
        interactions = self.ingest.ingest(
            [
                self.event(external_id="b1", sender={"phone": "+34 600 123 001"}),
                self.event(external_id="b2", sender={"phone": "600123001"}),
            ]
        )
        self.assertEqual(len(interactions.partner_id), 1)


@tagged("post_install", "-at_install")
class TestIdempotency(OmnichannelCase):
    def test_redelivery_returns_existing_and_writes_nothing(self):
        event = self.event(external_id="wamid.1", sender={"phone": "+34600000001"}, body="Hola, ¿abrís el domingo?")
        first = self.ingest.ingest(event)
        messages = first.conversation_id.message_ids
        self.env.flush_all()
        with self.assertQueryCount(__system__=4):
            # channel, body limit, savepoint, one SELECT of existing keys: nothing is written
            again = self.ingest.ingest(dict(event))
        self.assertEqual(again, first)
        self.assertEqual(first.conversation_id.message_ids, messages)
        self.assertEqual(self.env["omnichannel.interaction"].search_count([("external_id", "=", "wamid.1")]), 1)

    def test_batch_with_duplicates(self):
        events = [
            self.event(external_id="x1", sender={"phone": "+34600000002"}),
            self.event(external_id="x2", sender={"phone": "+34600000002"}),
            self.event(external_id="x1", sender={"phone": "+34600000002"}),
        ]
        interactions = self.ingest.ingest(events)
        self.assertEqual(len(interactions), 3)
        self.assertEqual(interactions[0], interactions[2])
        self.assertNotEqual(interactions[0], interactions[1])
        self.assertEqual(
            len(interactions[0].conversation_id.message_ids.filtered(lambda m: m.message_type == "comment")), 2
        )

    def test_same_external_id_on_two_channels_is_two_events(self):
        other = self.channel.copy({"name": "Other"})
        a = self.ingest.ingest(self.event(external_id="same", sender={"phone": "+34600000003"}))
        b = self.ingest.ingest(self.event(channel_id=other.id, external_id="same", sender={"phone": "+34600000003"}))
        self.assertNotEqual(a, b)


@tagged("post_install", "-at_install")
class TestConversations(OmnichannelCase):
    def test_inbound_opens_then_joins(self):
        first = self.ingest.ingest(self.event(date="2026-11-02T09:00:00Z", sender={"phone": "+34600000010"}))
        second = self.ingest.ingest(self.event(date="2026-11-02T09:05:00Z", sender={"phone": "+34600000010"}))
        conversation = first.conversation_id
        self.assertTrue(conversation)
        self.assertEqual(second.conversation_id, conversation)
        self.assertEqual(conversation.state, "new")
        self.assertEqual(conversation.team_id, self.team)
        self.assertEqual(conversation.user_id, self.agent, "routed to the team's least-loaded agent")
        self.assertEqual(conversation.first_inbound_date, datetime(2026, 11, 2, 9, 0))
        bodies = conversation.message_ids.filtered(lambda m: m.message_type == "comment").mapped("author_id")
        self.assertEqual(bodies, first.partner_id, "inbound messages are posted as the customer")

    def test_first_response_and_resolution_times(self):
        inbound = self.ingest.ingest(self.event(date="2026-11-02T09:00:00", sender={"phone": "+34600000011"}))
        conversation = inbound.conversation_id
        self.ingest.ingest(
            self.event(date="2026-11-02T09:30:00", direction="outbound", partner_id=inbound.partner_id.id)
        )
        self.assertEqual(conversation.first_response_date, datetime(2026, 11, 2, 9, 30))
        self.assertAlmostEqual(conversation.first_response_hours, 0.5)
        self.assertEqual(conversation.state, "open")
        conversation.action_resolve()
        self.assertEqual(conversation.state, "resolved")
        self.assertTrue(conversation.resolved_date)

    def test_agent_reply_from_chatter_is_an_outbound_interaction(self):
        inbound = self.ingest.ingest(self.event(sender={"phone": "+34600000012"}))
        conversation = inbound.conversation_id.with_user(self.agent)
        conversation.message_post(body="Buenos días, le ayudo", message_type="comment", subtype_xmlid="mail.mt_comment")
        outbound = conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.assertEqual(len(outbound), 1)
        self.assertEqual(outbound.user_id, self.agent)
        self.assertTrue(conversation.first_response_date)
        conversation.message_post(body="nota interna", message_type="comment", subtype_xmlid="mail.mt_note")
        self.assertEqual(len(conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")), 1)

    def test_outbound_message_is_authored_by_the_agent(self):
        inbound = self.ingest.ingest(self.event(sender={"phone": "+34600000018"}))
        reply = self.ingest.ingest(
            self.event(direction="outbound", partner_id=inbound.partner_id.id, user_id=self.agent.id, body="Enviado")
        )
        self.assertEqual(reply.conversation_id, inbound.conversation_id)
        self.assertEqual(reply.mail_message_id.author_id, self.agent.partner_id)
        self.assertEqual(inbound.mail_message_id.author_id, inbound.partner_id)

    def test_message_after_resolution_reopens(self):
        first = self.ingest.ingest(self.event(sender={"phone": "+34600000013"}))
        first.conversation_id.action_resolve()
        again = self.ingest.ingest(self.event(sender={"phone": "+34600000013"}))
        self.assertEqual(again.conversation_id, first.conversation_id)
        self.assertEqual(again.conversation_id.state, "open")
        self.assertFalse(again.conversation_id.resolved_date)

    def test_message_after_resolution_starts_new_when_configured(self):
        self.channel.reopen_policy = "new"
        first = self.ingest.ingest(self.event(sender={"phone": "+34600000014"}))
        first.conversation_id.action_resolve()
        again = self.ingest.ingest(self.event(sender={"phone": "+34600000014"}))
        self.assertNotEqual(again.conversation_id, first.conversation_id)
        self.assertEqual(first.conversation_id.state, "resolved")
        self.assertEqual(again.conversation_id.state, "new")

    def test_pending_wakes_up_on_customer_message(self):
        first = self.ingest.ingest(self.event(sender={"phone": "+34600000015"}))
        first.conversation_id.action_set_pending()
        self.ingest.ingest(self.event(sender={"phone": "+34600000015"}))
        self.assertEqual(first.conversation_id.state, "open")

    def test_store_visit_is_no_conversation(self):
        visit = self.ingest.ingest(
            self.event(kind="visit", body=False, summary="Probó zapatillas", sender={"phone": "+34600000016"})
        )
        self.assertFalse(visit.conversation_id)
        self.assertEqual(visit.summary, "Probó zapatillas")

    def test_attachments_are_kept(self):
        interaction = self.ingest.ingest(
            self.event(sender={"phone": "+34600000017"}, attachments=[{"name": "ticket.txt", "datas": "aG9sYQ=="}])
        )
        self.assertEqual(interaction.mail_message_id.attachment_ids.mapped("name"), ["ticket.txt"])


@tagged("post_install", "-at_install")
class TestBadEvents(OmnichannelCase):
    def assertRejected(self, event, field, *more):
        partners = self.env["res.partner"].search_count([])
        interactions = self.env["omnichannel.interaction"].search_count([])
        good = self.event(external_id="good", sender={"phone": "+34600000099"})
        with self.assertRaises(ValidationError) as caught:
            self.ingest.ingest([good, event])
        self.assertIn(field, str(caught.exception))
        for text in more:
            self.assertIn(text, str(caught.exception))
        self.assertEqual(self.env["res.partner"].search_count([]), partners, "nothing partial is written")
        self.assertEqual(self.env["omnichannel.interaction"].search_count([]), interactions)

    def test_no_channel(self):
        self.assertRejected({"sender": {"phone": "+34600000001"}}, "channel_id")

    def test_unknown_channel(self):
        self.assertRejected({"channel_id": 999999, "sender": {"phone": "+34600000001"}}, "channel_id")

    def test_no_sender(self):
        self.assertRejected(self.event(sender={"name": "Anónimo"}), "sender")

    def test_unparseable_phone(self):
        self.assertRejected(self.event(sender={"phone": "call me maybe"}), "sender.phone")

    def test_bad_email(self):
        self.assertRejected(self.event(sender={"email": "not-an-address"}), "sender.email")

    def test_oversized_body(self):
        self.assertRejected(
            self.event(sender={"phone": "+34600000001"}, body="x" * 70000),
            "body",
            "65536",
            "omnichannel.max_body_chars",
        )

    def test_wrong_date(self):
        self.assertRejected(self.event(sender={"phone": "+34600000001"}, date="23/11/2026 10:00"), "date", "ISO 8601")

    def test_bad_attachment(self):
        self.assertRejected(
            self.event(sender={"phone": "+34600000001"}, attachments=[{"name": "a", "datas": "%%%"}]), "attachments[1]"
        )

    def test_position_is_named(self):
        self.assertRejected(self.event(sender={"phone": "bad"}), "Event 2")


@tagged("post_install", "-at_install")
class TestInternationalisedEmail(OmnichannelCase):
    def test_unicode_and_punycode_domains_are_one_customer(self):
        # Stored behind the ORM's back (an import), so only the email field can find her.
        zoe = self.env["res.partner"].create({"name": "Zoë Müller"})
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE res_partner SET email = %s, email_normalized = %s WHERE id = %s",
            ["zoe@müller-bäckerei.de", "zoe@müller-bäckerei.de", zoe.id],
        )
        self.env["omnichannel.identity"].search([("partner_id", "=", zoe.id)]).unlink()
        self.env.invalidate_all()
        found = self.ingest.ingest(self.event(sender={"email": "Zoe@XN--MLLER-BCKEREI-HFB76A.DE"}))
        self.assertEqual(found.partner_id, zoe)
        again = self.ingest.ingest(self.event(sender={"email": "ZOË <zoe@Müller-Bäckerei.de>"}))
        self.assertEqual(again.partner_id, zoe)
