import phonenumbers

from odoo import api, fields, models


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
    def _omni_user_of_extension(self, channel, extension):
        """The internal user of ``channel``'s company reached at ``extension`` (as the phone system
        names it: "1001", "+34910000123", "client:ana", "sip:1001@pbx"), or an empty recordset."""
        extension = (extension or "").strip()
        if not extension:
            return self.browse()
        candidates = {extension}
        bare = extension.removeprefix("sip:").removeprefix("tel:").split("@", 1)[0]
        candidates.add(bare)
        e164 = self._omni_e164(bare, channel.country_id.code)
        users = self.sudo().search(
            [("share", "=", False), ("omni_extension", "!=", False), ("company_ids", "in", channel.company_id.ids)]
        )
        for user in users:
            ext = user.omni_extension.strip()
            if ext in candidates or (e164 and self._omni_e164(ext, channel.country_id.code) == e164):
                return user
        return self.browse()

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
