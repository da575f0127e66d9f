from . import test_csat
from . import test_dashboard
from . import test_kpi
from . import test_report_access
from . import test_report_model
from . import test_retention
from . import test_rfm
from . import test_rfm_mailing
