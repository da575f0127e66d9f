from . import omnichannel_channel
from . import fetchmail_server
from . import omnichannel_mail_failure
from . import omnichannel_provider_email
from . import omnichannel_conversation
from . import mail_thread
from . import omnichannel_interaction
from . import mail_notification
