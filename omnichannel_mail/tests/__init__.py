from . import test_channel
from . import test_mail_gateway
from . import test_fetchmail_imap
from . import test_ui
from . import test_mail_corpus
from . import test_fetchmail_busy
from . import test_mail_failure
