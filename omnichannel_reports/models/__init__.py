# Order matters: Odoo creates each model's columns, then runs its init(), in this order. The SQL
# views (the reports) read columns of the models above them, so they come last.
from . import omnichannel_conversation
from . import omnichannel_csat
from . import omnichannel_ingest
from . import omnichannel_team
from . import res_config_settings
from . import res_partner
from . import mailing_mailing
from . import omnichannel_conversation_report
from . import omnichannel_retention_report
