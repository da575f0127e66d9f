from . import omnichannel_base
from . import webhook
