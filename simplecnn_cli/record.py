"""``simplecnn record``: run a MATLAB tree under Octave once and keep what it
computed in a trace file, for ``simplecnn compare --trace`` and the pytest
plugin on machines without Octave (docs/traces.md).

    simplecnn record [--matlab-dir DIR] [--config CFG] [--data D] [--weights W]
                     [--instances N] [--precision double|single] [--seed S]
                     [--compress] --out TRACE.mat
    simplecnn record --emit-script DIR [the same input options]

``--emit-script DIR`` writes a folder holding a standalone MATLAB driver
(``simplecnn_record_trace.m``), the instrumented copy of the tree and the
inputs: run in MATLAB (or Octave) it writes the same trace, no Python needed.
Exit 0 on success, 2 on bad input or a broken environment.
"""
from __future__ import annotations

import sys


def add_parser(sub):
    p = sub.add_parser(
        "record", help="run a MATLAB tree under Octave once and write a trace file (or a MATLAB driver)",
        description="Run a simpleNN MATLAB tree under GNU Octave on the given config, weights and data, and "
                    "write every recorded intermediate, the inputs and the tree's identity to one trace "
                    "file (MAT v7.3), for `simplecnn compare --trace`.")
    p.add_argument("--matlab-dir", metavar="DIR",
                   help="simpleNN MATLAB tree (DIR or DIR/MATLAB; default: the embedded matlab_ref/seed)")
    p.add_argument("--config", metavar="CFG", help="simpleNN config file (default: the bundled 4-layer "
                                                   "MNIST demo config)")
    p.add_argument("--data", metavar="DATA.mat", help="simpleNN data file (y, Z); default: seeded random images")
    p.add_argument("--weights", metavar="W.mat", help="weight and bias, L x 1 cells (default: He init from --seed)")
    p.add_argument("--instances", type=int, metavar="N", help="use the first N instances")
    p.add_argument("--precision", choices=("double", "single"), default="double",
                   help="working precision (default double)")
    p.add_argument("--seed", type=int, default=0, help="seed of the He init and of generated data (default 0)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SEC",
                   help="stop Octave after SEC seconds (default 600)")
    p.add_argument("--compress", action="store_true",
                   help="deflate the big arrays (about half the size, slower to write)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", metavar="TRACE.mat", help="the trace file to write")
    what.add_argument("--emit-script", metavar="DIR",
                      help="write a standalone MATLAB driver (and what it needs) into DIR instead")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def run(args) -> int:
    from simplecnn_harness.pipeline import Options
    from simplecnn_py.errors import InputError

    if args.timeout is not None and args.timeout <= 0:
        raise InputError("--timeout", f"must be a positive number of seconds, not {args.timeout:g}")
    progress = None if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    opts = Options(matlab_dir=args.matlab_dir, config=args.config, data=args.data, weights=args.weights,
                   instances=args.instances, precision=args.precision, seed=args.seed,
                   timeout=args.timeout, progress=progress)
    if args.emit_script:
        from simplecnn_harness.trace_emit import emit_script

        info = emit_script(opts, args.emit_script)
        print(f"wrote {info['driver']}: run it in MATLAB (cd {info['dir']}; simplecnn_record_trace) "
              f"to write {info['trace']}")
        return 0
    from simplecnn_harness.traces import record

    info = record(opts, args.out, compress=args.compress)
    print(f"wrote {info['path']}: {info['records']} records, {info['layout']} layout "
          f"({info['bytes'] / 2**20:.1f} MiB)")
    return 0
