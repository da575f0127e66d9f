from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestInboxTour(HttpCase):
    def test_agent_answers_and_resolves(self):
        self.env.company.country_id = self.env.ref("base.es")
        channel = self.env["omnichannel.channel"].create({"name": "Tour app", "channel_type": "api"})
        interaction = self.env["omnichannel.ingest"].ingest(
            {
                "channel_id": channel.id,
                "sender": {"phone": "+34 611 22 33 44", "name": "Tour Customer"},
                "body": "¿Tenéis la talla 42?",
            }
        )
        conversation = interaction.conversation_id
        self.start_tour("/odoo", "omnichannel_inbox_tour", login="admin")
        self.assertEqual(conversation.state, "resolved")
        self.assertEqual(conversation.user_id, self.env.ref("base.user_admin"))
        outbound = conversation.interaction_ids.filtered(lambda i: i.direction == "outbound")
        self.assertEqual(outbound.summary, "Sí, la tenemos en tienda.")
        self.assertTrue(conversation.first_response_date)
