from . import omnichannel_channel
