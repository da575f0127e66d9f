import json
import mimetypes
from collections import defaultdict


from odoo import _, api, models
from odoo.exceptions import UserError
from odoo.tools import html2plaintext

from odoo.addons.omnichannel_base.models.omnichannel_provider import empty_parse
from odoo.addons.omnichannel_base.tools.provider import ProviderError

from ..tools.graph_client import GraphClient, GraphError
from ..tools.whatsapp import parse_delivery, wa_id_phones

# Meta's codes that mean the customer does not want messages from us (error 131050: "user
# has stopped marketing messages").
OPT_OUT_CODES = {131050}
MEDIA_KINDS = {"image", "video", "audio", "document", "sticker"}
GRAPH_TIMEOUT = (3.05, 10)  # seconds to connect, seconds to wait for Meta's answer
# Setting (seconds) replacing the wait for Meta's answer, for slow networks and for tests.
READ_TIMEOUT_PARAM = "omnichannel_social.graph_read_timeout"


def media_kind(mimetype):
    """How WhatsApp sends a file of this type: image, video, audio or document."""
    major = (mimetype or "").split("/", 1)[0]
    if mimetype in ("image/jpeg", "image/png"):
        return "image"
    if major in ("video", "audio"):
        return major
    return "document"


class OmnichannelProviderWhatsappCloud(models.AbstractModel):
    """WhatsApp through Meta's Cloud API (Graph API): webhooks in, messages out."""

    _name = "omnichannel.provider.whatsapp_cloud"
    _inherit = ["omnichannel.meta.webhook", "omnichannel.provider"]
    _description = "WhatsApp Cloud API (Meta)"
    _channel_types = ("whatsapp",)
    _uses_outbox = True
    _reply_window_hours = 24  # Meta's customer service window

    @api.model
    def _client(self, channel, timeout=None):
        channel = channel.sudo()
        if not channel.wa_access_token or not channel.wa_phone_number_id:
            raise ProviderError(_("The channel %(name)s has no phone number ID or access token.", name=channel.name))
        return GraphClient(channel._graph_url(), channel.wa_access_token, timeout=timeout or self._timeout())

    @api.model
    def _timeout(self):
        """(connect, read) seconds for Graph API calls; READ_TIMEOUT_PARAM, when set, is the read part."""
        return self._timeouts(READ_TIMEOUT_PARAM, GRAPH_TIMEOUT)

    @api.model
    def _call(self, channel, method, *args, **kwargs):
        """``GraphClient.<method>`` for ``channel``, with Meta's errors as ProviderError."""
        try:
            return getattr(self._client(channel), method)(*args, **kwargs)
        except GraphError as exc:
            details = f" ({exc.details})" if getattr(exc, "details", None) else ""
            # Meta titles most messages "(#code) ..."; ProviderError says the code once, itself.
            message = exc.message.removeprefix(f"(#{exc.code}) ") if exc.code is not None else exc.message
            raise ProviderError(
                f"{message}{details}", code=exc.code, transient=exc.transient, retry_after=exc.retry_after
            ) from exc

    # ------------------------------------------------------------ webhooks
    def _meta_tokens(self, channel):
        return channel.wa_verify_token, channel.wa_app_secret

    @api.model
    def _parse_webhook(self, delivery):
        try:
            payload = json.loads(delivery.payload)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python reads
            raise ValueError(_("The delivery is not JSON: %(error)s", error=exc)) from None
        items = parse_delivery(payload)
        channels = self._channels_of(items, delivery)
        result = empty_parse()
        phones = self._known_phones(items, channels)
        for item in items:
            channel = channels[item["phone_number_id"]]
            handler = getattr(self, f"_read_{item['type']}")
            handler(item, channel, result, phones)
        return result

    @api.model
    def _channels_of(self, items, delivery):
        """{phone number id: channel}: one Meta app delivers for all its numbers at once.

        Only channels of the same app (the same App Secret as the channel whose URL received
        the delivery, which signed it) are reachable: a delivery signed with one app's secret
        never writes into another app's channel, in this company or another.
        """
        ids = {item["phone_number_id"] for item in items}
        found = self._meta_channels("wa_phone_number_id", ids, delivery)
        missing = ids - set(found)
        if missing:
            raise ValueError(
                _(
                    "No active WhatsApp channel of this Meta app (same App Secret) has the phone number ID "
                    "%(ids)s: set it on a channel, then replay.",
                    ids=", ".join(sorted(missing)),
                )
            )
        return found

    @api.model
    def _known_phones(self, items, channels):
        """{(company id, wa_id): stored E.164 phone} for senders already known by one of the
        spellings their wa_id may have (Mexico, Argentina, Brazil), in one lookup per company."""
        wanted = defaultdict(set)
        for item in items:
            if item["type"] == "message":
                company = channels[item["phone_number_id"]].company_id
                wanted[company].add(item["wa_id"])
        known = {}
        Identity = self.env["omnichannel.identity"].sudo()
        for company, wa_ids in wanted.items():
            spellings = {wa_id: wa_id_phones(wa_id) for wa_id in wa_ids}
            found = Identity._lookup({("phone", p) for phones in spellings.values() for p in phones}, company)
            for wa_id, phones in spellings.items():
                known[company.id, wa_id] = next(
                    (p for p in phones if ("phone", p) in found), phones[0] if phones else None
                )
        return known

    def _sender(self, item, channel, phones):
        phone = phones.get((channel.company_id.id, item["wa_id"]))
        return {"provider_id": item["wa_id"], "phone": phone, "name": item.get("name")}

    def _read_message(self, item, channel, result, phones):
        sender = self._sender(item, channel, phones)
        if item["reaction"]:
            result["reactions"].append(
                {
                    "channel_id": channel.id,
                    "external_id": item["reaction"]["message_id"],
                    "sender": sender,
                    "emoji": item["reaction"]["emoji"],
                }
            )
            return
        if item["number_change"]:
            change = item["number_change"]
            new_phones = wa_id_phones(change["new_wa_id"])
            result["identity_changes"].append(
                {
                    "channel_id": channel.id,
                    "old": {"provider_id": change["old_wa_id"]},
                    "new": {"provider_id": change["new_wa_id"], "phone": new_phones[0] if new_phones else None},
                }
            )
            return
        event = {
            "channel_id": channel.id,
            "external_id": item["external_id"],
            "date": item["date"],
            "sender": sender,
            "kind": "message",
            "direction": "inbound",
            "body": self._body(item),
            "reply_to": item["reply_to"],
        }
        media = item["media"]
        if media and media.get("id"):
            extension = mimetypes.guess_extension((media.get("mime_type") or "").split(";")[0].strip()) or ""
            event["media"] = [
                {
                    "ref": media["id"],
                    "name": media.get("filename") or f"{item['message_type']}-{media['id']}{extension}",
                    "mimetype": media.get("mime_type"),
                }
            ]
        result["events"].append(event)

    def _body(self, item):
        """What the chatter shows: the customer's words, or what they sent, in the agent's language."""
        body = item["body"]
        if item["unsupported"]:
            note = _("Unsupported message (%(type)s): WhatsApp did not pass its content on.", type=item["unsupported"])
            return f"{note}\n{body}" if body else note
        labels = {
            "image": _("Image"),
            "video": _("Video"),
            "audio": _("Voice message") if (item["media"] or {}).get("voice") else _("Audio"),
            "document": _("Document"),
            "sticker": _("Sticker"),
        }
        if item["message_type"] in labels and not body:
            media = item["media"] or {}
            body = f"📎 {media.get('filename') or labels[item['message_type']]}"
        if item["forwarded"] and body:
            body = _("Forwarded: %(text)s", text=body)
        return body or _("Empty %(type)s message", type=item["message_type"] or "?")

    def _read_status(self, item, channel, result, phones):
        error = "; ".join(
            " ".join(
                filter(
                    None,
                    [f"({e['code']})" if e.get("code") else None, e.get("title") or e.get("message"), e.get("details")],
                )
            )
            for e in item["errors"]
        )
        result["statuses"].append(
            {
                "channel_id": channel.id,
                "external_id": item["external_id"],
                "state": item["state"],
                "date": item["date"],
                "error": error or None,
                "callback_data": item["callback_data"],
            }
        )
        if (
            item["state"] == "failed"
            and item["recipient"]
            and any(e.get("code") in OPT_OUT_CODES for e in item["errors"])
        ):
            result["consents"].append(
                {
                    "channel_id": channel.id,
                    "sender": {"provider_id": item["recipient"]},
                    "opt": "out",
                    "date": item["date"],
                    "reason": error,
                    "scope": "marketing",  # 131050: the customer stopped marketing messages
                }
            )

    def _read_preference(self, item, channel, result, phones):
        result["consents"].append(
            {
                "channel_id": channel.id,
                "sender": {"provider_id": item["wa_id"]},
                "opt": "out" if item["value"] == "stop" else "in",
                "date": item["date"],
                "reason": item.get("detail") or item.get("category"),
                # Meta's preferences are about marketing messages (category marketing_messages)
                "scope": "marketing",
            }
        )

    def _read_error(self, item, channel, result, phones):
        """Account-level errors: said in the channel's chatter, nothing else to apply."""
        result["notes"].append(
            {
                "channel_id": channel.id,
                "body": _(
                    "Meta reported: %(errors)s",
                    errors="; ".join(f"({e.get('code')}) {e.get('title') or e.get('message')}" for e in item["errors"]),
                ),
            }
        )

    @api.model
    def _download_media(self, channel, ref):
        info = self._call(channel, "media_info", ref)
        content = self._call(channel, "download_media", info["url"])
        mimetype = info.get("mime_type") or "application/octet-stream"
        return f"{ref}{mimetypes.guess_extension(mimetype.split(';')[0]) or ''}", mimetype, content

    # ------------------------------------------------------------ sending
    @api.model
    def _window_note(self, channel, hours, end, is_open, now):
        if is_open:
            minutes = int((end - now).total_seconds() // 60)
            return _(
                "Replies can be written freely for another %(hours)s h %(minutes)02d min; after that, "
                "only approved templates.",
                hours=minutes // 60,
                minutes=minutes % 60,
            )
        return _(
            "The %(hours)s-hour window for free replies is closed: send an approved template "
            "(Send Template) until the customer writes again.",
            hours=hours,
        )

    @api.model
    def _check_reply(self, conversation, message):
        if not conversation.last_inbound_date:
            raise UserError(
                _(
                    "%(customer)s has not written on WhatsApp yet: a business may only start a "
                    "conversation with an approved template (Send Template).",
                    customer=conversation.partner_id.name,
                )
            )
        if not conversation.reply_window_open:
            raise UserError(
                _(
                    "%(customer)s last wrote on WhatsApp more than 24 hours ago: WhatsApp only lets a "
                    "business answer freely within 24 hours. Send an approved template instead (Send Template).",
                    customer=conversation.partner_id.name,
                )
            )

    @api.model
    def _outbox_payload(self, conversation, message):
        # Odoo links to a post whatever attachment ids its author names: only what the agent
        # may read leaves the company.
        message.attachment_ids.check_access("read")
        return {
            "type": "text",
            "text": html2plaintext(message.body or "").strip(),
            "attachment_ids": message.attachment_ids.ids,
        }

    @api.model
    def _recipient(self, partner, channel):
        """The customer's WhatsApp id: the latest they wrote from (a changed number joins the
        contact after the old one), else their phone in E.164 digits."""
        identities = partner.omni_identity_ids.sudo()
        wa_ids = identities.filtered(lambda i: i.kind == "external" and i.value.startswith("whatsapp:"))
        if wa_ids:
            return max(wa_ids, key=lambda identity: identity.id).value.split(":", 1)[1]
        phones = identities.filtered(lambda i: i.kind == "phone")
        if phones:
            return phones[0].value.lstrip("+")
        raise UserError(_("%(customer)s has no WhatsApp number.", customer=partner.display_name))

    @api.model
    def _deliver(self, outbox):
        """Send an outbox row; media first (one message per file, the text as the first caption).

        Parts already accepted by Meta are remembered in the payload, so a retry after a
        transient failure sends only the rest.
        """
        channel = outbox.channel_id
        payload = dict(outbox.payload or {})
        to = self._recipient(outbox.partner_id, channel)
        common = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "biz_opaque_callback_data": outbox.key,
        }
        if payload.get("type") == "template":
            answer = self._call(
                channel,
                "send_message",
                channel.wa_phone_number_id,
                {**common, "type": "template", "template": payload["template"]},
            )
            return answer["messages"][0]["id"]
        parts = self._parts(payload)
        done = payload.get("sent_parts", [])
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            if part["type"] == "text":
                body = {"type": "text", "text": {"preview_url": False, "body": part["text"]}}
            else:
                attachment = self.env["ir.attachment"].sudo().browse(part["attachment_id"])
                media_id = self._call(
                    channel,
                    "upload_media",
                    channel.wa_phone_number_id,
                    attachment.name,
                    attachment.mimetype or "application/octet-stream",
                    attachment.raw,
                )
                kind = media_kind(attachment.mimetype)
                content = {"id": media_id}
                if part.get("caption") and kind in ("image", "video", "document"):
                    content["caption"] = part["caption"]
                if kind == "document":
                    content["filename"] = attachment.name
                body = {"type": kind, kind: content}
            if index < len(parts) - 1:
                # Only the last part's status may tell the outbox the whole reply went out
                # (``_reconcile``); an earlier part's key is not the row's.
                body["biz_opaque_callback_data"] = f"{outbox.key}:{index}"
            answer = self._call(channel, "send_message", channel.wa_phone_number_id, {**common, **body})
            done = [*done, answer["messages"][0]["id"]]
            outbox.sudo().payload = dict(payload, sent_parts=done)
        # The last part carries the outbox key: its id is the one statuses and _reconcile report.
        return done[-1]

    @api.model
    def _parts(self, payload):
        """The messages a reply becomes: each attachment (the text as the first caption when it
        can carry one), or the text alone."""
        text, attachment_ids = payload.get("text") or "", payload.get("attachment_ids") or []
        if not attachment_ids:
            return [{"type": "text", "text": text}]
        parts = [{"type": "media", "attachment_id": attachment_id} for attachment_id in attachment_ids]
        first = self.env["ir.attachment"].sudo().browse(attachment_ids[0])
        if text and media_kind(first.mimetype) in ("image", "video", "document") and len(text) <= 1024:
            parts[0]["caption"] = text
        elif text:
            parts.insert(0, {"type": "text", "text": text})
        return parts

    @api.model
    def _fetch_templates(self, channel):
        return self._call(channel, "message_templates", channel.wa_business_account_id)

    @api.model
    def _test_connection(self, channel):
        info = self._call(channel, "phone_number", channel.wa_phone_number_id)
        channel.sudo().write(
            {
                "wa_display_phone_number": info.get("display_phone_number"),
                "wa_verified_name": info.get("verified_name"),
                "wa_quality_rating": info.get("quality_rating"),
            }
        )
        return _(
            "%(name)s (%(number)s), quality rating %(quality)s.",
            name=info.get("verified_name") or "?",
            number=info.get("display_phone_number") or "?",
            quality=info.get("quality_rating") or "?",
        )
