import hashlib
import logging
import time

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..tools.jobs import MAX_ATTEMPTS, cron_budget, next_attempt, trigger
from ..tools.retry import is_concurrency_error, retry_on_concurrency
from .omnichannel_provider import empty_parse

_logger = logging.getLogger(__name__)

BATCH = 100  # deliveries per transaction
TIME_BUDGET = 50  # seconds per cron run at most (see jobs.cron_budget); the cron comes back at once if work is left
CRON = "omnichannel_base.ir_cron_omnichannel_inbox"


class OmnichannelInbox(models.Model):
    """Webhook deliveries, stored raw as they arrived, then processed in the background.

    The webhook route only checks authenticity and stores: the provider gets its 200 once
    the delivery is committed, whatever happens next. A cron job (woken by a trigger) parses
    deliveries in batches, hands their events to ``omnichannel.ingest`` in one call, and
    applies statuses, reactions and consents. A delivery that cannot be used is kept as
    failed with the reason, for an administrator to replay; one that failed for a passing
    reason is retried with backoff.

    Why cron triggers rather than OCA ``queue_job``: the work is one queue drained in batches
    (a job per delivery would cost a row and a commit each), Odoo's cron workers already run
    it with no extra process or ``server_wide_modules`` setting, and core ``sms`` does the same.
    """

    _name = "omnichannel.inbox"
    _description = "Webhook Delivery"
    _order = "id desc"

    provider = fields.Selection(selection="_selection_provider", required=True, readonly=True)
    channel_id = fields.Many2one(
        "omnichannel.channel", readonly=True, ondelete="cascade", help="Channel whose webhook URL received it."
    )
    company_id = fields.Many2one(related="channel_id.company_id", store=True, index=True)
    received_date = fields.Datetime(readonly=True, default=fields.Datetime.now)
    content_type = fields.Char(readonly=True)
    query_string = fields.Char(
        readonly=True, help="The webhook URL's query, as the provider called it (a status callback URL may carry one)."
    )
    payload = fields.Text(readonly=True, help="The body exactly as the provider sent it.")
    digest = fields.Char(
        readonly=True,
        help="SHA-256 of the body, or of the provider's id for the delivery: the same delivery sent again is "
        "stored once.",
    )
    state = fields.Selection(
        [("pending", "To Process"), ("done", "Processed"), ("failed", "Failed")],
        default="pending",
        required=True,
        readonly=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt = fields.Datetime(readonly=True, default=fields.Datetime.now)
    error = fields.Text(readonly=True)
    processed_date = fields.Datetime(readonly=True)

    _sql_constraints = [("digest_unique", "UNIQUE(provider, digest)", "This delivery is already stored.")]

    def init(self):
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_inbox_due
               ON omnichannel_inbox (next_attempt, id) WHERE state = 'pending'"""
        )

    def _selection_provider(self):
        return self.env["omnichannel.channel"]._selection_provider()

    @api.depends("provider", "received_date")
    def _compute_display_name(self):
        labels = dict(self._selection_provider())
        for delivery in self:
            delivery.display_name = f"{labels.get(delivery.provider, delivery.provider)} #{delivery.id}"

    # ------------------------------------------------------------ storing (in the webhook request)
    @api.model
    def _store(self, channel, body, content_type, key=None, query_string=None, wake=True):
        """Keep a verified delivery; wake the processing job. One INSERT: the provider waits for it.
        Returns the new row's id, or None when the very same delivery was stored before: the same
        body, or the same ``key`` when the provider names its deliveries (Telegram's update_id).
        ``wake=False``: the caller processes the delivery itself right after (a listener); the job
        only takes it if that fails, at its next run (every minute)."""
        self.env.cr.execute(
            """INSERT INTO omnichannel_inbox (provider, channel_id, company_id, received_date, content_type,
                                              query_string, payload, digest, state, attempts, next_attempt,
                                              create_uid, write_uid, create_date, write_date)
               VALUES (%(provider)s, %(channel)s, %(company)s, %(now)s, %(type)s, %(query)s, %(payload)s,
                       %(digest)s, 'pending', 0, %(now)s, %(uid)s, %(uid)s, %(now)s, %(now)s)
               ON CONFLICT (provider, digest) DO NOTHING RETURNING id""",
            {
                "provider": channel.provider,
                "channel": channel.id,
                "company": channel.company_id.id,
                "now": fields.Datetime.now(),
                "type": (content_type or "")[:255],
                "query": (query_string or "")[:255] or None,
                # Bodies are UTF-8 (JSON, form-encoded); anything else is kept readable and fails parsing.
                "payload": body.decode("utf-8", "backslashreplace").replace("\x00", "\\x00"),
                "digest": hashlib.sha256(key.encode() if key else body).hexdigest(),
                "uid": self.env.uid,
            },
            # The same body stored by a concurrent request fails ON CONFLICT with a serialization
            # error; Odoo serves the request again (then DO NOTHING): no ERROR line in the log.
            log_exceptions=False,
        )
        row = self.env.cr.fetchone()
        if row and wake:
            trigger(self.env, CRON)
        return row and row[0]

    # ------------------------------------------------------------ processing (cron)
    @api.model
    def _cron_process(self, batch_size=BATCH, time_budget=None):
        budget = time_budget if time_budget is not None else cron_budget(TIME_BUDGET)
        started, done = time.monotonic(), 0
        while time.monotonic() - started < budget:
            count = retry_on_concurrency(self.env, lambda: self._process_due(batch_size))
            done += count
            if count < batch_size:
                break
        remaining = self.search_count([("state", "=", "pending"), ("next_attempt", "<=", fields.Datetime.now())])
        if remaining:  # Odoo runs the job again at once, but after ten runs its worker sleeps until a NOTIFY
            trigger(self.env, CRON)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _process_due(self, limit=BATCH):
        """Process up to ``limit`` due deliveries, locked so that a second worker takes others."""
        self.flush_model()
        self.env.cr.execute(
            """SELECT id FROM omnichannel_inbox WHERE state = 'pending' AND next_attempt <= %s
                ORDER BY next_attempt, id LIMIT %s FOR UPDATE SKIP LOCKED""",
            [fields.Datetime.now(), limit],
        )
        deliveries = self.browse([row[0] for row in self.env.cr.fetchall()])
        deliveries._process()
        return len(deliveries)

    def _process(self):
        """Parse these deliveries and apply them together; when that fails, one by one, so that
        one bad delivery only fails itself."""
        parsed = []
        for delivery in self:
            try:
                parsed.append((delivery, delivery.channel_id._provider()._parse_webhook(delivery)))
            except (ValueError, UserError) as exc:
                delivery._fail(exc)
            except Exception as exc:
                if is_concurrency_error(exc):
                    raise
                delivery._retry_later(exc)
        if not parsed:
            return
        try:
            with self.env.cr.savepoint():
                self._apply([result for _delivery, result in parsed])
        except Exception as exc:
            if is_concurrency_error(exc):
                raise  # the whole batch again, in a new transaction
            self.env.invalidate_all()
            for delivery, result in parsed:
                delivery._process_alone(result)
        else:
            self.browse([delivery.id for delivery, _result in parsed])._done()

    def _process_alone(self, result):
        try:
            with self.env.cr.savepoint():
                self._apply([result])
        except Exception as exc:
            if is_concurrency_error(exc):
                raise
            self.env.invalidate_all()
            self._settle_error(exc)
        else:
            self._done()

    def _settle_error(self, exc):
        if isinstance(exc, (ValueError, UserError)):
            self._fail(exc)
        else:
            self._retry_later(exc)

    def _done(self):
        self.write({"state": "done", "error": False, "processed_date": fields.Datetime.now()})

    def _fail(self, exc):
        _logger.info("Webhook delivery %s kept as failed: %s", self.id, exc)
        # A UserError's message is its first argument; other errors (a UnicodeError…) read whole.
        reason = exc.args[0] if isinstance(exc, UserError) and exc.args else str(exc)
        self.write({"state": "failed", "error": reason, "attempts": self.attempts + 1})

    def _retry_later(self, exc):
        """A passing failure (the database, a bug fixed by the next update): try again later."""
        attempts = self.attempts + 1
        _logger.warning("Webhook delivery %s, attempt %s: %r", self.id, attempts, exc, exc_info=True)
        values = {"attempts": attempts, "error": f"{exc.__class__.__name__}: {exc}"}
        if attempts >= MAX_ATTEMPTS:
            values["state"] = "failed"
        else:
            values["next_attempt"] = next_attempt(attempts, getattr(exc, "retry_after", None))
        self.write(values)

    def action_replay(self):
        """Process these failed deliveries again, now (after a fix, or once their channel is set up)."""
        self.check_access("write")
        deliveries = self.sudo().filtered(lambda d: d.state == "failed")
        deliveries.write({"state": "pending", "attempts": 0, "error": False, "next_attempt": fields.Datetime.now()})
        deliveries._process()
        failed = deliveries.filtered(lambda d: d.state == "failed")
        message = (
            _("%(count)s deliveries processed.", count=len(deliveries) - len(failed))
            if not failed
            else _("%(count)s deliveries failed again: %(error)s", count=len(failed), error=failed[0].error)
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": "warning" if failed else "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    @api.autovacuum
    def _gc_processed(self):
        """Processed deliveries are kept 30 days, for inquiries; failed ones until replayed or deleted."""
        self.env.cr.execute(
            "DELETE FROM omnichannel_inbox WHERE state = 'done' AND processed_date < now() - interval '30 days'"
        )

    # ------------------------------------------------------------ applying
    @api.model
    def _apply(self, results):
        """Apply parsed deliveries (``empty_parse()`` shapes) in as few statements as the ORM allows.

        Identity changes (a customer's new number, a Telegram group become a supergroup) apply
        after their delivery's events, so deliveries are applied together up to each delivery
        that has some: the messages that come after it then find the customer by the new id."""
        group = []
        for result in results:
            group.append(result)
            if result.get("identity_changes"):
                self._apply_together(group)
                group = []
        if group:
            self._apply_together(group)

    @api.model
    def _apply_together(self, results):
        merged = empty_parse()
        for result in results:
            for key, items in result.items():
                merged.setdefault(key, []).extend(items)  # channel modules may add keys
        # Copies: when a batch fails, each delivery is applied again alone, from the same results.
        events = [dict(event) for event in merged["events"]]
        extras = [
            (event.pop("media", None) or [], event.pop("reply_to", None), event.pop("profile", False))
            for event in events
        ]
        interactions = self.env["omnichannel.interaction"].sudo()
        for start in range(0, len(events), 1000):  # ingest's limit per call
            # "+", not "|": one interaction per event, in order, a redelivered one included
            interactions += self.env["omnichannel.ingest"].sudo().ingest(events[start : start + 1000])
        if events:
            self._after_ingest(list(zip(events, interactions, extras, strict=True)))
        self.env["omnichannel.delivery.status"]._apply(merged["statuses"])
        self._apply_reactions(merged["reactions"])
        self._apply_consents(merged["consents"], source="provider")
        self._apply_identity_changes(merged["identity_changes"])
        self._apply_edits(merged["edits"])
        self._apply_watermarks(merged["watermarks"])
        for note in merged["notes"]:  # here, not while parsing: a delivery that fails must say nothing
            self.env["omnichannel.channel"].sudo().browse(note["channel_id"]).message_post(
                body=note["body"], message_type="notification", subtype_xmlid="mail.mt_note"
            )
        self._apply_more(merged)

    def _apply_more(self, merged):
        """Apply what channel modules add to the ``empty_parse()`` shape (``omnichannel_voip``'s
        ``"calls"``), after the events of the same deliveries were ingested. Override, call super."""

    def _after_ingest(self, rows):
        """Keyword consents, replies linked to what they answer, media and profiles to fetch."""
        consents, media = [], []
        for event, interaction, (files, reply_to, profile) in rows:
            channel = interaction.channel_id
            if interaction.direction == "inbound" and event.get("body"):
                for opt, field in (("out", "opt_out_keywords"), ("in", "opt_in_keywords")):
                    if channel._keyword_in(field, event["body"]):
                        consents.append(
                            {
                                "partner_id": interaction.partner_id.id,
                                "channel_id": channel.id,
                                "opt": opt,
                                "date": interaction.date,
                                "source": "keyword",
                                "reason": event["body"].strip()[:100],
                            }
                        )
            if reply_to and interaction.mail_message_id and not interaction.mail_message_id.parent_id:
                parent = self._interaction_of(channel.id, reply_to)
                if parent.mail_message_id:
                    interaction.mail_message_id.sudo().parent_id = parent.mail_message_id
            media.extend((interaction, file) for file in files)
            provider_id = str((event.get("sender") or {}).get("provider_id") or "")
            if profile and provider_id and interaction.partner_id.name == provider_id:
                # Ingest named the new contact after their id: their profile names them.
                media.append((interaction, {"ref": provider_id, "kind": "profile"}))
        if consents:
            self.env["omnichannel.consent"]._record(self._new_choices(consents))
        if media:
            self.env["omnichannel.media"]._enqueue(media)

    def _new_choices(self, consents):
        """The consents that change where the customer stands. A redelivered STOP records nothing,
        nor does a choice older than the last one recorded: providers redeliver in no order, so
        an old STOP arriving after the customer's ALTA must not say they opted out again."""
        Consent, last, kept = self.env["omnichannel.consent"].sudo(), {}, []
        for values in sorted(consents, key=lambda v: v["date"]):
            key = (values["partner_id"], values["channel_id"], values.get("scope", "all"))
            if key not in last:
                previous = Consent.search(
                    [("partner_id", "=", key[0]), ("channel_id", "=", key[1]), ("scope", "=", key[2])], limit=1
                )
                last[key] = (previous.opt or "in", previous.date)
            opt, date = last[key]
            if values["opt"] != opt and not (date and values["date"] < date):
                last[key] = (values["opt"], values["date"])
                kept.append(values)
        return kept

    def _interaction_of(self, channel_id, external_id):
        return (
            self.env["omnichannel.interaction"]
            .sudo()
            .search([("channel_id", "=", channel_id), ("external_id", "=", str(external_id))], limit=1)
        )

    def _partner_of(self, channel, sender):
        """The known contact behind ``sender`` (as in ingest events) on ``channel``, or an empty recordset."""
        Ingest = self.env["omnichannel.ingest"]
        event = {"position": 1, "channel": channel}
        Ingest._prepare_sender({"sender": sender}, event)
        found = self.env["omnichannel.identity"].sudo()._lookup(set(event["identities"]), channel.company_id)
        partner_ids = [found[pair][1] for pair in event["identities"] if pair in found]
        return self.env["res.partner"].browse(partner_ids[:1])

    def _apply_reactions(self, reactions):
        """A reaction shows on the message reacted to, as the customer's, as Odoo's own reactions do."""
        Reaction = self.env["mail.message.reaction"].sudo()
        for item in reactions:
            interaction = self._interaction_of(item["channel_id"], item["external_id"])
            message = interaction.mail_message_id
            if not message:
                continue  # a reaction to something we never recorded
            channel = interaction.channel_id
            partner = self._partner_of(channel, item["sender"]) or interaction.conversation_id.partner_id
            Reaction.search([("message_id", "=", message.id), ("partner_id", "=", partner.id)]).unlink()
            if item["emoji"]:
                Reaction.create({"message_id": message.id, "content": item["emoji"], "partner_id": partner.id})

    def _apply_consents(self, items, source):
        consents = []
        for item in items:
            channel = self.env["omnichannel.channel"].browse(item["channel_id"])
            partner = self._partner_of(channel, item["sender"])
            if partner:
                consents.append(
                    {
                        "partner_id": partner.id,
                        "channel_id": channel.id,
                        "opt": item["opt"],
                        "date": item["date"],
                        "source": source,
                        "reason": (item.get("reason") or "")[:255],
                        "scope": item.get("scope", "all"),
                    }
                )
        if consents:
            self.env["omnichannel.consent"]._record(self._new_choices(consents))

    def _apply_edits(self, edits):
        """A message the customer edited shows its new text, marked edited, in the chatter and on
        the timeline; one they removed shows that they removed it, without its text or files.
        A removal is final: an edit arriving after it changes nothing."""
        for item in sorted(edits, key=lambda item: item.get("date") or fields.Datetime.now()):
            interaction = self._interaction_of(item["channel_id"], item["external_id"])
            if not interaction or interaction.edit_state == "removed":
                continue  # never recorded (or already gone): nothing to change
            removed = bool(item.get("removed"))
            body = _("The customer removed this message.") if removed else (item.get("body") or "")
            message = interaction.mail_message_id.sudo()
            if message and message.model and message.res_id:
                record = self.env[message.model].sudo().browse(message.res_id)
                if hasattr(record, "_message_update_content"):
                    # As Odoo edits a message: its body marked "edited", open chatters told live.
                    record._message_update_content(message, body, attachment_ids=[] if removed else None, strict=False)
            if removed:  # its files, not fetched yet, never will be
                self.env["omnichannel.media"].sudo().search(
                    [("interaction_id", "=", interaction.id), ("kind", "=", "file"), ("state", "=", "pending")]
                ).unlink()
            first_line = " ".join(body.split())
            interaction.write(
                {
                    "edit_state": "removed" if removed else "edited",
                    "summary": first_line[:200] + ("…" if len(first_line) > 200 else "") or False,
                }
            )

    def _apply_watermarks(self, watermarks):
        """Read receipts as watermarks (Messenger's "everything up to then was read"): each outbound
        message of the customer on the channel, sent up to the watermark, moves forward to that state."""
        updates = []
        for item in watermarks:
            channel = self.env["omnichannel.channel"].browse(item["channel_id"])
            partner = self._partner_of(channel, item["recipient"])
            if not partner:
                continue
            self.env["omnichannel.interaction"].flush_model()
            self.env.cr.execute(
                """SELECT external_id FROM omnichannel_interaction
                    WHERE partner_id = %s AND channel_id = %s AND direction = 'outbound'
                      AND external_id IS NOT NULL AND date <= %s
                      AND COALESCE(delivery_state, 'queued') NOT IN ('read', %s)""",
                [partner.id, channel.id, item["date"], item["state"]],
            )
            updates.extend((channel.id, external_id, item["state"], None) for (external_id,) in self.env.cr.fetchall())
        self.env["omnichannel.interaction"].sudo()._advance_delivery_states(updates)

    def _apply_identity_changes(self, changes):
        """A customer's new number or account joins the identities of the contact behind the old one."""
        Identity = self.env["omnichannel.identity"].sudo()
        for change in changes:
            channel = self.env["omnichannel.channel"].browse(change["channel_id"])
            partner = self._partner_of(channel, change["old"])
            if not partner:
                continue
            event = {"position": 1, "channel": channel}
            self.env["omnichannel.ingest"]._prepare_sender({"sender": change["new"]}, event)
            Identity._claim(
                [
                    (partner.id, kind, value, partner.company_id.id or None, "channel", channel.id)
                    for kind, value in event["identities"]
                ]
            )
            partner.message_post(
                body=_(
                    "New number or account on %(channel)s: %(values)s",
                    channel=channel.name,
                    values=", ".join(value for _kind, value in event["identities"]),
                ),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
