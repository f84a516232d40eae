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
from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="time the port against Octave, PyTorch and the GEMM bound",
        description="Time lossgrad_subset, fungrad_minibatch, the simplecnn gradient process, the "
                    "MATLAB code under Octave, PyTorch, and the GEMM bound; print a table, write JSON.")
    shared.config(p, help="simpleNN config (default: the 1-32-64-64 MNIST shape)")
    shared.instances(p, nargs="+", default=[256, 1024], help="instance counts (default: 256 1024)")
    shared.precision(p, nargs="+", default=["double", "single"], help="precisions (default: double single)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up (median; default 3)")
    shared.matlab_dir(p, help="MATLAB tree run under Octave, any version of simpleNN (its cnn/ or MATLAB/cnn/ "
                              "folder; default: matlab_ref/seed)")
    shared.data(p, help="simpleNN data file (default for a 28x28x1 10-class config: ../shared/data/mnist-demo.mat "
                        "when present, else the shipped demo digits; other configs: random images, "
                        "with a warning on stderr)")
    shared.rowmajor(p, help="images in --data are stored row-major")
    p.add_argument("--skip", default="", metavar="WHAT,...",
                   help=f"measurements to leave out, among {','.join(ITEMS)}")
    p.add_argument("--compare-chunk", type=int, default=None, metavar="N",
                   help="the compare row's --chunk (default: compare's own, chunks sized from its memory budget)")
    shared.json(p, help="write every measurement as JSON")
    shared.seed(p, help="seed of the weights (default 0)")
    shared.timeout(p, default=600.0, help="seconds per Octave run (default 600)")
    shared.quiet(p, help="no line per measurement on stderr")
    return p


def run(args) -> int:
    from simplecnn_bench.run import run as bench_run

    args.octave_timeout = args.timeout           # simplecnn_bench's name of it
    return bench_run(args)


def main(argv=None) -> int:
    from simplecnn_cli.main import main as cli_main

    return cli_main(["bench"] + list(sys.argv[1:] if argv is None else argv))
