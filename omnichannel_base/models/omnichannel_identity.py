import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.identifiers import normalize_email, normalize_phone

_logger = logging.getLogger(__name__)


class OmnichannelIdentity(models.Model):
    """A way to recognise a customer: a phone in E.164, an email, or a provider's user id.

    (kind, value, company) is unique, so one identifier always leads to one partner.
    """

    _name = "omnichannel.identity"
    _description = "Customer Identity"
    _order = "partner_id, kind, value"
    _rec_name = "value"

    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="cascade")
    kind = fields.Selection(
        [("phone", "Phone"), ("email", "Email"), ("external", "Provider ID")],
        required=True,
        help="Provider IDs are stored as '<channel type>:<id>', e.g. 'telegram:123456'.",
    )
    value = fields.Char(required=True)
    company_id = fields.Many2one("res.company", index=True, help="Empty when the partner is shared between companies.")
    origin = fields.Selection(
        [("field", "Partner field"), ("channel", "Seen on a channel"), ("manual", "Added by hand")],
        required=True,
        default="manual",
        help="Identities from partner fields follow the partner's phone, mobile and email.",
    )
    channel_id = fields.Many2one(
        "omnichannel.channel", string="First Seen On", ondelete="set null", index="btree_not_null"
    )

    def init(self):
        # COALESCE: shared partners (no company) must be unique too.
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS omnichannel_identity_kind_value_company_uniq
               ON omnichannel_identity (value, kind, COALESCE(company_id, 0))"""
        )

    @api.model
    def _normalize(self, kind, value, region=None):
        """Canonical form of ``value``; raise ValueError when it cannot be one."""
        if kind == "phone":
            return normalize_phone(value, region)
        if kind == "email":
            return normalize_email(value)
        value = (value or "").strip()
        if ":" not in value or not value.split(":", 1)[1]:
            raise ValueError(f"{value!r} is not '<channel type>:<id>'")
        return value

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("value") and vals.get("kind"):
                vals["value"] = self._normalize_or_raise(vals["kind"], vals["value"], vals.get("partner_id"))
        return super().create(vals_list)

    def write(self, vals):
        if "value" in vals or "kind" in vals:
            for identity in self:
                kind = vals.get("kind", identity.kind)
                value = vals.get("value", identity.value)
                super(OmnichannelIdentity, identity).write(
                    dict(vals, value=self._normalize_or_raise(kind, value, identity.partner_id.id))
                )
            return True
        return super().write(vals)

    def _normalize_or_raise(self, kind, value, partner_id):
        partner = self.env["res.partner"].browse(partner_id)
        try:
            return self._normalize(kind, value, partner._omni_phone_region())
        except ValueError as exc:
            raise ValidationError(_("Invalid %(kind)s identity: %(reason)s", kind=kind, reason=exc)) from None

    @api.model
    def _lookup(self, pairs, company):
        """Map each (kind, value) of ``pairs`` to its identity visible to ``company``.

        One indexed query; an identity of ``company`` wins over a shared one.
        """
        if not pairs:
            return {}
        self.env["omnichannel.identity"].flush_model()
        pairs = list(pairs)
        self.env.cr.execute(
            """SELECT i.kind, i.value, i.id, i.partner_id, i.company_id
                 FROM omnichannel_identity i
                 JOIN unnest(%s::varchar[], %s::varchar[]) AS k(value, kind)
                   ON i.value = k.value AND i.kind = k.kind
                WHERE i.company_id IS NULL OR i.company_id = %s""",
            [[value for _kind, value in pairs], [kind for kind, _value in pairs], company.id],
        )
        found = {}
        for kind, value, identity_id, partner_id, company_id in self.env.cr.fetchall():
            if company_id or (kind, value) not in found:
                found[(kind, value)] = (identity_id, partner_id)
        return found

    @api.model
    def _claim(self, rows):
        """Insert identities ``rows`` = [(partner_id, kind, value, company_id, origin, channel_id)].

        A row another transaction committed meanwhile makes PostgreSQL raise a
        serialization failure (REPEATABLE READ + ON CONFLICT), so the caller's request,
        cron or job is retried and then finds that identity: never two partners for one
        identifier. Rows already visible to us are skipped.
        """
        if not rows:
            return []
        self.env["omnichannel.identity"].flush_model()
        stamp = (self.env.uid, self.env.uid, fields.Datetime.now(), fields.Datetime.now())
        self.env.cr.execute(
            f"""INSERT INTO omnichannel_identity
                    (partner_id, kind, value, company_id, origin, channel_id,
                     create_uid, write_uid, create_date, write_date)
                VALUES {", ".join(["%s"] * len(rows))}
                ON CONFLICT DO NOTHING RETURNING id""",
            [(*row, *stamp) for row in rows],
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        self.env["res.partner"].invalidate_model(["omni_identity_ids"])
        return ids
