import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError

VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


class OmnichannelWhatsappTemplate(models.Model):
    """A message template approved (or not yet) by Meta, synchronised from the Graph API.

    Templates are what a business may send outside the 24-hour window. Their body has
    numbered variables ({{1}}, {{2}}…); each is filled from the conversation when sending,
    following ``variable_fields`` (one field path per line, such as ``partner_id.name``).
    """

    _name = "omnichannel.whatsapp.template"
    _description = "WhatsApp Template"
    _order = "name, language"

    name = fields.Char(required=True, readonly=True)
    language = fields.Char(required=True, readonly=True, help="Meta's language code, such as es or en_US.")
    channel_id = fields.Many2one("omnichannel.channel", required=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="channel_id.company_id", store=True)
    category = fields.Selection(
        [("MARKETING", "Marketing"), ("UTILITY", "Utility"), ("AUTHENTICATION", "Authentication")], readonly=True
    )
    status = fields.Selection(
        [
            ("APPROVED", "Approved"),
            ("PENDING", "Pending"),
            ("REJECTED", "Rejected"),
            ("PAUSED", "Paused"),
            ("DISABLED", "Disabled"),
            ("IN_APPEAL", "In Appeal"),
            ("PENDING_DELETION", "Pending Deletion"),
            ("DELETED", "Deleted"),
            ("LIMIT_EXCEEDED", "Limit Exceeded"),
        ],
        readonly=True,
    )
    meta_id = fields.Char(string="Meta ID", readonly=True)
    components = fields.Json(readonly=True)
    body = fields.Text(compute="_compute_body", store=True, help="The template's text, with its {{n}} variables.")
    variable_count = fields.Integer(compute="_compute_body", store=True)
    variable_fields = fields.Text(
        string="Variables",
        help="One line per variable, in order: the conversation's field that fills it, "
        "e.g. partner_id.name for {{1}}. Leave a line empty to type the value when sending.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("name_language_unique", "UNIQUE(channel_id, name, language)", "A template exists once per language."),
    ]

    @api.depends("components")
    def _compute_body(self):
        for template in self:
            body = next(
                (c.get("text") or "" for c in template.components or [] if (c.get("type") or "").upper() == "BODY"),
                "",
            )
            template.body = body
            template.variable_count = max((int(n) for n in VARIABLE.findall(body)), default=0)

    @api.depends("name", "language")
    def _compute_display_name(self):
        for template in self:
            template.display_name = f"{template.name} ({template.language})"

    @api.model
    def _sync(self, channel, found):
        """Mirror Meta's list for ``channel``: returns {"new": n, "archived": n}."""
        existing = {
            (t.name, t.language): t
            for t in self.with_context(active_test=False).search([("channel_id", "=", channel.id)])
        }
        new, seen = [], set()
        for item in found:
            key = (item.get("name"), item.get("language"))
            if not all(key):
                continue
            seen.add(key)
            values = {
                "category": item.get("category")
                if item.get("category") in dict(self._fields["category"].selection)
                else False,
                "status": item.get("status") if item.get("status") in dict(self._fields["status"].selection) else False,
                "meta_id": item.get("id"),
                "components": item.get("components") or [],
                "active": True,
            }
            if key in existing:
                existing[key].write(values)
            else:
                new.append(dict(values, name=key[0], language=key[1], channel_id=channel.id))
        created = self.create(new)
        for template in created:
            template.variable_fields = (
                "\n".join(["partner_id.name"] + [""] * (template.variable_count - 1))
                if template.variable_count
                else False
            )
        gone = [template for key, template in existing.items() if key not in seen and template.active]
        for template in gone:
            template.active = False
        return {"new": len(created), "archived": len(gone)}

    def _values_for(self, conversation):
        """The variables' values read from ``conversation`` with the agent's rights ("" when a line is empty)."""
        self.ensure_one()
        lines = (self.variable_fields or "").splitlines()
        values = []
        for index in range(self.variable_count):
            path = lines[index].strip() if index < len(lines) else ""
            value = ""
            if path:
                record = conversation
                for name in path.split("."):
                    if name not in record._fields:
                        raise UserError(
                            _(
                                "The template %(template)s names an unknown field: %(path)s",
                                template=self.name,
                                path=path,
                            )
                        )
                    record = record[name]
                value = record.display_name if isinstance(record, models.BaseModel) else record
            values.append("" if value in (False, None) else str(value))
        return values

    def _render(self, values):
        self.ensure_one()
        return VARIABLE.sub(
            lambda m: values[int(m.group(1)) - 1] if int(m.group(1)) <= len(values) else m.group(0), self.body or ""
        )

    def _payload(self, values):
        """The ``template`` object of Meta's send request."""
        self.ensure_one()
        template = {"name": self.name, "language": {"code": self.language}}
        if values:
            template["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": value} for value in values]}
            ]
        return template
