from . import omnichannel_team
from . import omnichannel_channel
from . import omnichannel_provider
from . import omnichannel_identity
from . import omnichannel_conversation
from . import omnichannel_interaction
from . import omnichannel_ingest
from . import res_partner
