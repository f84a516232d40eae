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

from simplecnn_cli import run_inputs


def add_parser(sub):
    p = sub.add_parser(
        "record", help="run a MATLAB tree under Octave once and write a trace file (or a MATLAB driver)",
        description="Run a simpleNN MATLAB tree under GNU Octave on the given config, weights and data, and "
                    "write every recorded intermediate, the inputs and the tree's identity to one trace "
                    "file (MAT v7.3), for `simplecnn compare --trace`.")
    run_inputs.add_arguments(p)
    p.add_argument("--compress", action="store_true",
                   help="deflate the big arrays (about half the size, slower to write)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", metavar="TRACE.mat", help="the trace file to write")
    what.add_argument("--emit-script", metavar="DIR",
                      help="write a standalone MATLAB driver (and what it needs) into DIR instead")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def run(args) -> int:
    from simplecnn_harness.compare import Options

    run_inputs.check(args)
    progress = None if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    opts = Options(matlab_dir=args.matlab_dir, config=args.config, data=args.data, weights=args.weights,
                   instances=args.instances, precision=args.precision, seed=args.seed,
                   timeout=args.timeout, progress=progress)
    if args.emit_script:
        from simplecnn_harness.traces.emit import emit_script

        info = emit_script(opts, args.emit_script)
        print(f"wrote {info['driver']}: run it in MATLAB (cd {info['dir']}; simplecnn_record_trace) "
              f"to write {info['trace']}")
        return 0
    from simplecnn_harness.traces.record import record

    info = record(opts, args.out, compress=args.compress)
    print(f"wrote {info['path']}: {info['records']} records, {info['layout']} layout "
          f"({info['bytes'] / 2**20:.1f} MiB)")
    return 0
