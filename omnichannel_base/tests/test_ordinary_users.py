"""Users in no Omnichannel group keep doing their jobs, and their work still reaches the timeline.

Each flow runs as a real user of the Odoo group that does that job (never as the superuser),
through the buttons' own methods and wizards.
"""

from odoo import Command
from odoo.tests import Form, TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestOrdinaryUsers(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Tracking stays on: tracking messages, follower subscriptions and notifications are
        # what a real user's click triggers, and where access errors would show.
        omni_groups = cls.env.ref("omnichannel_base.group_omnichannel_user") | cls.env.ref(
            "omnichannel_base.group_omnichannel_manager"
        )

        def user(login, groups):
            created = new_test_user(cls.env, login=login, groups=groups, email=f"{login}@example.com")
            assert not created.groups_id & omni_groups, f"{login} must be in no Omnichannel group"
            return created

        cls.own_salesperson = user("sales.own", "sales_team.group_sale_salesman")
        cls.all_salesperson = user("sales.all", "sales_team.group_sale_salesman_all_leads")
        cls.billing = user("billing", "account.group_account_invoice")
        cls.stock_user = user("stock.user", "stock.group_stock_user")
        cls.contact_manager = user("contacts", "base.group_user,base.group_partner_manager")
        cls.customer = cls.env["res.partner"].create({"name": "Lucía Fernández", "email": "lucia@example.com"})
        cls.product = cls.env["product.product"].create(
            {"name": "Zapatilla 38", "type": "consu", "list_price": 59.0, "invoice_policy": "order"}
        )

    def events(self, record):
        return (
            self.env["omnichannel.interaction"]
            .sudo()
            .search([("res_model", "=", record._name), ("res_id", "in", record.ids)])
        )

    def quotation(self, user):
        return (
            self.env["sale.order"]
            .with_user(user)
            .create(
                {
                    "partner_id": self.customer.id,
                    "user_id": user.id,
                    "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": 1})],
                }
            )
        )

    def validate(self, picking, user):
        picking = picking.with_user(user)
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        self.assertIs(picking.button_validate(), True)
        self.assertEqual(picking.state, "done")

    # ------------------------------------------------------------ sales
    def test_salesperson_sends_confirms_and_cancels(self):
        if "loyalty.program" in self.env:
            # Odoo's own sale_loyalty (installed with pos_loyalty) refuses a plain salesperson the
            # cancellation of an order that earned loyalty points, with or without this suite:
            # odoo/odoo#281477 (`coupon_point_ids.unlink()` without sudo). Not the flow tested here.
            self.env["loyalty.program"].search([]).action_archive()
        for salesperson in (self.own_salesperson, self.all_salesperson):
            order = self.quotation(salesperson)
            action = order.action_quotation_send()
            composer = Form(self.env["mail.compose.message"].with_user(salesperson).with_context(**action["context"]))
            composer.save().action_send_mail()
            self.assertEqual(order.state, "sent")
            order.action_confirm()
            self.assertEqual(order.state, "sale")
            cancel = order.action_cancel()  # the button: a confirmed order asks through a wizard
            if isinstance(cancel, dict):
                wizard = Form(self.env[cancel["res_model"]].with_user(salesperson).with_context(**cancel["context"]))
                wizard.save().action_cancel()
            self.assertEqual(order.state, "cancel")
            events = self.events(order)
            self.assertEqual(sorted(events.mapped("external_id")), ["cancelled", "confirmed", "quotation_sent"])
            self.assertEqual(events.partner_id, self.customer)
            self.assertEqual(events.user_id, salesperson, "the events are the salesperson's")

    def test_salesperson_replies_to_the_customer_on_a_document(self):
        order = self.quotation(self.own_salesperson)
        order.message_post(
            body="Hola Lucía, te envío el presupuesto.",
            partner_ids=self.customer.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        self.assertIn(self.customer, order.message_ids[0].partner_ids)
        self.assertFalse(
            self.events(order).filtered(lambda e: e.kind == "email"),
            "a colleague's message is no customer touchpoint: only the customer's answer will be",
        )

    # ------------------------------------------------------------ inventory
    def test_inventory_user_validates_delivery_return_and_receipt(self):
        order = self.quotation(self.all_salesperson)
        order.action_confirm()
        delivery = order.picking_ids
        self.validate(delivery, self.stock_user)
        self.assertEqual(self.events(delivery).summary, f"Delivery {delivery.name} validated")

        wizard = (
            self.env["stock.return.picking"]
            .with_user(self.stock_user)
            .with_context(active_id=delivery.id, active_ids=delivery.ids, active_model="stock.picking")
            .create({})
        )
        wizard.product_return_moves.quantity = 1
        returned = self.env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
        self.validate(returned, self.stock_user)
        self.assertEqual(self.events(returned).summary, f"Return {returned.name} validated")

        receipt_type = (
            self.env["stock.warehouse"].search([("company_id", "=", self.env.company.id)], limit=1).in_type_id
        )
        receipt = (
            self.env["stock.picking"]
            .with_user(self.stock_user)
            .create(
                {
                    "picking_type_id": receipt_type.id,
                    "partner_id": self.customer.id,
                    "move_ids": [
                        Command.create(
                            {
                                "name": self.product.name,
                                "product_id": self.product.id,
                                "product_uom_qty": 2,
                                "location_id": receipt_type.default_location_src_id.id,
                                "location_dest_id": receipt_type.default_location_dest_id.id,
                            }
                        )
                    ],
                }
            )
        )
        receipt.action_confirm()
        self.validate(receipt, self.stock_user)
        self.assertEqual(self.events(receipt).direction, "inbound")

    # ------------------------------------------------------------ invoicing
    def test_billing_user_posts_refunds_and_registers_payment(self):
        Move = self.env["account.move"].with_user(self.billing)
        invoice = Move.create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_line_ids": [Command.create({"product_id": self.product.id, "price_unit": 59.0})],
            }
        )
        invoice.action_post()
        self.assertEqual(self.events(invoice).external_id, "posted")

        register = (
            self.env["account.payment.register"]
            .with_user(self.billing)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({})
        )
        register._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(sorted(self.events(invoice).mapped("external_id")), ["paid", "posted"])

        reversal = (
            self.env["account.move.reversal"]
            .with_user(self.billing)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "Talla equivocada"})
        )
        credit_note = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        credit_note.with_user(self.billing).action_post()
        self.assertEqual(self.events(credit_note).summary, f"Credit note {credit_note.display_name} posted")

    # ------------------------------------------------------------ contacts
    def test_contact_user_creates_edits_archives_merges_and_deletes(self):
        Partner = self.env["res.partner"].with_user(self.contact_manager)
        contact = Partner.create({"name": "Marta Ruiz", "phone": "+34 622 11 22 33"})
        contact.write({"email": "marta@example.com", "mobile": "+34 699 00 11 22"})
        identities = self.env["omnichannel.identity"].sudo().search([("partner_id", "=", contact.id)])
        self.assertEqual(sorted(identities.mapped("kind")), ["email", "phone", "phone"])
        contact.action_archive()
        contact.action_unarchive()

        # A customer with a history on a channel, known twice: merged by a contact manager.
        channel = self.env["omnichannel.channel"].create({"name": "App", "channel_type": "api"})
        self.env["omnichannel.ingest"].ingest(
            {"channel_id": channel.id, "partner_id": contact.id, "body": "¿Tenéis la 38?", "external_id": "m-1"}
        )
        # Odoo lets only administrators merge contacts with different emails.
        duplicate = Partner.create(
            {"name": "Marta Ruiz García", "email": "marta@example.com", "phone": "+34 622 44 55 66"}
        )
        self.env["omnichannel.ingest"].ingest(
            {"channel_id": channel.id, "partner_id": duplicate.id, "body": "Soy yo otra vez", "external_id": "m-2"}
        )
        wizard = (
            self.env["base.partner.merge.automatic.wizard"]
            .with_user(self.contact_manager)
            .with_context(active_model="res.partner", active_ids=(contact | duplicate).ids)
            .create({"dst_partner_id": contact.id})
        )
        wizard.action_merge()
        self.assertFalse(duplicate.exists())
        history = self.env["omnichannel.interaction"].sudo().search([("channel_id", "=", channel.id)])
        self.assertEqual(history.partner_id, contact, "the merged history is the kept contact's")
        self.assertIn(
            "+34622445566",
            self.env["omnichannel.identity"].sudo().search([("partner_id", "=", contact.id)]).mapped("value"),
            "the merged-away contact's identities are the kept contact's",
        )

        passer_by = Partner.create({"name": "Visitante", "email": "visitante@example.com"})
        passer_by.unlink()
        self.assertFalse(self.env["omnichannel.identity"].sudo().search([("value", "=", "visitante@example.com")]))
