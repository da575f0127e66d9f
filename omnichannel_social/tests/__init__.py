from . import test_channel
from . import test_whatsapp_smoke
