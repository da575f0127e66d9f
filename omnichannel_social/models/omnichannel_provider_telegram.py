import hmac
import json
import mimetypes
import secrets

from odoo import _, api, fields, models
from odoo.http import request
from odoo.exceptions import AccessDenied, UserError
from odoo.tools import html2plaintext

from odoo.addons.omnichannel_base.models.omnichannel_provider import empty_parse
from odoo.addons.omnichannel_base.tools.provider import ProviderError

from ..tools.telegram import (
    CAPTION_LIMIT,
    DEFAULT_BASE_URL,
    GROUP_TYPES,
    PayloadError,
    TelegramClient,
    TelegramError,
    TelegramTimeout,
    parse_update,
    split_text,
    storable,
    update_id,
    utf16_len,
)

TELEGRAM_URL_PARAM = "omnichannel_social.telegram_url"
# Setting (seconds) replacing the wait for Telegram's answer, for slow networks and for tests.
READ_TIMEOUT_PARAM = "omnichannel_social.telegram_read_timeout"
TELEGRAM_TIMEOUT = (3.05, 10)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # larger pictures go as documents


def new_secret():
    """A secret_token Telegram accepts: 1-256 characters of A-Z, a-z, 0-9, _ and -."""
    return secrets.token_urlsafe(32)


class OmnichannelProviderTelegram(models.AbstractModel):
    """Telegram through the Bot API: a bot's webhook in, its messages out."""

    _name = "omnichannel.provider.telegram"
    _inherit = "omnichannel.provider"
    _description = "Telegram Bot API"
    _channel_types = ("telegram",)
    _uses_outbox = True
    _reply_window_hours = 0  # a bot may answer a user who wrote to it at any time

    @api.model
    def _client(self, channel):
        channel = channel.sudo()
        if not channel.tg_bot_token:
            raise ProviderError(_("The channel %(name)s has no bot token.", name=channel.name))
        timeout = self._timeouts(READ_TIMEOUT_PARAM, TELEGRAM_TIMEOUT)
        base_url = self.env["ir.config_parameter"].sudo().get_param(TELEGRAM_URL_PARAM) or DEFAULT_BASE_URL
        return TelegramClient(base_url, channel.tg_bot_token, timeout=timeout)

    @api.model
    def _call(self, channel, method, *args, **kwargs):
        """``TelegramClient.<method>`` for ``channel``, with Telegram's errors as ProviderError."""
        try:
            return getattr(self._client(channel), method)(*args, **kwargs)
        except TelegramError as exc:
            raise ProviderError(
                exc.description, code=exc.error_code, transient=exc.transient, retry_after=exc.retry_after
            ) from exc

    # ------------------------------------------------------------ webhooks
    @api.model
    def _verify_webhook(self, channel, httprequest):
        """Telegram sends the channel's ``secret_token`` (given to setWebhook) in a header: compared
        in constant time. A channel without a secret accepts nothing."""
        secret = channel.sudo().tg_secret_token
        if not secret:
            raise AccessDenied(_("The channel has no secret token: deliveries cannot be checked, so none is accepted."))
        given = httprequest.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode()):
            raise AccessDenied(_("X-Telegram-Bot-Api-Secret-Token is missing or is not the channel's secret."))

    @api.model
    def _delivery_key(self, channel, httprequest, body):
        """Telegram redelivers an update with the same ``update_id``: one per channel (each bot
        numbers its own updates)."""
        try:
            key = update_id(json.loads(body))
        except Exception:  # noqa: BLE001 (any odd body: the body's digest deduplicates it)
            return None
        return f"{channel.id}:{key}" if key is not None else None

    @api.model
    def _webhook_answer(self, channel, httprequest):
        """A button press is answered in the webhook's own answer, as the Bot API allows
        (``answerCallbackQuery`` as the response body): the customer's button stops spinning at
        once, with no call to Telegram from the background job."""
        try:
            query_id = json.loads(httprequest.get_data())["callback_query"]["id"]
        except Exception:  # noqa: BLE001 (any other update: the plain acknowledgement)
            query_id = None
        if isinstance(query_id, str) and 0 < len(query_id) <= 255 and query_id.isprintable():
            try:
                query_id.encode()
            except UnicodeEncodeError:  # a lone surrogate, escaped in the JSON: no id Telegram gave
                return super()._webhook_answer(channel, httprequest)
            return request.make_json_response({"method": "answerCallbackQuery", "callback_query_id": query_id})
        return super()._webhook_answer(channel, httprequest)

    @api.model
    def _parse_webhook(self, delivery):
        try:
            update = json.loads(delivery.payload)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python reads
            raise ValueError(_("The delivery is not JSON: %(error)s", error=exc)) from None
        try:
            items = parse_update(update)
        except PayloadError as exc:
            raise ValueError(_("This is not a Telegram update: %(error)s", error=exc)) from None
        channel = delivery.channel_id
        result = empty_parse()
        for item in items:
            if item["chat"]["type"] in GROUP_TYPES and not channel.tg_allow_groups:
                continue  # groups are ignored unless the channel takes them
            if item["chat"]["type"] not in ("private", *GROUP_TYPES):
                continue  # channels the bot posts in
            getattr(self, f"_read_{item['type']}")(item, channel, result)
        return result

    def _sender(self, item):
        """Who the conversation is with: the user in a private chat, the group itself in a group."""
        chat = item["chat"]
        if chat["type"] in GROUP_TYPES:
            return {"provider_id": chat["id"], "name": chat["title"]}
        return {"provider_id": chat["id"], "name": item["sender"]["name"] or chat["title"]}

    def _event(self, item, channel, body):
        body = body or ""
        if item["chat"]["type"] in GROUP_TYPES and item["sender"]["name"] and body:
            body = f"{item['sender']['name']}: {body}"  # who said it, in the group's conversation
        return {
            "channel_id": channel.id,
            "external_id": item["external_id"],
            "date": item["date"],
            "sender": self._sender(item),
            "kind": "message",
            "direction": "inbound",
            "body": body,
            "reply_to": item["reply_to"],
        }

    def _read_message(self, item, channel, result):
        event = self._event(item, channel, self._body(item))
        if item["start_payload"]:
            event["summary"] = _("Started the bot from a link: %(payload)s", payload=item["start_payload"])
        media = item["media"]
        if media:
            event["media"] = [{"ref": media["file_id"], "name": media["file_name"], "mimetype": media["mime_type"]}]
        result["events"].append(event)
        if item["own_phone"] and item["chat"]["type"] == "private":
            # The user shared their own account's number: it becomes one of the contact's identities.
            result["identity_changes"].append(
                {
                    "channel_id": channel.id,
                    "old": {"provider_id": item["chat"]["id"]},
                    "new": {"phone": item["own_phone"]},
                }
            )

    def _body(self, item):
        """What the chatter shows: the customer's words, or what they sent, in the agent's language."""
        body = item["body"]
        labels = {
            "photo": _("Photo"),
            "document": _("Document"),
            "voice": _("Voice message"),
            "audio": _("Audio"),
            "video": _("Video"),
            "video_note": _("Video message"),
            "animation": _("GIF"),
            "sticker": _("Sticker"),
        }
        if item["message_type"] in labels and not body:
            name = (item["media"] or {}).get("file_name") if item["message_type"] == "document" else None
            body = f"📎 {name or labels[item['message_type']]}"
        if item["forwarded"] and body:
            body = _("Forwarded: %(text)s", text=body)
        return body or _("Unsupported Telegram message (%(type)s)", type=item["message_type"] or "?")

    def _read_edit(self, item, channel, result):
        body = self._event(item, channel, self._body(item))["body"]
        if not storable(body):  # as ingest refuses such a message in the first place
            raise ValueError(
                _("The edited text holds a NUL character or an unpaired surrogate, which cannot be stored.")
            )
        result["edits"].append(
            {
                "channel_id": channel.id,
                "external_id": item["external_id"],
                "body": body,
                "date": item["date"],
                "removed": False,
            }
        )

    def _read_migrate(self, item, channel, result):
        """A group upgraded to a supergroup has a new id: it joins the group's contact, so the
        group's conversation goes on and answers reach the supergroup."""
        result["identity_changes"].append(
            {
                "channel_id": channel.id,
                "old": {"provider_id": item["chat"]["id"]},
                "new": {"provider_id": item["new_chat_id"]},
            }
        )

    def _read_callback(self, item, channel, result):
        """A button pressed on an inline keyboard: what it says arrives as the customer's message."""
        # Telegram dates no callback query: the event is dated when processed.
        result["events"].append(self._event(item, channel, item["body"] or _("Pressed a button")))

    def _read_member(self, item, channel, result):
        """The user blocked the bot (kicked it) or unblocked it; the bot left or joined a group."""
        status = item["status"]
        if status in ("kicked", "left"):
            opt = "out"
        elif status in ("member", "administrator", "creator"):
            opt = "in"
        else:
            return  # restricted and others: the bot can still write
        result["consents"].append(
            {
                "channel_id": channel.id,
                "sender": {"provider_id": item["chat"]["id"]},
                "opt": opt,
                "date": item["date"],
                "reason": _("Blocked the bot") if opt == "out" else _("Started the bot again"),
                "scope": "all",
            }
        )

    @api.model
    def _download_media(self, channel, ref):
        info = self._call(channel, "get_file", ref)
        path = info.get("file_path") if isinstance(info, dict) else None
        if not path:
            # Over 20 MB, the Bot API hands out no file: retrying cannot help.
            raise ProviderError(_("Telegram has no download for this file (bots may only fetch files up to 20 MB)."))
        content = self._call(channel, "download", path)
        name = path.rsplit("/", 1)[-1]
        return name, mimetypes.guess_type(name)[0] or "application/octet-stream", content

    # ------------------------------------------------------------ sending
    @api.model
    def _check_reply(self, conversation, message):
        self.env["omnichannel.consent"]._check_can_send(conversation.partner_id, conversation.channel_id)
        self._chat_id(conversation.partner_id)

    @api.model
    def _outbox_payload(self, conversation, message):
        message.attachment_ids.check_access("read")  # only what the agent may read leaves the company
        return {
            "type": "text",
            "text": html2plaintext(message.body or "").strip(),
            "attachment_ids": message.attachment_ids.ids,
        }

    @api.model
    def _chat_id(self, partner):
        """The customer's Telegram chat: the latest they wrote from (a group's, for a group)."""
        chats = partner.omni_identity_ids.sudo().filtered(
            lambda i: i.kind == "external" and i.value.startswith("telegram:")
        )
        if not chats:
            raise UserError(_("%(customer)s has no Telegram chat with the bot.", customer=partner.display_name))
        return max(chats, key=lambda identity: identity.id).value.split(":", 1)[1]

    @api.model
    def _parts(self, payload):
        """Each attachment (the text as the first caption when it fits), then or else the text,
        split at Telegram's limit."""
        text, attachment_ids = payload.get("text") or "", payload.get("attachment_ids") or []
        parts = [{"type": "file", "attachment_id": attachment_id} for attachment_id in attachment_ids]
        if parts and text and utf16_len(text) <= CAPTION_LIMIT:  # Telegram counts UTF-16 code units
            parts[0]["caption"] = text
        elif text or not parts:
            parts = [{"type": "text", "text": chunk} for chunk in split_text(text)] + parts
        return parts

    @api.model
    def _deliver(self, outbox):
        """Send an outbox row, part by part; parts Telegram accepted are remembered in the payload,
        so a retry after a transient failure sends only the rest."""
        channel = outbox.channel_id
        payload = dict(outbox.payload or {})
        chat_id = self._chat_id(outbox.partner_id)
        parts = self._parts(payload)
        done = payload.get("sent_parts", [])
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            try:
                if part["type"] == "text":
                    answer = self._call(channel, "send_message", chat_id, part["text"])
                else:
                    answer = self._send_file(channel, chat_id, part)
            except ProviderError as exc:
                if exc.code == 403 and any(word in exc.message for word in ("blocked", "kicked", "deactivated")):
                    self._record_blocked(outbox, exc)
                if isinstance(exc.__cause__, TelegramTimeout):
                    # The request reached Telegram, which may have sent the message: the Bot API has
                    # no idempotency key nor status to tell, so it is never sent again on its own.
                    raise ProviderError(
                        _(
                            "Telegram did not answer in time, so the message may have reached the customer: "
                            "check with them before retrying."
                        ),
                        transient=False,
                    ) from exc
                raise
            message_id = answer.get("message_id") if isinstance(answer, dict) else None
            done = [*done, f"{chat_id}:{message_id}"]
            outbox.sudo().payload = dict(payload, sent_parts=done)
        return done[-1]

    def _send_file(self, channel, chat_id, part):
        attachment = self.env["ir.attachment"].sudo().browse(part["attachment_id"])
        mimetype = attachment.mimetype or "application/octet-stream"
        photo = mimetype in PHOTO_TYPES and (attachment.file_size or 0) <= PHOTO_MAX_BYTES
        method, field = ("sendPhoto", "photo") if photo else ("sendDocument", "document")
        return self._call(
            channel, "send_file", method, field, chat_id, attachment.name, attachment.raw, mimetype, part.get("caption")
        )

    def _record_blocked(self, outbox, exc):
        """Telegram answers 403 to a user who blocked the bot: they are opted out, as by my_chat_member."""
        Inbox = self.env["omnichannel.inbox"]
        consents = Inbox._new_choices(
            [
                {
                    "partner_id": outbox.partner_id.id,
                    "channel_id": outbox.channel_id.id,
                    "opt": "out",
                    "date": fields.Datetime.now(),
                    "source": "provider",
                    "reason": str(exc)[:255],
                    "scope": "all",
                }
            ]
        )
        if consents:
            self.env["omnichannel.consent"]._record(consents)

    # ------------------------------------------------------------ setup
    @api.model
    def _test_connection(self, channel):
        bot = self._call(channel, "get_me") or {}  # the token works
        channel.sudo().tg_bot_username = bot.get("username") or False
        try:
            info = self._call(channel, "get_webhook_info") or {}
        except ProviderError as exc:  # Bot API look-alikes may lack it: the token is still good
            info = {"error": str(exc)}
        url = info.get("url") or ""
        if info.get("error"):
            webhook = _("the webhook could not be checked (%(error)s)", error=info["error"])
        elif not url:
            webhook = _("no webhook set: use Set Webhook")
        elif url != channel.sudo().webhook_url:
            webhook = _("the webhook goes to another URL (%(url)s): use Set Webhook", url=url)
        else:
            webhook = _("the webhook is this channel's")
        found = _(
            "@%(username)s (%(name)s): %(webhook)s; %(pending)s updates waiting.",
            username=bot.get("username") or "?",
            name=bot.get("first_name") or "?",
            webhook=webhook,
            pending=info.get("pending_update_count") or 0,
        )
        if info.get("last_error_message"):
            found += " " + _("Last delivery error: %(error)s", error=info["last_error_message"])
        return found

    @api.model
    def _set_webhook(self, channel):
        channel = channel.sudo()
        if not channel.tg_secret_token:
            channel.tg_secret_token = new_secret()
        self._call(channel, "set_webhook", channel.webhook_url, channel.tg_secret_token)


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    # Telegram bot settings (BotFather). Secrets are for administrators only.
    tg_bot_token = fields.Char(
        string="Bot Token",
        copy=False,
        groups="base.group_system",
        help="The token BotFather gave when the bot was created (/newbot), such as 123456:ABC-DEF1234ghIkl.",
    )
    tg_secret_token = fields.Char(
        string="Webhook Secret",
        copy=False,
        groups="base.group_system",
        default=lambda self: new_secret(),
        help="Telegram sends it with every update (Set Webhook gives it to Telegram): an update without it is refused.",
    )
    tg_allow_groups = fields.Boolean(
        string="Accept Groups",
        help="Messages in groups the bot was added to become one conversation per group. Otherwise they are "
        "ignored and only private chats with the bot count.",
    )
    tg_bot_username = fields.Char(string="Bot Username", readonly=True, copy=False)

    def action_set_telegram_webhook(self):
        """Tell Telegram to deliver the bot's updates to this channel's webhook URL, with its secret."""
        self.ensure_one()
        self.check_access("write")
        self._telegram_set_webhook()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Webhook set"),
                "message": _("Telegram now delivers the bot's updates to this channel."),
                "type": "success",
            },
        }

    def action_regenerate_telegram_secret(self):
        """A new webhook secret, given to Telegram at once: updates carrying the old one are refused."""
        self.ensure_one()
        self.check_access("write")
        self.sudo().tg_secret_token = new_secret()
        if self.sudo().tg_bot_token:
            self._telegram_set_webhook()

    def action_regenerate_webhook_key(self):
        result = super().action_regenerate_webhook_key()
        for channel in self.filtered(lambda c: c.provider == "telegram" and c.sudo().tg_bot_token):
            channel._telegram_set_webhook()  # Telegram would go on delivering to the old URL
        return result

    def _telegram_set_webhook(self):
        try:
            self._provider()._set_webhook(self)
        except ProviderError as exc:
            raise UserError(_("Telegram refused the webhook: %(error)s", error=exc)) from None
