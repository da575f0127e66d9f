from . import test_channel
from . import test_mail_gateway
