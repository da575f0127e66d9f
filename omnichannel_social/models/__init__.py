from . import omnichannel_channel
from . import omnichannel_provider_whatsapp
from . import omnichannel_whatsapp_template
from . import omnichannel_conversation
from . import mail_message
from . import omnichannel_interaction
from . import omnichannel_outbox
