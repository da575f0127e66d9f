import logging
from collections import defaultdict
from datetime import datetime, time, timedelta

import pytz

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from .omnichannel_interaction import CHANNEL_ICONS, GROUP_OF_KIND, KIND_GROUPS, KIND_ICONS

_logger = logging.getLogger(__name__)

IDENTITY_FIELDS = {"phone": "phone", "mobile": "phone", "email": "email"}
TIMELINE_PAGE_MAX = 100
TIMELINE_READ_ROUNDS = 3
PREFERENCE_WINDOW_DAYS = 365


def _channel_types(records):
    return records.env["omnichannel.channel"]._fields["channel_type"].selection


class ResPartner(models.Model):
    _inherit = "res.partner"

    omni_identity_ids = fields.One2many("omnichannel.identity", "partner_id", string="Identities")
    omni_interaction_ids = fields.One2many("omnichannel.interaction", "partner_id", string="Interactions")
    omni_conversation_ids = fields.One2many("omnichannel.conversation", "partner_id", string="Conversations")
    omni_consent_ids = fields.One2many("omnichannel.consent", "partner_id", string="Channel Consent")
    omni_source_channel_id = fields.Many2one(
        "omnichannel.channel",
        string="Created From Channel",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The channel through which this customer first reached us, when it created the contact.",
    )
    omni_last_contact_date = fields.Datetime(
        string="Last Contact", readonly=True, copy=False, help="Last interaction on any channel."
    )
    omni_last_contact_channel_type = fields.Selection(
        selection=_channel_types,
        string="Last Contact Channel",
        compute="_compute_omni_contact_channels",
        groups="omnichannel_base.group_omnichannel_user",
    )
    omni_preferred_channel_type = fields.Selection(
        selection=_channel_types,
        string="Preferred Channel",
        compute="_compute_omni_contact_channels",
        search="_search_omni_preferred_channel_type",
        groups="omnichannel_base.group_omnichannel_user",
        help="The channel this customer wrote or called us on most in the last 12 months.",
    )
    omni_interaction_count = fields.Integer(
        string="Interaction Count", compute="_compute_omni_counts", groups="omnichannel_base.group_omnichannel_user"
    )
    omni_conversation_count = fields.Integer(
        string="Open Conversation Count",
        compute="_compute_omni_counts",
        groups="omnichannel_base.group_omnichannel_user",
        help="Conversations not resolved yet.",
    )

    def init(self):
        super().init()
        # Ingest falls back on these for contacts whose identities are not indexed
        # (e.g. imported with SQL): without an index each unknown sender scans the table.
        for column in ("phone_sanitized", "email_normalized"):
            create_index(
                self.env.cr, f"res_partner_omni_{column}_idx", self._table, [column], where=f"{column} IS NOT NULL"
            )

    def _compute_omni_counts(self):
        # A company sees everything of its contacts; a contact sees its own.
        for field, model, domain in (
            ("omni_interaction_count", "omnichannel.interaction", []),
            ("omni_conversation_count", "omnichannel.conversation", [("state", "!=", "resolved")]),
        ):
            Model = self.env[model]
            by_commercial = dict(
                Model._read_group(
                    [("commercial_partner_id", "in", self.ids), *domain], ["commercial_partner_id"], ["__count"]
                )
            )
            by_partner = dict(Model._read_group([("partner_id", "in", self.ids), *domain], ["partner_id"], ["__count"]))
            for partner in self:
                counts = by_commercial if partner.commercial_partner_id == partner else by_partner
                partner[field] = counts.get(partner, 0)

    def _omni_timeline_field(self):
        """Companies show their contacts' history with their own; contacts show theirs."""
        return "commercial_partner_id" if self.is_company and self.commercial_partner_id == self else "partner_id"

    def _compute_omni_contact_channels(self):
        self.omni_last_contact_channel_type = False
        self.omni_preferred_channel_type = False
        for field, partners in self.grouped(lambda p: p._omni_timeline_field()).items():
            if not partners.ids:
                continue
            column = SQL.identifier(field)
            last = dict(
                self.env.execute_query(
                    SQL(
                        """SELECT DISTINCT ON (%(column)s) %(column)s, channel_type FROM omnichannel_interaction
                            WHERE %(column)s IN %(ids)s AND channel_type IS NOT NULL
                         ORDER BY %(column)s, date DESC, id DESC""",
                        column=column,
                        ids=tuple(partners.ids),
                    )
                )
            )
            preferred = dict(self.env.execute_query(self._omni_preferred_channel_query(column, partners.ids)))
            for partner in partners:
                partner.omni_last_contact_channel_type = last.get(partner.id)
                partner.omni_preferred_channel_type = preferred.get(partner.id)

    def _omni_preferred_channel_query(self, column, ids=None):
        """(partner, channel type) of the inbound channel each partner used most in the last
        12 months; ties go to the most recent."""
        since = fields.Datetime.now() - timedelta(days=PREFERENCE_WINDOW_DAYS)
        return SQL(
            """SELECT DISTINCT ON (owner) owner, channel_type
                 FROM (SELECT %(column)s AS owner, channel_type, COUNT(*) AS used, MAX(date) AS last_used
                         FROM omnichannel_interaction
                        WHERE direction = 'inbound' AND channel_type IS NOT NULL AND date >= %(since)s
                              %(only)s
                     GROUP BY %(column)s, channel_type) AS usage
             ORDER BY owner, used DESC, last_used DESC""",
            column=column,
            since=since,
            only=SQL("AND %s IN %s", column, tuple(ids)) if ids else SQL(""),
        )

    def _search_omni_preferred_channel_type(self, operator, value):
        if operator not in ("=", "in") or not value:
            raise UserError(self.env._("Search the preferred channel with '=' or 'in' a channel type."))
        wanted = {value} if isinstance(value, str) else set(value)

        def preferring(column):
            rows = self.env.execute_query(self._omni_preferred_channel_query(SQL.identifier(column)))
            return [owner for owner, channel_type in rows if channel_type in wanted]

        # As the field reads it: contacts by their own messages, companies by their contacts'.
        return [
            "|",
            "&",
            ("is_company", "=", False),
            ("id", "in", preferring("partner_id")),
            "&",
            ("is_company", "=", True),
            ("id", "in", preferring("commercial_partner_id")),
        ]

    # ------------------------------------------------------------ timeline
    def omnichannel_timeline(self, filters=None, cursor=None, limit=40):
        """One page of this contact's timeline, newest first, for the timeline widget.

        Pages by keyset on (date, id): ``cursor`` is the ``next_cursor`` of the previous
        page. Business events are shown only when the user may read their document;
        details (amounts, states) are read live from it.
        """
        self.ensure_one()
        self.check_access("read")
        try:
            limit = max(1, min(int(limit or 40), TIMELINE_PAGE_MAX))
            domain = self._omni_timeline_domain(dict(filters or {}))
            if cursor:
                cursor = [fields.Datetime.to_datetime(cursor[0]), int(cursor[1])]
        except (TypeError, ValueError, IndexError, KeyError) as error:
            raise UserError(self.env._("The timeline could not read this request: %s", error)) from None
        items, last = [], None
        # Items whose document this user may not read are dropped after the LIMIT: read
        # on (a few times at most) rather than return a short page.
        for _round in range(TIMELINE_READ_ROUNDS):
            wanted = limit - len(items)
            rows = self._omni_timeline_rows(domain, cursor, wanted + 1)
            page = rows[:wanted]
            items += self._omni_timeline_items(page)
            if len(rows) <= wanted:
                last = None  # the history ends here
                break
            last = page[-1]
            cursor = [last.date, last.id]
            if len(items) >= limit:
                break
        return {
            "items": items,
            "next_cursor": [fields.Datetime.to_string(last.date), last.id] if last else False,
        }

    def _omni_timeline_rows(self, domain, cursor, limit):
        """Up to ``limit`` interactions of ``domain`` older than ``cursor`` = (date, id), newest first."""
        Interaction = self.env["omnichannel.interaction"]
        query = Interaction._search_timeline(domain, order="date DESC, id DESC", limit=limit)
        if cursor:
            date, last_id = fields.Datetime.to_datetime(cursor[0]), int(cursor[1])
            # A row comparison, so the (partner, date, id) index starts right at the cursor.
            query.add_where(
                SQL(
                    "(%s, %s) < (%s, %s)",
                    SQL.identifier(query.table, "date"),
                    SQL.identifier(query.table, "id"),
                    date,
                    last_id,
                )
            )
        # The rows this user's search found are read as the system: whether their documents
        # are readable is decided per page, and an unreadable one is left out of it.
        return Interaction.sudo().browse(query.get_result_ids())

    def _omni_timeline_domain(self, filters):
        # Documents of models the user may not read at all never reach the page: the
        # interaction model's search leaves them out.
        domain = [(self._omni_timeline_field(), "=", self.id)]
        for key in ("channel_types", "kind_groups"):
            if filters.get(key) and not isinstance(filters[key], (list, tuple)):
                raise TypeError(f"{key} must be a list")
        if filters.get("channel_types"):
            domain.append(("channel_type", "in", list(filters["channel_types"])))
        if filters.get("kind_groups"):
            kinds = [kind for kind, group in GROUP_OF_KIND.items() if group in filters["kind_groups"]]
            domain.append(("kind", "in", kinds))
        tz = pytz.timezone(self.env.user.tz or "UTC")
        for key, operator, day_shift in (("date_from", ">=", 0), ("date_to", "<", 1)):
            if filters.get(key):
                day = fields.Date.to_date(filters[key]) + timedelta(days=day_shift)
                local = tz.localize(datetime.combine(day, time.min))
                domain.append(("date", operator, local.astimezone(pytz.utc).replace(tzinfo=None)))
        if filters.get("search"):
            domain.append(("summary", "ilike", filters["search"]))
        return domain

    def _omni_timeline_items(self, interactions):
        """The widget's view of ``interactions``: a few queries per page, whatever its length."""
        readable = {}
        details = {}
        for model, group in interactions.filtered("res_model").grouped("res_model").items():
            if model not in self.env:
                continue  # its module was uninstalled: nothing left to show or open
            documents = self.env[model].browse(group.mapped("res_id")).exists()._filtered_access("read")
            readable[model] = {document.id: document.display_name for document in documents}
            if hasattr(documents, "_omni_timeline_details"):
                details[model] = documents._omni_timeline_details()
        conversations = interactions.conversation_id.with_env(self.env)._filtered_access("read")
        conversation_states = {c.id: c._fields["state"].convert_to_export(c.state, c) for c in conversations}
        kinds = dict(interactions._fields["kind"]._description_selection(self.env))
        directions = dict(interactions._fields["direction"]._description_selection(self.env))
        delivery_states = dict(interactions._fields["delivery_state"]._description_selection(self.env))
        edit_states = dict(interactions._fields["edit_state"]._description_selection(self.env))
        channel_labels = dict(interactions._fields["channel_type"]._description_selection(self.env))
        groups = dict(KIND_GROUPS)
        actions = self._omni_timeline_actions(interactions)
        items = []
        for interaction in interactions:
            model, res_id = interaction.res_model, interaction.res_id
            if model and res_id not in readable.get(model, {}):
                continue  # its document is out of this user's reach: so is the event
            if model:
                source = {"model": model, "id": res_id, "name": readable[model][res_id]}
                item_details = details.get(model, {}).get(res_id, [])
            elif interaction.conversation_id.id in conversation_states:
                conversation = interaction.conversation_id
                source = {"model": conversation._name, "id": conversation.id, "name": conversation.display_name}
                item_details = [(self.env._("Conversation"), conversation_states[conversation.id])]
                if interaction.edit_state:
                    item_details.append((self.env._("Customer"), edit_states[interaction.edit_state]))
                if interaction.delivery_state == "failed":
                    item_details.append((self.env._("Not delivered"), interaction.delivery_error or ""))
                elif interaction.delivery_state:
                    item_details.append((self.env._("Delivery"), delivery_states[interaction.delivery_state]))
            else:
                source, item_details = False, []
            author = interaction.user_id if interaction.direction != "inbound" else interaction.partner_id
            items.append(
                {
                    "id": interaction.id,
                    "date": fields.Datetime.to_string(interaction.date),
                    "kind": interaction.kind,
                    "kind_label": kinds.get(interaction.kind),
                    "kind_group": GROUP_OF_KIND.get(interaction.kind, "messages"),
                    "kind_group_label": self.env._(groups[GROUP_OF_KIND.get(interaction.kind, "messages")]),
                    "direction": interaction.direction,
                    "direction_label": directions.get(interaction.direction),
                    "channel_type": interaction.channel_type or False,
                    "channel_label": channel_labels.get(interaction.channel_type, False),
                    "channel_name": interaction.channel_id.name or False,
                    "icon": CHANNEL_ICONS.get(interaction.channel_type)
                    or KIND_ICONS.get(interaction.kind, "fa-circle"),
                    "summary": interaction.summary or "",
                    "author": author.name or False,
                    "contact": {"id": interaction.partner_id.id, "name": interaction.partner_id.name}
                    if interaction.partner_id != self
                    else False,
                    "details": [list(detail) for detail in item_details],
                    "source": source,
                    "conversation_id": interaction.conversation_id.id
                    if interaction.conversation_id.id in conversation_states
                    else False,
                    "actions": actions.get(interaction.id, []),
                }
            )
        return items

    def _omni_timeline_actions(self, interactions):
        """{interaction id: [{"name", "icon", "model", "method", "res_id"}]}: buttons a channel module
        puts on timeline items (omnichannel_voip's "Call"). The widget calls ``model.method([res_id])``
        and runs the action it returns. Override, call super."""
        return {}

    @api.model
    def omnichannel_timeline_options(self):
        """Choices of the timeline's filters."""
        return {
            "channel_types": [
                list(option)
                for option in self.env["omnichannel.channel"]._fields["channel_type"]._description_selection(self.env)
            ],
            "kind_groups": [[group, self.env._(label)] for group, label in KIND_GROUPS],
        }

    def action_omni_log_interaction(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Log a Call or Visit"),
            "res_model": "omnichannel.log.interaction",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_partner_id": self.id},
        }

    def action_omni_view_conversations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_base.action_omnichannel_inbox")
        action["domain"] = (
            [("commercial_partner_id", "=", self.commercial_partner_id.id)]
            if self.is_company
            else [("partner_id", "=", self.id)]
        )
        action["context"] = {"default_partner_id": self.id, "search_default_todo": 1}
        return action

    def action_omni_view_interactions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_base.action_omnichannel_interaction")
        action["domain"] = (
            [("commercial_partner_id", "=", self.commercial_partner_id.id)]
            if self.is_company
            else [("partner_id", "=", self.id)]
        )
        action["context"] = {"group_by": ["channel_type"]}  # interactions per channel
        return action

    # ------------------------------------------------------------ identities from fields
    def _omni_phone_region(self):
        """Country whose numbering plan reads this partner's national phone numbers."""
        country = self.country_id or self.company_id.country_id or self.env.company.country_id
        return country.code

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        if not self.env.context.get("omni_skip_identity_sync") and any(
            set(IDENTITY_FIELDS) & set(vals) for vals in vals_list
        ):
            partners._omni_sync_field_identities()
        return partners

    def write(self, vals):
        res = super().write(vals)
        if "company_id" in vals:
            # Identities belong where their contact does (Odoo moves the children itself).
            self.env["omnichannel.identity"].sudo()._follow_partner_company(self)
        if set(IDENTITY_FIELDS) & set(vals) or "country_id" in vals or "company_id" in vals:
            self._omni_sync_field_identities()
        if "parent_id" in vals or "is_company" in vals:
            self._omni_follow_commercial_partner()
        return res

    def _omni_follow_commercial_partner(self):
        """A contact joining or leaving a company takes its history along: the timeline
        index keeps each row's company partner, for company timelines."""
        partners = self.with_context(active_test=False).search([("id", "child_of", self.ids)])
        self.env["omnichannel.interaction"]._follow_commercial_partners(partners.ids)

    def _omni_field_identity_rows(self, partner_id, company_id, region, values):
        """Identity rows for a partner's (field, raw value) pairs; unreadable values are skipped."""
        Identity = self.env["omnichannel.identity"]
        rows = {}
        for field, raw in values:
            if not raw:
                continue
            kind = IDENTITY_FIELDS[field]
            try:
                value = Identity._normalize(kind, raw, region)
            except ValueError:
                continue  # a partner field may hold anything; it just isn't an identity then
            rows[(kind, value)] = (partner_id, kind, value, company_id, "field", None)
        return list(rows.values())

    def _omni_sync_field_identities(self):
        """Keep the identities that mirror phone, mobile and email in step with those fields."""
        Identity = self.env["omnichannel.identity"].sudo()
        existing = defaultdict(dict)  # partner id -> {(kind, value): identity}
        for identity in Identity.search([("partner_id", "in", self.ids)]):
            existing[identity.partner_id.id][(identity.kind, identity.value)] = identity
        stale, rows = Identity, []
        for partner in self:
            wanted = partner._omni_field_identity_rows(
                partner.id,
                partner.company_id.id or None,
                partner._omni_phone_region(),
                [(field, partner[field]) for field in IDENTITY_FIELDS],
            )
            keep = {(row[1], row[2]) for row in wanted}
            mine = existing[partner.id]
            stale |= Identity.union(*(i for key, i in mine.items() if i.origin == "field" and key not in keep))
            rows += [row for row in wanted if (row[1], row[2]) not in mine]
        stale.unlink()
        Identity._claim(rows)
        self.env["omnichannel.identity"].invalidate_model()

    @api.model
    def _omni_backfill_identities(self, batch_size=20000):
        """Create field identities for every partner, in batches of plain SQL.

        Runs at install on databases that already hold customers; partners created
        afterwards are kept in step by create()/write().
        """
        cr = self.env.cr
        self.env.flush_all()
        cr.execute(
            """SELECT c.id, UPPER(pc.code) FROM res_company c
                 JOIN res_partner p ON p.id = c.partner_id
            LEFT JOIN res_country pc ON pc.id = p.country_id"""
        )
        company_region = dict(cr.fetchall())
        default_region = self.env.company.country_id.code
        cr.execute("SELECT id, UPPER(code) FROM res_country")
        country_code = dict(cr.fetchall())
        last_id, total = 0, 0
        while True:
            cr.execute(
                """SELECT id, company_id, country_id, phone, mobile, email FROM res_partner
                    WHERE id > %s AND (phone IS NOT NULL OR mobile IS NOT NULL OR email IS NOT NULL)
                 ORDER BY id LIMIT %s""",
                [last_id, batch_size],
            )
            partners = cr.fetchall()
            if not partners:
                break
            rows = []
            for partner_id, company_id, country_id, phone, mobile, email in partners:
                region = country_code.get(country_id) or company_region.get(company_id) or default_region
                rows += self._omni_field_identity_rows(
                    partner_id, company_id, region, [("phone", phone), ("mobile", mobile), ("email", email)]
                )
            for start in range(0, len(rows), 1000):
                total += len(self.env["omnichannel.identity"]._claim(rows[start : start + 1000]))
            last_id = partners[-1][0]
        _logger.info("omnichannel: indexed %s phone and email identities of existing partners", total)
        return total
