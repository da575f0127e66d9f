import hashlib
import logging
import poplib
from imaplib import IMAP4

from odoo import SUPERUSER_ID, _, fields, models, tools
from odoo.exceptions import ValidationError

from odoo.addons.mail.models.fetchmail import MAX_POP_MESSAGES
from odoo.addons.omnichannel_base.tools.retry import is_concurrency_error, retry_on_concurrency

_logger = logging.getLogger(__name__)


class FetchmailServer(models.Model):
    """Mailboxes fetched so that no mail is lost when the database is busy.

    Odoo's fetch marks a mail read (IMAP) before its import is committed, and drops it
    when the import fails, a serialization failure included: an agent saving the
    sender's contact at that moment was enough. Here, for IMAP and POP mailboxes:

    - each mail is imported in a transaction of its own, run again when PostgreSQL
      refuses it for concurrency (``retry_on_concurrency``);
    - it is marked read (IMAP) or deleted (POP) only once its import is committed;
    - a mail that still fails stays unread in the mailbox, so the next fetch tries it
      again, and is kept in Odoo with the reason (``omnichannel.mail.failure``), to replay.
    """

    _inherit = "fetchmail.server"

    omnichannel_channel_id = fields.Many2one(
        "omnichannel.channel",
        string="Omnichannel Channel",
        domain=[("channel_type", "=", "email")],
        ondelete="set null",
        help="Mail fetched from this mailbox opens or continues conversations on this email channel.",
    )

    def unlink(self):
        # Mail already imported is owed to nobody: only mail still not imported blocks the deletion.
        self.env["omnichannel.mail.failure"].sudo().search(
            [("server_id", "in", self.ids), ("state", "=", "imported")]
        ).unlink()
        return super().unlink()

    def fetch_mail(self, raise_exception=True):
        others = self.filtered(lambda server: server._get_connection_type() not in ("imap", "pop"))
        if others:
            super(FetchmailServer, others).fetch_mail(raise_exception=raise_exception)
        for server in self - others:
            server._omni_fetch(raise_exception)
        return True

    def _omni_fetch(self, raise_exception):
        self.ensure_one()
        _logger.info("start checking for new emails on %s server %s", self.server_type, self.name)
        self.env.cr.commit()  # a retried import rolls back to here: keep what came before
        try:
            if self._get_connection_type() == "imap":
                count, failed = self._omni_fetch_imap()
            else:
                count, failed = self._omni_fetch_pop()
            _logger.info(
                "Fetched %d email(s) on %s server %s; %d succeeded, %d failed.",
                count,
                self.server_type,
                self.name,
                count - failed,
                failed,
            )
        except Exception as error:
            if raise_exception:
                raise ValidationError(
                    _("Couldn't get your emails. Check out the error message below for more info:\n%s", error)
                ) from error
            _logger.info(
                "General failure when trying to fetch mail from %s server %s.",
                self.server_type,
                self.name,
                exc_info=True,
            )
        self.write({"date": fields.Datetime.now()})

    def _omni_fetch_imap(self):
        connection = self.connect()
        try:
            connection.select()
            _result, data = connection.search(None, "(UNSEEN)")
            count = failed = 0
            for num in data[0].split():
                # PEEK reads the mail without marking it read: only its committed import does.
                _result, data = connection.fetch(num, "(BODY.PEEK[])")
                if self._omni_import_mail(data[0][1]):
                    connection.store(num, "+FLAGS", "\\Seen")
                else:
                    failed += 1
                count += 1
            return count, failed
        finally:
            try:
                connection.close()
                connection.logout()
            except (OSError, IMAP4.error):
                _logger.warning("Failed to properly finish imap connection: %s.", self.name, exc_info=True)

    def _omni_fetch_pop(self):
        count = failed = 0
        while True:
            connection = self.connect()
            try:
                num_messages, _size = connection.stat()
                connection.list()
                batch = min(MAX_POP_MESSAGES, num_messages)
                failed_in_batch = 0
                for num in range(1, batch + 1):
                    _header, lines, _octets = connection.retr(num)
                    if self._omni_import_mail(b"\n".join(lines)):
                        connection.dele(num)
                    else:
                        failed_in_batch += 1
            finally:
                try:
                    connection.quit()  # the deletions take effect here
                except (OSError, poplib.error_proto):
                    _logger.warning("Failed to properly finish pop connection: %s.", self.name, exc_info=True)
            count, failed = count + batch, failed + failed_in_batch
            # Stop when (1) no more mail is left or (2) all of this batch failed, as Odoo does.
            if num_messages < MAX_POP_MESSAGES or failed_in_batch == batch:
                return count, failed

    def _omni_import_mail(self, raw):
        """Import the mail ``raw`` (bytes) in a transaction of its own; whether Odoo has it now.

        The import is committed, or rolled back and run again while the database is busy.
        A mail that still fails is kept, with the reason, in ``omnichannel.mail.failure``
        (committed too), and the caller leaves it in the mailbox.
        """
        self.ensure_one()
        digest = hashlib.sha256(raw).hexdigest()
        Failure = self.env["omnichannel.mail.failure"].sudo()
        # As the mail gateway's cron does, whoever fetches or replays: as anyone else, Odoo
        # would route the mail with a context cleaned of this mailbox (Environment.__call__).
        gateway = self.env["mail.thread"].with_user(SUPERUSER_ID)

        def import_mail():
            failure = Failure.search([("digest", "=", digest)])
            if failure.state == "imported":
                return  # replayed from its kept copy meanwhile: nothing to import twice
            gateway.with_context(fetchmail_cron_running=True, default_fetchmail_server_id=self.id).message_process(
                self.object_id.model, raw, save_original=self.original, strip_attachments=not self.attach
            )
            failure.write({"state": "imported", "import_date": fields.Datetime.now()})

        try:
            retry_on_concurrency(self.env, import_mail)
            return True
        except Exception as error:
            _logger.warning(
                "Failed to process mail from %s server %s; it stays in the mailbox and is kept in Odoo.",
                self.server_type,
                self.name,
                exc_info=True,
            )
            reason = tools.exception_to_unicode(error)
            if is_concurrency_error(error):
                reason = _("The database stayed busy, even after several attempts: %s", reason)
            retry_on_concurrency(self.env, lambda: Failure._keep(self, raw, digest, reason))
            return False
