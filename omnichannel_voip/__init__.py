from . import cli, models, tools
