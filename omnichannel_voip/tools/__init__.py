from . import twilio_voice, twilio_voice_client  # noqa: F401
from . import ari_events  # noqa: F401
