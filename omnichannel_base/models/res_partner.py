import logging
from collections import defaultdict

from odoo import api, fields, models
from odoo.tools.sql import create_index

_logger = logging.getLogger(__name__)

IDENTITY_FIELDS = {"phone": "phone", "mobile": "phone", "email": "email"}


class ResPartner(models.Model):
    _inherit = "res.partner"

    omni_identity_ids = fields.One2many("omnichannel.identity", "partner_id", string="Identities")
    omni_interaction_ids = fields.One2many("omnichannel.interaction", "partner_id", string="Interactions")
    omni_conversation_ids = fields.One2many("omnichannel.conversation", "partner_id", string="Conversations")
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
    omni_interaction_count = fields.Integer(
        string="Interaction Count", compute="_compute_omni_counts", groups="omnichannel_base.group_omnichannel_user"
    )
    omni_conversation_count = fields.Integer(
        string="Conversation Count", compute="_compute_omni_counts", groups="omnichannel_base.group_omnichannel_user"
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
        for field, model in (
            ("omni_interaction_count", "omnichannel.interaction"),
            ("omni_conversation_count", "omnichannel.conversation"),
        ):
            Model = self.env[model]
            by_commercial = dict(
                Model._read_group([("commercial_partner_id", "in", self.ids)], ["commercial_partner_id"], ["__count"])
            )
            by_partner = dict(Model._read_group([("partner_id", "in", self.ids)], ["partner_id"], ["__count"]))
            for partner in self:
                counts = by_commercial if partner.commercial_partner_id == partner else by_partner
                partner[field] = counts.get(partner, 0)

    def action_omni_view_conversations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_base.action_omnichannel_inbox")
        action["domain"] = (
            [("commercial_partner_id", "=", self.commercial_partner_id.id)]
            if self.is_company
            else [("partner_id", "=", self.id)]
        )
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_omni_view_interactions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("omnichannel_base.action_omnichannel_interaction")
        action["domain"] = (
            [("commercial_partner_id", "=", self.commercial_partner_id.id)]
            if self.is_company
            else [("partner_id", "=", self.id)]
        )
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
        if set(IDENTITY_FIELDS) & set(vals) or "country_id" in vals or "company_id" in vals:
            self._omni_sync_field_identities()
        return res

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
