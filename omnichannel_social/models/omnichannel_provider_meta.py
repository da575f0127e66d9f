import json
import mimetypes
import secrets
from datetime import timedelta
from urllib.parse import unquote, urlsplit


from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime, html2plaintext

from odoo.addons.omnichannel_base.models.omnichannel_provider import empty_parse
from odoo.addons.omnichannel_base.tools.provider import ProviderError

from ..tools.graph_client import GraphClient, GraphError, GraphTimeout
from ..tools.messenger import parse_delivery
from .omnichannel_provider_whatsapp import GRAPH_TIMEOUT, READ_TIMEOUT_PARAM

# Our sends carry this in ``message.metadata``; Meta echoes it back (message_echoes), which tells
# our own messages from those an agent typed in Meta's apps, and which outbox row they were.
METADATA_PREFIX = "omnichannel:"
HUMAN_AGENT_DAYS = 7  # Meta's HUMAN_AGENT tag: a person may answer up to 7 days after the customer wrote
ATTACHMENT_TYPES = ("image", "video", "audio", "file")
# Where Meta serves attachments and profile pictures (signed CDN URLs). Only these, and the
# configured Graph API's own host (a proxy, the tests' server), are ever fetched: a URL in a
# delivery must not make Odoo call an arbitrary host, inside the network or out.
MEDIA_HOSTS = ("fbcdn.net", "fbsbx.com", "cdninstagram.com", "facebook.com", "instagram.com")


def attachment_type(mimetype):
    """How the Send API carries a file of this type: image, video, audio or file."""
    major = (mimetype or "").split("/", 1)[0]
    if mimetype in ("image/jpeg", "image/png", "image/gif"):
        return "image"
    if major in ("video", "audio"):
        return major
    return "file"


def split_text(text, limit):
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, cut at a line break or a space when
    there is one in the second half of a piece."""
    pieces = []
    while len(text.encode()) > limit:
        cut = len(text.encode()[:limit].decode("utf-8", "ignore"))
        space = max(text.rfind("\n", 0, cut), text.rfind(" ", 0, cut))
        if space > cut // 2:
            cut = space
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text or not pieces:
        pieces.append(text)
    return pieces


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    # Messenger and Instagram settings (Meta's App Dashboard). Secrets are for administrators only.
    meta_page_id = fields.Char(
        string="Page or Account ID",
        index="btree_not_null",
        copy=False,
        help="Messenger: the Facebook Page's id. Instagram: the Instagram professional account's id "
        "(as Meta's webhooks name it in entry.id).",
    )
    meta_page_access_token = fields.Char(
        string="Page Access Token",
        copy=False,
        groups="base.group_system",
        help="A long-lived Page access token with pages_messaging (and instagram_manage_messages for Instagram).",
    )
    meta_app_secret = fields.Char(
        string="Meta App Secret",
        copy=False,
        groups="base.group_system",
        help="App settings > Basic > App Secret: every delivery is checked against its signature.",
    )
    meta_verify_token = fields.Char(
        string="Meta Verify Token",
        copy=False,
        groups="base.group_system",
        default=lambda self: secrets.token_urlsafe(16),
        help="Type the same text in Meta's webhook configuration: Meta sends it back to check the URL.",
    )
    meta_human_agent = fields.Boolean(
        string="Human Agent Tag",
        help="The app was granted Meta's Human Agent permission: agents may answer up to 7 days after the "
        "customer's last message (with the HUMAN_AGENT tag), instead of 24 hours.",
    )
    meta_account_name = fields.Char(string="Page or Account Name", readonly=True, copy=False)

    _sql_constraints = [
        (
            "meta_page_id_unique",
            "UNIQUE(channel_type, meta_page_id)",
            "Another channel of this type already uses this Page or account ID.",
        ),
    ]


class OmnichannelMetaProvider(models.AbstractModel):
    """What Messenger and Instagram Direct share: the Messenger Platform's webhooks and Send API.

    Instagram messaging through the Messenger Platform is the same contract as Messenger's,
    with Instagram-scoped ids (IGSID) instead of Page-scoped ones (PSID); the two providers
    below only name their object, their profile fields and their limits.
    """

    _name = "omnichannel.meta.provider"
    _inherit = ["omnichannel.meta.webhook", "omnichannel.provider"]
    _description = "Meta Messaging Provider"
    _uses_outbox = True
    _reply_window_hours = 24  # Meta's standard messaging window
    _object = None  # the webhook "object": "page" or "instagram"
    _platform = ""  # the app's name, in messages to agents
    _profile_fields = ()
    _text_limit = 2000  # bytes of text in one message
    _echo_metadata = True  # whether the Send API takes message.metadata (echoed back)

    # ------------------------------------------------------------ Graph API
    @api.model
    def _client(self, channel):
        channel = channel.sudo()
        if not channel.meta_page_access_token or not channel.meta_page_id:
            raise ProviderError(_("The channel %(name)s has no Page or account ID or access token.", name=channel.name))
        return GraphClient(channel._graph_url(), channel.meta_page_access_token, timeout=self._timeout())

    @api.model
    def _timeout(self):
        return self._timeouts(READ_TIMEOUT_PARAM, GRAPH_TIMEOUT)

    @api.model
    def _call(self, channel, method, *args, **kwargs):
        """``GraphClient.<method>`` for ``channel``, with Meta's errors as ProviderError."""
        try:
            return getattr(self._client(channel), method)(*args, **kwargs)
        except GraphError as exc:
            message = exc.message.removeprefix(f"(#{exc.code}) ") if exc.code is not None else exc.message
            raise ProviderError(message, code=exc.code, transient=exc.transient, retry_after=exc.retry_after) from exc

    # ------------------------------------------------------------ webhooks
    def _meta_tokens(self, channel):
        return channel.meta_verify_token, channel.meta_app_secret

    @api.model
    def _parse_webhook(self, delivery):
        try:
            payload = json.loads(delivery.payload)
        except (ValueError, RecursionError) as exc:
            raise ValueError(_("The delivery is not JSON: %(error)s", error=exc)) from None
        items = parse_delivery(payload)
        if payload["object"] != self._object:
            raise ValueError(
                _(
                    "This delivery is about object %(object)r; %(platform)s channels receive %(expected)r. "
                    "Check the webhook URL set for each object in Meta's App Dashboard.",
                    object=payload["object"],
                    platform=self._platform,
                    expected=self._object,
                )
            )
        channels = self._channels_of(items, delivery)
        result = empty_parse()
        for item in items:
            getattr(self, f"_read_{item['type']}")(item, channels[item["account_id"]], result)
        return result

    @api.model
    def _channels_of(self, items, delivery):
        """{page or account id: channel}: one Meta app delivers for all its Pages or accounts at once.

        Only channels of the same app (the App Secret that signed the delivery) are reachable:
        a delivery signed with one app's secret never writes into another app's channel.
        """
        ids = {item["account_id"] for item in items}
        found = self._meta_channels("meta_page_id", ids, delivery)
        missing = ids - set(found)
        if missing:
            raise ValueError(
                _(
                    "No active %(platform)s channel of this Meta app (same App Secret) has the Page or account ID "
                    "%(ids)s: set it on a channel, then replay.",
                    platform=self._platform,
                    ids=", ".join(sorted(missing)),
                )
            )
        return found

    def _customer(self, item):
        return {"provider_id": item["customer"]}

    def _read_message(self, item, channel, result):
        if item["echo"] and (item["metadata"] or "").startswith(METADATA_PREFIX):
            # Our own send: the outbox has its row. The last part's echo names the outbox row,
            # which tells a worker that died before recording Meta's answer that it was sent.
            key = item["metadata"].removeprefix(METADATA_PREFIX)
            if ":" not in key:
                result["statuses"].append(
                    {
                        "channel_id": channel.id,
                        "external_id": item["external_id"],
                        "state": "sent",
                        "date": item["date"],
                        "error": None,
                        "callback_data": key,
                    }
                )
            return
        if item["echo"] and not self._echo_metadata and self._is_part_we_sent(channel, item):
            return  # an earlier piece of a reply of ours, which Instagram echoes without metadata
        event = {
            "channel_id": channel.id,
            "external_id": item["external_id"],
            "date": item["date"],
            "sender": self._customer(item),
            "kind": "message",
            # An echo is the page's message, typed in Meta's apps (Business Suite, Instagram): outbound.
            "direction": "outbound" if item["echo"] else "inbound",
            "body": self._body(item),
            "reply_to": item["reply_to"],
            "profile": True,  # Meta's events carry no names: new contacts are named from their profile
        }
        media = [
            {"ref": attachment["url"], "name": self._file_name(attachment, index), "mimetype": None}
            for index, attachment in enumerate(item["attachments"], 1)
            if attachment["url"] and attachment["type"] in ATTACHMENT_TYPES
        ]
        if media:
            event["media"] = media
        result["events"].append(event)

    def _is_part_we_sent(self, channel, item):
        """Whether the echoed message is one of the pieces the outbox sent to this customer."""
        partner = self.env["omnichannel.inbox"]._partner_of(channel, self._customer(item))
        if not partner:
            return False
        conversations = (
            self.env["omnichannel.conversation"]
            .sudo()
            .search([("channel_id", "=", channel.id), ("partner_id", "=", partner.id)])
        )
        if not conversations:
            return False
        self.env["omnichannel.outbox"].flush_model(["payload", "conversation_id"])
        self.env.cr.execute(
            """SELECT 1 FROM omnichannel_outbox
                WHERE conversation_id = ANY(%s) AND payload -> 'sent_parts' @> %s::jsonb LIMIT 1""",
            [conversations.ids, json.dumps([item["external_id"]])],
        )
        return bool(self.env.cr.fetchone())

    def _file_name(self, attachment, index):
        path = unquote(urlsplit(attachment["url"]).path)
        name = path.rsplit("/", 1)[-1][:100]
        if name and mimetypes.guess_type(name)[0]:
            return name
        return f"{attachment['type']}-{index}"

    def _body(self, item):
        """What the chatter shows: the customer's words, or what they sent, in the agent's language."""
        labels = {"image": _("Image"), "video": _("Video"), "audio": _("Audio"), "file": _("File")}
        lines = []
        story = item["story"]
        if story and story["mention"]:
            lines.append(_("Mentioned you in their story: %(url)s", url=story["url"] or "?"))
        elif story:
            lines.append(_("Replied to your story: %(url)s", url=story["url"] or "?"))
        if item["text"]:
            lines.append(item["text"])
        for attachment in item["attachments"]:
            if attachment["type"] in ATTACHMENT_TYPES:
                if not item["text"]:
                    lines.append(f"📎 {attachment['title'] or labels[attachment['type']]}")
            elif attachment["url"]:  # shares, reels, posts, templates: a link to what was shared
                lines.append(f"🔗 {attachment['title'] + ' ' if attachment['title'] else ''}{attachment['url']}")
        if item["quick_reply"]:
            lines.append(_("Quick reply payload: %(payload)s", payload=item["quick_reply"]))
        if item["unsupported"]:
            lines.append(_("Unsupported message: %(platform)s did not pass its content on.", platform=self._platform))
        return "\n".join(lines) or _("Empty message")

    def _read_postback(self, item, channel, result):
        stamp = item["date"].strftime("%Y%m%d%H%M%S%f")
        result["events"].append(
            {
                "channel_id": channel.id,
                # Postbacks before Graph API v11 have no mid: the customer and the time name them.
                "external_id": item["external_id"] or f"postback:{item['customer']}:{stamp}",
                "date": item["date"],
                "sender": self._customer(item),
                "kind": "message",
                "direction": "inbound",
                "body": _(
                    "Tapped “%(title)s” (payload %(payload)s)",
                    title=item["title"] or "?",
                    payload=item["payload"] or "?",
                ),
                "profile": True,
            }
        )

    def _read_edit(self, item, channel, result):
        result["edits"].append(
            {
                "channel_id": channel.id,
                "external_id": item["external_id"],
                "body": item["text"],
                "date": item["date"],
                "removed": False,
            }
        )

    def _read_delete(self, item, channel, result):
        result["edits"].append(
            {
                "channel_id": channel.id,
                "external_id": item["external_id"],
                "body": None,
                "date": item["date"],
                "removed": True,
            }
        )

    def _read_reaction(self, item, channel, result):
        result["reactions"].append(
            {
                "channel_id": channel.id,
                "external_id": item["external_id"],
                "sender": self._customer(item),
                "emoji": item["emoji"],
            }
        )

    def _read_delivery(self, item, channel, result):
        self._read_receipt(item, channel, result, "delivered", item["mids"])

    def _read_read(self, item, channel, result):
        self._read_receipt(item, channel, result, "read", [item["mid"]] if item["mid"] else [])

    def _read_receipt(self, item, channel, result, state, mids):
        for mid in mids:
            result["statuses"].append(
                {
                    "channel_id": channel.id,
                    "external_id": mid,
                    "state": state,
                    "date": item["date"],
                    "error": None,
                    "callback_data": None,
                }
            )
        # Messenger's watermark: everything sent before it reached the state. Instagram's read
        # names the message seen, at the event's time: what we sent until then was seen too.
        watermark = item["watermark"] or (item["date"] if state == "read" else None)
        if watermark:
            result["watermarks"].append(
                {"channel_id": channel.id, "recipient": self._customer(item), "state": state, "date": watermark}
            )

    @api.model
    def _check_media_url(self, channel, url):
        """Refuse (for good) a file URL that is not on Meta's CDN."""
        parts, graph = urlsplit(url or ""), urlsplit(channel._graph_url())
        host = (parts.hostname or "").lower()
        on_meta = parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in MEDIA_HOSTS)
        if not on_meta and (parts.scheme, parts.netloc) != (graph.scheme, graph.netloc):
            raise ProviderError(
                _("The file's URL %(url)s is not on Meta's servers: it is not fetched.", url=host or "?")
            )

    @api.model
    def _download_media(self, channel, ref):
        self._check_media_url(channel, ref)
        content, content_type = self._call(channel, "download_url", ref)
        mimetype = (content_type or "").split(";")[0].strip() or "application/octet-stream"
        name = unquote(urlsplit(ref).path).rsplit("/", 1)[-1][:100] or "attachment"
        if not mimetypes.guess_type(name)[0]:
            name += mimetypes.guess_extension(mimetype) or ""
        return name, mimetype, content

    @api.model
    def _fetch_profile(self, channel, provider_id):
        info = self._call(channel, "get_object", provider_id, list(self._profile_fields))
        image = None
        if info.get("profile_pic"):
            try:
                self._check_media_url(channel, info["profile_pic"])
                image, _type = self._call(channel, "download_url", info["profile_pic"])
            except ProviderError as exc:
                if exc.transient:
                    raise
        return {"name": self._profile_name(info), "image": image}

    def _profile_name(self, info):
        raise NotImplementedError

    # ------------------------------------------------------------ sending
    @api.model
    def _window_hours(self, channel):
        """24 hours, or the 7 days of the Human Agent tag where the page has it."""
        return HUMAN_AGENT_DAYS * 24 if channel.meta_human_agent else self._reply_window_hours

    @api.model
    def _window_note(self, channel, hours, end, is_open, now):
        if not channel.meta_human_agent:
            return super()._window_note(channel, hours, end, is_open, now)
        if not is_open:
            return _(
                "Meta's 7 days for answers with the Human Agent tag are over: wait until the customer writes again."
            )
        standard_end = end - timedelta(days=HUMAN_AGENT_DAYS) + timedelta(hours=self._reply_window_hours)
        if now < standard_end:
            minutes = int((standard_end - now).total_seconds() // 60)
            return _(
                "Replies can be written freely for another %(hours)s h %(minutes)02d min; after that, they go "
                "with the Human Agent tag until %(end)s.",
                hours=minutes // 60,
                minutes=minutes % 60,
                end=format_datetime(self.env, end, dt_format="short"),
            )
        return _(
            "Replies go with Meta's Human Agent tag (a person answering) until %(end)s.",
            end=format_datetime(self.env, end, dt_format="short"),
        )

    @api.model
    def _check_reply(self, conversation, message):
        last = conversation.last_inbound_date
        customer = conversation.partner_id.name
        if not last:
            raise UserError(
                _(
                    "%(customer)s has not written on %(platform)s yet: Meta only lets a business answer people "
                    "who wrote first.",
                    customer=customer,
                    platform=self._platform,
                )
            )
        if self._messaging_type(conversation.channel_id, last):
            return
        if conversation.channel_id.meta_human_agent:
            raise UserError(
                _(
                    "%(customer)s last wrote on %(platform)s more than 7 days ago: Meta does not let a business "
                    "answer after that, even with the Human Agent tag. Wait until they write again.",
                    customer=customer,
                    platform=self._platform,
                )
            )
        raise UserError(
            _(
                "%(customer)s last wrote on %(platform)s more than 24 hours ago: Meta only lets a business answer "
                "within 24 hours (up to 7 days for pages with Meta's Human Agent permission, set on the channel). "
                "Wait until they write again.",
                customer=customer,
                platform=self._platform,
            )
        )

    @api.model
    def _messaging_type(self, channel, last_inbound):
        """The Send API's ``messaging_type`` (and ``tag``) for an answer now, or None when Meta
        allows none: RESPONSE within 24 hours, HUMAN_AGENT up to 7 days where the page has it."""
        if not last_inbound:
            return None
        age = fields.Datetime.now() - last_inbound
        if age < timedelta(hours=self._reply_window_hours):
            return {"messaging_type": "RESPONSE"}
        if channel.meta_human_agent and age < timedelta(days=HUMAN_AGENT_DAYS):
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        return None

    @api.model
    def _outbox_payload(self, conversation, message):
        # Only what the agent may read leaves the company (as for WhatsApp).
        message.attachment_ids.check_access("read")
        return {
            "type": "text",
            "text": html2plaintext(message.body or "").strip(),
            "attachment_ids": message.attachment_ids.ids,
        }

    @api.model
    def _recipient(self, partner, channel):
        """The customer's PSID or IGSID on this channel's Page or account: the latest they wrote
        from. These ids are scoped to one Page or account: another channel's is never valid here."""
        prefix = f"{channel.channel_type}:"
        ids = partner.omni_identity_ids.sudo().filtered(
            lambda i: (
                i.kind == "external" and i.value.startswith(prefix) and (i.channel_id == channel or not i.channel_id)
            )
        )
        if not ids:
            raise UserError(
                _(
                    "%(customer)s has not written to %(channel)s on %(platform)s: Meta gives a person another id "
                    "on each Page or account, so only the one they wrote to can answer them.",
                    customer=partner.display_name,
                    channel=channel.name,
                    platform=self._platform,
                )
            )
        return max(ids, key=lambda identity: (identity.channel_id == channel, identity.id)).value.split(":", 1)[1]

    @api.model
    def _send_path(self, channel):
        """Whose ``/messages`` edge the Send API is called on."""
        return channel.meta_page_id

    @api.model
    def _deliver(self, outbox):
        """Send an outbox row: the text (in pieces within Meta's limit), then each file, uploaded
        with its message (``filedata``). Parts Meta accepted are remembered, so a retry after a
        transient failure sends only the rest."""
        channel = outbox.channel_id
        payload = dict(outbox.payload or {})
        messaging = self._messaging_type(channel, outbox.conversation_id.last_inbound_date)
        if not messaging:
            raise ProviderError(
                _("The customer last wrote too long ago: Meta no longer accepts an answer."), transient=False
            )
        recipient = self._recipient(outbox.partner_id, channel)
        parts = self._parts(payload)
        done = payload.get("sent_parts", [])
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            file = None
            if part["type"] == "text":
                message = {"text": part["text"]}
            else:
                attachment = self.env["ir.attachment"].sudo().browse(part["attachment_id"])
                mimetype = attachment.mimetype or "application/octet-stream"
                message = {"attachment": {"type": attachment_type(mimetype), "payload": {"is_reusable": False}}}
                file = (attachment.name, attachment.raw, mimetype)
            if self._echo_metadata:
                # The last part carries the outbox key alone: its echo names the row (see _read_message)
                suffix = "" if index == len(parts) - 1 else f":{index}"
                message["metadata"] = f"{METADATA_PREFIX}{outbox.key}{suffix}"
            body = {"recipient": {"id": recipient}, **messaging, "message": message}
            try:
                answer = self._call(channel, "send_api", self._send_path(channel), body, file=file)
            except ProviderError as exc:
                # Meta may have sent a message it did not answer for in time. Only the echo of
                # Messenger's last part names its outbox row (``_read_message``), which then
                # tells the retry it was sent; any other part is never sent again on its own.
                if isinstance(exc.__cause__, GraphTimeout) and not (self._echo_metadata and index == len(parts) - 1):
                    raise ProviderError(
                        _(
                            "%(platform)s did not answer in time, so the message may have reached the customer: "
                            "check with them before retrying.",
                            platform=self._platform,
                        ),
                        transient=False,
                    ) from exc
                raise
            done = [*done, answer["message_id"]]
            outbox.sudo().payload = dict(payload, sent_parts=done)
        if len(done) > 1 and outbox.interaction_id:
            # Echoes of the earlier pieces recorded meanwhile are this reply (the last piece's
            # echo is merged when its id is recorded on the reply)
            self.env["omnichannel.interaction"].sudo()._drop_echoes(outbox.interaction_id.id, done[:-1])
        return done[-1]

    @api.model
    def _parts(self, payload):
        """The messages a reply becomes: its text (in pieces), then each attachment."""
        text, attachment_ids = payload.get("text") or "", payload.get("attachment_ids") or []
        parts = [{"type": "text", "text": piece} for piece in split_text(text, self._text_limit)] if text else []
        parts += [{"type": "media", "attachment_id": attachment_id} for attachment_id in attachment_ids]
        return parts or [{"type": "text", "text": text}]

    @api.model
    def _test_connection(self, channel):
        info = self._call(channel, "get_object", channel.meta_page_id, self._account_fields())
        name = info.get("name") or info.get("username") or "?"
        channel.sudo().meta_account_name = name
        return _("Connected to %(name)s (%(id)s).", name=name, id=info.get("id") or channel.meta_page_id)

    @api.model
    def _account_fields(self):
        return ["name"]


class OmnichannelProviderMessenger(models.AbstractModel):
    """Facebook Messenger through Meta's Messenger Platform (a Facebook Page's inbox)."""

    _name = "omnichannel.provider.messenger"
    _inherit = "omnichannel.meta.provider"
    _description = "Messenger (Meta)"
    _channel_types = ("messenger",)
    _object = "page"
    _platform = "Messenger"
    _profile_fields = ("first_name", "last_name", "profile_pic")

    def _profile_name(self, info):
        return " ".join(filter(None, [info.get("first_name"), info.get("last_name")])).strip() or None


class OmnichannelProviderInstagram(models.AbstractModel):
    """Instagram Direct through Meta's Messenger Platform (an Instagram professional account)."""

    _name = "omnichannel.provider.instagram"
    _inherit = "omnichannel.meta.provider"
    _description = "Instagram Direct (Meta)"
    _channel_types = ("instagram",)
    _object = "instagram"
    _platform = "Instagram"
    _profile_fields = ("name", "username", "profile_pic")
    _text_limit = 1000  # Instagram's limit, in UTF-8 bytes
    _echo_metadata = False  # not part of Instagram's Send API

    def _profile_name(self, info):
        name, username = info.get("name"), info.get("username")
        if name and username:
            return f"{name} (@{username})"
        return name or (f"@{username}" if username else None)

    @api.model
    def _send_path(self, channel):
        # The Page token's own Page, which the Instagram account is linked to; the channel keeps
        # the Instagram account's id, which Meta's webhooks name.
        return "me"

    @api.model
    def _account_fields(self):
        return ["name", "username"]
