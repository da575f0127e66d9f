from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL


# Odoo's SMS states as IAP's answers set them: "process" (the provider has it), "pending"
# (shown as Sent: the provider accepted it), "sent" (shown as Delivered).
SMS_STATE_OF_DELIVERY = {None: "process", "queued": "process", "sent": "pending", "delivered": "sent", "read": "sent"}


class ResCompany(models.Model):
    _inherit = "res.company"

    omni_sms_channel_id = fields.Many2one(
        "omnichannel.channel",
        string="SMS Channel",
        domain="[('channel_type', '=', 'sms'), ('company_id', '=', id)]",
        help="Odoo's SMS of this company (the SMS composer, SMS marketing) are sent through this "
        "omnichannel SMS channel instead of Odoo's paid SMS service, and land on the customers' timelines.",
    )

    @api.constrains("omni_sms_channel_id")
    def _check_omni_sms_channel_id(self):
        for company in self:
            channel = company.sudo().omni_sms_channel_id
            if channel and (channel.channel_type != "sms" or channel.company_id != company):
                raise ValidationError(
                    _(
                        "%(channel)s cannot send the SMS of %(company)s: choose an SMS channel of that company.",
                        channel=channel.name,
                        company=company.name,
                    )
                )


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    omni_sms_channel_id = fields.Many2one(related="company_id.omni_sms_channel_id", readonly=False)


class MailNotification(models.Model):
    _inherit = "mail.notification"

    # An SMS refused because its recipient opted out of the channel (sms.sms and mailing.trace have it already).
    failure_type = fields.Selection(selection_add=[("sms_optout", "Opted Out")])


class OmnichannelOutbox(models.Model):
    _inherit = "omnichannel.outbox"

    sms_uuid = fields.Char(
        string="SMS UUID", readonly=True, copy=False, index="btree_not_null", help="The Odoo SMS this message carries."
    )


class OmnichannelInteraction(models.Model):
    _inherit = "omnichannel.interaction"

    @api.model
    def _notify_delivery_states(self, interaction_ids):
        super()._notify_delivery_states(interaction_ids)
        self.env["sms.sms"]._omni_follow_deliveries(interaction_ids)


class SmsComposer(models.TransientModel):
    _inherit = "sms.composer"

    def _prepare_mass_sms_values(self, records):
        """Mass SMS keep no message to tell their document: each is its record's company's, as
        an SMS posted on a document is (``sms.sms.create``), not the current company's."""
        result = super()._prepare_mass_sms_values(records)
        if "company_id" in records._fields:
            for record in records.sudo():
                if record.company_id and record.id in result:
                    result[record.id].setdefault("omni_company_id", record.company_id.id)
        return result


class SmsSms(models.Model):
    """Odoo's SMS go through the company's omnichannel SMS channel when it has one.

    ``_send`` (where Odoo calls IAP) queues them in the channel's outbox instead, each with its
    outbound row on the recipient's timeline, as an agent's reply is queued. What the outbox and
    the provider's statuses later say of that row moves the SMS, its ``mail.notification`` and
    its mailing trace on, as IAP's answers and delivery reports would (``sms.tracker``).
    """

    _inherit = "sms.sms"

    omni_company_id = fields.Many2one(
        "res.company",
        string="Sending Company",
        readonly=True,
        default=lambda self: self.env.company,
        help="Its SMS channel sends this SMS, if it has one.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        # An SMS about a document is the document's company's, whichever company the user is in.
        message_ids = {vals["mail_message_id"] for vals in vals_list if vals.get("mail_message_id")}
        company_of = {}
        for message in self.env["mail.message"].sudo().browse(message_ids):
            if message.model in self.env and message.res_id and "company_id" in self.env[message.model]:
                document = self.env[message.model].sudo().browse(message.res_id).exists()
                company_of[message.id] = document.company_id.id if document else False
        for vals in vals_list:
            if "omni_company_id" not in vals and company_of.get(vals.get("mail_message_id")):
                vals["omni_company_id"] = company_of[vals["mail_message_id"]]
        return super().create(vals_list)

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        channel_of = {sms: (sms.omni_company_id or self.env.company).sudo().omni_sms_channel_id for sms in self}
        routed = self.browse([sms.id for sms, channel in channel_of.items() if channel])
        if self - routed:
            super(SmsSms, self - routed)._send(
                unlink_failed=unlink_failed, unlink_sent=unlink_sent, raise_exception=raise_exception
            )
        by_channel = defaultdict(lambda: self.browse())
        for sms in routed:
            by_channel[channel_of[sms]] |= sms
        for channel, sms_records in by_channel.items():
            sms_records.sudo()._omni_queue(channel, unlink_sent)

    # ------------------------------------------------------------ queueing
    def _omni_queue(self, channel, unlink_sent):
        """Queue these SMS in ``channel``'s outbox (those it may send), with their timeline rows."""
        refused = defaultdict(list)  # (state, failure type, reason) -> sms
        if not channel.active:
            reason = _("The SMS channel %(channel)s is archived.", channel=channel.name)
            refused["error", "unknown", reason] = list(self)
            return self._omni_set_states(refused)
        accepted, numbers = self._omni_recipients(channel, refused)
        retried = self.env["omnichannel.outbox"].search(
            [("sms_uuid", "in", [sms.uuid for sms in accepted]), ("state", "=", "failed")]
        )
        retried.action_retry()  # sent again from Odoo (its Resend): the same row and timeline row
        fresh = [sms for sms in accepted if sms.uuid not in set(retried.mapped("sms_uuid"))]
        if fresh:
            self._omni_enqueue(channel, fresh, numbers)
        if accepted:
            self.browse([sms.id for sms in accepted]).write({"state": "process", "failure_type": False})
            self.browse([sms.id for sms in fresh]).write({"to_delete": unlink_sent})
            self.env["sms.tracker"].search(
                [("sms_uuid", "in", [sms.uuid for sms in accepted])]
            )._action_update_from_sms_state("process")
        self._omni_set_states(refused)
        return True

    def _omni_recipients(self, channel, refused):
        """The SMS ``channel`` may send ([sms], {sms: E.164 number}); the others go to ``refused``
        with why: a number that is none, or a recipient who opted out of the channel."""
        Identity = self.env["omnichannel.identity"]
        numbers = {}
        for sms in self:
            try:
                numbers[sms] = Identity._normalize("phone", sms.number or "", channel.country_id.code)
            except ValueError as exc:
                failure = "sms_number_format" if sms.number else "sms_number_missing"
                refused["error", failure, str(exc)].append(sms)
        # Who gets an SMS sent to a bare number: the contact already known by that number, if any.
        pairs = {("phone", numbers[sms]) for sms in numbers if not sms.partner_id}
        known = {pair: partner_id for pair, (_id, partner_id) in Identity._lookup(pairs, channel.company_id).items()}
        if pairs - set(known):
            known.update(self.env["omnichannel.ingest"]._match_partner_fields(pairs - set(known), channel.company_id))
        partner_of = {
            sms: sms.partner_id or self.env["res.partner"].browse(known.get(("phone", number)))
            for sms, number in numbers.items()
        }
        choices = self._omni_last_choices({partner.id for partner in partner_of.values() if partner}, channel)
        accepted = []
        for sms, partner in partner_of.items():
            marketing = bool("mailing_id" in sms._fields and sms.mailing_id)
            last_for_all, last_of_any = choices.get(partner.id, (None, None))
            if last_for_all == "out" or (marketing and last_of_any == "out"):
                reason = _(
                    "%(customer)s opted out of %(channel)s: nothing can be sent to them there until they opt in again.",
                    customer=partner.display_name,
                    channel=channel.name,
                )
                # As Odoo's SMS marketing does for its own opt-out lists: cancelled, not failed.
                refused["canceled" if marketing else "error", "sms_optout", reason].append(sms)
            else:
                accepted.append(sms)
        return accepted, numbers

    @api.model
    def _omni_last_choices(self, partner_ids, channel):
        """{partner id: (last opt for all messages, last opt of any scope)} on ``channel``: what
        ``omnichannel.consent._opted_out`` reads, for a whole batch in one query."""
        if not partner_ids:
            return {}
        self.env["omnichannel.consent"].flush_model()
        rows = self.env.execute_query(
            SQL(
                """SELECT p.id,
                          (SELECT opt FROM omnichannel_consent
                            WHERE partner_id = p.id AND channel_id = %(channel)s AND scope = 'all'
                            ORDER BY date DESC, id DESC LIMIT 1),
                          (SELECT opt FROM omnichannel_consent
                            WHERE partner_id = p.id AND channel_id = %(channel)s
                            ORDER BY date DESC, id DESC LIMIT 1)
                     FROM unnest(%(partners)s::int[]) AS p(id)""",
                channel=channel.id,
                partners=list(partner_ids),
            )
        )
        return {partner_id: (last_for_all, last_of_any) for partner_id, last_for_all, last_of_any in rows}

    def _omni_enqueue(self, channel, sms_list, numbers):
        """One outbox row per SMS, and its outbound row on the recipient's timeline (queued): in
        the recipient's open conversation on the channel if there is one, so its agent sees it."""
        events, marketing = [], set()
        for sms in sms_list:
            event = {
                "channel_id": channel.id,
                "direction": "outbound",
                "kind": "message",
                "body": sms.body or "",
                "user_id": sms.create_uid.id if sms.create_uid and not sms.create_uid.share else None,
            }
            if sms.partner_id:
                event["partner_id"] = sms.partner_id.id
            else:
                event["sender"] = {"phone": numbers[sms]}
            if "mailing_id" in sms._fields and sms.mailing_id:
                # A marketing campaign is no answer to the customer: it stays out of their
                # conversations (an outbound message never opens one) and of response times.
                event["thread_key"] = f"mailing.mailing:{sms.mailing_id.id}"
                marketing.add(sms)
            events.append(event)
        self.env["omnichannel.outbox"]._enqueue_events(
            [
                (
                    event,
                    # "to": the number Odoo chose (a contact may have several); providers send there.
                    # "marketing": a Retry of the row honours marketing opt-outs too.
                    {
                        "type": "text",
                        "text": sms.body or "",
                        "attachment_ids": [],
                        "to": numbers[sms],
                        **({"marketing": True} if sms in marketing else {}),
                    },
                    {"sms_uuid": sms.uuid},
                )
                for sms, event in zip(sms_list, events, strict=True)
            ]
        )

    # ------------------------------------------------------------ following the outbox
    @api.model
    def _omni_follow_deliveries(self, interaction_ids):
        """The SMS carried by these timeline rows take their delivery state: queued (again) is
        processing, sent is Sent, delivered or read is Delivered; failed is an error, with the
        provider's reason."""
        if not interaction_ids:
            return
        self.env["omnichannel.outbox"].flush_model(["interaction_id", "state", "error", "sms_uuid"])
        self.env["omnichannel.interaction"].flush_model(["delivery_state", "delivery_error"])
        self.env.cr.execute(
            """SELECT o.sms_uuid, o.state, o.error, i.delivery_state, i.delivery_error
                 FROM omnichannel_outbox o
                 JOIN omnichannel_interaction i ON i.id = o.interaction_id
                WHERE o.interaction_id = ANY(%s) AND o.sms_uuid IS NOT NULL""",
            [list(interaction_ids)],
        )
        rows = self.env.cr.fetchall()
        if not rows:
            return
        updates = defaultdict(list)
        for uuid, outbox_state, outbox_error, delivery, delivery_error in rows:
            if delivery != "failed":
                updates[SMS_STATE_OF_DELIVERY[delivery], False, False].append(uuid)
            elif outbox_state == "failed":  # the provider never accepted it
                updates["error", "unknown", outbox_error or False].append(uuid)
            else:  # accepted, then not delivered
                updates["error", "sms_not_delivered", delivery_error or False].append(uuid)
        self.sudo()._omni_set_states(updates, by_uuid=True)

    @api.model
    def _omni_set_states(self, updates, by_uuid=False):
        """Apply ``updates`` {(state, failure type, reason): [sms, or their uuids]} to the SMS
        still kept and to their trackers (notifications, mailing traces), never backwards."""
        known_failures = dict(self._fields["failure_type"].selection)
        for (state, failure_type, reason), items in updates.items():
            uuids = items if by_uuid else [sms.uuid for sms in items]
            sms_records = self.search([("uuid", "in", uuids)]) if by_uuid else self.browse([sms.id for sms in items])
            sms_records = sms_records.filtered(lambda sms, state=state: self._omni_moves_on(sms.state, state))
            values = {"state": state, "failure_type": False}
            if failure_type:
                # sms.sms knows no delivery errors: IAP reports those to the trackers only.
                values["failure_type"] = failure_type if failure_type in known_failures else "unknown"
            if state == "error":
                values["to_delete"] = False  # kept, to be sent again once its cause is fixed
            sms_records.write(values)
            trackers = self.env["sms.tracker"].search([("sms_uuid", "in", uuids)])
            trackers._action_update_from_sms_state(state, failure_type=failure_type, failure_reason=reason)

    @api.model
    def _omni_moves_on(self, current, new):
        """Whether an SMS in state ``current`` takes ``new``: delivered and cancelled SMS stay so,
        and a sent one is not queued again; a failed one is, when sent again."""
        return current not in ("sent", "canceled") and not (current == "pending" and new == "process")
