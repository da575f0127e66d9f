import phonenumbers

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class ResUsers(models.Model):
    _inherit = "res.users"

    omni_extension = fields.Char(
        string="Phone Extension",
        help="How the phone system reaches this agent: their Asterisk extension (1001), or for Twilio a number "
        "in international format (+34 910 000 123) or a Twilio Client identity (client:ana). Calls that ring "
        "here pop up on their screen; their click-to-dial calls ring here first.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["omni_extension"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["omni_extension"]

    @api.model
    def _omni_extension_key(self, extension, region):
        """What makes two extensions the same phone: E.164 for numbers, else the bare extension
        ("sip:1001@pbx" is 1001), case-insensitively ("client:Ana" is "client:ana")."""
        extension = (extension or "").strip()
        bare = extension.removeprefix("sip:").removeprefix("tel:").split("@", 1)[0]
        return self._omni_e164(bare, region) or bare.casefold()

    @api.constrains("omni_extension", "company_ids")
    def _check_omni_extension_unique(self):
        """One phone, one agent: calls ringing there pop up on their screen and are theirs."""
        for user in self.filtered("omni_extension"):
            for company in user.company_ids:
                key = self._omni_extension_key(user.omni_extension, company.country_id.code)
                others = self.sudo().search(
                    [
                        ("id", "!=", user.id),
                        ("share", "=", False),
                        ("omni_extension", "!=", False),
                        ("company_ids", "in", company.ids),
                    ]
                )
                clash = others.filtered(
                    lambda other, key=key, company=company: (
                        self._omni_extension_key(other.omni_extension, company.country_id.code) == key
                    )
                )
                if clash:
                    raise ValidationError(
                        _(
                            "The phone extension %(extension)s is already %(user)s's in %(company)s.",
                            extension=user.omni_extension,
                            user=clash[0].name,
                            company=company.name,
                        )
                    )

    @api.model
    def _omni_user_of_extension(self, channel, extension):
        """The agent of ``channel``'s company reached at ``extension`` (as the phone system names
        it: "1001", "+34910000123", "client:ana", "sip:1001@pbx"), or an empty recordset. Only
        Omnichannel users: the screen pop shows the caller, and the call becomes theirs."""
        if not (extension or "").strip():
            return self.browse()
        region = channel.country_id.code
        key = self._omni_extension_key(extension, region)
        users = self.sudo().search(
            [
                ("share", "=", False),
                ("omni_extension", "!=", False),
                ("company_ids", "in", channel.company_id.ids),
                ("groups_id", "in", self.env.ref("omnichannel_base.group_omnichannel_user").id),
            ]
        )
        return next(
            (user for user in users if self._omni_extension_key(user.omni_extension, region) == key), self.browse()
        )

    @api.model
    def _omni_e164(self, number, region):
        if not number or not any(ch.isdigit() for ch in number) or number.startswith("client:"):
            return None
        digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
        if len(digits.lstrip("+")) < 6:  # an extension, not a phone number
            return None
        try:
            parsed = phonenumbers.parse(number, region or None)
        except phonenumbers.NumberParseException:
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
