from . import test_kpi
from . import test_rfm
