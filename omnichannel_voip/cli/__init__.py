from . import omnichannel_ari
