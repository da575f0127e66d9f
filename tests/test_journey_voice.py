"""Cross-channel journey with a phone call: a customer writes on WhatsApp at noon and calls at
five. The call rings the agent who has her WhatsApp conversation, whose screen shows that chat
before she says hello; the call is missed, leaves one "Call back", and the agent's call back
from the timeline closes it. One contact, one timeline.

The WhatsApp message goes through the real webhook route, signed as Meta signs it; the calls are
played by the local Asterisk ARI server (``omnichannel_voip/tests/fake_ari.py``) over its events
WebSocket and followed by the real listener (``tools/ari_listener.py``), in a thread.
"""

import hashlib
import hmac
import json
import threading
import time

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.omnichannel_voip.tests.fake_ari import FakeAri
from odoo.addons.omnichannel_voip.tools.ari_listener import AriListener

APP_SECRET = "journey-voice-app-secret"
PHONE_NUMBER_ID = "109000000000077"


@tagged("post_install", "-at_install")
class TestWhatsappThenCall(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ari = FakeAri()
        cls.ari.start()
        cls.addClassCleanup(cls.ari.stop)
        cls.env.company.country_id = cls.env.ref("base.es")
        group = "omnichannel_base.group_omnichannel_user"
        cls.ana = new_test_user(cls.env, "journey_ana", groups=group, name="Ana Journey", email="ana@example.com")
        cls.ana.omni_extension = "1001"
        cls.bruno = new_test_user(cls.env, "journey_bruno", groups=group, name="Bruno Journey")
        cls.bruno.omni_extension = "1002"
        Channel = cls.env["omnichannel.channel"]
        Team = cls.env["omnichannel.team"]
        cls.whatsapp = Channel.create(
            {
                "name": "WhatsApp Tienda",
                "channel_type": "whatsapp",
                "team_id": Team.create({"name": "Chat", "member_ids": [(6, 0, cls.ana.ids)]}).id,
                "wa_phone_number_id": PHONE_NUMBER_ID,
                "wa_access_token": "journey-token",
                "wa_app_secret": APP_SECRET,
            }
        )
        # The phone team is Bruno's: the call must still ring Ana, who has the customer's chat.
        cls.phone = Channel.create(
            {
                "name": "Centralita",
                "channel_type": "voice",
                "provider": "asterisk",
                "team_id": Team.create({"name": "Teléfono", "member_ids": [(6, 0, cls.bruno.ids)]}).id,
                "ari_url": cls.ari.url,
                "ari_user": "omni",
                "ari_password": "secret",
                "ari_app": "omnichannel",
                "ari_outbound_context": "omnichannel-outbound",
            }
        )

    def setUp(self):
        super().setUp()
        self.ari.reset()
        self.ari.default_dial = "PJSIP/1009"
        self.listener = AriListener(self.registry, self.phone.id, backoff_cap=0.2)
        thread = threading.Thread(target=self.listener.run, daemon=True)
        thread.testing = True  # the listener's cursors share the test's transaction
        thread.start()

        def stop():
            self.listener.stop()
            thread.join(10)

        self.addCleanup(stop)
        self.ari.wait_connected()
        self.settle()

    def settle(self, timeout=20):
        """Until the listener has handled every event sent and waits on its socket again."""
        deadline, quiet, seen = time.monotonic() + timeout, 0, -1
        while quiet < 5:
            self.assertLess(time.monotonic(), deadline, f"listener still busy: {self.listener.stats}")
            time.sleep(0.04)
            count = self.listener.stats["events"]
            quiet = quiet + 1 if self.listener.idle.is_set() and count == seen else 0
            seen = count
        self.env.invalidate_all()

    def whatsapp_message(self, wamid, text):
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "109000000000001",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {
                                        "display_phone_number": "34910000077",
                                        "phone_number_id": PHONE_NUMBER_ID,
                                    },
                                    "contacts": [{"profile": {"name": "Lucía Prieto"}, "wa_id": "34612345678"}],
                                    "messages": [
                                        {
                                            "from": "34612345678",
                                            "id": wamid,
                                            "timestamp": str(int(time.time()) - 5 * 3600),
                                            "type": "text",
                                            "text": {"body": text},
                                        }
                                    ],
                                },
                            }
                        ],
                    }
                ],
            }
        ).encode()
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = self.url_open(
            f"/omnichannel/webhook/{self.whatsapp.provider}/{self.whatsapp.sudo().webhook_key}",
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.env["omnichannel.inbox"]._process_due()

    def pops_for(self, user):
        self.env.cr.precommit.run()  # bus messages are written just before the commit
        messages = self.env["bus.bus"].search(
            [("channel", "like", f'"res.partner",{user.partner_id.id}]'), ("message", "like", "screen_pop")]
        )
        return [json.loads(message.message)["payload"] for message in messages]

    def test_chat_at_noon_call_at_five(self):
        self.whatsapp_message("wamid.journey.1", "¿Tienen las botas de la foto en la talla 38?")
        chat = self.env["omnichannel.conversation"].search([("channel_id", "=", self.whatsapp.id)])
        self.assertEqual(chat.user_id, self.ana)
        lucia = chat.partner_id

        # Five o'clock: she calls from the same mobile, as the trunk gives it (national digits).
        run = self.ari.inbound(caller="612345678", did="910000077", answer=None).wait()
        self.settle()
        self.assertFalse(run.stuck, "the listener let the call go on in the dialplan")
        call = self.env["omnichannel.call"].search([("call_key", "=", run.linkedid)])
        self.assertEqual((call.partner_id, call.outcome), (lucia, "missed"))
        # Routed to Ana, who has her chat, not to the phone team's Bruno.
        rung = {e["peer"]["name"].split("-")[0] for e in self.ari.events if e["type"] == "Dial" and e.get("peer")}
        self.assertEqual(rung, {"PJSIP/1001"})
        pops = self.pops_for(self.ana)
        self.assertEqual(len(pops), 1)
        self.assertEqual(pops[0]["partner"]["name"], "Lucía Prieto")
        self.assertIn("¿Tienen las botas de la foto en la talla 38?", [i["summary"] for i in pops[0]["interactions"]])
        self.assertIn(chat.id, [c["id"] for c in pops[0]["conversations"]])
        self.assertFalse(self.pops_for(self.bruno))

        # Missed: one "Call back" for Ana.
        call_back = self.env["omnichannel.call"]._call_back_activities(lucia)
        self.assertEqual((len(call_back), call_back.user_id), (1, self.ana))

        # Ana calls back from the call on Lucía's timeline; Lucía answers.
        timeline = lucia.with_user(self.ana).omnichannel_timeline()["items"]
        item = next(i for i in timeline if i["kind"] == "call")
        action = item["actions"][0]
        self.ari.originate_plan("+34612345678", customer="answer", talk_seconds=95)
        self.env[action["model"]].with_user(self.ana).browse(action["res_id"]).action_omni_dial()
        self.ari.runs[-1].wait()
        self.settle()
        back = self.env["omnichannel.call"].search([("partner_id", "=", lucia.id), ("direction", "=", "outbound")])
        self.assertEqual((back.user_id, back.outcome, back.talk_seconds), (self.ana, "answered", 95))
        self.assertFalse(self.env["omnichannel.call"]._call_back_activities(lucia), "the call back is done")

        # One contact, one timeline: the chat, the missed call, the call back.
        timeline = lucia.with_user(self.ana).omnichannel_timeline()["items"]
        self.assertEqual(
            [(i["channel_type"], i["kind"], i["direction"]) for i in timeline],
            [("voice", "call", "outbound"), ("voice", "call", "inbound"), ("whatsapp", "message", "inbound")],
        )
