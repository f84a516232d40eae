"""``simplecnn sweep``: ``simplecnn compare`` many times, one table.

    simplecnn sweep --repo GIT_DIR_OR_BUNDLE [--config CFG ...] [--jobs N]
                    [--out PREFIX] [--instances N] [--seed S] [--timeout SEC]
    simplecnn sweep CONFIG_OR_FOLDER ... [--matlab-dir DIR] [--data DATA.mat]
                    [--instances N] [--precision P] [--mode M] [--seed S]
                    [--rtol TOL] [--timeout SEC] [--out FOLDER]

With ``--repo``: every commit of a simpleNN repository that changes MATLAB
code, one column per ``--config`` (default: the bundled demo config), and
where the verdict changes; Markdown on stdout, with ``--out PREFIX`` also
PREFIX.md, PREFIX.html, PREFIX.json.  With config files or folders: one
tree, a row per configuration, each with its own JSON and HTML report in
``--out FOLDER`` (default ./compare-report) beside summary.md, summary.html
and summary.json.  Exit 0 every verdict PASS, 1 a parity failure, 2 a commit
or configuration that could not be compared (or bad input).
"""
from __future__ import annotations

import os
import sys


def add_parser(sub):
    p = sub.add_parser(
        "sweep", help="compare every version of a simpleNN repository's MATLAB code",
        description="Run `simplecnn compare` on every commit of a simpleNN git repository (or bundle) that "
                    "changes MATLAB code, in parallel, and name the commits where a verdict changes.")
    p.add_argument("configs", nargs="*", metavar="CONFIG_OR_FOLDER",
                   help="without --repo: config files, or folders whose *.config files are taken (a row each)")
    p.add_argument("--repo", metavar="GIT_DIR_OR_BUNDLE", help="a git repository or bundle")
    p.add_argument("--matlab-dir", metavar="DIR", help="without --repo: the MATLAB tree (default: matlab_ref/seed)")
    p.add_argument("--data", metavar="DATA.mat", help="without --repo: one data file for every configuration")
    p.add_argument("--precision", choices=("double", "single"), default="double",
                   help="without --repo: working precision (default double)")
    p.add_argument("--mode", choices=("propagated", "isolated"), default="propagated",
                   help="without --repo: compare's mode (default propagated)")
    p.add_argument("--rtol", type=float, metavar="TOL", help="without --repo: compare's tolerance")
    p.add_argument("--config", action="append", metavar="CFG",
                   help="a simpleNN config (repeat for several columns; default: the bundled demo config)")
    p.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)), metavar="N",
                   help="commits compared at once, one Octave each (default: CPUs, at most 4)")
    p.add_argument("--out", metavar="PREFIX", help="with --repo: write PREFIX.md, PREFIX.html and PREFIX.json; "
                                                  "without: the folder of the reports (default ./compare-report)")
    p.add_argument("--rev", default="HEAD", help="the history up to this revision (default HEAD)")
    p.add_argument("--commits", metavar="SHA,...", help="only these commits (short or full hashes)")
    p.add_argument("--instances", type=int, metavar="N", help="generated instances per compare (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the He init and generated data (default 0)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SEC", help="Octave time limit per commit")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (a bar with time left on a terminal, else a line per compare)")
    return p


def run(args) -> int:
    from simplecnn_harness.reports import progress as live_progress
    from simplecnn_harness.sweep import run_sweep, to_markdown, write_reports
    from simplecnn_py.support.errors import InputError

    if not args.repo:
        return _configs(args)
    if args.timeout <= 0:
        raise InputError("--timeout", f"must be a positive number of seconds, not {args.timeout:g}")
    if args.out:
        from pathlib import Path

        parent = Path(args.out).expanduser().resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise InputError("--out", f"cannot write into {parent}")
    if args.seed < 0:
        raise InputError("--seed", f"must be >= 0, not {args.seed}")
    if args.instances is not None and args.instances < 1:
        raise InputError("--instances", f"must be at least 1, not {args.instances}")
    only = [c.strip() for c in args.commits.split(",") if c.strip()] if args.commits else None
    with live_progress.live(quiet=args.quiet) as say:
        progress = None if say is None else live_progress.write
        result = run_sweep(args.repo, args.config or [None], jobs=args.jobs, rev=args.rev, only=only,
                           compare_opts={"instances": args.instances, "seed": args.seed,
                                         "timeout": args.timeout},
                           progress=progress)
    print(to_markdown(result), end="")
    if args.out:
        for path in write_reports(result, args.out):
            if not args.quiet:
                print(f"sweep: wrote {path}", file=sys.stderr, flush=True)
    return result.exit_code()


def _configs(args) -> int:
    """A row per configuration of one tree (``simplecnn_harness.sweep.configs``)."""
    from simplecnn_harness.reports import progress as live_progress
    from simplecnn_harness.sweep import (check_folder, exit_code, find_configs, markdown_summary, run_configs,
                                         write_summaries)
    from simplecnn_py.support.errors import InputError

    if not args.configs:
        raise InputError("sweep", "name a --repo, or config files or folders")
    if args.seed < 0:
        raise InputError("--seed", f"must be >= 0, not {args.seed}")
    if args.instances is not None and args.instances < 1:
        raise InputError("--instances", f"must be a positive number, not {args.instances}")
    configs = find_configs(args.configs)
    out = check_folder(args.out or "compare-report")
    with live_progress.live(quiet=args.quiet) as say:
        rows = run_configs(configs, out, args, progress=say)
    paths = write_summaries(rows, args, out)
    print(markdown_summary(rows, args), end="")
    if not args.quiet:
        print(f"sweep: wrote {paths[0]} and {paths[1]}", file=sys.stderr)
    return exit_code(rows)
