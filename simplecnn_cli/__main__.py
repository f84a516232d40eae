import sys

from simplecnn_cli.main import main

sys.exit(main())
