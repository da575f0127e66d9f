from . import test_channel
from . import test_pos_order_timeline
from . import test_pos_ui
from . import test_pos_context
from . import test_pos_phone_search
