"""``simplecnn compare``: the port against MATLAB code run under GNU Octave,
stage by stage, forward and backward.

    simplecnn compare [--matlab-dir DIR] [--config CFG] [--data DATA.mat]
                      [--weights W.mat] [--instances N] [--precision double|single]
                      [--mode propagated|isolated] [--rtol TOL] [--json FILE]
                      [--html FILE] [--seed S] [--timeout SEC]
    simplecnn compare --trace TRACE.mat [...]    (no Octave: docs/traces.md)
    simplecnn compare [...] --python torch:FILE.py:NAME | routines:FILE.py | --against matlab:DIR
                      (your own Python, or a second tree, in the port's place:
                      docs/migration-guide.md, section 8)

Without arguments: the embedded MATLAB reference (``matlab_ref/seed``), the
bundled 4-layer MNIST-shaped demo config and 64 seeded random images.
The table goes to stdout, progress to stderr (a live status line with the
elapsed time and, during Octave's phase, the MATLAB routine it is in, only
when stderr is a terminal; plain phase lines otherwise; nothing with
``--quiet``).  Every argument, and that the --json/--html files can be
written, is checked before any work starts; the reports are written
atomically (a temporary file renamed over the target).  Exit 0 when every
compared stage is within tolerance, 1 on a parity failure, 2 on bad input
or a broken environment (no Octave, an Octave error, a timeout), 130 on
Ctrl-C, 3 on an internal error (``main.py``).
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "compare", help="compare the port with MATLAB code under Octave, layer by layer",
        description="Run a simpleNN MATLAB tree (seed or current layout) under GNU Octave and the Python "
                    "port on the same config, weights and data, and compare every forward and backward "
                    "intermediate (the Delta tensors) layer by layer.")
    shared.inputs(p, trace_defaults=True)
    p.add_argument("--mode", choices=("propagated", "isolated"), default="propagated",
                   help="propagated: each side end to end; isolated: each Python stage fed MATLAB's input")
    shared.tolerance(p, None, "normwise relative tolerance (default 1e-13 double, 1e-4 single)")
    shared.json(p, help="write the comparison as JSON")
    shared.html(p)
    p.add_argument("--trace", metavar="TRACE.mat",
                   help="compare against a trace written by `simplecnn record` instead of running Octave "
                        "(inputs default to the trace's; any given must match it)")
    p.add_argument("--python", metavar="KIND:SPEC",
                   help="your own Python in place of the port: torch:FILE.py:NAME (a PyTorch network) or "
                        "routines:FILE.py (your routines, the rest the port's)")
    p.add_argument("--against", metavar="matlab:DIR",
                   help="a second MATLAB tree in place of the port, judged against --matlab-dir stage by stage")
    p.add_argument("--chunk", type=int, metavar="N",
                   help="stream the compare N instances at a time (both sides, one Octave session; the verdict "
                        "is the unchunked one). Default: unchunked, or chunks sized from the memory budget "
                        "when the instances would pass it")
    shared.quiet(p)
    return p


def run(args) -> int:
    from simplecnn_harness.reports.progress import progress_for
    from simplecnn_harness.workflows.compare import compare

    return compare(matlab_dir=args.matlab_dir, config=args.config, data=args.data, weights=args.weights,
                   instances=args.instances, precision=args.precision, mode=args.mode, rtol=args.rtol,
                   seed=args.seed, timeout=args.timeout, trace=args.trace, json=args.json, html=args.html,
                   command=reproduce_command(args), progress=progress_for(args.quiet),
                   python=args.python, against=args.against, chunk=args.chunk)


def reproduce_command(args) -> str:
    """The one shell command (quoted) that reproduces this report."""
    return shared.reproduce("compare", args, ("trace", "matlab_dir", "python", "against", "config", "data",
                                              "weights", "instances", "precision", "mode", "rtol", "seed",
                                              "timeout", "chunk", "json", "html"),
                            paths=("matlab_dir", "config", "data", "weights", "trace", "json", "html"),
                            defaults={"timeout": 600.0, "mode": "propagated"})
