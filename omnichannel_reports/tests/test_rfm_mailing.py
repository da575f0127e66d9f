"""RFM segments as recipients of email and SMS marketing, and the customer value on the contact form.

Two customers make the whole population (the database's own purchases are set aside):
    Alfa SL (company, email, no phone) and its contacts Ana (phone, no email) and Álvaro (email and
    phone): 3 orders, the last one 2 days ago -> R 5, F 5 -> Champions (a contact shares its company's
    score); Bruno (email and phone): 1 order 300 days ago -> R 1, F 1 -> Lost. Nothing is invoiced:
    equal (zero) revenue, M 1 for both, so Alfa's customer value is 5 + 5 + 1 = 11.
A marketing user picks the saved "RFM: Champions" filter on an email and an SMS mailing; Odoo's
mailing computes the recipients and, as the scheduled action sends it, writes one trace per contact:
email to those with an email, SMS to those with a phone, the others cancelled for lack of one.
"""

from odoo import Command
from odoo.tests import tagged

from odoo.addons.omnichannel_reports.tests.test_rfm import RfmCase, ago


@tagged("post_install", "-at_install")
class TestRfmMailing(RfmCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.alfa = Partner.create({"name": "Alfa SL", "is_company": True, "email": "compras@alfa.example.com"})
        cls.ana = Partner.create(
            {"name": "Ana Alfa", "parent_id": cls.alfa.id, "email": False, "phone": "+34 600 111 222"}
        )
        cls.alvaro = Partner.create(
            {
                "name": "Álvaro Alfa",
                "parent_id": cls.alfa.id,
                "email": "alvaro@alfa.example.com",
                "mobile": "+34 600 333 444",
            }
        )
        cls.bruno = Partner.create({"name": "Bruno Bravo", "email": "bruno@example.com", "phone": "+34 600 555 666"})
        for day in (ago(90), ago(30), ago(2)):
            cls.order(cls.alfa, 100, day)
        cls.order(cls.bruno, 100, ago(300))
        Partner._omni_rfm_recompute()
        cls.champions = cls.alfa | cls.ana | cls.alvaro
        cls.marketing = cls.env["res.users"].create(
            {
                "name": "Marga Marketing",
                "login": "marga.marketing",
                "email": "marga@example.com",
                "groups_id": [Command.set([cls.env.ref("mass_mailing.group_mass_mailing_user").id])],
            }
        )
        cls.filter_champions = cls.env.ref("omnichannel_reports.mailing_filter_rfm_champions")
        # emails go through the outgoing queue, as for any mailing of more than 100 recipients (tests
        # don't talk SMTP): the queued mail.mail are what would be sent
        cls.env["ir.config_parameter"].sudo().set_param("mail.mail.force.send.limit", 0)

    def mailing(self, mailing_type, **values):
        return (
            self.env["mailing.mailing"]
            .with_user(self.marketing)
            .create(
                {
                    "subject": "Gracias por su confianza",
                    "mailing_type": mailing_type,
                    "mailing_model_id": self.env["ir.model"]._get_id("res.partner"),
                    "mailing_filter_id": self.filter_champions.id,
                    **values,
                }
            )
        )

    def send(self, mailing):
        """As the user clicks Send and the mailing queue's scheduled action runs."""
        mailing.action_launch()
        self.assertEqual(mailing.state, "in_queue")
        self.env["mailing.mailing"]._process_mass_mailing_queue()
        traces = self.env["mailing.trace"].search([("mass_mailing_id", "=", mailing.id)])
        return {
            self.env["res.partner"].browse(trace.res_id): (trace.trace_status, trace.failure_type or False)
            for trace in traces
        }

    def test_segments_are_saved_mailing_filters(self):
        filters = (
            self.env["mailing.filter"].with_user(self.marketing).search([("mailing_model_name", "=", "res.partner")])
        )
        segments = dict(self.env["res.partner"]._fields["omni_rfm_segment"].selection)
        self.assertLessEqual({f"RFM: {label}" for label in segments.values()}, set(filters.mapped("name")))

    def test_email_mailing_to_champions(self):
        mailing = self.mailing("mail", body_html="<p>Hola</p>")
        self.assertEqual(mailing.mailing_domain, "[('omni_rfm_segment', '=', 'champions')]")
        self.assertEqual(mailing.total, 3, "the count the marketer sees on the form")
        self.assertEqual(set(mailing._get_recipients()), set(self.champions.ids))
        self.assertEqual(
            self.send(mailing),
            {
                self.alfa: ("outgoing", False),
                self.alvaro: ("outgoing", False),
                self.ana: ("cancel", "mail_email_missing"),
            },
        )
        queued = self.env["mail.mail"].search([("mailing_id", "=", mailing.id), ("state", "=", "outgoing")])
        self.assertEqual(queued.recipient_ids, self.alfa | self.alvaro)

    def test_sms_mailing_to_champions(self):
        mailing = self.mailing("sms", body_plaintext="Gracias, tiene un regalo esperándole")
        self.assertEqual(mailing.total, 3)
        self.assertEqual(set(mailing._get_recipients()), set(self.champions.ids))
        self.assertEqual(
            self.send(mailing),
            {
                self.ana: ("outgoing", False),
                self.alvaro: ("outgoing", False),
                self.alfa: ("cancel", "sms_number_missing"),
            },
        )
        self.assertEqual(
            {
                (sms.partner_id, sms.number, sms.state)
                for sms in self.env["sms.sms"].search([("mailing_id", "=", mailing.id), ("state", "=", "outgoing")])
            },
            {(self.ana, "+34600111222", "outgoing"), (self.alvaro, "+34600333444", "outgoing")},
        )

    def test_segment_follows_the_recompute(self):
        """The filter is a domain: the mailing reaches the segment as it is when it goes out."""
        mailing = self.mailing("mail", body_html="<p>Hola</p>")
        # Bruno buys a lot this week: three orders; he and Alfa now share the top scores
        for day in (ago(3), ago(2), ago(1)):
            self.order(self.bruno, 100, day)
        self.env["res.partner"]._omni_rfm_recompute()
        self.assertIn(self.bruno.id, mailing._get_recipients())

    def test_salesman_sees_customer_value_and_preferred_channel(self):
        channel = self.env["omnichannel.channel"].create({"name": "WhatsApp Alfa", "channel_type": "api"})
        self.env["omnichannel.ingest"].ingest({"channel_id": channel.id, "partner_id": self.alvaro.id, "body": "Hola"})
        for user in (self.salesman, self.agent):
            with self.subTest(user=user.name):
                arch = self.env["res.partner"].with_user(user).get_views([(False, "form")])["views"]["form"]["arch"]
                self.assertIn('name="omni_customer_value"', arch)
                self.assertEqual(arch.count('name="omni_preferred_channel_type"'), 1, "shown once")
                values = self.alvaro.with_user(user).read(
                    ["omni_customer_value", "omni_rfm_segment", "omni_preferred_channel_type"]
                )
                self.assertEqual(
                    values[0],
                    {
                        "id": self.alvaro.id,
                        "omni_customer_value": 11,
                        "omni_rfm_segment": "champions",
                        "omni_preferred_channel_type": "api",
                    },
                )
