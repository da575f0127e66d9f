import logging
import re
from datetime import timedelta
from urllib.parse import parse_qsl

from werkzeug.wrappers import Response

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.translate import LazyTranslate

from odoo.addons.omnichannel_base.models.omnichannel_provider import empty_parse
from odoo.addons.omnichannel_base.tools.provider import ProviderError

from ..tools import twilio_voice
from ..tools.twilio_voice_client import DEFAULT_BASE_URL, TwilioVoiceClient, TwilioError, TwilioTimeout

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

API_URL_PARAM = "omnichannel_voip.twilio_api_url"
READ_TIMEOUT_PARAM = "omnichannel_voip.twilio_read_timeout"
TIMEOUT = (3.05, 10)  # seconds to connect, seconds to wait for Twilio's answer
TWIML_TYPE = "text/xml; charset=utf-8"
# What Twilio's error codes for a new call mean for an agent (Twilio "Error and warning dictionary").
ERROR_MEANINGS = {
    21210: _lt("the channel's number is not a Twilio number or verified caller ID of the account"),
    21211: _lt("the number is not a valid phone number"),
    21214: _lt("the number cannot be reached"),
    21215: _lt("calls to this country are not enabled on the Twilio account (Voice geographic permissions)"),
    21216: _lt("Twilio blocks calls to this number"),
    21217: _lt("the number is not a valid phone number"),
}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# How long after a request Twilio did not answer a call it placed may show in its call log.
RECONCILE_WINDOW = timedelta(seconds=120)
CLOCK_SKEW = timedelta(seconds=5)


class OmnichannelProviderTwilioVoice(models.AbstractModel):
    """Phone calls through Twilio Programmable Voice (or a Twilio-compatible API).

    Inbound: the number's voice webhook is this channel's webhook URL: it is answered with
    TwiML that rings the agent (or the team's agents) and asks Twilio to report each leg, the
    end of the ringing and the recording to the same URL. Every request is stored in the inbox
    and read into call updates (``omnichannel.call._apply_updates``). Outbound (click-to-dial):
    the Calls API rings the agent first; when they answer, the call's TwiML dials the customer.
    """

    _name = "omnichannel.provider.twilio_voice"
    _inherit = ["omnichannel.twilio.webhook", "omnichannel.provider"]
    _description = "Twilio Voice"
    _channel_types = ("voice",)

    # ------------------------------------------------------------ client
    @api.model
    def _client(self, channel):
        channel = channel.sudo()
        if not channel.tv_account_sid or not channel.tv_auth_token:
            raise ProviderError(_("The channel %(name)s has no Twilio Account SID or Auth Token.", name=channel.name))
        return TwilioVoiceClient(
            channel._tv_api_url(),
            channel.tv_account_sid,
            channel.tv_auth_token,
            self._timeouts(READ_TIMEOUT_PARAM, TIMEOUT),
        )

    @api.model
    def _call(self, channel, method, *args, **kwargs):
        """``TwilioVoiceClient.<method>`` for ``channel``, with Twilio's errors as ProviderError."""
        try:
            return getattr(self._client(channel), method)(*args, **kwargs)
        except TwilioError as exc:
            message = exc.message
            if exc.code in ERROR_MEANINGS:
                message = f"{ERROR_MEANINGS[exc.code]} ({exc.message})"
            raise ProviderError(message, code=exc.code, transient=exc.transient, retry_after=exc.retry_after) from exc

    # ------------------------------------------------------------ webhooks
    def _twilio_auth_token(self, channel):
        return channel.tv_auth_token

    @api.model
    def _webhook_answer(self, channel, httprequest):
        """TwiML: the <Dial> of a new inbound call, the customer's number for a click-to-dial
        the agent answered, nothing for callbacks. Read-only and quick: the caller waits for it."""
        form = twilio_voice.first_values(httprequest.form.items(multi=True))
        query = httprequest.args
        if query.get("step") == "connect":
            twiml = self._connect_twiml(channel, query)
        elif twilio_voice.is_incoming_call(form, query):
            twiml = self._inbound_twiml(channel, form)
        else:
            twiml = twilio_voice.empty_twiml()
        return Response(twiml, status=200, content_type=TWIML_TYPE)

    @api.model
    def _callback_urls(self, channel, key, direction):
        url = channel.sudo().webhook_url
        record = channel.sudo().tv_record
        return {
            "action": twilio_voice.callback_url(url, call=key, dir=direction, step="dial"),
            "leg_callback": twilio_voice.callback_url(url, call=key, dir=direction, step="leg"),
            "recording_callback": twilio_voice.callback_url(url, call=key, dir=direction, step="recording")
            if record
            else None,
        }

    @api.model
    def _inbound_twiml(self, channel, form):
        call_sid = (form.get("CallSid") or "").strip()
        if len(call_sid) > twilio_voice.MAX_SID_CHARS or not twilio_voice.SID.match(call_sid):
            return twilio_voice.empty_twiml()
        targets = self._inbound_targets(channel, (form.get("From") or "").strip())
        if not targets:
            # Nobody to ring: refused unanswered, and recorded as a missed call by its status callback.
            return twilio_voice.reject_twiml("busy")
        return twilio_voice.dial_twiml(
            targets, timeout=channel.sudo().tv_ring_timeout or 30, **self._callback_urls(channel, call_sid, "in")
        )

    @api.model
    def _inbound_targets(self, channel, caller):
        """Where an inbound call rings: the agent who has the caller's open conversation (on any
        channel of the company: the chat of this morning), else every agent of the channel's team."""
        channel = channel.sudo()
        users = self.env["res.users"]
        try:
            number = self.env["omnichannel.identity"]._normalize("phone", caller, channel.country_id.code)
        except ValueError:
            number = None
        if number:
            found = self.env["omnichannel.identity"].sudo()._lookup([("phone", number)], channel.company_id)
            partner_id = found.get(("phone", number), (None, None))[1]
            if partner_id:
                conversation = (
                    self.env["omnichannel.conversation"]
                    .sudo()
                    .search(
                        [
                            ("partner_id", "=", partner_id),
                            ("state", "!=", "resolved"),
                            ("user_id", "!=", False),
                            ("company_id", "=", channel.company_id.id),
                        ],
                        order="last_message_date desc, id desc",
                        limit=1,
                    )
                )
                users = conversation.user_id.filtered("omni_extension")
        if not users:
            users = channel.team_id.member_ids.filtered("omni_extension")
        return [self._target(user.omni_extension, channel) for user in users.filtered("active")]

    @api.model
    def _target(self, extension, channel):
        """An agent's ``omni_extension`` as Twilio dials it: ``client:``/``sip:`` as they are, a
        number in E.164 (agents may type it with spaces, or nationally)."""
        extension = extension.strip()
        if extension.startswith(("client:", "sip:", "sips:")):
            return extension
        try:
            return self.env["omnichannel.identity"]._normalize("phone", extension, channel.country_id.code)
        except ValueError:
            return extension

    @api.model
    def _connect_twiml(self, channel, query):
        """A click-to-dial the agent answered: ring the customer, showing the channel's number."""
        key, to = query.get("call") or "", query.get("to") or ""
        if not E164.match(to) or len(key) > twilio_voice.MAX_SID_CHARS or not twilio_voice.SID.match(key):
            return twilio_voice.response()  # not a URL of ours: hang up
        channel = channel.sudo()
        return twilio_voice.dial_twiml(
            [to],
            timeout=channel.tv_ring_timeout or 30,
            caller_id=channel.tv_number or None,
            **self._callback_urls(channel, key, "out"),
        )

    @api.model
    def _parse_webhook(self, delivery):
        pairs = parse_qsl(delivery.payload or "", keep_blank_values=True)
        query = dict(parse_qsl(delivery.query_string or "", keep_blank_values=True))
        try:
            updates = twilio_voice.read_form(pairs, query)
        except twilio_voice.PayloadError as exc:
            raise ValueError(_("Not a Twilio call or callback: %(reason)s", reason=exc)) from None
        received = delivery.received_date or fields.Datetime.now()
        for update in updates:
            update["channel_id"] = delivery.channel_id.id
            update["date"] = update["date"] or received
        result = empty_parse()
        result["calls"] = updates
        return result

    @api.model
    def _download_media(self, channel, ref):
        base = channel._tv_api_url().rstrip("/") + "/"
        if not ref.startswith(base):
            # The account's credentials go to Twilio's API only, never to a host a form named.
            raise ProviderError(_("The recording's URL is not on the Twilio API (%(base)s).", base=base))
        content, mimetype = self._call(channel, "download_recording", ref)
        mimetype = (mimetype or "audio/mpeg").split(";")[0].strip()
        name = ref.rstrip("/").rsplit("/", 1)[-1][:64]
        name = name if "." in name else f"{name}{'.wav' if mimetype in ('audio/wav', 'audio/x-wav') else '.mp3'}"
        return name, mimetype, content

    # ------------------------------------------------------------ click-to-dial
    @api.model
    def _originate(self, call):
        """Ring the agent through the Calls API; once they answer, the TwiML of the ``connect``
        step dials the customer. Every URL carries the call's dial key, so each callback finds
        this call. Returns Twilio's CallSid."""
        channel = call.channel_id.sudo()
        extension = call.user_id.sudo().omni_extension
        if not extension:
            raise ProviderError(_("%(agent)s has no phone extension to ring.", agent=call.user_id.name))
        if not channel.tv_number:
            raise ProviderError(_("The channel %(name)s has no Twilio number to call from.", name=channel.name))
        agent, key = self._target(extension, channel), call.dial_key or call.call_key
        url = channel.webhook_url
        started = fields.Datetime.now()
        try:
            answer = self._call(
                channel,
                "create_call",
                agent,
                channel.tv_number,
                twilio_voice.callback_url(url, call=key, dir="out", step="connect", to=call.customer_number),
                twilio_voice.callback_url(url, call=key, dir="out", step="status"),
                timeout=channel.tv_ring_timeout or 30,
            )
        except ProviderError as exc:
            if not isinstance(exc.__cause__, TwilioTimeout):
                raise
            # Twilio may have placed it: look for it rather than place a second one.
            sid = self._placed_call(channel, agent, started)
            if sid:
                return sid
            raise ProviderError(
                _(
                    "Twilio did not answer in time and shows no call to %(agent)s: try again.",
                    agent=agent,
                ),
                transient=False,
            ) from exc
        return answer.get("sid")

    @api.model
    def _placed_call(self, channel, agent, since):
        """The CallSid of a call to ``agent`` from the channel's number that Twilio created
        since ``since`` (a request it did not answer in time), or None."""
        try:
            calls = self._call(channel, "recent_calls", agent, channel.sudo().tv_number)
        except ProviderError:
            return None
        for item in calls:
            created = twilio_voice.timestamp(item.get("date_created"))
            # Twilio's dates have whole seconds; the clocks may differ by a little.
            if created and since - CLOCK_SKEW <= created <= since + RECONCILE_WINDOW:
                return item.get("sid")
        return None

    @api.model
    def _test_connection(self, channel):
        account = self._call(channel, "account")
        found = _(
            "Twilio account %(name)s (%(status)s).",
            name=account.get("friendly_name") or channel.sudo().tv_account_sid,
            status=account.get("status") or "?",
        )
        number = channel.sudo().tv_number
        if number:
            if not self._call(channel, "incoming_numbers", number):
                raise ProviderError(
                    _("The number %(number)s is not one of this Twilio account's numbers.", number=number)
                )
            found = _("%(account)s %(number)s belongs to it.", account=found, number=number)
        return found


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    # Twilio Console > Account Info; Phone Numbers > Active numbers.
    tv_account_sid = fields.Char(
        string="Twilio Account SID", copy=False, help="Twilio Console > Account Info (starts with AC)."
    )
    tv_auth_token = fields.Char(
        string="Twilio Auth Token",
        copy=False,
        groups="base.group_system",
        help="Twilio Console > Account Info. It signs every webhook Twilio sends and authenticates our calls.",
    )
    tv_number = fields.Char(
        string="Twilio Number",
        copy=False,
        help="The Twilio phone number customers call, and the caller ID of calls placed from Odoo (E.164: "
        "+34910000000).",
    )
    tv_record = fields.Boolean(
        string="Record Calls",
        help="Record answered calls (both sides); the recording is attached to the call on the customer's "
        "timeline. Tell callers, as the law where you operate requires.",
    )
    tv_ring_timeout = fields.Integer(
        string="Ring Time (s)", default=30, help="How long agents' phones ring before the call counts as missed."
    )

    @api.constrains("tv_account_sid", "tv_number", "tv_ring_timeout")
    def _check_twilio_voice_settings(self):
        for channel in self:
            if channel.tv_number and not E164.match(channel.tv_number):
                raise ValidationError(_("The Twilio number must be in E.164 form, such as +34910000000 (no spaces)."))
            if channel.tv_account_sid and not re.match(r"^AC[0-9a-fA-F]{32}$", channel.tv_account_sid):
                raise ValidationError(_("The Account SID is AC followed by 32 hexadecimal characters."))
            if channel.provider == "twilio_voice" and not 5 <= (channel.tv_ring_timeout or 0) <= 600:
                raise ValidationError(_("Agents' phones ring between 5 and 600 seconds."))

    @api.model
    def _tv_api_url(self):
        return self.env["ir.config_parameter"].sudo().get_param(API_URL_PARAM) or DEFAULT_BASE_URL
