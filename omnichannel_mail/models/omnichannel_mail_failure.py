import base64
import email
import email.policy
import logging
from datetime import timedelta, timezone
from email.utils import parsedate_to_datetime

from odoo import api, fields, models

_logger = logging.getLogger(__name__)
KEEP_IMPORTED_DAYS = 30  # long enough for any mailbox to be fetched again and the copy marked read


class OmnichannelMailFailure(models.Model):
    """A mail fetched from a mailbox that Odoo could not import, kept with the reason.

    The mailbox keeps it as well (unread on IMAP, not deleted on POP), so every fetch
    tries it again. The copy kept here is for the mail that is gone from the mailbox
    meanwhile (read or deleted in another mail client), and for a manager to replay once
    its cause is fixed. Whichever imports it first marks it imported; the other then
    imports nothing.
    """

    _name = "omnichannel.mail.failure"
    _description = "Mail Not Imported"
    _order = "state, last_failure_date desc, id desc"
    _rec_name = "subject"

    server_id = fields.Many2one(
        "fetchmail.server",
        string="Mailbox",
        required=True,
        readonly=True,
        index=True,
        # Deleting a mailbox would lose the mail it still owes: replay or delete the mail first.
        ondelete="restrict",
    )
    channel_id = fields.Many2one(related="server_id.omnichannel_channel_id", store=True, index="btree_not_null")
    company_id = fields.Many2one(related="channel_id.company_id", store=True)
    message_id = fields.Char(string="Message-Id", readonly=True)
    email_from = fields.Char(string="From", readonly=True)
    subject = fields.Char(readonly=True)
    date = fields.Datetime(string="Sent On", readonly=True)
    raw = fields.Binary(string="Original Mail", attachment=True, required=True, readonly=True)
    raw_filename = fields.Char(string="File Name", compute="_compute_raw_filename")
    digest = fields.Char(required=True, readonly=True, index=True, help="SHA-256 of the original mail.")
    reason = fields.Text(readonly=True)
    failure_count = fields.Integer(string="Failures", default=1, readonly=True)
    last_failure_date = fields.Datetime(string="Last Failure", default=fields.Datetime.now, readonly=True)
    state = fields.Selection(
        [("failed", "Not Imported"), ("imported", "Imported")],
        default="failed",
        required=True,
        readonly=True,
        index=True,
    )
    import_date = fields.Datetime(string="Imported On", readonly=True)

    _sql_constraints = [("digest_unique", "UNIQUE(digest)", "This mail is kept already.")]

    @api.autovacuum
    def _gc_imported(self):
        """Forget mail imported long ago: its mailbox copy has been fetched and marked read since."""
        limit = fields.Datetime.now() - timedelta(days=KEEP_IMPORTED_DAYS)
        self.search([("state", "=", "imported"), ("import_date", "<", limit)]).unlink()

    def _compute_raw_filename(self):
        for failure in self:
            failure.raw_filename = f"mail-{failure.id or 'new'}.eml"

    @api.model
    def _keep(self, server, raw, digest, reason):
        """Keep ``raw`` (bytes fetched from ``server``) as not imported, for ``reason``."""
        failure = self.search([("digest", "=", digest)])
        if failure:
            failure.write(
                {
                    "state": "failed",
                    "reason": reason,
                    "failure_count": failure.failure_count + 1,
                    "last_failure_date": fields.Datetime.now(),
                }
            )
            return failure
        return self.create(
            {
                "server_id": server.id,
                "raw": base64.b64encode(raw),
                "digest": digest,
                "reason": reason,
                **self._header_values(raw),
            }
        )

    @api.model
    def _header_values(self, raw):
        """What the list shows of a mail: whatever of its headers can be read."""
        values = {}
        try:
            headers = email.message_from_bytes(raw, policy=email.policy.default)
            for field, header, size in (
                ("message_id", "Message-Id", 998),
                ("email_from", "From", 998),
                ("subject", "Subject", 998),
            ):
                if headers.get(header):
                    values[field] = str(headers[header]).strip()[:size]
            if headers.get("Date"):
                date = parsedate_to_datetime(str(headers["Date"]))
                if date.tzinfo:
                    date = date.astimezone(timezone.utc).replace(tzinfo=None)
                values["date"] = date
        except Exception:  # noqa: BLE001 - a mail that cannot be read is kept all the same
            _logger.info("omnichannel: headers of a mail not imported are unreadable", exc_info=True)
        return values

    def action_replay(self):
        """Import these mails again from their kept copy, through their mailbox's settings.

        Whoever may see a kept mail (managers of its channel's company) may replay it; nobody
        but the system changes it, so a kept copy is imported as it arrived, into its mailbox."""
        self.check_access("read")
        imported = still_failing = 0
        for failure in self.sudo().filtered(lambda f: f.state == "failed"):
            raw = base64.b64decode(failure.with_context(bin_size=False).raw)
            if failure.server_id._omni_import_mail(raw):
                imported += 1
            else:
                still_failing += 1
        if still_failing:
            message = self.env._(
                "%(imported)s mail(s) imported; %(failed)s still not imported: see the reason.",
                imported=imported,
                failed=still_failing,
            )
        else:
            message = self.env._("%(imported)s mail(s) imported.", imported=imported)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": "warning" if still_failing else "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
