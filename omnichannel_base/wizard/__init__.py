from . import base_partner_merge_automatic_wizard
from . import omnichannel_log_interaction
from . import omnichannel_channel_token_show
