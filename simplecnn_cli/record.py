"""``simplecnn record``: run a MATLAB tree under Octave once and keep what it
computed in a trace file, for ``simplecnn compare --trace`` and the pytest
plugin on machines without Octave (docs/traces.md).

    simplecnn record [--matlab-dir DIR] [--config CFG] [--data D] [--weights W]
                     [--instances N] [--precision double|single] [--seed S]
                     [--chunk N] [--all-records [--compress]] --out TRACE.mat
    simplecnn record --emit-script DIR [the same input options]

``--emit-script DIR`` writes a folder holding a standalone MATLAB driver
(``simplecnn_record_trace.m``), the instrumented copy of the tree and the
inputs: run in MATLAB (or Octave) it writes the same trace, no Python needed.
Exit 0 on success, 2 on bad input or a broken environment.
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "record", help="run a MATLAB tree under Octave once and write a trace file (or a MATLAB driver)",
        description="Run a simpleNN MATLAB tree under GNU Octave on the given config, weights and data, and "
                    "write every recorded intermediate, the inputs and the tree's identity to one trace "
                    "file (MAT v7.3), for `simplecnn compare --trace`.")
    shared.inputs(p)
    p.add_argument("--chunk", type=int, metavar="N",
                   help="record N instances at a time (one Octave session; memory bounded by a chunk); "
                        "compare --trace judges the trace in the same chunks. Default: one chunk, or chunks "
                        "sized from compare's memory budget when the instances pass it")
    p.add_argument("--all-records", action="store_true",
                   help="keep every record of one whole run (format 1, as the emitted driver writes), not only "
                        "the stages the judge takes")
    p.add_argument("--compress", action="store_true",
                   help="with --all-records: deflate the big arrays (about half the size, slower to write); "
                        "the default traces are always compressed")
    what = p.add_mutually_exclusive_group(required=True)
    shared.output(p, "--out", "TRACE.mat", "the trace file to write", group=what)
    what.add_argument("--emit-script", metavar="DIR",
                      help="write a standalone MATLAB driver (and what it needs) into DIR instead")
    shared.quiet(p, help="no progress lines on stderr")
    return p


def run(args) -> int:
    from simplecnn_harness.reports.progress import Lines, QUIET
    from simplecnn_harness.workflows.record import record

    return record(out=args.out, emit_script=args.emit_script, compress=args.compress, chunk=args.chunk,
                  all_records=args.all_records, matlab_dir=args.matlab_dir,
                  config=args.config, data=args.data, weights=args.weights, instances=args.instances,
                  precision=args.precision, seed=args.seed, timeout=args.timeout,
                  progress=QUIET if args.quiet else Lines())
