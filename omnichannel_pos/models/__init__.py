from . import omnichannel_channel
from . import pos_config
from . import pos_order
from . import res_config_settings
from . import res_partner
