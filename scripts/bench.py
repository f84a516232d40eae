#!/usr/bin/env python3
"""The benchmark: ``scripts/bench.py [options]`` is ``simplecnn bench [options]``.

See ``simplecnn bench --help`` and docs/performance.md.  Example (the
figures of the performance note, one run)::

    .venv/bin/python scripts/bench.py --json bench.json
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simplecnn_cli.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
