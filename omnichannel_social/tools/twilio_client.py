"""Twilio's Messages resource for the SMS provider, on the shared client of Twilio's REST API
(``omnichannel_base/tools/twilio_api.py``: timeouts, authentication, errors)."""

from odoo.addons.omnichannel_base.tools.twilio_api import (  # noqa: F401 (the provider's names)
    DEFAULT_BASE_URL,
    TwilioApi,
    TwilioError,
    TwilioTimeout,
)


class TwilioClient(TwilioApi):
    """Programmable Messaging calls of one Twilio account."""

    def send_message(self, data):
        """Create a Message (``To``, ``From`` or ``MessagingServiceSid``, ``Body``, ``MediaUrl``
        (a list), ``StatusCallback``); the answer has ``sid`` and ``status``."""
        return self.request("POST", "/Messages.json", data=data)

    def fetch_message(self, sid):
        return self.request("GET", f"/Messages/{sid}.json")

    def download_media(self, url):
        """(bytes, content type) of a ``MediaUrl{N}``."""
        return self.download(url)
