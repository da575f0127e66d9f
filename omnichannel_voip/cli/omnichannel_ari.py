"""``odoo omnichannel-ari``: the Asterisk ARI listener, a process of its own beside Odoo.

    python -m odoo --addons-path=<paths> omnichannel-ari -c odoo.conf -d <database>

(Odoo finds an add-on's command before it reads ``-c``: the add-ons path must come first, as
``--addons-path=…``.) See tools/ari_listener.py for what it does, README for why it is a process.
"""

import logging
import signal
import sys

import odoo
from odoo.cli.command import Command
from odoo.tools import config

_logger = logging.getLogger(__name__)


class OmnichannelAri(Command):
    """Listen to Asterisk (ARI) call events for the database's phone channels"""

    name = "omnichannel-ari"

    def run(self, args):
        config.parser.prog = f"{sys.argv[0].rsplit('/', 1)[-1]} {self.name}"
        config.parse_config(args, setup_logging=True)
        databases = [name for name in (config["db_name"] or "").split(",") if name]
        if len(databases) != 1:
            sys.exit("omnichannel-ari: name one database with -d (or db_name in the configuration file)")
        # Imported late: the add-ons path is only known once the configuration is read.
        from odoo.addons.omnichannel_voip.tools.ari_listener import AriSupervisor

        odoo.service.server.load_server_wide_modules()
        registry = odoo.modules.registry.Registry(databases[0])
        supervisor = AriSupervisor(registry)

        def stop(signum, _frame):
            _logger.info("omnichannel-ari: signal %s, stopping", signum)
            supervisor.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        supervisor.run()
