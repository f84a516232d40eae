"""``simplecnn bench``: how fast the port is, against Octave, PyTorch and the GEMM bound.

    simplecnn bench [--config CFG] [--instances 256 1024] [--precision double single]
                    [--repeats 3] [--matlab-dir DIR] [--data DATA.mat] [--skip WHAT,...]
                    [--json FILE]

The arguments only; what is measured and how is ``simplecnn_bench``
(docs/performance.md).
"""
from __future__ import annotations

import sys

from simplecnn_bench import ITEMS


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="time the port against Octave, PyTorch and the GEMM bound",
        description="Time lossgrad_subset, fungrad_minibatch, the simplecnn gradient process, the "
                    "MATLAB code under Octave, PyTorch, and the GEMM bound; print a table, write JSON.")
    p.add_argument("--config", metavar="CFG", help="simpleNN config (default: the 1-32-64-64 MNIST shape)")
    p.add_argument("--instances", type=int, nargs="+", default=[256, 1024], metavar="N",
                   help="instance counts (default: 256 1024)")
    p.add_argument("--precision", nargs="+", choices=("double", "single"), default=["double", "single"])
    p.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up (median; default 3)")
    p.add_argument("--matlab-dir", metavar="DIR",
                   help="MATLAB tree run under Octave, any version of simpleNN (its cnn/ or MATLAB/cnn/ folder; "
                        "default: matlab_ref/seed)")
    p.add_argument("--data", metavar="DATA.mat",
                   help="simpleNN data file (default for a 28x28x1 10-class config: ../shared/data/mnist-demo.mat "
                        "when present, else the shipped demo digits; other configs: random images, "
                        "with a warning on stderr)")
    p.add_argument("--rowmajor", action="store_true", help="images in --data are stored row-major")
    p.add_argument("--skip", default="", metavar="WHAT,...",
                   help=f"measurements to leave out, among {','.join(ITEMS)}")
    p.add_argument("--json", metavar="FILE", help="write every measurement as JSON")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights (default 0)")
    p.add_argument("--octave-timeout", type=float, default=600, help="seconds per Octave run (default 600)")
    return p


def run(args) -> int:
    from simplecnn_bench.run import run as bench_run

    return bench_run(args)


def main(argv=None) -> int:
    from simplecnn_cli.main import main as cli_main

    return cli_main(["bench"] + list(sys.argv[1:] if argv is None else argv))
