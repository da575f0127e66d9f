import json
import logging
import mimetypes
import re

from odoo import _, api, fields, models
from odoo.exceptions import AccessDenied, ValidationError

from odoo.addons.omnichannel_base.models.omnichannel_provider import empty_parse
from odoo.addons.omnichannel_base.tools.provider import ProviderError

from ..tools import ari_events
from ..tools.ari_client import AriClient, AriError

_logger = logging.getLogger(__name__)

READ_TIMEOUT_PARAM = "omnichannel_voip.ari_read_timeout"
TIMEOUT = (3.05, 10)  # seconds to connect, seconds to wait for Asterisk's answer
AGENT_RING_SECONDS = 30  # how long the agent's phone rings for a click-to-dial call
MAX_DIAL_TARGETS = 20


class OmnichannelProviderAsterisk(models.AbstractModel):
    """Phone calls through an Asterisk PBX (20 or 22), over its REST Interface (ARI).

    Events do not come to the webhook: the ``omnichannel-ari`` listener holds the events
    WebSocket open and stores each event in the inbox (``tools/ari_events.event_key``), where
    ``_parse_webhook`` reads it as call updates. Odoo calls the REST API to place click-to-dial
    calls, fetch recordings and check the connection.
    """

    _name = "omnichannel.provider.asterisk"
    _inherit = "omnichannel.provider"
    _description = "Asterisk (ARI)"
    _channel_types = ("voice",)

    # ------------------------------------------------------------ client
    @api.model
    def _client(self, channel):
        channel = channel.sudo()
        if not channel.ari_url or not channel.ari_user:
            raise ProviderError(_("The channel %(name)s has no ARI URL or user.", name=channel.name))
        return AriClient(
            channel.ari_url, channel.ari_user, channel.ari_password, self._timeouts(READ_TIMEOUT_PARAM, TIMEOUT)
        )

    @api.model
    def _parse_options(self, channel):
        channel = channel.sudo()
        return {
            "outbound_context": channel.ari_outbound_context or None,
            "endpoint_template": channel.ari_endpoint_template or "PJSIP/{extension}",
        }

    @api.model
    def _endpoint(self, channel, extension):
        """The dial string of an agent's phone: the channel's template with their extension."""
        return (channel.sudo().ari_endpoint_template or "PJSIP/{extension}").replace("{extension}", extension.strip())

    # ------------------------------------------------------------ events (from the listener)
    @api.model
    def _verify_webhook(self, channel, httprequest):
        raise AccessDenied(
            _("Asterisk events come through the omnichannel-ari listener (the ARI WebSocket), not the webhook.")
        )

    @api.model
    def _event_key(self, channel, event):
        """The inbox key the listener stores ``event`` under: the same event is stored once."""
        return ari_events.event_key(channel.id, event)

    @api.model
    def _is_relevant(self, channel, event):
        """Whether the listener should store ``event`` at all (most PBX events are not about our calls)."""
        return ari_events.is_relevant(event, **self._parse_options(channel))

    @api.model
    def _parse_webhook(self, delivery):
        try:
            payload = json.loads(delivery.payload or "")
        except ValueError:
            raise ValueError(_("Not an ARI event: the payload is not JSON.")) from None
        channel = delivery.channel_id
        result = empty_parse()
        result["calls"] = []
        options = self._parse_options(channel)
        for event in payload if isinstance(payload, list) else [payload]:
            try:
                result["calls"] += ari_events.parse_event(
                    event, channel.id, default_date=delivery.received_date, **options
                )
            except ari_events.PayloadError as exc:
                raise ValueError(_("Not an ARI event Odoo can read: %(reason)s", reason=exc)) from None
        return result

    @api.model
    def _ari_route(self, channel, event):
        """Channel variables for a call that just entered our Stasis app (``StasisStart``), set
        by the listener before the call goes on in the dialplan. ``__OMNI_CALL`` marks the call
        and every leg it dials as ours (ari.conf ``channelvars``); ``OMNI_DIAL`` is who an
        inbound call rings: the agent of the customer's open conversation, else the agents of
        the channel's team, as dial strings joined by "&" (empty: the dialplan's fallback).
        Read-only and quick: the caller waits for it."""
        args = event.get("args") if isinstance(event.get("args"), list) else []
        direction = str(args[0]).strip().lower() if args else ""
        if direction == "outbound":
            return {"__OMNI_CALL": "outbound"}
        if direction != "inbound":
            return {}
        agents = self._agents_for(channel, event.get("channel") or {})
        targets = list(dict.fromkeys(self._endpoint(channel, user.omni_extension) for user in agents))
        return {"__OMNI_CALL": "inbound", "OMNI_DIAL": "&".join(targets[:MAX_DIAL_TARGETS])}

    @api.model
    def _agents_for(self, channel, ari_channel):
        """The users an inbound call should ring, in order: the owner of the caller's open
        conversation (this channel's first), else the channel team's agents."""
        channel = channel.sudo()
        Users = self.env["res.users"].sudo()
        number, _name, withheld = (
            ari_events.caller_number(ari_channel) if isinstance(ari_channel, dict) else (None,) * 3
        )
        if number and not withheld:
            try:
                phone = self.env["omnichannel.identity"]._normalize("phone", number, channel.country_id.code)
            except ValueError:
                phone = None
            found = phone and self.env["omnichannel.identity"]._lookup([("phone", phone)], channel.company_id)
            partner_id = found and found.get(("phone", phone), (None, None))[1]
            if partner_id:
                conversations = (
                    self.env["omnichannel.conversation"]
                    .sudo()
                    .search(
                        [("partner_id", "=", partner_id), ("state", "!=", "resolved"), ("user_id", "!=", False)],
                        order="id desc",
                        limit=10,
                    )
                )
                conversations = conversations.sorted(lambda c: c.channel_id != channel)
                for user in conversations.user_id:
                    if user.omni_extension and user.active:
                        return user
        team = channel.team_id
        members = team.member_ids if team else Users.browse()
        return members.filtered(lambda user: user.omni_extension and user.active and not user.share)

    # ------------------------------------------------------------ calls and files
    @api.model
    def _originate(self, call):
        """Ring the agent's phone; when they pick up, the outbound context calls the customer.
        Our dial key is the new channel's id (and so the call's linkedid): the same request
        again answers 409, so a retry never places a second call."""
        channel = call.channel_id.sudo()
        extension = (call.user_id.omni_extension or "").strip()
        if not extension:
            raise ProviderError(_("%(agent)s has no phone extension.", agent=call.user_id.name), transient=False)
        if not channel.ari_outbound_context:
            raise ProviderError(_("The channel %(name)s has no outbound context.", name=channel.name), transient=False)
        client = self._client(channel)
        who = re.sub(r'["<>\\]', "", call.partner_id.name or "")[:40]
        request = {
            "extension": call.customer_number,
            "context": channel.ari_outbound_context,
            "priority": 1,
            "caller_id": f'"{who}" <{call.customer_number}>' if who else call.customer_number,
            "timeout": AGENT_RING_SECONDS,
            "channel_id": call.dial_key,
            "variables": {"OMNI_DIAL_KEY": call.dial_key, "__OMNI_CALL": "outbound"},
        }
        endpoint = self._endpoint(channel, extension)
        for attempt in (1, 2):
            try:
                answer = client.originate(endpoint, **request)
            except AriError as exc:
                if exc.conflict:  # placed by the attempt whose answer was lost
                    return call.dial_key
                if exc.transient and attempt == 1:
                    continue  # same channelId: safe to ask again
                raise
            return (answer or {}).get("id") or call.dial_key
        return call.dial_key

    @api.model
    def _download_media(self, channel, ref):
        """A MixMonitor recording, by its name in Asterisk's recording directory. MixMonitor
        announces the file when it starts writing it: until the call has ended, the download
        waits (a transient error: the media job tries again later)."""
        media = self.env["omnichannel.media"].sudo().search(
            [("ref", "=", ref), ("interaction_id.channel_id", "=", channel.id),
             ("interaction_id.res_model", "=", "omnichannel.call")],
            limit=1,
        )  # fmt: skip
        call = self.env["omnichannel.call"].sudo().browse(media.interaction_id.res_id).exists() if media else None
        if call and call.state != "ended":
            raise ProviderError(_("The call is still going on: its recording is fetched once it ends."), transient=True)
        content, mimetype = self._client(channel).recording_file(ref)
        base = ref.rsplit("/", 1)[-1]
        mimetype = mimetype if mimetype and mimetype.startswith("audio/") else "audio/wav"
        extension = {"audio/x-wav": ".wav", "audio/wave": ".wav", "audio/wav": ".wav"}.get(mimetype) or (
            mimetypes.guess_extension(mimetype) or ".wav"
        )
        return f"{base}{extension}", mimetype, content

    @api.model
    def _test_connection(self, channel):
        client = self._client(channel)
        info = client.info() or {}
        system = info.get("system") or {}
        found = _(
            "Asterisk %(version)s (%(name)s), ARI %(api)s.",
            version=system.get("version") or "?",
            name=(info.get("config") or {}).get("name") or system.get("entity_id") or "?",
            api=(client.resources() or {}).get("apiVersion") or "?",
        )
        app = channel.sudo().ari_app or "omnichannel"
        try:
            client.request("GET", f"/applications/{app}")
        except AriError as exc:
            if not exc.not_found:
                raise
            return _("%(found)s No listener is connected for the app %(app)s yet.", found=found, app=app)
        return _("%(found)s The listener is connected (app %(app)s).", found=found, app=app)


class OmnichannelChannel(models.Model):
    _inherit = "omnichannel.channel"

    ari_url = fields.Char(
        string="ARI URL",
        copy=False,
        help="Asterisk's HTTP server (http.conf), such as http://pbx.example.com:8088. Odoo adds /ari.",
    )
    ari_user = fields.Char(string="ARI User", copy=False, help="A user of ari.conf (type = user).")
    ari_password = fields.Char(string="ARI Password", copy=False, groups="base.group_system")
    ari_app = fields.Char(
        string="Stasis App",
        default="omnichannel",
        help="The application name the dialplan gives Stasis(): Stasis(omnichannel,inbound).",
    )
    ari_endpoint_template = fields.Char(
        string="Agent Phone Dial String",
        default="PJSIP/{extension}",
        help="How Asterisk reaches an agent's phone from their extension: PJSIP/{extension}, SIP/{extension}, "
        "Local/{extension}@agents.",
    )
    ari_outbound_context = fields.Char(
        string="Outbound Context",
        default="omnichannel-outbound",
        help="The dialplan context of calls placed from Odoo: it receives the customer's number as extension.",
    )

    @api.constrains("ari_url", "ari_endpoint_template", "ari_app")
    def _check_ari_settings(self):
        for channel in self:
            if channel.ari_url and not re.match(r"^https?://[^\s/]+", channel.ari_url.strip()):
                raise ValidationError(_("The ARI URL starts with http:// or https://, such as http://pbx:8088."))
            if channel.ari_endpoint_template and "{extension}" not in channel.ari_endpoint_template:
                raise ValidationError(
                    _("The agent phone dial string must contain {extension}, such as PJSIP/{extension}.")
                )
            if channel.ari_app and not re.match(r"^[A-Za-z0-9_.-]+$", channel.ari_app):
                raise ValidationError(_("The Stasis app name may hold letters, digits, '.', '_' and '-' only."))
