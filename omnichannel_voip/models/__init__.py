from . import (
    omnichannel_call,
    omnichannel_channel,
    omnichannel_inbox,
    omnichannel_provider_asterisk,
    omnichannel_provider_twilio_voice,
    res_partner,
    res_users,
)
