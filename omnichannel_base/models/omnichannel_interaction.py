import logging
import time

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)
_logger = logging.getLogger(__name__)

KINDS = [
    ("message", "Message"),
    ("email", "Email"),
    ("call", "Call"),
    ("visit", "Store Visit"),
    ("note", "Note"),
    ("order", "Sales Order"),
    ("delivery", "Delivery"),
    ("invoice", "Invoice"),
    ("payment", "Payment"),
    ("pos_order", "POS Order"),
]
DIALOGUE_KINDS = {"message", "email", "call"}
DIRECTIONS = [("inbound", "Inbound"), ("outbound", "Outbound"), ("internal", "Internal")]
# What the timeline filters on: kinds as a user thinks of them.
KIND_GROUPS = [
    ("messages", _lt("Messages")),
    ("calls", _lt("Calls")),
    ("visits", _lt("Visits")),
    ("orders", _lt("Orders")),
    ("deliveries", _lt("Deliveries")),
    ("invoices", _lt("Invoices")),
    ("payments", _lt("Payments")),
]
GROUP_OF_KIND = {
    "message": "messages",
    "email": "messages",
    "note": "messages",
    "call": "calls",
    "visit": "visits",
    "order": "orders",
    "pos_order": "orders",
    "delivery": "deliveries",
    "invoice": "invoices",
    "payment": "payments",
}
KIND_ICONS = {
    "message": "fa-comment",
    "email": "fa-envelope",
    "call": "fa-phone",
    "visit": "fa-street-view",
    "note": "fa-sticky-note-o",
    "order": "fa-shopping-cart",
    "delivery": "fa-truck",
    "invoice": "fa-file-text-o",
    "payment": "fa-money",
    "pos_order": "fa-shopping-bag",
}
CHANNEL_ICONS = {
    "api": "fa-plug",
    "email": "fa-envelope",
    "whatsapp": "fa-whatsapp",
    "messenger": "fa-facebook",
    "instagram": "fa-instagram",
    "telegram": "fa-telegram",
    "sms": "fa-commenting",
    "voice": "fa-phone",
    "store": "fa-shopping-bag",
    "livechat": "fa-comments",
}


# What callers of the one writer (``_insert_rows``) may set; the rest is stamped by it.
WRITABLE_COLUMNS = (
    "partner_id",
    "commercial_partner_id",
    "channel_id",
    "channel_type",
    "company_id",
    "kind",
    "direction",
    "date",
    "summary",
    "conversation_id",
    "mail_message_id",
    "user_id",
    "res_model",
    "res_id",
    "external_id",
    "delivery_state",
    "delivery_error",
)
STAMP_COLUMNS = ("create_uid", "write_uid", "create_date", "write_date")
# What a back-office backfill SELECT yields, in this order (``_backfill_business_events``).
BACKFILL_COLUMNS = (
    "partner_id",
    "commercial_partner_id",
    "company_id",
    "kind",
    "direction",
    "date",
    "summary",
    "user_id",
    "res_model",
    "res_id",
    "external_id",
)
SOURCE_MODELS_CACHE = "omnichannel_source_models"  # key in the cursor's cache
# How far a message got; "failed" is past "sent" but before "delivered" (a message delivered
# or read has not failed, whatever arrives after).
STATE_RANK = {"queued": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}


class OmnichannelInteraction(models.Model):
    """The timeline index: one row per touchpoint with a customer, on any channel.

    Rows are written by ``omnichannel.ingest`` only. Details of business documents
    (amounts, states) are read from ``res_model``/``res_id`` when shown, so the
    index never goes stale.
    """

    _name = "omnichannel.interaction"
    _description = "Customer Interaction"
    _order = "date desc, id desc"
    _rec_name = "summary"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, ondelete="cascade", readonly=True)
    commercial_partner_id = fields.Many2one(
        "res.partner", string="Customer Company", required=True, ondelete="cascade", readonly=True
    )
    channel_id = fields.Many2one("omnichannel.channel", ondelete="restrict", readonly=True, index="btree_not_null")
    channel_type = fields.Selection(
        selection=lambda self: self.env["omnichannel.channel"]._fields["channel_type"].selection,
        readonly=True,
        index=True,
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    kind = fields.Selection(KINDS, required=True, default="message", readonly=True)
    direction = fields.Selection(DIRECTIONS, required=True, default="inbound", readonly=True)
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    summary = fields.Char(readonly=True)
    conversation_id = fields.Many2one(
        "omnichannel.conversation", ondelete="set null", readonly=True, index="btree_not_null"
    )
    # Not "message_id": that is an RFC 5322 Message-Id everywhere else in Odoo's mail.
    mail_message_id = fields.Many2one(
        "mail.message", string="Chatter Message", ondelete="set null", readonly=True, index="btree_not_null"
    )
    user_id = fields.Many2one("res.users", string="Agent", readonly=True)
    res_model = fields.Char(string="Source Model", readonly=True)
    res_id = fields.Many2oneReference(string="Source Record", model_field="res_model", readonly=True)
    external_id = fields.Char(string="External ID", readonly=True, help="The provider's id for this event.")
    delivery_state = fields.Selection(
        [("queued", "Queued"), ("sent", "Sent"), ("delivered", "Delivered"), ("read", "Read"), ("failed", "Failed")],
        readonly=True,
        help="Of outbound messages, as far as the channel reports it.",
    )
    delivery_error = fields.Char(readonly=True, help="Why the channel could not deliver the message.")
    edit_state = fields.Selection(
        [("edited", "Edited"), ("removed", "Removed by the customer")],
        readonly=True,
        help="The customer changed or removed this message after sending it: the timeline shows what is left.",
    )

    def init(self):
        cr = self.env.cr
        cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS omnichannel_interaction_channel_external_uniq
               ON omnichannel_interaction (channel_id, external_id) WHERE external_id IS NOT NULL"""
        )
        # The timeline pages by keyset on (date, id), per contact and per company.
        cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_interaction_partner_timeline
               ON omnichannel_interaction (partner_id, date DESC, id DESC)"""
        )
        cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_interaction_commercial_timeline
               ON omnichannel_interaction (commercial_partner_id, date DESC, id DESC)"""
        )
        cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_interaction_source
               ON omnichannel_interaction (res_model, res_id) WHERE res_model IS NOT NULL"""
        )
        # A back-office event (an order confirmed, an invoice paid) is recorded once per
        # document, whether by the state transition or by the install backfill.
        cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS omnichannel_interaction_source_event_uniq
               ON omnichannel_interaction (res_model, res_id, external_id)
               WHERE channel_id IS NULL AND res_model IS NOT NULL AND external_id IS NOT NULL"""
        )
        # The Interactions list sorts everything by (date, id): without this, every page sorts the table.
        cr.execute(
            """CREATE INDEX IF NOT EXISTS omnichannel_interaction_date_id
               ON omnichannel_interaction (date DESC, id DESC)"""
        )

    @api.model
    def _search(self, domain, *args, **kwargs):
        # An event about a document is as visible as the document: the Interactions list,
        # search_read and read_group show it only to users who may read that document under
        # Odoo's access rights and record rules.
        if not self.env.su:
            domain = [*domain, *self._readable_documents_domain()]
        return super()._search(domain, *args, **kwargs)

    @api.model
    def _search_timeline(self, domain, **kwargs):
        """``_search`` for the timeline, which checks the record rules of each page's documents
        itself (``res.partner._omni_timeline_items``) and keeps its keyset query cheap. Only
        server code can take this path: it is no RPC method, nor a context key."""
        if not self.env.su:
            domain = [*domain, *self._readable_documents_domain(record_rules=False)]
        return super()._search(domain, **kwargs)

    @api.model
    def _readable_documents_domain(self, record_rules=True):
        """A domain keeping the events whose document this user may read: by model (access
        rights), and with ``record_rules``, by record."""
        domain = []
        for model in self._source_models():
            if model not in self.env or not self.env[model].has_access("read"):
                domain.append(("res_model", "!=", model))
            elif record_rules and self.env["ir.rule"]._compute_domain(model, "read"):
                readable = self.env[model].with_context(active_test=False)._search([])
                domain += ["|", ("res_model", "!=", model), ("res_id", "in", readable)]
        return domain

    @api.model
    def _source_models(self):
        """Every document model events point at: the timeline sources, and whichever models
        customers' mail was recorded on. Read once per transaction (the writer forgets it)."""
        if SOURCE_MODELS_CACHE not in self.env.cr.cache:
            self.env.cr.cache[SOURCE_MODELS_CACHE] = self._read_source_models()
        return self.env.cr.cache[SOURCE_MODELS_CACHE]

    @api.model
    def _read_source_models(self):
        # A loose index scan: one probe per model, whatever the size of the table. The planner,
        # which cannot see that, estimates it at millions of rows on a big table and would JIT-
        # compile it (100 ms, for a query of 1 ms, on every timeline page and screen pop): no JIT
        # for the rest of this transaction, whose queries are all short ones.
        self.env.cr.execute(
            """SET LOCAL jit = off;
               WITH RECURSIVE m(name) AS (
                   (SELECT res_model FROM omnichannel_interaction WHERE res_model IS NOT NULL
                     ORDER BY res_model LIMIT 1)
                   UNION ALL
                   SELECT (SELECT res_model FROM omnichannel_interaction
                            WHERE res_model IS NOT NULL AND res_model > m.name ORDER BY res_model LIMIT 1)
                     FROM m WHERE m.name IS NOT NULL)
               SELECT name FROM m WHERE name IS NOT NULL"""
        )
        found = {name for (name,) in self.env.cr.fetchall()}
        return sorted(found | set(self.env["omnichannel.timeline.source"]._inherit_children))

    def action_open_source(self):
        self.ensure_one()
        target = self.env[self.res_model].browse(self.res_id) if self.res_model else self.conversation_id
        if not target:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": target._name,
            "res_id": target.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    # ------------------------------------------------------------ back-office events
    @api.model
    def _notify_timeline(self, partner_ids):
        """Tell open timelines of these contacts to refresh, through the bus.

        Only ids travel: each client reloads through the ORM, with its own access rights.
        """
        if partner_ids:
            group = self.env.ref("omnichannel_base.group_omnichannel_user")
            self.env["bus.bus"]._sendone(group, "omnichannel.timeline/updated", {"partner_ids": sorted(partner_ids)})

    # ------------------------------------------------------------ the one writer
    @api.model
    def _insert_rows(self, rows):
        """The one writer of ``omnichannel_interaction``: INSERT ``rows`` (dicts of WRITABLE_COLUMNS).

        A row already recorded (same channel and external id, or same document and event) is
        skipped. Runs as SQL whoever the user is, since events are the system's record of what
        happened: the callers decide what may be recorded. Returns the new ids, in row order.
        """
        if not rows:
            return []
        self.env.flush_all()
        now, uid = fields.Datetime.now(), self.env.uid
        values = [tuple(row.get(column) for column in WRITABLE_COLUMNS) + (uid, uid, now, now) for row in rows]
        self.env.cr.execute(
            SQL(
                "INSERT INTO omnichannel_interaction (%s) VALUES %s ON CONFLICT DO NOTHING RETURNING id",
                SQL(", ").join(SQL.identifier(column) for column in (*WRITABLE_COLUMNS, *STAMP_COLUMNS)),
                SQL(", ").join(SQL("%s", value) for value in values),
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:
            self._after_write({row["partner_id"] for row in rows} | {row["commercial_partner_id"] for row in rows})
        return ids

    @api.model
    def _insert_select(self, columns, select):
        """Like ``_insert_rows``, from ``select`` (an ``SQL`` yielding ``columns``, a subset of
        WRITABLE_COLUMNS, in that order): for set-based backfills. Returns the number of rows written."""
        assert set(columns) <= set(WRITABLE_COLUMNS), columns
        self.env.flush_all()
        columns = [SQL.identifier(column) for column in columns]
        self.env.cr.execute(
            SQL(
                """INSERT INTO omnichannel_interaction (%(columns)s, create_uid, write_uid, create_date, write_date)
                   SELECT %(columns)s, %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                     FROM (%(select)s) AS e
                   ON CONFLICT DO NOTHING""",
                columns=SQL(", ").join(columns),
                uid=self.env.uid,
                select=select,
            )
        )
        written = self.env.cr.rowcount
        if written:
            self._after_write(set())
        return written

    @api.model
    def _after_write(self, partner_ids):
        self.env.cr.cache.pop(SOURCE_MODELS_CACHE, None)
        self.env["res.partner"].invalidate_model(["omni_interaction_ids"])
        self.env["omnichannel.conversation"].invalidate_model(["interaction_ids"])
        self._notify_timeline(partner_ids)

    @api.model
    def _set_delivery_state(self, state, updates):
        """Delivery ``state`` of outbound rows: ``updates`` = [(mail.message id, recipient partner
        id, reason)]. One statement, however many recipients."""
        if not updates:
            return
        self.flush_model(["delivery_state", "delivery_error"])
        self.env.cr.execute(
            """UPDATE omnichannel_interaction i SET delivery_state = %s, delivery_error = u.reason
                 FROM unnest(%s::int[], %s::int[], %s::varchar[]) AS u(message_id, partner_id, reason)
                WHERE i.mail_message_id = u.message_id AND i.partner_id = u.partner_id
                  AND i.direction = 'outbound'""",
            [state, *map(list, zip(*updates))],
        )
        self.invalidate_model(["delivery_state", "delivery_error"])

    @api.model
    def _advance_delivery_states(self, updates):
        """Statuses reported by a provider: ``updates`` = [(channel id, external id, state, error)].

        Forward only, in the order of STATE_RANK: a "delivered" arriving after "read" changes
        nothing, and a message delivered or read never becomes failed. Returns {(channel id, external id):
        moved} for the pairs that matched an outbound row; ``moved`` says whether its state changed.
        """
        if not updates:
            return {}
        # One UPDATE changes a row once: keep the furthest state reported for each message.
        furthest = {}
        for channel_id, external_id, state, error in updates:
            key = (channel_id, external_id)
            if key not in furthest or STATE_RANK[state] > STATE_RANK[furthest[key][2]]:
                furthest[key] = (channel_id, external_id, state, error)
        updates = list(furthest.values())
        self.flush_model(["delivery_state", "delivery_error", "external_id"])
        self.env.cr.execute(
            """WITH u AS (SELECT * FROM unnest(%s::int[], %s::varchar[], %s::varchar[], %s::varchar[])
                                   AS u(channel_id, external_id, state, error)),
                    matched AS (
                        UPDATE omnichannel_interaction i SET delivery_state = u.state, delivery_error = u.error
                          FROM u
                         WHERE i.channel_id = u.channel_id AND i.external_id = u.external_id
                           AND i.direction = 'outbound'
                           AND array_position(%s::varchar[], COALESCE(i.delivery_state, 'queued'))
                             < array_position(%s::varchar[], u.state)
                        RETURNING i.id)
               SELECT i.channel_id, i.external_id, bool_or(i.id IN (SELECT id FROM matched)),
                      array_agg(i.id) FILTER (WHERE i.id IN (SELECT id FROM matched))
                 FROM omnichannel_interaction i
                 JOIN u ON i.channel_id = u.channel_id AND i.external_id = u.external_id
                WHERE i.direction = 'outbound'
                GROUP BY i.channel_id, i.external_id""",
            [*(list(column) for column in zip(*updates, strict=True)), list(STATE_RANK), list(STATE_RANK)],
        )
        rows = self.env.cr.fetchall()
        found = {(channel_id, external_id): moved for channel_id, external_id, moved, _ids in rows}
        self.invalidate_model(["delivery_state", "delivery_error"])
        self._notify_delivery_states([id_ for *_key, ids in rows for id_ in ids or ()])
        return found

    @api.model
    def _set_external_id(self, interaction_id, external_id, state, error=None):
        """An outbound row's provider id and delivery state, as the outbox learns them: the id
        once the provider accepted the message, or the reason it never did (state "failed").

        The provider may have told of the message first, as an echo of the business's own
        message (Meta echoes every message a page sends) recorded as an outbound row of its own
        before the sender learnt the id: that row is this message, so it goes, with its chatter
        copy, and this one takes the id.
        """
        self.flush_model(["external_id", "delivery_state", "delivery_error"])
        if external_id:
            self._drop_echoes(interaction_id, [external_id])
        self.env.cr.execute(
            """UPDATE omnichannel_interaction SET external_id = %s, delivery_state = %s, delivery_error = %s
                WHERE id = %s""",
            [external_id, state, error, interaction_id],
        )
        self.invalidate_model(["external_id", "delivery_state", "delivery_error"])
        self._notify_delivery_states([interaction_id])

    def _set_queued(self):
        """These outbound rows wait in the outbox: no provider id yet. One statement, however
        many rows (a mass SMS queues hundreds)."""
        self.flush_model(["external_id", "delivery_state", "delivery_error"])
        self.env.cr.execute(
            """UPDATE omnichannel_interaction SET external_id = NULL, delivery_state = 'queued', delivery_error = NULL
                WHERE id = ANY(%s)""",
            [self.ids],
        )
        self.invalidate_model(["external_id", "delivery_state", "delivery_error"])
        self._notify_delivery_states(self.ids)

    @api.model
    def _drop_echoes(self, interaction_id, external_ids):
        """Outbound rows (and their chatter copies) recorded from the provider's echoes of
        ``external_ids``, which are this outbound row's own message, or parts of it when the
        provider took it in several pieces: the row itself is the record of them."""
        self.flush_model(["external_id"])
        self.env.cr.execute(
            """DELETE FROM omnichannel_interaction echo USING omnichannel_interaction mine
                WHERE mine.id = %s AND echo.channel_id = mine.channel_id AND echo.external_id = ANY(%s)
                  AND echo.id != mine.id AND echo.direction = 'outbound'
            RETURNING echo.mail_message_id""",
            [interaction_id, [str(external_id) for external_id in external_ids]],
        )
        copies = [message_id for (message_id,) in self.env.cr.fetchall() if message_id]
        if copies:
            self.env["mail.message"].sudo().browse(copies).unlink()
        self.invalidate_model()

    @api.model
    def _notify_delivery_states(self, interaction_ids):
        """Called whenever the delivery state of these outbound rows changed, for modules that show
        it live (omnichannel_social pushes it to open chatters). Does nothing here."""

    def _set_summary(self, summary, user_id=None):
        """A row that follows something still happening (a call ringing, then answered, then
        ended): its current one-line ``summary`` and, once known, its agent ``user_id``."""
        self.ensure_one()
        self.flush_model(["summary", "user_id"])
        self.env.cr.execute(
            "UPDATE omnichannel_interaction SET summary = %s, user_id = COALESCE(%s, user_id) WHERE id = %s",
            [summary, user_id, self.id],
        )
        self.invalidate_recordset(["summary", "user_id"])
        self._notify_timeline({self.partner_id.id, self.commercial_partner_id.id})

    @api.model
    def _link_mail_message(self, channel, external_id, message):
        """Point the row ingest wrote for ``external_id`` at the chatter message posted for it."""
        self.flush_model(["mail_message_id"])
        self.env.cr.execute(
            """UPDATE omnichannel_interaction SET mail_message_id = %s
                WHERE channel_id = %s AND external_id = %s AND mail_message_id IS NULL""",
            [message.id, channel.id, external_id],
        )
        self.invalidate_model(["mail_message_id"])

    @api.model
    def _follow_commercial_partners(self, partner_ids):
        """Rows of these contacts take their current company partner (a contact joined or left
        a company), so that company timelines read them."""
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.flush_model(["commercial_partner_id"])
        self.env.cr.execute(
            """UPDATE omnichannel_interaction i SET commercial_partner_id = p.commercial_partner_id
                 FROM res_partner p
                WHERE i.partner_id = p.id AND p.id = ANY(%s) AND i.commercial_partner_id != p.commercial_partner_id""",
            [list(partner_ids)],
        )
        self.invalidate_model(["commercial_partner_id"])

    # ------------------------------------------------------------ back-office events
    @api.model
    def _backfill_source(self, model):
        """Put the history of one timeline source model on the timelines, when none of it is.

        Called when a module makes ``model`` a timeline source, at its install or update: a
        source added by a later module gets its own backfill, and a reinstall gets it again.
        The source index answers whether the model has events yet. Returns (rows, seconds)."""
        self.env.cr.execute(
            "SELECT 1 FROM omnichannel_interaction WHERE res_model = %s AND channel_id IS NULL LIMIT 1", [model]
        )
        if self.env.cr.fetchone():
            return 0, 0.0
        return self._backfill_business_events([model])

    @api.model
    def _backfill_business_events(self, models_=None):
        """Put the back office's history on the timeline, with set-based SQL.

        Events already recorded are skipped. Returns (rows, seconds).
        """
        started = time.perf_counter()
        total = 0
        for model in sorted(models_ or self.env["omnichannel.timeline.source"]._inherit_children):
            for event, select, params in self.env[model]._omni_backfill_queries():
                total += self._insert_select(
                    BACKFILL_COLUMNS,
                    SQL(
                        """SELECT e.partner_id, p.commercial_partner_id, e.company_id, e.kind, e.direction,
                                  date_trunc('second', e.date) AS date, e.summary, e.user_id,
                                  %s AS res_model, e.res_id, %s AS external_id
                             FROM (%s) AS e
                             JOIN res_partner p ON p.id = e.partner_id""",
                        model,
                        event,
                        SQL(select, *params),
                    ),
                )
        seconds = time.perf_counter() - started
        _logger.info("omnichannel: %s back-office events put on the timeline in %.1f s", total, seconds)
        return total, seconds
