from ast import literal_eval

from odoo import fields, models


class OmnichannelChannel(models.Model):
    """An email channel is a mail alias (e.g. soporte@) and, optionally, IMAP mailboxes
    fetched by Odoo: mail to either opens or continues conversations.

    Its chatter keeps the automatic mail (out-of-office replies, mailing lists) that
    reached it without belonging to any conversation: kept, never answered.
    """

    _name = "omnichannel.channel"
    _inherit = ["omnichannel.channel", "mail.alias.mixin.optional"]

    channel_type = fields.Selection(
        selection_add=[("email", "Email")],
        ondelete={"email": "set default"},
    )
    alias_contact = fields.Selection(related="alias_id.alias_contact", readonly=False)
    fetchmail_server_ids = fields.One2many(
        "fetchmail.server",
        "omnichannel_channel_id",
        string="Mailboxes",
        groups="base.group_system",  # as fetchmail.server itself: managers still open the form
        help="IMAP or POP mailboxes whose mail feeds this channel.",
    )
    mail_failure_count = fields.Integer(
        compute="_compute_mail_failure_count",
        groups="omnichannel_base.group_omnichannel_manager,base.group_system",
    )

    mail_unknown_sender = fields.Selection(
        [("contact", "Become contacts"), ("lead", "Become contacts and leads")],
        string="Unknown Senders",
        default="contact",
        required=True,
        help="A sender nobody knows always becomes a contact, so the conversation has a customer; "
        "with leads, a lead to qualify is created too, with the mail as its first note.",
    )
    mail_ack_template_id = fields.Many2one(
        "mail.template",
        string="Acknowledgement",
        domain=[("model", "=", "omnichannel.conversation")],
        help="Sent once to the customer when their mail opens a new conversation. It is marked as an "
        "automatic reply, so their auto-responders do not answer it.",
    )

    def _compute_mail_failure_count(self):
        counts = dict(
            self.env["omnichannel.mail.failure"]._read_group(
                [("channel_id", "in", self.ids), ("state", "=", "failed")], ["channel_id"], ["__count"]
            )
        )
        for channel in self:
            channel.mail_failure_count = counts.get(channel, 0)

    def action_view_mail_failures(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_mail.action_omnichannel_mail_failure")
        action["domain"] = [("channel_id", "=", self.id)]
        return action

    def _alias_get_creation_values(self):
        values = super()._alias_get_creation_values()
        values["alias_model_id"] = self.env["ir.model"]._get_id("omnichannel.conversation")
        if self.id:
            values["alias_defaults"] = defaults = literal_eval(self.alias_defaults or "{}")
            defaults["channel_id"] = self.id
        return values
