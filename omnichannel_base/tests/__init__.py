from . import common, test_ingest, test_api, test_partner, test_security, test_concurrency, test_ui
from . import test_timeline
from . import test_timeline_ui
