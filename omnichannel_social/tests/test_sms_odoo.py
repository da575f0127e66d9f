"""Odoo's own SMS (the composer on a contact or document, SMS marketing) sent through the
company's omnichannel SMS channel instead of Odoo's paid service (IAP), against the local
Twilio API (``fake_twilio``).

A salesperson who is in no Omnichannel group sends from the composer; the SMS is queued in the
channel's outbox with its row on the customer's timeline, sent by the outbox worker
(``send_queued``), and Twilio's signed status callbacks move the SMS, its chatter notification
(and its mailing trace) on, as IAP's answers and delivery reports would.
"""

from contextlib import contextmanager
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, HttpCase, tagged

from odoo.addons.sms.tools.sms_api import SmsApi

from .fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-auth-token-for-tests"
FROM_NUMBER = "+34910000000"
CUSTOMER_NUMBER = "+34612345678"


class SmsOdooCase(HttpCase):
    """A Spanish company whose SMS go through its Twilio SMS channel (local Twilio API), a
    salesperson, a customer, and Odoo's paid SMS service recorded at its choke point."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, numbers=[FROM_NUMBER])
        cls.twilio.start()
        cls.addClassCleanup(cls.twilio.stop)
        cls.env["ir.config_parameter"].sudo().set_param("omnichannel_social.twilio_api_url", cls.twilio.url)
        cls.company = cls.env.company
        cls.company.country_id = cls.env.ref("base.es")
        cls.channel = cls.env["omnichannel.channel"].create(
            {
                "name": "SMS Tienda",
                "channel_type": "sms",
                "provider": "twilio",
                "twilio_account_sid": ACCOUNT_SID,
                "twilio_auth_token": AUTH_TOKEN,
                "twilio_from_number": FROM_NUMBER,
            }
        )
        cls.company.omni_sms_channel_id = cls.channel
        # A salesperson: an internal user in no Omnichannel group, who may edit contacts (Odoo
        # asks that of whoever posts on a contact, an SMS included).
        cls.salesperson = cls.env["res.users"].create(
            {
                "name": "Nerea Ventas",
                "login": "nerea.ventas",
                "email": "nerea@example.com",
                "groups_id": [
                    (6, 0, [cls.env.ref("base.group_user").id, cls.env.ref("base.group_partner_manager").id])
                ],
            }
        )
        cls.customer = cls.env["res.partner"].create({"name": "Ane Etxeberria", "mobile": "+34 612 34 56 78"})

    def setUp(self):
        super().setUp()
        self.twilio.reset()
        self.iap_calls = []

        def contact_iap(api, local_endpoint, params, timeout=15):
            self.iap_calls.append(params)
            return [
                {"uuid": number["uuid"], "state": "success", "credit": 1}
                for message in params["messages"]
                for number in message["numbers"]
            ]

        # Odoo's paid service: its one HTTP choke point records what would have reached it.
        patcher = patch.object(SmsApi, "_contact_iap", contact_iap)
        patcher.start()
        self.addCleanup(patcher.stop)

    # ------------------------------------------------------------ as users and workers
    def compose(self, record, body, user=None, **values):
        """The salesperson's SMS composer on ``record`` (Send SMS on its form): returns its notifications."""
        composer = (
            self.env["sms.composer"]
            .with_user(user or self.salesperson)
            .with_context(active_model=record._name, active_id=record.id)
            .create({"body": body, **values})
        )
        composer.action_send_sms()
        message = record.message_ids.filtered(lambda m: m.message_type == "sms")[:1]
        return message.notification_ids

    def sms_of(self, notifications):
        return self.env["sms.sms"].search([("uuid", "in", notifications.sms_tracker_ids.mapped("sms_uuid"))])

    def send_queued(self):
        return self.env["omnichannel.outbox"]._cron_send(time_budget=10)

    def deliver_callbacks(self):
        """Twilio posts its signed status callbacks; the inbox worker reads them."""
        responses = self.twilio.post_callbacks(session=self.opener)
        self.assertTrue(responses)
        self.assertTrue(all(response.status_code == 200 for response in responses), responses)
        self.env["omnichannel.inbox"]._process_due()

    def timeline(self, partner=None):
        return self.env["omnichannel.interaction"].search(
            [("partner_id", "=", (partner or self.customer).id), ("channel_id", "=", self.channel.id)]
        )

    @contextmanager
    def no_channel(self):
        self.company.omni_sms_channel_id = False
        try:
            yield
        finally:
            self.company.omni_sms_channel_id = self.channel


@tagged("post_install", "-at_install")
class TestSmsThroughChannel(SmsOdooCase):
    def test_composer_sends_through_channel_and_follows_statuses(self):
        notification = self.compose(self.customer, "Hola Ane, tu pedido está listo 📦")
        self.assertEqual(len(notification), 1)
        sms = self.sms_of(notification)
        self.assertEqual(sms.state, "process", "with the channel's outbox, as IAP's 'processing'")
        self.assertEqual(notification.notification_status, "process")
        self.assertFalse(self.iap_calls, "Odoo's paid service is not used")
        outbox = self.env["omnichannel.outbox"].search([("sms_uuid", "=", sms.uuid)])
        self.assertRecordValues(
            outbox, [{"channel_id": self.channel.id, "partner_id": self.customer.id, "state": "queued"}]
        )
        self.assertEqual(outbox.payload["to"], CUSTOMER_NUMBER)
        self.assertEqual(outbox.user_id, self.salesperson)
        interaction = self.timeline()
        self.assertRecordValues(
            interaction,
            [
                {
                    "direction": "outbound",
                    "kind": "message",
                    "delivery_state": "queued",
                    "summary": "Hola Ane, tu pedido está listo 📦",
                    "user_id": self.salesperson.id,
                }
            ],
        )
        self.assertEqual(outbox.interaction_id, interaction)

        self.send_queued()
        self.assertEqual(len(self.twilio.sent), 1)
        sent = self.twilio.sent[0]
        self.assertEqual((sent["To"], sent["From"], sent["Body"]), (CUSTOMER_NUMBER, FROM_NUMBER, sms.body))
        self.assertEqual(sms.state, "pending", "accepted by the provider: Sent")
        self.assertEqual(notification.notification_status, "pending")
        self.assertEqual((interaction.delivery_state, interaction.external_id), ("sent", sent["sid"]))

        self.deliver_callbacks()  # queued, sent, delivered
        self.assertEqual(sms.state, "sent", "Delivered")
        self.assertEqual(notification.notification_status, "sent")
        self.assertEqual(self.timeline(), interaction, "the provider's statuses add no row to the timeline")
        self.assertEqual(interaction.delivery_state, "delivered")
        self.assertFalse(self.iap_calls)

    def test_sms_goes_to_the_number_odoo_chose(self):
        """A customer who texted the channel from another phone still gets the composer's SMS on
        the number the composer chose, not on the one they last wrote from."""
        self.env["omnichannel.identity"].sudo().create(
            {"partner_id": self.customer.id, "kind": "phone", "value": "+34944001122", "channel_id": self.channel.id}
        )
        self.compose(self.customer, "Tu cita es mañana a las 10:00")
        self.send_queued()
        self.assertEqual([sent["To"] for sent in self.twilio.sent], [CUSTOMER_NUMBER])

    def test_undelivered_sms_shows_the_carriers_reason(self):
        self.twilio.fates[CUSTOMER_NUMBER] = ("undelivered", 30003)
        notification = self.compose(self.customer, "¿Te viene bien el jueves?")
        self.send_queued()
        self.deliver_callbacks()
        self.assertRecordValues(
            notification, [{"notification_status": "exception", "failure_type": "sms_not_delivered"}]
        )
        self.assertIn("switched off", notification.failure_reason)
        self.assertRecordValues(self.sms_of(notification), [{"state": "error", "failure_type": "unknown"}])
        self.assertEqual(self.timeline().delivery_state, "failed")

    def test_refused_sms_fails_with_reason_and_is_sent_again_once(self):
        self.twilio.inject("POST", r"/Messages\.json$", status=400, code=21612, message="Cannot route")
        notification = self.compose(self.customer, "Tu cita es mañana a las 10:00")
        self.send_queued()
        sms = self.sms_of(notification)
        self.assertRecordValues(sms, [{"state": "error", "failure_type": "unknown", "to_delete": False}])
        self.assertRecordValues(notification, [{"notification_status": "exception", "failure_type": "unknown"}])
        self.assertIn("cannot route", notification.failure_reason)
        self.assertEqual(self.timeline().delivery_state, "failed")

        # Resent from Odoo's SMS list: the same outbox row and timeline row go out again.
        sms.resend_failed()
        self.assertEqual(sms.state, "process")
        self.assertEqual(notification.notification_status, "process")
        self.send_queued()
        self.assertEqual(len(self.twilio.sent), 1)
        self.assertEqual(sms.state, "pending")
        self.assertEqual(len(self.timeline()), 1)
        self.assertEqual(self.timeline().delivery_state, "sent")
        self.assertEqual(len(self.env["omnichannel.outbox"].search([("sms_uuid", "=", sms.uuid)])), 1)
        self.assertFalse(self.iap_calls)

    def test_opted_out_customer_is_refused(self):
        self.env["omnichannel.consent"]._record(
            [
                {
                    "partner_id": self.customer.id,
                    "channel_id": self.channel.id,
                    "opt": "out",
                    "source": "keyword",
                    "reason": "BAJA",
                }
            ]
        )
        notification = self.compose(self.customer, "Oferta de otoño")
        self.assertRecordValues(notification, [{"notification_status": "exception", "failure_type": "sms_optout"}])
        self.assertIn("opted out of SMS Tienda", notification.failure_reason)
        self.assertRecordValues(self.sms_of(notification), [{"state": "error", "failure_type": "sms_optout"}])
        self.assertFalse(self.env["omnichannel.outbox"].search([("partner_id", "=", self.customer.id)]))
        self.assertFalse(self.timeline())
        self.send_queued()
        self.assertFalse(self.twilio.sent)
        self.assertFalse(self.iap_calls)

    def test_sms_to_a_number_lands_on_its_contacts_timeline(self):
        known = self.env["res.partner"].create({"name": "Iñaki Goñi", "phone": "+34 699 11 22 33"})
        composer = (
            self.env["sms.composer"]
            .with_user(self.salesperson)
            .create({"composition_mode": "numbers", "numbers": "699112233,+34 655 44 33 22", "body": "Recogida lista"})
        )
        composer.action_send_sms()
        self.assertEqual(len(self.timeline(known)), 1, "the contact known by that number")
        stranger = self.env["omnichannel.identity"].search([("kind", "=", "phone"), ("value", "=", "+34655443322")])
        self.assertEqual(len(self.timeline(stranger.partner_id)), 1, "a new contact, as for an unknown sender")
        self.send_queued()
        self.assertEqual(sorted(sent["To"] for sent in self.twilio.sent), ["+34655443322", "+34699112233"])

    def test_sms_joins_the_open_conversation(self):
        conversation = self.env["omnichannel.conversation"].create(
            {"partner_id": self.customer.id, "channel_id": self.channel.id, "state": "open"}
        )
        notification = self.compose(self.customer, "Ya puedes pasar a recogerlo")
        outbox = self.env["omnichannel.outbox"].search(
            [("sms_uuid", "in", notification.sms_tracker_ids.mapped("sms_uuid"))]
        )
        self.assertEqual(outbox.conversation_id, conversation)
        self.assertEqual(self.timeline().conversation_id, conversation)
        posted = conversation.message_ids.filtered(lambda m: m.message_type == "comment")
        self.assertEqual(posted.mapped("preview"), ["Ya puedes pasar a recogerlo"])
        self.assertEqual(posted.author_id, self.salesperson.partner_id)

    def test_document_sms_and_mass_sms(self):
        """The composer on several contacts (mass mode), as from the contacts list."""
        other = self.env["res.partner"].create({"name": "Jon Arana", "mobile": "+34 622 00 11 22"})
        composer = (
            self.env["sms.composer"]
            .with_user(self.salesperson)
            .with_context(active_model="res.partner", active_ids=(self.customer | other).ids)
            .create({"composition_mode": "mass", "body": "Cerramos el lunes por inventario", "mass_force_send": True})
        )
        composer.action_send_sms()
        self.assertEqual(len(self.timeline()), 1)
        self.assertEqual(len(self.timeline(other)), 1)
        self.send_queued()
        self.assertEqual(sorted(sent["To"] for sent in self.twilio.sent), [CUSTOMER_NUMBER, "+34622001122"])
        self.assertFalse(self.iap_calls)

    def test_mass_sms_queries_do_not_grow_with_recipients(self):
        """Odoo sends SMS in batches of 500: queueing them costs the same whatever their number."""

        def queue(count):
            partners = self.env["res.partner"].create(
                [{"name": f"Cliente {i}", "mobile": f"+34 623 {count:02d} {i:04d}"} for i in range(count)]
            )
            composer = (
                self.env["sms.composer"]
                .with_user(self.salesperson)
                .with_context(active_model="res.partner", active_ids=partners.ids)
                .create({"composition_mode": "mass", "body": "Inventario el lunes", "mass_keep_log": False})
            )
            sms = composer._action_send_sms()
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            sms.send()
            self.env.flush_all()
            self.assertEqual(set(sms.mapped("state")), {"process"})
            return self.cr.sql_log_count - before

        queue(2)  # caches warm
        few, many = queue(3), queue(20)
        self.assertLessEqual(many, few + 2, f"{few} queries for 3 SMS, {many} for 20")

    def test_mass_sms_goes_through_each_records_company(self):
        """A mass SMS keeps no message on its document: it still goes through its record's
        company's channel, as one sent from the document does, not the current company's."""
        other_company = self.env["res.company"].create(
            {"name": "Tienda Donostia", "country_id": self.company.country_id.id}
        )
        other_channel = self.env["omnichannel.channel"].create(
            {
                "name": "SMS Donostia",
                "channel_type": "sms",
                "provider": "twilio",
                "company_id": other_company.id,
                "twilio_account_sid": ACCOUNT_SID,
                "twilio_auth_token": AUTH_TOKEN,
                "twilio_from_number": FROM_NUMBER,
            }
        )
        other_company.omni_sms_channel_id = other_channel
        self.salesperson.company_ids = [(4, other_company.id)]
        local = self.env["res.partner"].create(
            {"name": "Koldo Donostia", "mobile": "+34 644 00 11 22", "company_id": other_company.id}
        )
        composer = (
            self.env["sms.composer"]
            .with_user(self.salesperson)
            .with_context(
                active_model="res.partner",
                active_ids=(self.customer | local).ids,
                allowed_company_ids=[self.company.id, other_company.id],
            )
            .create({"composition_mode": "mass", "body": "Cerramos el lunes", "mass_force_send": True})
        )
        composer.action_send_sms()
        outbox = self.env["omnichannel.outbox"].search([("partner_id", "in", (self.customer | local).ids)])
        self.assertEqual(
            {(row.partner_id, row.channel_id) for row in outbox},
            {(self.customer, self.channel), (local, other_channel)},
        )
        self.assertFalse(self.timeline(local), "nothing of Donostia's customer on the other company's channel")

    def test_company_without_channel_keeps_odoos_service(self):
        with self.no_channel():
            notification = self.compose(self.customer, "Por IAP")
        self.assertEqual(len(self.iap_calls), 1)
        self.assertEqual(notification.notification_status, "pending")
        self.assertFalse(self.timeline())
        self.assertFalse(self.env["omnichannel.outbox"].search([("partner_id", "=", self.customer.id)]))

    def test_archived_channel_fails_clearly(self):
        self.channel.active = False
        notification = self.compose(self.customer, "Hola")
        self.assertRecordValues(notification, [{"notification_status": "exception", "failure_type": "unknown"}])
        self.assertIn("archived", notification.failure_reason)
        self.assertFalse(self.iap_calls, "never sent through Odoo's paid service instead")

    def test_settings(self):
        admin = self.env["res.users"].create(
            {
                "name": "Iker Sistemas",
                "login": "iker.ajustes.sms",
                "groups_id": [(6, 0, [self.env.ref("base.group_system").id])],
            }
        )
        self.company.omni_sms_channel_id = False
        settings = Form(self.env["res.config.settings"].with_user(admin))
        settings.omni_sms_channel_id = self.channel
        settings.save().execute()
        self.assertEqual(self.company.omni_sms_channel_id, self.channel)
        whatsapp = self.env["omnichannel.channel"].create({"name": "WhatsApp", "channel_type": "whatsapp"})
        with self.assertRaises(ValidationError):
            self.company.omni_sms_channel_id = whatsapp
        other_company = self.env["res.company"].create({"name": "Tienda Donostia"})
        with self.assertRaises(ValidationError):
            other_company.omni_sms_channel_id = self.channel


@tagged("post_install", "-at_install")
class TestSmsMarketingThroughChannel(SmsOdooCase):
    """SMS Marketing (mass_mailing_sms), when installed: its SMS go through the channel too,
    marketing opt-outs are cancelled as Odoo's own opt-out lists are, and campaigns stay out of
    the customers' conversations."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "mailing.mailing" not in cls.env or "mailing_id" not in cls.env["sms.sms"]._fields:
            cls.skipTest(cls, "SMS Marketing (mass_mailing_sms) is not installed")
        cls.marketer = cls.env["res.users"].create(
            {
                "name": "Amaia Marketing",
                "login": "amaia.marketing",
                "email": "amaia@example.com",
                "groups_id": [
                    (
                        6,
                        0,
                        [cls.env.ref("base.group_user").id, cls.env.ref("mass_mailing.group_mass_mailing_user").id],
                    )
                ],
            }
        )
        cls.other = cls.env["res.partner"].create({"name": "Jon Arana", "mobile": "+34 622 00 11 22"})
        cls.no_promotions = cls.env["res.partner"].create({"name": "Leire Ugarte", "mobile": "+34 633 99 88 77"})

    def launch(self, partners, body):
        """The marketer sends a mailing to ``partners``; Odoo's crons then do the rest."""
        mailing = (
            self.env["mailing.mailing"]
            .with_user(self.marketer)
            .create(
                {
                    "subject": "Rebajas",
                    "mailing_type": "sms",
                    "mailing_model_id": self.env["ir.model"]._get("res.partner").id,
                    "mailing_domain": repr([("id", "in", partners.ids)]),
                    "body_plaintext": body,
                }
            )
        )
        mailing.action_launch()
        self.env["mailing.mailing"]._process_mass_mailing_queue()
        self.env["sms.sms"]._process_queue()
        return mailing

    def test_mailing_through_channel(self):
        conversation = self.env["omnichannel.conversation"].create(
            {"partner_id": self.customer.id, "channel_id": self.channel.id, "state": "open"}
        )
        self.env["omnichannel.consent"]._record(
            [
                {
                    "partner_id": self.no_promotions.id,
                    "channel_id": self.channel.id,
                    "opt": "out",
                    "scope": "marketing",
                    "source": "provider",
                    "reason": "stop promotions",
                }
            ]
        )
        mailing = self.launch(self.customer | self.other | self.no_promotions, "Rebajas de otoño: -20%")
        traces = {trace.res_id: trace for trace in mailing.mailing_trace_ids}
        self.assertRecordValues(
            traces[self.no_promotions.id], [{"trace_status": "cancel", "failure_type": "sms_optout"}]
        )
        self.assertEqual(traces[self.customer.id].trace_status, "process")
        self.assertFalse(self.timeline(self.no_promotions))
        interaction = self.timeline()
        self.assertEqual(len(interaction), 1)
        self.assertFalse(interaction.conversation_id, "a campaign is no answer in the customer's conversation")
        self.assertFalse(conversation.message_ids.filtered(lambda m: m.message_type == "comment"))

        self.send_queued()
        self.assertEqual(sorted(sent["To"] for sent in self.twilio.sent), [CUSTOMER_NUMBER, "+34622001122"])
        self.assertTrue(all(sent["Body"].startswith("Rebajas de otoño: -20%") for sent in self.twilio.sent))
        self.assertEqual(traces[self.customer.id].trace_status, "pending")
        self.deliver_callbacks()
        self.assertEqual(traces[self.customer.id].trace_status, "sent")
        self.assertEqual(traces[self.other.id].trace_status, "sent")
        self.assertEqual(mailing.state, "done")
        self.assertFalse(self.iap_calls)

    def test_retried_mailing_sms_honours_marketing_opt_out(self):
        """A campaign SMS the provider refused, retried from the outbox after its recipient
        stopped promotions, is refused: it is marketing, not a reply."""
        manager = self.env["res.users"].create(
            {
                "name": "Mikel Responsable",
                "login": "mikel.responsable.sms",
                "groups_id": [(6, 0, [self.env.ref("omnichannel_base.group_omnichannel_manager").id])],
            }
        )
        self.twilio.inject("POST", r"/Messages\.json$", status=400, code=21612, message="Cannot route")
        self.launch(self.customer, "Rebajas de invierno")
        self.send_queued()
        outbox = self.env["omnichannel.outbox"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(outbox.state, "failed")
        self.env["omnichannel.consent"]._record(
            [
                {
                    "partner_id": self.customer.id,
                    "channel_id": self.channel.id,
                    "opt": "out",
                    "scope": "marketing",
                    "source": "provider",
                    "reason": "stop promotions",
                }
            ]
        )
        with self.assertRaises(UserError):
            outbox.with_user(manager).action_retry()
        self.assertEqual(outbox.state, "failed")
