import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..tools.identifiers import normalize_email, normalize_phone

_logger = logging.getLogger(__name__)


class OmnichannelIdentity(models.Model):
    """A way to recognise a customer: a phone in E.164, an email, or a provider's user id.

    (kind, value, company) is unique, so one identifier leads to one partner in each
    company; the company is always the partner's (empty for partners shared between
    companies), so a company's channels find what the company may see.
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
    company_id = fields.Many2one(
        "res.company",
        index=True,
        readonly=True,
        help="Always its contact's company; empty when the contact is shared between companies.",
    )
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
        company_of = self._partner_companies(vals.get("partner_id") for vals in vals_list)
        for vals in vals_list:
            # An identity belongs where its contact does, whatever the caller says.
            vals["company_id"] = company_of.get(vals.get("partner_id"))
            if vals.get("value") and vals.get("kind"):
                vals["value"] = self._normalize_or_raise(vals["kind"], vals["value"], vals.get("partner_id"))
        self._check_free(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        vals = dict(vals)
        vals.pop("company_id", None)
        if "partner_id" in vals:
            self._check_can_repoint(vals["partner_id"])
            vals["company_id"] = self._partner_companies([vals["partner_id"]]).get(vals["partner_id"])
        if {"value", "kind", "partner_id"} & set(vals):
            for identity in self:
                kind = vals.get("kind", identity.kind)
                partner_id = vals.get("partner_id", identity.partner_id.id)
                own = dict(vals, value=self._normalize_or_raise(kind, vals.get("value", identity.value), partner_id))
                identity._check_free([dict(own, kind=kind, company_id=own.get("company_id", identity.company_id.id))])
                super(OmnichannelIdentity, identity).write(own)
            return True
        return super().write(vals)

    def _check_can_repoint(self, partner_id):
        """Only managers move an identifier to another contact: an agent doing so would
        silently send a customer's next messages to someone else's history."""
        if self.env.su or self.env.user.has_group("omnichannel_base.group_omnichannel_manager"):
            return
        if any(identity.partner_id.id != partner_id for identity in self):
            raise AccessError(
                _("Only Omnichannel managers may move an identity to another contact; merge the contacts instead.")
            )

    def _check_free(self, vals_list):
        """Refuse, with the contact that holds it, an identifier already taken in that company."""
        for vals in vals_list:
            if not vals.get("value") or not vals.get("kind"):
                continue
            taken = self.sudo().search(
                [
                    ("kind", "=", vals["kind"]),
                    ("value", "=", vals["value"]),
                    ("company_id", "=", vals.get("company_id") or False),
                    ("id", "not in", self.ids),
                ],
                limit=1,
            )
            if taken:
                raise ValidationError(
                    _(
                        "%(value)s already identifies %(partner)s; merge the two contacts if they are one person.",
                        value=vals["value"],
                        partner=taken.partner_id.display_name,
                    )
                )

    @api.model
    def _partner_companies(self, partner_ids):
        """{partner id: company id or None}, read past record rules."""
        partners = self.env["res.partner"].sudo().browse({pid for pid in partner_ids if pid})
        return {partner.id: partner.company_id.id or None for partner in partners}

    def _normalize_or_raise(self, kind, value, partner_id):
        partner = self.env["res.partner"].browse(partner_id)
        try:
            return self._normalize(kind, value, partner._omni_phone_region())
        except ValueError as exc:
            raise ValidationError(_("Invalid %(kind)s identity: %(reason)s", kind=kind, reason=exc)) from None

    @api.model
    def _lookup(self, pairs, company):
        """Map each (kind, value) of ``pairs`` to its identity visible to ``company``.

        ``company`` sees what its users may see of contacts (Odoo's partner rule): shared
        ones and those of the company or of its parent companies, never another company's,
        checked on the contact itself too. One indexed query; the identity of the nearest
        company wins over its parent's, which wins over a shared one.
        """
        if not pairs:
            return {}
        self.env["omnichannel.identity"].flush_model()
        self.env["res.partner"].flush_model(["company_id"])
        self.env["res.company"].flush_model(["parent_path"])
        pairs = list(pairs)
        # scope: the company and its parents, ranked from the root (1) to the company itself.
        self.env.cr.execute(
            """WITH scope AS (
                   SELECT t.company_id::int AS company_id, t.rank
                     FROM res_company c,
                          unnest(string_to_array(rtrim(c.parent_path, '/'), '/')) WITH ORDINALITY AS t(company_id, rank)
                    WHERE c.id = %s)
               SELECT DISTINCT ON (i.kind, i.value) i.kind, i.value, i.id, i.partner_id
                 FROM omnichannel_identity i
                 JOIN unnest(%s::varchar[], %s::varchar[]) AS k(value, kind)
                   ON i.value = k.value AND i.kind = k.kind
                 JOIN res_partner p ON p.id = i.partner_id
            LEFT JOIN scope s ON s.company_id = i.company_id
                WHERE (i.company_id IS NULL OR s.company_id IS NOT NULL)
                  AND (p.company_id IS NULL OR p.company_id IN (SELECT company_id FROM scope))
             ORDER BY i.kind, i.value, COALESCE(s.rank, 0) DESC""",
            [company.id, [value for _kind, value in pairs], [kind for kind, _value in pairs]],
        )
        return {
            (kind, value): (identity_id, partner_id) for kind, value, identity_id, partner_id in self.env.cr.fetchall()
        }

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

    # ------------------------------------------------------------ following contacts
    @api.model
    def _follow_partner_company(self, partners):
        """Give the identities of ``partners`` their contact's current company.

        One identifier leads to one contact per company: where the new company already
        gives an identity's identifier to another contact, that one stays and the moving
        identity is deleted (among moving ones, the oldest wins), as when two contacts
        share a phone field only one is indexed. A contact changing company therefore
        never fails on the unique index, whoever writes it. Returns the deleted ids.
        """
        self.env["res.partner"].flush_model(["company_id"])
        self.flush_model()
        cr = self.env.cr
        cr.execute(
            """SELECT i.id, i.value, i.kind, COALESCE(p.company_id, 0)
                 FROM omnichannel_identity i
                 JOIN res_partner p ON p.id = i.partner_id
                WHERE p.id = ANY(%s) AND i.company_id IS DISTINCT FROM p.company_id
             ORDER BY i.id""",
            [partners.ids],
        )
        moving = {identity_id: (value, kind, company_id) for identity_id, value, kind, company_id in cr.fetchall()}
        if not moving:
            return []
        keys = list(moving.values())
        cr.execute(
            """SELECT i.value, i.kind, COALESCE(i.company_id, 0)
                 FROM omnichannel_identity i
                 JOIN unnest(%s::varchar[], %s::varchar[], %s::int[]) AS k(value, kind, company_id)
                   ON i.value = k.value AND i.kind = k.kind AND COALESCE(i.company_id, 0) = k.company_id
                WHERE i.id != ALL(%s)""",
            [[key[0] for key in keys], [key[1] for key in keys], [key[2] for key in keys], list(moving)],
        )
        taken = set(cr.fetchall())
        dropped, kept = [], []
        for identity_id, key in moving.items():
            if key in taken:
                dropped.append(identity_id)
            else:
                taken.add(key)
                kept.append(identity_id)
        if dropped:
            _logger.info("omnichannel: identities %s dropped, their identifiers belong to other contacts", dropped)
            cr.execute("DELETE FROM omnichannel_identity WHERE id = ANY(%s)", [dropped])
        if kept:
            cr.execute(
                """UPDATE omnichannel_identity i
                      SET company_id = NULLIF(m.company_id, 0), write_uid = %s, write_date = %s
                     FROM unnest(%s::int[], %s::int[]) AS m(id, company_id)
                    WHERE i.id = m.id""",
                [self.env.uid, fields.Datetime.now(), kept, [moving[identity_id][2] for identity_id in kept]],
            )
        self.invalidate_model()
        self.env["res.partner"].invalidate_model(["omni_identity_ids"])
        return dropped
