"""``simplecnn compare``: the port against MATLAB code run under GNU Octave,
stage by stage, forward and backward.

    simplecnn compare [--matlab-dir DIR] [--config CFG] [--data DATA.mat]
                      [--weights W.mat] [--instances N] [--precision double|single]
                      [--mode propagated|isolated] [--rtol TOL] [--json FILE]
                      [--html FILE] [--seed S] [--timeout SEC]
    simplecnn compare --trace TRACE.mat [...]    (no Octave: docs/traces.md)

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

import sys

from simplecnn_cli import run_inputs


def add_parser(sub):
    p = sub.add_parser(
        "compare", help="compare the port with MATLAB code under Octave, layer by layer",
        description="Run a simpleNN MATLAB tree (seed or current layout) under GNU Octave and the Python "
                    "port on the same config, weights and data, and compare every forward and backward "
                    "intermediate (the Delta tensors) layer by layer.")
    run_inputs.add_arguments(p, trace_defaults=True)
    p.add_argument("--mode", choices=("propagated", "isolated"), default="propagated",
                   help="propagated: each side end to end; isolated: each Python stage fed MATLAB's input")
    p.add_argument("--rtol", type=float, metavar="TOL",
                   help="normwise relative tolerance (default 1e-13 double, 1e-4 single)")
    p.add_argument("--json", metavar="FILE", help="write the comparison as JSON")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--trace", metavar="TRACE.mat",
                   help="compare against a trace written by `simplecnn record` instead of running Octave "
                        "(inputs default to the trace's; any given must match it)")
    p.add_argument("--python", metavar="KIND:SPEC",
                   help="your own Python in place of the port: torch:FILE.py:NAME (a PyTorch network) or "
                        "routines:FILE.py (your routines, the rest the port's)")
    p.add_argument("--against", metavar="matlab:DIR",
                   help="a second MATLAB tree in place of the port, judged against --matlab-dir stage by stage")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def run(args) -> int:
    from simplecnn_harness.reports import progress as live_progress
    from simplecnn_py.support.errors import InputError

    # every argument is checked before any work starts
    run_inputs.check(args)
    if args.rtol is not None and not args.rtol > 0:
        raise InputError("--rtol", f"must be a positive tolerance, not {args.rtol:g}")
    for opt, path in (("--json", args.json), ("--html", args.html)):
        if path:
            _check_writable(opt, path)
    if args.json and args.html and _same_file(args.json, args.html):
        raise InputError("--html", f"{args.html} is also the --json file; name two different files")

    from simplecnn_harness.compare import Options, run_compare
    from simplecnn_harness.reports.report import terminal_table, write_html, write_json

    with live_progress.live(quiet=args.quiet) as progress:
        opts = Options(matlab_dir=args.matlab_dir, config=args.config, data=args.data, weights=args.weights,
                       instances=args.instances, precision=args.precision, mode=args.mode, rtol=args.rtol,
                       seed=0 if args.seed is None else args.seed, timeout=args.timeout, progress=progress)
        source = None
        if args.trace:
            from simplecnn_harness.traces.record import TraceRecords

            if args.matlab_dir:
                raise InputError("--matlab-dir", "not with --trace (the trace holds the MATLAB side)")
            source = TraceRecords(args.trace, opts, seed=args.seed)
        elif opts.precision is None:
            opts.precision = "double"
        python = None
        if args.python or args.against:
            from simplecnn_harness.sources.python_side import python_source

            python = python_source(args.python, args.against, opts)
        result = run_compare(opts, source, python)
        result.command = reproduce_command(args)
    print(terminal_table(result))
    sys.stdout.flush()
    for path, write in ((args.json, write_json), (args.html, write_html)):
        if path:
            write(result, path)
            if not args.quiet:
                print(f"compare: wrote {path}", file=sys.stderr)
    return 0 if result.ok else 1


def _same_file(a, b):
    import os

    return os.path.abspath(a) == os.path.abspath(b)


def _check_writable(opt, path):
    """The report can be written: the folder exists and takes a new file (one
    is made and removed), and an existing file there may be replaced."""
    import os
    import tempfile

    from simplecnn_py.support.errors import InputError

    if os.path.isdir(path):
        raise InputError(opt, f"{path} is a directory; name the file to write")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(opt, f"cannot write {path}: folder {folder} does not exist")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise InputError(opt, f"cannot write {path}: the file is read-only")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".simplecnn-check-", suffix=".tmp"):
            pass
    except OSError as e:
        raise InputError(opt, f"cannot write {path}: folder {folder} takes no new file "
                              f"({e.strerror or e})") from None


# options whose values are files or folders: made absolute in the reproduce line
_PATH_OPTIONS = ("matlab_dir", "config", "data", "weights", "trace", "json", "html")


def reproduce_command(args) -> str:
    """The one shell command (quoted) that reproduces this report: the
    options given, paths made absolute."""
    import os
    import shlex

    words = ["simplecnn", "compare"]
    for name in ("trace", "matlab_dir", "python", "against", "config", "data", "weights", "instances",
                 "precision", "mode", "rtol", "seed", "timeout", "json", "html"):
        value = getattr(args, name, None)
        if value is None or (name == "timeout" and value == 600.0) \
                or (name == "mode" and value == "propagated"):
            continue
        if name in _PATH_OPTIONS:
            value = os.path.abspath(value)
        words += ["--" + name.replace("_", "-"), repr(value) if isinstance(value, float) else str(value)]
    return shlex.join(words)
