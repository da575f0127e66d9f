import mimetypes
import re
from urllib.parse import parse_qsl, urlencode

from werkzeug.wrappers import Response

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import html2plaintext
from odoo.tools.translate import LazyTranslate

from odoo.addons.omnichannel_base.models.omnichannel_provider import empty_parse
from odoo.addons.omnichannel_base.tools.provider import ProviderError

from ..tools import twilio
from ..tools.twilio_client import DEFAULT_BASE_URL, TwilioClient, TwilioError, TwilioTimeout

_lt = LazyTranslate(__name__)

API_URL_PARAM = "omnichannel_social.twilio_api_url"
READ_TIMEOUT_PARAM = "omnichannel_social.twilio_read_timeout"
TIMEOUT = (3.05, 10)  # seconds to connect, seconds to wait for Twilio's answer
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
BODY_LIMIT = 1600  # characters Twilio accepts in one Message (error 21617 above)
MEDIA_LIMIT = 10  # files per MMS
UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient": the customer texted STOP
# What Twilio's error codes mean for an agent (Twilio "Error and warning dictionary").
ERROR_MEANINGS = {
    21211: _lt("the number is not a valid phone number"),
    21408: _lt("sending SMS to this country is not enabled on the Twilio account"),
    21610: _lt("the customer unsubscribed by texting STOP; they must text START to receive messages again"),
    21612: _lt("Twilio cannot route a message from this sender to this number"),
    21614: _lt("the number is not a mobile number"),
    21617: _lt("the message is longer than 1,600 characters"),
    30001: _lt("Twilio's queue for this sender was full"),
    30002: _lt("the Twilio account is suspended"),
    30003: _lt("the phone is switched off or out of coverage"),
    30004: _lt("the message was blocked (the customer or their carrier blocks messages from this sender)"),
    30005: _lt("the number does not exist or is no longer in service"),
    30006: _lt("the number is a landline or its carrier cannot receive SMS"),
    30007: _lt("the carrier filtered the message as spam or unregistered traffic"),
    30008: _lt("the carrier reported an unknown error"),
    30034: _lt("the sending number is not registered for A2P 10DLC (United States)"),
}
# SMS keywords carriers expect (CTIA; Twilio's default opt-out and opt-in words), with Spanish ones.
SMS_OPT_OUT_KEYWORDS = "STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, BAJA, CANCELAR"
SMS_OPT_IN_KEYWORDS = "START, UNSTOP, ALTA"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class OmnichannelProviderTwilio(models.AbstractModel):
    """SMS and MMS through Twilio's Programmable Messaging (or a Twilio-compatible API)."""

    _name = "omnichannel.provider.twilio"
    _inherit = ["omnichannel.twilio.webhook", "omnichannel.provider"]
    _description = "Twilio SMS"
    _channel_types = ("sms",)
    _uses_outbox = True
    _reply_window_hours = 0  # SMS may be sent at any time, consent permitting

    # ------------------------------------------------------------ client
    @api.model
    def _client(self, channel):
        channel = channel.sudo()
        if not channel.twilio_account_sid or not channel.twilio_auth_token:
            raise ProviderError(_("The channel %(name)s has no Twilio Account SID or Auth Token.", name=channel.name))
        return TwilioClient(
            channel._twilio_api_url(), channel.twilio_account_sid, channel.twilio_auth_token, self._timeout()
        )

    @api.model
    def _timeout(self):
        return self._timeouts(READ_TIMEOUT_PARAM, TIMEOUT)

    @api.model
    def _call(self, channel, method, *args, **kwargs):
        """``TwilioClient.<method>`` for ``channel``, with Twilio's errors as ProviderError."""
        try:
            return getattr(self._client(channel), method)(*args, **kwargs)
        except TwilioError as exc:
            message = exc.message
            if exc.code in ERROR_MEANINGS:
                message = f"{ERROR_MEANINGS[exc.code]} ({exc.message})"
            raise ProviderError(message, code=exc.code, transient=exc.transient, retry_after=exc.retry_after) from exc

    @api.model
    def _error_text(self, code, message=None):
        meaning = ERROR_MEANINGS.get(code)
        text = str(meaning) if meaning else message or _("Twilio gave no reason")
        return f"({code}) {text}" if code else text

    # ------------------------------------------------------------ webhooks
    def _twilio_auth_token(self, channel):
        return channel.twilio_auth_token

    @api.model
    def _delivery_key(self, channel, httprequest, body):
        form = httprequest.form
        sid = form.get("MessageSid") or ""
        if not sid or len(sid) > twilio.MAX_SID_CHARS:
            return None
        return f"{channel.id}:{sid}:{form.get('SmsStatus') or form.get('MessageStatus') or ''}"

    @api.model
    def _webhook_answer(self, channel, httprequest):
        """Empty TwiML: nothing for Twilio to reply; agents answer from Odoo."""
        return Response(EMPTY_TWIML, status=200, content_type="text/xml; charset=utf-8")

    @api.model
    def _parse_webhook(self, delivery):
        pairs = parse_qsl(delivery.payload or "", keep_blank_values=True)
        try:
            item = twilio.parse_form(pairs)
        except twilio.PayloadError as exc:
            raise ValueError(_("Not a Twilio message or status: %(reason)s", reason=exc)) from None
        channel = delivery.channel_id
        result = empty_parse()
        date = delivery.received_date or fields.Datetime.now()
        if item["type"] == "message":
            self._read_message(item, channel, date, result)
        else:
            callback = dict(parse_qsl(delivery.query_string or "")).get("outbox")
            self._read_status(item, channel, date, result, callback)
        return result

    def _sender(self, phone, channel):
        """The customer by phone (E.164), so that one known by their number elsewhere is the same
        contact; a sender that is no phone number (a short code, a name) by its Twilio address."""
        try:
            return {"phone": self.env["omnichannel.identity"]._normalize("phone", phone, channel.country_id.code)}
        except ValueError:
            return {"provider_id": phone}

    def _read_message(self, item, channel, date, result):
        sender = self._sender(item["from"], channel)
        media = []
        for index, file in enumerate(item["media"]):
            extension = mimetypes.guess_extension(file["mimetype"] or "") or ""
            media_sid = file["url"].rstrip("/").rsplit("/", 1)[-1][:64] or str(index)
            media.append({"ref": file["url"], "name": f"{media_sid}{extension}", "mimetype": file["mimetype"]})
        body = item["body"]
        if not body.strip():
            body = "\n".join(f"📎 {file['name']}" for file in media) or _("Empty SMS")
        event = {
            "channel_id": channel.id,
            "external_id": item["external_id"],
            "date": date,
            "sender": sender,
            "kind": "message",
            "direction": "inbound",
            "body": body,
        }
        if media:
            event["media"] = media
        result["events"].append(event)
        if item["opt_out_type"] in ("STOP", "START"):  # Twilio's Advanced Opt-Out matched a keyword
            result["consents"].append(
                {
                    "channel_id": channel.id,
                    "sender": sender,
                    "opt": "out" if item["opt_out_type"] == "STOP" else "in",
                    "date": date,
                    "reason": f"OptOutType {item['opt_out_type']}: {item['body'].strip()[:80]}",
                    "scope": "all",
                }
            )

    def _read_status(self, item, channel, date, result, callback=None):
        if not item["state"]:
            if callback and item["external_id"]:
                # queued, sending…: Twilio has it, which is what "sent" means here; said only to
                # tell the outbox a message id it may never have received.
                result["statuses"].append(
                    {
                        "channel_id": channel.id,
                        "external_id": item["external_id"],
                        "state": "sent",
                        "date": date,
                        "error": None,
                        "callback_data": callback,
                    }
                )
            return
        error = None
        if item["state"] == "failed":
            error = self._error_text(item["error_code"], item["error_message"])
        result["statuses"].append(
            {
                "channel_id": channel.id,
                "external_id": item["external_id"],
                "state": item["state"],
                "date": date,
                "error": error,
                "callback_data": callback,
            }
        )
        if item["error_code"] == UNSUBSCRIBED and item["to"]:
            result["consents"].append(
                {
                    "channel_id": channel.id,
                    "sender": self._sender(item["to"], channel),
                    "opt": "out",
                    "date": date,
                    "reason": error,
                    "scope": "all",
                }
            )

    @api.model
    def _download_media(self, channel, ref):
        base = channel._twilio_api_url().rstrip("/") + "/"
        if not ref.startswith(base):
            # The account's credentials go to Twilio's API only, never to a host a form named.
            raise ProviderError(_("The file's URL is not on the Twilio API (%(base)s).", base=base))
        content, mimetype = self._call(channel, "download_media", ref)
        mimetype = (mimetype or "application/octet-stream").split(";")[0].strip()
        name = ref.rstrip("/").rsplit("/", 1)[-1][:64]
        return f"{name}{mimetypes.guess_extension(mimetype) or ''}", mimetype, content

    # ------------------------------------------------------------ sending
    @api.model
    def _recipient(self, partner, channel):
        """The customer's phone (E.164): the one they texted this channel from, else any they have."""
        phones = partner.omni_identity_ids.sudo().filtered(lambda identity: identity.kind == "phone")
        if not phones:
            raise UserError(_("%(customer)s has no phone number to send an SMS to.", customer=partner.display_name))
        here = phones.filtered(lambda identity: identity.channel_id == channel)
        return max(here or phones, key=lambda identity: identity.id).value

    @api.model
    def _check_reply(self, conversation, message):
        # Consent (STOP, BAJA) is checked by the conversation before this; SMS has no window.
        self._recipient(conversation.partner_id, conversation.channel_id)
        channel = conversation.channel_id.sudo()
        if not channel.twilio_from_number and not channel.twilio_messaging_service_sid:
            raise UserError(
                _("The channel %(name)s has no sending number or Messaging Service SID.", name=channel.name)
            )

    @api.model
    def _outbox_payload(self, conversation, message):
        message.attachment_ids.check_access("read")  # only what the agent may read leaves the company
        # SMS shows no formatting: html2plaintext's *bold* and /italic/ marks would be noise.
        body = re.sub(r"</?(?:b|strong|i|em)\b[^>]*>", "", message.body or "")
        return {
            "type": "text",
            "text": html2plaintext(body).strip(),
            "attachment_ids": message.attachment_ids.ids,
        }

    @api.model
    def _parts(self, payload):
        """The Messages a reply becomes: the text in pieces of at most 1,600 characters, the
        files (10 per MMS) with the first piece."""
        chunks = _split(payload.get("text") or "", BODY_LIMIT)
        files = list(payload.get("attachment_ids") or [])
        groups = [files[i : i + MEDIA_LIMIT] for i in range(0, len(files), MEDIA_LIMIT)]
        count = max(len(chunks), len(groups), 1)
        return [
            {"body": chunks[i] if i < len(chunks) else "", "attachment_ids": groups[i] if i < len(groups) else []}
            for i in range(count)
        ]

    @api.model
    def _media_url(self, attachment_id):
        """A URL Twilio can fetch the file from: Odoo's public link with the attachment's access
        token (Twilio downloads MMS media itself; it cannot log in)."""
        attachment = self.env["ir.attachment"].sudo().browse(attachment_id)
        token = attachment.generate_access_token()[0]
        return f"{attachment.get_base_url()}/web/content/{attachment.id}?access_token={token}"

    @api.model
    def _deliver(self, outbox):
        """POST each part to Messages.json; parts Twilio accepted are remembered, so a retry
        after a passing failure sends only the rest. The last part's SID is the message's."""
        channel = outbox.channel_id.sudo()
        payload = dict(outbox.payload or {})
        # The number the sender chose (Odoo's SMS composer), else the customer's latest.
        to = payload.get("to") or self._recipient(outbox.partner_id, channel)
        sender = (
            {"MessagingServiceSid": channel.twilio_messaging_service_sid}
            if channel.twilio_messaging_service_sid
            else {"From": channel.twilio_from_number}
        )
        done = list(payload.get("sent_parts", []))
        parts = self._parts(payload)
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            # The outbox key rides on the callback URL (Twilio has no field echoing our data): a
            # status then tells which row the SMS was, even when Twilio's answer to this very
            # request was lost (``omnichannel.outbox._reconcile``). Earlier parts get their own.
            key = outbox.key if index == len(parts) - 1 else f"{outbox.key}:{index}"
            data = {"To": to, **sender, "StatusCallback": f"{channel.webhook_url}?{urlencode({'outbox': key})}"}
            if part["body"]:
                data["Body"] = part["body"]
            if part["attachment_ids"]:
                data["MediaUrl"] = [self._media_url(attachment_id) for attachment_id in part["attachment_ids"]]
            try:
                answer = self._call(channel, "send_message", data)
            except ProviderError as exc:
                raise self._send_error(exc, outbox, to) from exc
            done.append(answer["sid"])
            outbox.sudo().payload = dict(payload, sent_parts=done)
        return done[-1]

    @api.model
    def _send_error(self, exc, outbox, to):
        """What a refused send means: the customer unsubscribed (recorded as their opt-out), or a
        send whose answer never came (maybe sent: never repeated on its own)."""
        if exc.code == UNSUBSCRIBED:
            Inbox = self.env["omnichannel.inbox"]
            self.env["omnichannel.consent"]._record(
                Inbox._new_choices(
                    [
                        {
                            "partner_id": outbox.partner_id.id,
                            "channel_id": outbox.channel_id.id,
                            "opt": "out",
                            "date": fields.Datetime.now(),
                            "source": "provider",
                            "reason": str(exc)[:255],
                        }
                    ]
                )
            )
            return ProviderError(exc.message, code=exc.code, transient=False)
        if isinstance(exc.__cause__, TwilioTimeout):
            return ProviderError(
                _(
                    "Twilio did not answer in time, so the SMS may have been sent to %(to)s: if it was, its "
                    "status will mark it sent; otherwise check with the customer before retrying.",
                    to=to,
                ),
                transient=False,
            )
        return exc

    @api.model
    def _test_connection(self, channel):
        account = self._call(channel, "account")
        found = _(
            "Twilio account %(name)s (%(status)s).",
            name=account.get("friendly_name") or channel.sudo().twilio_account_sid,
            status=account.get("status") or "?",
        )
        number = channel.sudo().twilio_from_number
        if number:
            if not self._call(channel, "incoming_numbers", number):
                raise ProviderError(
                    _("The number %(number)s is not one of this Twilio account's numbers.", number=number)
                )
            found = _("%(account)s %(number)s belongs to it.", account=found, number=number)
        return found


def _split(text, limit):
    """``text`` in pieces of at most ``limit`` characters, cut at a space or line break when one
    is near; an emoji is never cut in two (Python counts code points, as Twilio does)."""
    chunks = []
    while len(text) > limit:
        cut = max(text.rfind(" ", 0, limit + 1), text.rfind("\n", 0, limit + 1))
        if cut < limit // 2:
            cut = limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    # Twilio Console > Account Info; Phone Numbers > Active numbers; Messaging > Services.
    twilio_account_sid = fields.Char(
        string="Account SID", copy=False, help="Twilio Console > Account Info (starts with AC)."
    )
    twilio_auth_token = fields.Char(
        string="Auth Token",
        copy=False,
        groups="base.group_system",
        help="Twilio Console > Account Info. It signs every webhook Twilio sends and authenticates our sends.",
    )
    twilio_from_number = fields.Char(
        string="Sending Number",
        copy=False,
        help="The Twilio phone number SMS are sent from, in E.164 form (+34600000000).",
    )
    twilio_messaging_service_sid = fields.Char(
        string="Messaging Service SID",
        copy=False,
        help="Send through this Messaging Service (starts with MG) instead of one number: Twilio picks the sender.",
    )

    @api.constrains("twilio_account_sid", "twilio_from_number", "twilio_messaging_service_sid")
    def _check_twilio_settings(self):
        for channel in self:
            if channel.twilio_from_number and not E164.match(channel.twilio_from_number):
                raise ValidationError(_("The sending number must be in E.164 form, such as +34600000000 (no spaces)."))
            for value, prefix, label in (
                (channel.twilio_account_sid, "AC", _("Account SID")),
                (channel.twilio_messaging_service_sid, "MG", _("Messaging Service SID")),
            ):
                if value and not re.match(rf"^{prefix}[0-9a-fA-F]{{32}}$", value):
                    raise ValidationError(
                        _(
                            "The %(field)s is %(prefix)s followed by 32 hexadecimal characters.",
                            field=label,
                            prefix=prefix,
                        )
                    )

    @api.model_create_multi
    def create(self, vals_list):
        # SMS channels answer the carriers' keywords (STOP, STOPALL, CANCEL…), not only the generic ones.
        defaults = self.default_get(["opt_out_keywords", "opt_in_keywords"])
        for vals in vals_list:
            if vals.get("channel_type") == "sms":
                for field, sms_default in (
                    ("opt_out_keywords", SMS_OPT_OUT_KEYWORDS),
                    ("opt_in_keywords", SMS_OPT_IN_KEYWORDS),
                ):
                    if vals.get(field) in (None, defaults.get(field)):
                        vals[field] = sms_default
        return super().create(vals_list)

    @api.onchange("channel_type")
    def _onchange_channel_type_sms_keywords(self):
        defaults = self.default_get(["opt_out_keywords", "opt_in_keywords"])
        for channel in self.filtered(lambda channel: channel.channel_type == "sms"):
            if channel.opt_out_keywords in (False, defaults.get("opt_out_keywords")):
                channel.opt_out_keywords = SMS_OPT_OUT_KEYWORDS
            if channel.opt_in_keywords in (False, defaults.get("opt_in_keywords")):
                channel.opt_in_keywords = SMS_OPT_IN_KEYWORDS

    @api.model
    def _twilio_api_url(self):
        return self.env["ir.config_parameter"].sudo().get_param(API_URL_PARAM) or DEFAULT_BASE_URL
