#!/usr/bin/env python3
"""One Newton iteration, Python port against the MATLAB code under Octave.

    .venv/bin/python scripts/bench_newton.py [--instances 256 1024] [--jacobian 1 0]
        [--precision double] [--repeats 2] [--config CFG] [--data DATA.mat [--rowmajor] [--normalize]]
        [--matlab-dir DIR] [--seed 1] [--no-octave] [--json FILE] [--timeout SEC]
        [--extra-options '-GNsize 256 ...']

The command line of ``simplecnn_bench/newton.py``, the one implementation
of the Newton-iteration benchmark (``simplecnn bench`` runs the same code for
its Newton rows); what is measured and how is described there and in
docs/performance.md.  Defaults: the 1-32-64-64 MNIST shape
(``matlab_ref/current/MATLAB/config/mnist-demo-layer4.config``) on the first N
instances of ``../shared/data/mnist-demo.mat`` (row-major, Z/255 minus the
mean; the shipped demo digits when the file is absent), the default options with
``-Jacobian 1`` and ``-Jacobian 0``, double precision, against
``matlab_ref/current/MATLAB``.  Any config works, with ``--data`` (and
``--rowmajor``/``--normalize`` as ``simplecnn train`` takes them) or random
images.  The table goes to stdout, ``--json FILE`` writes every measurement.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simplecnn_bench.newton import main, measure, print_table  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
