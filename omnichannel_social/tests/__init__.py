from . import test_channel
from . import test_whatsapp_smoke
from . import test_whatsapp_inbound
from . import test_whatsapp_outbox
from . import test_webhook_fuzz
from . import test_whatsapp_ui
from . import test_concurrency
