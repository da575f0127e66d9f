import json

from odoo.tests import tagged

from .common import CONTRACTS, WhatsappCase


@tagged("post_install", "-at_install")
class TestWhatsappSmoke(WhatsappCase):
    def test_text_in_reply_out_statuses(self):
        payload = json.loads((CONTRACTS / "whatsapp_inbound_text.json").read_text())
        # Meta's example, sent now: inside the 24-hour window
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(self.now().timestamp()))
        response = self.deliver(payload)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.process(), 1)
        wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        inbound = self.interaction(wamid)
        self.assertEqual(inbound.partner_id.name, "Sheena Nelson")
        conversation = inbound.conversation_id
        self.assertTrue(conversation.reply_window_open)
        conversation.with_user(self.agent).message_post(
            body="Yes, it also comes in blue and green.", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.assertFalse(self.graph.sent, "nothing is sent inside the agent's transaction")
        outbox = self.env["omnichannel.outbox"].search([("conversation_id", "=", conversation.id)])
        self.assertEqual(outbox.state, "queued")
        self.send_queued()
        self.assertEqual(outbox.state, "sent")
        self.assertEqual(len(self.graph.sent), 1)
        outbound = outbox.interaction_id
        self.assertEqual(outbound.delivery_state, "sent")
        self.assertEqual(outbound.external_id, outbox.external_id)
        for state in ("read", "delivered"):
            self.deliver(self.status(outbox.external_id, state))
        self.process()
        self.assertEqual(outbound.delivery_state, "read", "read never goes back to delivered")
