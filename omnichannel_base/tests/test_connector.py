"""The connector framework's parts that do not depend on a provider: delivery states,
consent, messaging windows, the webhook route's refusals and the 18.0.1.2.0 migration."""

import importlib.util
import itertools
from datetime import timedelta
from pathlib import Path

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from .common import OmnichannelCase

RANK = ["queued", "sent", "failed", "delivered", "read"]


@tagged("post_install", "-at_install")
class TestDeliveryStates(OmnichannelCase):
    def setUp(self):
        super().setUp()
        self.inbound = self.ingest.ingest(self.event(sender={"phone": "+34600111222"}))
        self.conversation = self.inbound.conversation_id

    def outbound(self, external_id):
        interaction = self.ingest.ingest(
            self.event(
                direction="outbound",
                partner_id=self.inbound.partner_id.id,
                conversation_id=self.conversation.id,
                external_id=external_id,
                body="Respuesta",
            )
        )
        self.env["omnichannel.interaction"]._set_external_id(interaction.id, external_id, "sent")
        return interaction

    def test_states_only_move_forward(self):
        """Every order of two statuses ends at the furthest one; failed never follows delivery."""
        for index, (first, second) in enumerate(itertools.permutations(["sent", "delivered", "read", "failed"], 2)):
            interaction = self.outbound(f"out-{index}")
            Interaction = self.env["omnichannel.interaction"]
            Interaction._advance_delivery_states(
                [(self.channel.id, f"out-{index}", first, "E1" if first == "failed" else None)]
            )
            Interaction._advance_delivery_states(
                [(self.channel.id, f"out-{index}", second, "E2" if second == "failed" else None)]
            )
            expected = max(first, second, key=RANK.index)
            self.assertEqual(interaction.delivery_state, expected, f"{first} then {second}")

    def test_one_call_with_several_statuses_keeps_the_furthest(self):
        interaction = self.outbound("out-batch")
        found = self.env["omnichannel.interaction"]._advance_delivery_states(
            [(self.channel.id, "out-batch", "read", None), (self.channel.id, "out-batch", "delivered", None)]
        )
        self.assertEqual(interaction.delivery_state, "read")
        self.assertEqual(found, {(self.channel.id, "out-batch"): True})

    def test_status_of_an_unknown_message_waits_and_applies_later(self):
        Status = self.env["omnichannel.delivery.status"]
        Status._apply([{"channel_id": self.channel.id, "external_id": "late", "state": "delivered", "date": None}])
        waiting = Status.search([("external_id", "=", "late")])
        self.assertEqual(waiting.state, "delivered")
        interaction = self.outbound("late")
        Status._apply_waiting(self.channel, "late")
        self.assertEqual(interaction.delivery_state, "delivered")
        self.assertFalse(waiting.exists())

    def test_watermarks_move_everything_sent_up_to_then(self):
        """Messenger's read receipts say "all up to then": older messages move, later ones wait."""
        Interaction = self.env["omnichannel.interaction"]
        early, late = self.outbound("wm-early"), self.outbound("wm-late")
        now = fields.Datetime.now()
        early.sudo().write({"date": now - timedelta(minutes=10)})
        late.sudo().write({"date": now + timedelta(minutes=1)})
        Interaction._advance_delivery_states([(self.channel.id, "wm-early", "read", None)])
        self.env["omnichannel.inbox"]._apply(
            [
                dict(
                    self.parse(),
                    watermarks=[
                        {
                            "channel_id": self.channel.id,
                            "recipient": {"phone": "+34600111222"},
                            "state": "delivered",
                            "date": now,
                        }
                    ],
                )
            ]
        )
        self.assertEqual(early.delivery_state, "read", "a watermark never moves a message back")
        self.assertEqual(late.delivery_state, "sent", "sent after the watermark: not delivered yet")
        middle = self.outbound("wm-middle")
        middle.sudo().write({"date": now - timedelta(minutes=5)})
        self.env["omnichannel.inbox"]._apply(
            [
                dict(
                    self.parse(),
                    watermarks=[
                        {
                            "channel_id": self.channel.id,
                            "recipient": {"phone": "+34 600 11 12 22"},
                            "state": "read",
                            "date": now,
                        }
                    ],
                )
            ]
        )
        self.assertEqual(middle.delivery_state, "read")

    def parse(self):
        from odoo.addons.omnichannel_base.models.omnichannel_provider import empty_parse  # noqa: PLC0415

        return empty_parse()

    def test_edits_and_removals_show_on_chatter_and_timeline(self):
        Inbox = self.env["omnichannel.inbox"]
        first = self.ingest.ingest(
            self.event(sender={"phone": "+34600111222"}, external_id="m-1", body="Talla 36, por favor")
        )
        self.env["omnichannel.media"]._enqueue([(first, {"ref": "file-1", "name": "foto.jpg"})])

        def edit(body=None, removed=False, external_id="m-1"):
            Inbox._apply(
                [
                    dict(
                        self.parse(),
                        edits=[
                            {
                                "channel_id": self.channel.id,
                                "external_id": external_id,
                                "body": body,
                                "removed": removed,
                                "date": fields.Datetime.now(),
                            }
                        ],
                    )
                ]
            )

        edit("Talla 38, por favor")
        self.assertEqual(first.edit_state, "edited")
        self.assertEqual(first.summary, "Talla 38, por favor")
        self.assertIn("Talla 38", first.mail_message_id.body)
        self.assertIn("o-mail-Message-edited", first.mail_message_id.body, "marked edited as Odoo marks edits")
        timeline = first.partner_id._omni_timeline_items(first)
        self.assertIn(["Customer", "Edited"], timeline[0]["details"])

        edit(removed=True)
        self.assertEqual(first.edit_state, "removed")
        self.assertNotIn("Talla", first.mail_message_id.body, "a removed message is not silently kept")
        self.assertIn("removed this message", first.summary)
        self.assertFalse(
            self.env["omnichannel.media"].search([("interaction_id", "=", first.id)]),
            "files of a removed message are not fetched",
        )
        edit("Otra vez", external_id="m-1")
        self.assertEqual(first.edit_state, "removed", "a removal is final")
        edit("Nunca recibido", external_id="unknown")  # an edit of a message never recorded: ignored

    def test_contacts_without_a_name_get_their_profile_later(self):
        Inbox, Media = self.env["omnichannel.inbox"], self.env["omnichannel.media"]

        def message(external_id, sender):
            return dict(
                self.parse(),
                events=[
                    self.event(external_id=external_id, sender=sender, body="Hola", profile=True),
                ],
            )

        Inbox._apply(
            [message("p-1", {"provider_id": "PSID-1"}), message("p-2", {"provider_id": "PSID-2", "name": "Ana"})]
        )
        jobs = Media.search([("kind", "=", "profile")])
        self.assertEqual(jobs.mapped("ref"), ["PSID-1"], "only the contact named after their id waits for a profile")
        partner = jobs.interaction_id.partner_id
        self.assertEqual(partner.name, "PSID-1")
        jobs._apply_profile({"name": "Marta Ruiz", "image": None})
        self.assertEqual((partner.name, jobs.state), ("Marta Ruiz", "done"))
        Inbox._apply([message("p-3", {"provider_id": "PSID-1"})])
        self.assertEqual(len(Media.search([("kind", "=", "profile")])), 1, "a known contact is not asked again")
        partner.name = "Marta (tienda)"
        jobs._apply_profile({"name": "Marta Ruiz"})
        self.assertEqual(partner.name, "Marta (tienda)", "a name someone typed is kept")

    def test_an_echo_recorded_before_the_sender_learnt_the_id_is_merged(self):
        """Meta's echo of our own reply, processed before the outbox recorded the reply's id, is
        the same message: one timeline row and one chatter message remain."""
        mine = self.ingest.ingest(
            self.event(
                direction="outbound",
                partner_id=self.inbound.partner_id.id,
                conversation_id=self.conversation.id,
                body="Le llamamos mañana",
            )
        )
        echo = self.ingest.ingest(
            self.event(
                direction="outbound",
                partner_id=self.inbound.partner_id.id,
                conversation_id=self.conversation.id,
                external_id="m_echo-1",
                body="Le llamamos mañana",
            )
        )
        echo_message = echo.mail_message_id
        self.env["omnichannel.interaction"]._set_external_id(mine.id, "m_echo-1", "sent")
        self.assertFalse(echo.exists())
        self.assertFalse(echo_message.exists())
        self.assertEqual((mine.external_id, mine.delivery_state), ("m_echo-1", "sent"))
        self.assertEqual(self.env["omnichannel.interaction"].search_count([("external_id", "=", "m_echo-1")]), 1)

    def test_inbound_rows_are_never_touched(self):
        self.inbound.invalidate_recordset()
        self.env["omnichannel.interaction"]._set_external_id(self.inbound.id, self.inbound.external_id, None)
        found = self.env["omnichannel.interaction"]._advance_delivery_states(
            [(self.channel.id, "whatever", "read", None)]
        )
        self.assertEqual(found, {})
        self.assertFalse(self.inbound.delivery_state)


@tagged("post_install", "-at_install")
class TestConsentAndWindow(OmnichannelCase):
    def test_keywords_match_whole_messages_whatever_the_case(self):
        self.channel.opt_out_keywords = "STOP, Baja"
        for text in ("stop", "BAJA", " Baja. ", "¡baja!"):
            self.assertTrue(self.channel._keyword_in("opt_out_keywords", text), text)
        for text in ("no me des de baja", "stopper", "", False):
            self.assertFalse(self.channel._keyword_in("opt_out_keywords", text), text)

    def test_last_choice_decides(self):
        partner = self.env["res.partner"].create({"name": "Iker"})
        Consent = self.env["omnichannel.consent"]
        self.assertFalse(Consent._opted_out(partner, self.channel))
        now = fields.Datetime.now()
        Consent._record(
            [dict(partner_id=partner.id, channel_id=self.channel.id, opt="out", date=now, source="keyword")]
        )
        with self.assertRaisesRegex(UserError, "opted out"):
            Consent.with_user(self.agent)._check_can_send(partner, self.channel)
        Consent._record(
            [dict(partner_id=partner.id, channel_id=self.channel.id, opt="in", date=now + timedelta(1), source="agent")]
        )
        self.assertFalse(Consent._opted_out(partner, self.channel))

    def test_agent_reply_refused_after_opt_out(self):
        interaction = self.ingest.ingest(self.event(sender={"phone": "+34600999888"}))
        conversation = interaction.conversation_id
        self.env["omnichannel.consent"]._record(
            [
                dict(
                    partner_id=interaction.partner_id.id,
                    channel_id=self.channel.id,
                    opt="out",
                    date=fields.Datetime.now(),
                    source="keyword",
                )
            ]
        )
        with self.assertRaisesRegex(UserError, "opted out"):
            conversation.with_user(self.agent).message_post(
                body="Hola", message_type="comment", subtype_xmlid="mail.mt_comment"
            )

    def test_channels_without_window_always_allow_replies(self):
        interaction = self.ingest.ingest(
            self.event(sender={"phone": "+34600777666"}, date=fields.Datetime.now() - timedelta(days=30))
        )
        conversation = interaction.conversation_id
        self.assertEqual(conversation.last_inbound_date, interaction.date)
        self.assertTrue(conversation.reply_window_open)
        self.assertFalse(conversation.reply_window_note)
        self.assertFalse(conversation.reply_window_end)


@tagged("post_install", "-at_install")
class TestWebhookRefusals(HttpCase):
    def test_unknown_provider_key_or_channel_is_a_json_404(self):
        channel = self.env["omnichannel.channel"].create({"name": "App", "channel_type": "api"})
        for path in (
            "/omnichannel/webhook/nobody/abc",
            f"/omnichannel/webhook/api/{channel.webhook_key}",  # no provider: no webhook
            "/omnichannel/webhook/whatsapp_cloud/" + "x" * 500,
            "/omnichannel/webhook/only-one-segment",
        ):
            for method in ("GET", "POST"):
                response = self.url_open(path, data=b"{}" if method == "POST" else None)
                self.assertEqual(response.status_code, 404, path)
                self.assertEqual(response.headers["Content-Type"], "application/json; charset=utf-8")
                self.assertIn("error", response.json())
        self.assertFalse(self.env["omnichannel.inbox"].search([]))

    def test_keys_are_unique_and_unguessable(self):
        channels = self.env["omnichannel.channel"].create([{"name": f"C{i}", "channel_type": "api"} for i in range(3)])
        keys = channels.sudo().mapped("webhook_key")
        self.assertEqual(len(set(keys)), 3)
        self.assertTrue(all(len(key) >= 32 for key in keys))
        agent = self.env["res.users"].create(
            {
                "name": "Agent",
                "login": "agent.webhook",
                "groups_id": [(6, 0, self.env.ref("omnichannel_base.group_omnichannel_manager").ids)],
            }
        )
        with self.assertRaises(AccessError):  # administrators only
            channels[0].with_user(agent).read(["webhook_key"])


@tagged("post_install", "-at_install")
class TestLastInboundMigration(OmnichannelCase):
    def test_fills_last_customer_message(self):
        first = self.ingest.ingest(self.event(sender={"phone": "+34611000111"}, date="2026-11-01T10:00:00Z"))
        self.ingest.ingest(self.event(sender={"phone": "+34611000111"}, date="2026-11-02T10:00:00Z"))
        conversation = first.conversation_id
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE omnichannel_conversation SET last_inbound_date = NULL WHERE id = %s", [conversation.id]
        )
        conversation.invalidate_recordset()
        path = Path(__file__).resolve().parents[1] / "migrations" / "18.0.1.2.0" / "post-migrate.py"
        spec = importlib.util.spec_from_file_location("omnichannel_migration_1_2_0", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "18.0.1.1.0")
        self.assertEqual(conversation.last_inbound_date, fields.Datetime.to_datetime("2026-11-02 10:00:00"))
