from . import omnichannel_conversation
from . import omnichannel_ingest
from . import omnichannel_team
from . import res_config_settings
from . import res_partner
