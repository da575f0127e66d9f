from . import common, test_ingest, test_api, test_partner, test_security, test_concurrency, test_ui
from . import test_timeline
from . import test_timeline_ui
from . import test_multi_company
from . import test_ordinary_users
from . import test_hardening
from . import test_retry
from . import test_api_fuzz
from . import test_migration
