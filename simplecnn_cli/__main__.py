import sys

from simplecnn_cli.main import cli

sys.exit(cli())
