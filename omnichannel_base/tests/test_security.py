import hashlib

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import OmnichannelCase


@tagged("post_install", "-at_install")
class TestAccess(OmnichannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create(
            {"name": "Tienda Norte SL", "country_id": cls.env.ref("base.es").id}
        )
        cls.channel_b = cls.env["omnichannel.channel"].create(
            {"name": "Norte app", "channel_type": "api", "company_id": cls.company_b.id}
        )
        cls.agent_b = new_test_user(
            cls.env,
            "agent.b",
            groups="omnichannel_base.group_omnichannel_user",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )
        cls.employee = new_test_user(cls.env, "plain.employee", groups="base.group_user")
        cls.a = cls.ingest.ingest(cls.event(sender={"phone": "+34600000401"})).conversation_id
        cls.b = cls.ingest.ingest(
            cls.event(channel_id=cls.channel_b.id, sender={"phone": "+34600000402"})
        ).conversation_id
        cls.channel.api_token = "tok-a"

    def test_agent_sees_only_own_company(self):
        Conversation = self.env["omnichannel.conversation"].with_user(self.agent_b)
        self.assertEqual(Conversation.search([("id", "in", (self.a | self.b).ids)]), self.b)
        with self.assertRaises(AccessError):
            self.a.with_user(self.agent_b).read(["state"])
        Interaction = self.env["omnichannel.interaction"].with_user(self.agent_b)
        self.assertEqual(
            Interaction.search([("conversation_id", "in", (self.a | self.b).ids)]).company_id, self.company_b
        )

    def test_employee_without_group_cannot_read_conversations(self):
        with self.assertRaises(AccessError):
            self.a.with_user(self.employee).read(["state"])

    def test_secrets_for_administrators_only(self):
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).read(["api_token_hash"])
        admin = self.channel.with_user(self.env.ref("base.user_admin"))
        self.assertFalse(admin.api_token, "the token itself is kept nowhere")
        self.assertEqual(admin.api_token_hash, hashlib.sha256(b"tok-a").hexdigest())

    def test_agent_cannot_configure_channels_or_forge_interactions(self):
        with self.assertRaises(AccessError):
            self.channel.with_user(self.agent).write({"name": "hacked"})
        with self.assertRaises(AccessError):
            self.env["omnichannel.interaction"].with_user(self.agent).create(
                {
                    "partner_id": self.a.partner_id.id,
                    "commercial_partner_id": self.a.partner_id.id,
                    "company_id": self.company.id,
                }
            )

    def test_agent_works_the_inbox(self):
        conversation = self.a.with_user(self.agent)
        conversation.action_assign_to_me()
        conversation.action_resolve()
        self.assertEqual(self.a.state, "resolved")


@tagged("post_install", "-at_install")
class TestIngestOverRpc(OmnichannelCase):
    def test_only_managers_push_events(self):
        event = self.event(sender={"phone": "+34600123999"})
        with self.assertRaises(AccessError):
            self.ingest.with_user(self.agent).ingest([event])
        manager = self.env.ref("base.user_admin")
        self.assertTrue(self.ingest.with_user(manager).ingest([event]))
