"""What the Interactions list shows, the indexes hot paths rely on, and the details later issues
build on: notifications, first and last resolution, one writer of the timeline index."""

import re
from pathlib import Path

from odoo import Command, fields
from odoo.tests import freeze_time, new_test_user, tagged
from odoo.tools import SQL

from .common import OmnichannelCase

ROOT = Path(__file__).resolve().parents[2]


@tagged("post_install", "-at_install")
class TestInteractionsList(OmnichannelCase):
    """Business events are as visible in the list, search_read and read_group as on the timeline."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = "omnichannel_base.group_omnichannel_user,sales_team.group_sale_salesman"
        cls.seller = new_test_user(cls.env, login="seller.agent", groups=groups)
        cls.colleague = new_test_user(cls.env, login="colleague.agent", groups=groups)
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Fernández", "email": "lucia@example.com"})
        product = cls.env["product.product"].create({"name": "Bolso", "type": "consu", "list_price": 40})
        cls.orders = cls.env["sale.order"]
        for user in (cls.seller, cls.colleague):
            order = (
                cls.env["sale.order"]
                .with_user(user)
                .create(
                    {
                        "partner_id": cls.customer.id,
                        "user_id": user.id,
                        "order_line": [Command.create({"product_id": product.id})],
                    }
                )
            )
            order.action_confirm()
            cls.orders |= order

    def test_list_search_read_and_read_group_follow_record_rules(self):
        mine, theirs = self.orders
        Interaction = self.env["omnichannel.interaction"].with_user(self.seller)
        domain = [("partner_id", "=", self.customer.id), ("kind", "=", "order")]
        rows = Interaction.search_read(domain, ["summary", "res_id"])
        self.assertEqual([row["res_id"] for row in rows], [mine.id], "a colleague's order stays hidden")
        self.assertEqual(Interaction.search_count(domain), 1)
        groups = Interaction.read_group(domain, ["kind"], ["kind"])
        self.assertEqual(groups[0]["kind_count"], 1)
        seen_by_colleague = self.env["omnichannel.interaction"].with_user(self.colleague).search(domain)
        self.assertEqual(seen_by_colleague.mapped("res_id"), [theirs.id])
        everything = self.env["omnichannel.interaction"].search(domain)
        self.assertEqual(len(everything), 2, "the superuser sees both")
        # No context key a client could send opens the timeline's own path.
        for key in ("omni_documents_checked", "omni_timeline", "active_test"):
            rows = Interaction.with_context(**{key: True}).search_read(domain, ["res_id"])
            self.assertEqual([row["res_id"] for row in rows], [mine.id])

    def test_mail_on_a_document_the_suite_does_not_know(self):
        # A customer's mail on a colleague's CRM lead: crm.lead is no timeline source.
        lead = self.env["crm.lead"].create({"name": "Bolsos para tienda", "user_id": self.colleague.id})
        message = lead.message_post(body="¿Me mandáis precios?", author_id=self.customer.id, message_type="email")
        self.env["omnichannel.interaction"]._record_document_mail(lead, message)
        domain = [("res_model", "=", "crm.lead"), ("res_id", "=", lead.id)]
        self.assertEqual(self.env["omnichannel.interaction"].search_count(domain), 1)
        self.assertFalse(self.env["omnichannel.interaction"].with_user(self.seller).search(domain))
        self.assertTrue(self.env["omnichannel.interaction"].with_user(self.colleague).search(domain))
        timeline = self.customer.with_user(self.seller).omnichannel_timeline()["items"]
        self.assertNotIn(lead.id, [i["source"] and i["source"]["id"] for i in timeline if i["kind"] == "email"])


@tagged("post_install", "-at_install")
class TestIndexes(OmnichannelCase):
    """Query plans of the paths that grow with the data: each must use its index, whatever the
    table size (sequential scans are disabled, so a missing index shows as a Seq Scan)."""

    def plan(self, query, sort=True):
        """``sort=False``: sorting is priced out too, so an index able to give the order is used
        even where the tiny test tables would make a sort cheaper; without one, the plan sorts."""
        self.env.flush_all()
        self.env.cr.execute("ANALYZE omnichannel_interaction, omnichannel_conversation")
        self.env.cr.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        self.env.cr.execute(SQL("SET LOCAL enable_sort = %s", "on" if sort else "off"))
        self.env.cr.execute(SQL("EXPLAIN %s", query))
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.env.cr.execute(
            "SET LOCAL enable_seqscan = on; SET LOCAL enable_bitmapscan = on; SET LOCAL enable_sort = on"
        )
        return plan

    def test_deleting_a_mail_message_uses_an_index(self):
        # ON DELETE SET NULL looks the message up in omnichannel_interaction, once per message.
        plan = self.plan(SQL("SELECT 1 FROM omnichannel_interaction WHERE mail_message_id = %s", 42))
        self.assertIn("omnichannel_interaction__mail_message_id_index", plan)
        self.assertNotIn("Seq Scan", plan)

    def test_interactions_list_reads_its_order_from_an_index(self):
        # As an agent who is also a salesperson: company rules and document rules in the query.
        agent = new_test_user(
            self.env,
            login="list.agent",
            groups="omnichannel_base.group_omnichannel_user,sales_team.group_sale_salesman",
        )
        query = self.env["omnichannel.interaction"].with_user(agent)._search([], order="date DESC, id DESC", limit=80)
        plan = self.plan(query.select(), sort=False)
        self.assertIn("sale_order", plan, "the salesperson's document rule is part of the query")
        self.assertIn("omnichannel_interaction_date_id", plan)
        self.assertNotIn("Sort", plan)

    def test_last_resolved_conversation_is_one_probe(self):
        customer = self.env["res.partner"].create({"name": "Cliente fiel"})
        for _i in range(30):
            self.env["omnichannel.conversation"].create(
                {"partner_id": customer.id, "channel_id": self.channel.id, "state": "resolved"}
            )
        keys = [(customer.id, self.channel.id, None)]
        plan = self.plan(self.ingest._conversation_by_key_query(keys, resolved=True))
        self.assertIn("omnichannel_conversation_last_resolved", plan)
        self.assertIn("Limit", plan)
        self.assertNotIn("Sort", plan)
        found = self.ingest._conversations_by_key(keys, resolved=True)
        last = self.env["omnichannel.conversation"].search(
            [("partner_id", "=", customer.id)], order="resolved_date desc, id desc", limit=1
        )
        self.assertEqual(found[keys[0]], last)

    def test_delivery_updates_cost_nothing_for_other_documents_mail(self):
        order = self.env["sale.order"].create({"partner_id": self.env["res.partner"].create({"name": "X"}).id})
        message = order.message_post(body="Presupuesto", partner_ids=order.partner_id.ids)
        notifications = self.env["mail.notification"].create(
            [
                {"mail_message_id": message.id, "res_partner_id": partner.id, "notification_type": "email"}
                for partner in self.env["res.partner"].create([{"name": f"P{i}"} for i in range(20)])
            ]
        )
        # The mail queue's own write: for mail of other documents, no timeline row is looked for.
        self.env.invalidate_all()
        self.env.cr.execute("SELECT COALESCE(MAX(write_date), now()) FROM omnichannel_interaction")
        # The notifications' fields, their messages' model, the UPDATE of mail_notification: not one
        # more (it was one UPDATE of omnichannel_interaction per notification, whatever the document).
        with self.assertQueryCount(3):
            notifications.write({"notification_status": "sent"})


@tagged("post_install", "-at_install")
class TestConversationDetails(OmnichannelCase):
    def test_inbound_messages_notify_followers_the_assigned_agent_included(self):
        self.agent.notification_type = "inbox"
        first = self.ingest.ingest(self.event(sender={"phone": "+34 611 22 33 44"}, body="Hola", external_id="n-1"))
        conversation = first.conversation_id
        self.assertEqual(conversation.user_id, self.agent)
        self.assertIn(self.agent.partner_id, conversation.message_partner_ids)
        second = self.ingest.ingest(
            self.event(sender={"phone": "+34 611 22 33 44"}, body="¿Hay 38?", external_id="n-2")
        )
        notified = self.env["mail.notification"].search([("mail_message_id", "=", second.mail_message_id.id)])
        self.assertEqual(notified.res_partner_id, self.agent.partner_id)
        self.assertEqual(notified.notification_type, "inbox")

        self.agent.notification_type = "email"
        third = self.ingest.ingest(self.event(sender={"phone": "+34 611 22 33 44"}, body="Gracias", external_id="n-3"))
        mail = self.env["mail.mail"].search([("mail_message_id", "=", third.mail_message_id.id)])
        self.assertIn(self.agent.partner_id, mail.recipient_ids)

    def test_reopening_keeps_the_first_resolution(self):
        start = fields.Datetime.to_datetime("2026-11-02 09:00:00")
        interaction = self.ingest.ingest(self.event(sender={"email": "ana@example.com"}, date=start))
        conversation = interaction.conversation_id
        with freeze_time("2026-11-02 11:00:00"):
            conversation.action_resolve()
        with freeze_time("2026-11-03 09:00:00"):
            conversation.action_reopen()
        with freeze_time("2026-11-03 13:00:00"):
            conversation.action_resolve()
        self.assertEqual(str(conversation.first_resolved_date), "2026-11-02 11:00:00")
        self.assertEqual(conversation.first_resolution_hours, 2.0)
        self.assertEqual(conversation.resolution_hours, 28.0)


class TestOneWriter(OmnichannelCase):
    def test_every_write_into_the_timeline_goes_through_the_interaction_model(self):
        writers = []
        for path in ROOT.glob("omnichannel_*/**/*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            sql = re.compile(r"(INSERT\s+INTO|UPDATE)\s+omnichannel_interaction\b", re.IGNORECASE)
            if sql.search(path.read_text()):
                writers.append(str(path.relative_to(ROOT)))
        self.assertEqual(writers, ["omnichannel_base/models/omnichannel_interaction.py"])
        source = (ROOT / "omnichannel_base/models/omnichannel_interaction.py").read_text()
        self.assertEqual(
            len(re.findall(r"INSERT\s+INTO\s+omnichannel_interaction", source)), 2, "_insert_rows, _insert_select"
        )
