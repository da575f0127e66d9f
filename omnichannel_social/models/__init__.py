from . import omnichannel_channel
from . import omnichannel_provider_whatsapp
from . import omnichannel_whatsapp_template
from . import omnichannel_conversation
