from . import omnichannel_base
