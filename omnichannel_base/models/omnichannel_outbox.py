import logging
import time
import uuid
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .omnichannel_ingest import MAX_BATCH
from ..tools.jobs import MAX_ATTEMPTS, auto_commit, committing, cron_budget, next_attempt, trigger
from ..tools.provider import ProviderError
from ..tools.retry import is_concurrency_error

_logger = logging.getLogger(__name__)

CRON = "omnichannel_base.ir_cron_omnichannel_outbox"
TIME_BUDGET = 50  # seconds per cron run at most (see jobs.cron_budget)
# A row left "sending" this long belonged to a worker that died while the provider had it.
SENDING_TIMEOUT = timedelta(minutes=10)
MAX_CLAIM_ATTEMPTS = 5


class OmnichannelOutbox(models.Model):
    """Agents' replies waiting to be sent, sent, or refused by the provider.

    An agent's reply is committed with its outbox row; a cron job sends it afterwards, so a
    provider that is down never blocks or fails the agent. Each row is marked "sending" and
    committed before the provider is called, and what the provider answered is committed
    right after: a row found "sending" later belonged to a worker that died in between, and is
    never sent again on its own. Its ``key`` travels with the message (WhatsApp's
    ``biz_opaque_callback_data``) and comes back with the provider's statuses, which then
    tell that it was sent; otherwise it is marked failed after SENDING_TIMEOUT, for an agent
    to check with the customer and retry.
    """

    _name = "omnichannel.outbox"
    _description = "Outgoing Message"
    _order = "id desc"
    _rec_name = "summary"

    channel_id = fields.Many2one("omnichannel.channel", required=True, readonly=True, ondelete="cascade")
    company_id = fields.Many2one(related="channel_id.company_id", store=True, index=True)
    conversation_id = fields.Many2one("omnichannel.conversation", readonly=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, readonly=True, ondelete="cascade")
    mail_message_id = fields.Many2one("mail.message", string="Chatter Message", readonly=True, ondelete="set null")
    interaction_id = fields.Many2one("omnichannel.interaction", readonly=True, ondelete="set null")
    user_id = fields.Many2one("res.users", string="Agent", readonly=True)
    summary = fields.Char(readonly=True)
    payload = fields.Json(readonly=True, help="What the provider is asked to send, as the provider module prepared it.")
    key = fields.Char(
        readonly=True, copy=False, required=True, default=lambda self: uuid.uuid4().hex, help="Idempotency key."
    )
    state = fields.Selection(
        [("queued", "Queued"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Failed")],
        default="queued",
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt = fields.Datetime(readonly=True, default=fields.Datetime.now)
    sending_date = fields.Datetime(readonly=True)
    sent_date = fields.Datetime(readonly=True)
    external_id = fields.Char(string="Provider's ID", readonly=True)
    error = fields.Char(readonly=True)

    _sql_constraints = [("key_unique", "UNIQUE(key)", "Two outgoing messages cannot share an idempotency key.")]

    def init(self):
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_outbox_due
               ON omnichannel_outbox (next_attempt, id) WHERE state = 'queued'"""
        )

    # ------------------------------------------------------------ queueing (agent's transaction)
    @api.model
    def _enqueue(self, conversation, message, payload, summary):
        """Queue ``payload`` for ``conversation``'s customer, with its timeline row (queued)."""
        event = {
            "channel_id": conversation.channel_id.id,
            "partner_id": conversation.partner_id.id,
            "direction": "outbound",
            "kind": "message",
            "date": message.date if message else fields.Datetime.now(),
            "summary": summary,
            "conversation_id": conversation.id,
            "user_id": self.env.user.id,
            "mail_message_id": message.id if message else None,
        }
        return self._enqueue_events([(event, payload, {"summary": summary})])

    @api.model
    def _enqueue_events(self, items):
        """Queue messages with their timeline rows (queued), in batches: ``items`` =
        [(event, payload, values)], ``event`` an outbound event as ``omnichannel.ingest`` takes
        it (its recipient as partner_id or sender), ``values`` more fields of the outbox row.
        Returns the outbox rows, in order."""
        interactions = self.env["omnichannel.interaction"].sudo()
        events = [event for event, _payload, _values in items]
        for start in range(0, len(events), MAX_BATCH):
            interactions += self.env["omnichannel.ingest"].sudo().ingest(events[start : start + MAX_BATCH])
        interactions._set_queued()
        outboxes = self.sudo().create(
            [
                {
                    "channel_id": interaction.channel_id.id,
                    "conversation_id": interaction.conversation_id.id,
                    "partner_id": interaction.partner_id.id,
                    "mail_message_id": interaction.mail_message_id.id,
                    "interaction_id": interaction.id,
                    "user_id": interaction.user_id.id,
                    "summary": interaction.summary,
                    "payload": payload,
                    **values,
                }
                for (_event, payload, values), interaction in zip(items, interactions, strict=True)
            ]
        )
        trigger(self.env, CRON)
        return outboxes

    # ------------------------------------------------------------ sending (cron)
    @api.model
    def _cron_send(self, time_budget=None):
        budget = time_budget if time_budget is not None else cron_budget(TIME_BUDGET)
        self._fail_abandoned()
        auto_commit(self.env)
        started, done, paused = time.monotonic(), 0, {}  # channel id -> monotonic time it may send again
        while time.monotonic() - started < budget:
            outbox = self._claim_next(exclude_channels=[c for c, until in paused.items() if until > time.monotonic()])
            if not outbox:
                break
            wait = outbox._send_now()
            done += 1
            if wait:
                paused[outbox.channel_id.id] = time.monotonic() + wait
        remaining = self.search_count([("state", "=", "queued")])
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    @api.model
    def _claim_next(self, exclude_channels=()):
        """The next due row, locked; marked "sending" and committed before the provider hears of it.

        Under REPEATABLE READ, a row another sender claimed and committed after this transaction's
        snapshot cannot be locked ("could not serialize access"): nothing is held yet, so look again
        in a new transaction.
        """
        self.flush_model()
        for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
            try:
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        """SELECT id FROM omnichannel_outbox
                            WHERE state = 'queued' AND next_attempt <= %s AND NOT (channel_id = ANY(%s))
                            ORDER BY next_attempt, id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                        [fields.Datetime.now(), list(exclude_channels)],
                    )
                    row = self.env.cr.fetchone()
                break
            except Exception as exc:
                if not is_concurrency_error(exc) or attempt == MAX_CLAIM_ATTEMPTS or not committing(self.env):
                    raise
                self.env.cr.rollback()  # the previous row was committed: nothing is lost
        if not row:
            return self.browse()
        outbox = self.browse(row[0])
        outbox.write({"state": "sending", "attempts": outbox.attempts + 1, "sending_date": fields.Datetime.now()})
        auto_commit(self.env)
        return outbox

    def _send_now(self):
        """Hand this claimed row to its provider and record the answer. Returns the seconds the
        provider asked this channel to wait (rate limit), if it did."""
        self.ensure_one()
        provider = self.channel_id._provider()
        try:
            external_id = provider._deliver(self)
        except UserError as exc:
            self._mark_failed(exc.args[0])
            auto_commit(self.env)
            return None
        except Exception as exc:
            if is_concurrency_error(exc):
                raise
            if not isinstance(exc, ProviderError):
                # Not an answer the provider documents: it may have sent the message, so it is
                # never sent again on its own.
                _logger.warning("Outbox %s: unexpected error while sending", self.id, exc_info=True)
                exc = ProviderError(
                    _("Unexpected error while sending (%(error)s): check with the customer before retrying.", error=exc)
                )
            retry = exc.transient and self.attempts < MAX_ATTEMPTS
            _logger.info("Outbox %s, attempt %s: %s (%s)", self.id, self.attempts, exc, "retry" if retry else "failed")
            if retry:
                later = next_attempt(self.attempts, exc.retry_after)
                self.write({"state": "queued", "error": str(exc), "next_attempt": later})
                if exc.retry_after:  # the provider throttles the channel, not only this message
                    self._hold_channel(later)
            else:
                self._mark_failed(str(exc))
            auto_commit(self.env)
            return exc.retry_after if exc.transient else None
        self._mark_sent(external_id)
        auto_commit(self.env)
        return None

    def _hold_channel(self, until):
        """Queued rows of this row's channel wait ``until`` too: the next run must not spend their
        attempts on a provider that asked to wait."""
        self.flush_model(["next_attempt", "state"])
        self.env.cr.execute(
            """UPDATE omnichannel_outbox SET next_attempt = %s
                WHERE channel_id = %s AND state = 'queued' AND next_attempt < %s""",
            [until, self.channel_id.id, until],
        )
        self.invalidate_model(["next_attempt"])

    def _mark_sent(self, external_id):
        # A status carrying this row's key may have recorded the id first (``_reconcile``) and
        # moved the timeline row on to delivered or read: leave both as they are.
        self.invalidate_recordset(["state", "external_id"])
        if self.state == "sent" and self.external_id == external_id:
            return
        self.write({"state": "sent", "external_id": external_id, "sent_date": fields.Datetime.now(), "error": False})
        if self.interaction_id:
            self.env["omnichannel.interaction"].sudo()._set_external_id(self.interaction_id.id, external_id, "sent")
            self.env["omnichannel.delivery.status"]._apply_waiting(self.channel_id, external_id)

    def _mark_failed(self, reason):
        self.write({"state": "failed", "error": reason})
        if self.interaction_id:
            self._fail_interaction(reason)
        if self.conversation_id:
            self.conversation_id.message_post(
                body=_(
                    "Not sent to %(customer)s: %(error)s. Fix the cause, then use Retry on the message.",
                    customer=self.partner_id.name,
                    error=reason,
                ),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )

    def _fail_interaction(self, reason):
        """Its timeline row shows why: the provider never accepted the message, so it has no id."""
        self.env["omnichannel.interaction"].sudo()._set_external_id(
            self.interaction_id.id, self.interaction_id.external_id, "failed", reason
        )

    @api.model
    def _fail_abandoned(self):
        """Rows a dead worker left "sending": maybe sent, maybe not. Never sent again on their own."""
        abandoned = self.sudo().search(
            [("state", "=", "sending"), ("sending_date", "<", fields.Datetime.now() - SENDING_TIMEOUT)]
        )
        for outbox in abandoned:
            outbox._mark_failed(
                _(
                    "The sender stopped while the provider had this message: it may have been delivered. "
                    "Check with the customer before retrying."
                )
            )

    @api.model
    def _reconcile(self, statuses):
        """Statuses carrying an outbox key (``callback_data``) tell which message id a row got,
        even when its worker died before recording it."""
        keyed = {s["callback_data"]: s for s in statuses if s.get("callback_data")}
        if not keyed:
            return
        rows = self.sudo().search([("key", "in", list(keyed)), ("state", "in", ("sending", "failed", "queued"))])
        for outbox in rows:
            status = keyed[outbox.key]
            if outbox.channel_id.id == status["channel_id"] and status["external_id"]:
                outbox._mark_sent(str(status["external_id"]))

    # ------------------------------------------------------------ actions
    def action_retry(self):
        """Send failed messages again (an agent's decision: the customer may get one twice)."""
        failed = self.filtered(lambda o: o.state == "failed")
        failed.check_access("read")
        for outbox in failed.sudo():
            outbox.channel_id._check_can_send()
            self.env["omnichannel.consent"]._check_can_send(
                outbox.partner_id, outbox.channel_id, marketing=bool((outbox.payload or {}).get("marketing"))
            )
            if outbox.conversation_id and (outbox.payload or {}).get("type") != "template":
                # A free reply may have fallen out of the channel's window since it was written.
                outbox.channel_id._provider()._check_reply(outbox.conversation_id, outbox.mail_message_id)
            outbox.write({"state": "queued", "attempts": 0, "error": False, "next_attempt": fields.Datetime.now()})
            if outbox.interaction_id:
                self.env["omnichannel.interaction"].sudo()._set_external_id(
                    outbox.interaction_id.id, outbox.interaction_id.external_id, "queued"
                )
        if failed:
            trigger(self.env, CRON)
        return True
