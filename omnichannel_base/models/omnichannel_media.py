import base64
import logging
import time

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..tools.jobs import MAX_ATTEMPTS, auto_commit, cron_budget, next_attempt, trigger
from ..tools.provider import ProviderError
from ..tools.retry import is_concurrency_error

_logger = logging.getLogger(__name__)

CRON = "omnichannel_base.ir_cron_omnichannel_media"
TIME_BUDGET = 50  # seconds per cron run at most (see jobs.cron_budget)


class OmnichannelMedia(models.Model):
    """Files a customer sent, to download from the provider in the background; also the
    profiles (name, picture) of contacts whose first message came without a name.

    The message is on the timeline and in the chatter at once; its file follows, attached
    to the same chatter message, when the provider hands it over. Downloads are retried with
    backoff; one that keeps failing says so in the chatter.
    """

    _name = "omnichannel.media"
    _description = "Media to Download"
    _order = "id"

    interaction_id = fields.Many2one("omnichannel.interaction", required=True, ondelete="cascade", readonly=True)
    kind = fields.Selection(
        [("file", "File"), ("profile", "Profile")],
        default="file",
        required=True,
        readonly=True,
        help="A file the customer sent, or the public profile (name, picture) of a new contact.",
    )
    ref = fields.Char(required=True, readonly=True, help="The provider's id or URL of the file, or the customer's id.")
    name = fields.Char(readonly=True)
    mimetype = fields.Char(readonly=True)
    state = fields.Selection(
        [("pending", "To Download"), ("done", "Downloaded"), ("failed", "Failed")], default="pending", readonly=True
    )
    attempts = fields.Integer(readonly=True)
    next_attempt = fields.Datetime(readonly=True, default=fields.Datetime.now)
    error = fields.Char(readonly=True)
    attachment_id = fields.Many2one("ir.attachment", readonly=True)

    _sql_constraints = [("ref_unique", "UNIQUE(interaction_id, ref)", "This file is already queued.")]

    @api.model
    def _enqueue(self, items):
        """Queue [(interaction, {ref, name, mimetype, kind})]; a redelivered message queues nothing.
        Due at once: ``next_attempt`` in whole seconds, as ``fields.Datetime.now()`` compares it."""
        self.env.cr.execute(
            """INSERT INTO omnichannel_media (interaction_id, ref, name, mimetype, kind, state, attempts,
                                              next_attempt, create_uid, write_uid, create_date, write_date)
               SELECT u.*, 'pending', 0, date_trunc('second', now() AT TIME ZONE 'UTC'), %s, %s,
                      now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
                 FROM unnest(%s::int[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[]) AS u
               ON CONFLICT DO NOTHING""",
            [
                self.env.uid,
                self.env.uid,
                [interaction.id for interaction, _file in items],
                [str(file["ref"]) for _interaction, file in items],
                [file.get("name") for _interaction, file in items],
                [file.get("mimetype") for _interaction, file in items],
                [file.get("kind") or "file" for _interaction, file in items],
            ],
        )
        if self.env.cr.rowcount:
            trigger(self.env, CRON)

    @api.model
    def _cron_download(self, limit=50, time_budget=None):
        """Download due files one by one, each committed, for at most ``jobs.cron_budget`` seconds."""
        budget = time_budget if time_budget is not None else cron_budget(TIME_BUDGET)
        started, done = time.monotonic(), 0
        self.flush_model()
        self.env.cr.execute(
            """SELECT id FROM omnichannel_media WHERE state = 'pending' AND next_attempt <= %s
                ORDER BY id LIMIT %s""",
            [fields.Datetime.now(), limit],
        )
        for (media_id,) in self.env.cr.fetchall():
            if time.monotonic() - started >= budget:
                break
            media = self.browse(media_id)
            if media.state == "pending":
                media._download()
                done += 1
            auto_commit(self.env)
        remaining = self.search_count([("state", "=", "pending"), ("next_attempt", "<=", fields.Datetime.now())])
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return done

    def _download(self):
        interaction = self.interaction_id
        channel = interaction.channel_id
        try:
            if self.kind == "profile":
                self._apply_profile(channel._provider()._fetch_profile(channel, self.ref))
                return
            name, mimetype, content = channel._provider()._download_media(channel, self.ref)
        except Exception as exc:
            if is_concurrency_error(exc):
                raise
            if not isinstance(exc, ProviderError):  # an answer we did not expect: retried, then failed
                _logger.warning("Media %s of interaction %s: %r", self.ref, interaction.id, exc, exc_info=True)
                exc = ProviderError(f"{exc.__class__.__name__}: {exc}", transient=True)
            attempts = self.attempts + 1
            if exc.transient and attempts < MAX_ATTEMPTS:
                self.write(
                    {"attempts": attempts, "error": str(exc), "next_attempt": next_attempt(attempts, exc.retry_after)}
                )
            else:
                self.write({"attempts": attempts, "error": str(exc), "state": "failed"})
                self._say_failed()
            return
        message = interaction.mail_message_id
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": self.name or name,
                    "mimetype": self.mimetype or mimetype,
                    "raw": content,
                    "res_model": message.model or "omnichannel.interaction",
                    "res_id": message.res_id or interaction.id,
                }
            )
        )
        if message:
            message.sudo().attachment_ids = [fields.Command.link(attachment.id)]
        self.write({"state": "done", "error": False, "attachment_id": attachment.id})

    def _apply_profile(self, profile):
        """Name the contact from their profile, unless someone named them meanwhile; add their picture."""
        partner = self.interaction_id.partner_id.sudo()
        values = {}
        if profile.get("name") and partner.name == self.ref:
            values["name"] = profile["name"][:128]
        if profile.get("image") and not partner.image_1920:
            values["image_1920"] = base64.b64encode(profile["image"])
        if values:
            try:
                with self.env.cr.savepoint():
                    partner.write(values)
            except (ValueError, UserError):  # a picture Odoo cannot read: the name is what matters
                values.pop("image_1920", None)
                if values:
                    partner.write(values)
        self.write({"state": "done", "error": False})

    def _say_failed(self):
        if self.kind == "profile":
            return  # the contact keeps their id as name: nothing the agent must act on
        conversation = self.interaction_id.conversation_id
        if conversation:
            conversation.message_post(
                body=_(
                    "The file %(name)s the customer sent could not be downloaded from %(channel)s: %(error)s",
                    name=self.name or self.ref,
                    channel=self.interaction_id.channel_id.name,
                    error=self.error,
                ),
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )

    @api.autovacuum
    def _gc_done(self):
        self.env.cr.execute(
            """DELETE FROM omnichannel_media
                WHERE state = 'done' AND write_date < now() AT TIME ZONE 'UTC' - interval '30 days'"""
        )
