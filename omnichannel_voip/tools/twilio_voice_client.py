"""Twilio's Calls and Recordings resources for the Voice provider, on the shared client of
Twilio's REST API (``omnichannel_base/tools/twilio_api.py``: timeouts, authentication, errors)."""

from odoo.addons.omnichannel_base.tools.twilio_api import (  # noqa: F401 (the provider's names)
    DEFAULT_BASE_URL,
    TwilioApi,
    TwilioError,
    TwilioTimeout,
)

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioVoiceClient(TwilioApi):
    """Programmable Voice calls of one Twilio account."""

    def create_call(self, to, from_, url, status_callback, timeout=None):
        """Place a call (Twilio "Call resource", Create): Twilio rings ``to``, and when it answers
        runs the TwiML ``url`` returns; every progress event goes to ``status_callback``. The
        answer is the Call resource (``sid``, ``status`` "queued")."""
        data = [("To", to), ("From", from_), ("Url", url), ("Method", "POST"), ("StatusCallback", status_callback),
                ("StatusCallbackMethod", "POST")]  # fmt: skip
        data += [("StatusCallbackEvent", event) for event in CALL_EVENTS]
        if timeout:
            data.append(("Timeout", str(int(timeout))))
        return self.request("POST", "/Calls.json", data=data)

    def fetch_call(self, sid):
        return self.request("GET", f"/Calls/{sid}.json")

    def recent_calls(self, to, from_):
        """The latest calls to ``to`` from ``from_`` (newest first), as Twilio lists them."""
        answer = self.request("GET", "/Calls.json", params={"To": to, "From": from_, "PageSize": 20})
        return answer.get("calls") or []

    def download_recording(self, url):
        """(bytes, content type) of a recording: its ``RecordingUrl`` with ``.mp3`` (Twilio
        "Recording resource": the file in the format the extension names)."""
        url = url if url.endswith((".mp3", ".wav")) else f"{url}.mp3"
        return self.download(url)
