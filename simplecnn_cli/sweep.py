"""``simplecnn sweep``: ``simplecnn compare`` on every commit of a simpleNN
repository that changes MATLAB code, and where the verdict changes.

    simplecnn sweep --repo GIT_DIR_OR_BUNDLE [--config CFG ...] [--jobs N]
                    [--out PREFIX] [--instances N] [--seed S] [--timeout SEC]

One column per ``--config`` (default: the bundled demo config).  Markdown on
stdout; with ``--out PREFIX`` also PREFIX.md, PREFIX.html, PREFIX.json.
Exit 0 every verdict PASS, 1 a parity failure, 2 a commit that could not be
driven (or bad input).
"""
from __future__ import annotations

import os
import sys


def add_parser(sub):
    p = sub.add_parser(
        "sweep", help="compare every version of a simpleNN repository's MATLAB code",
        description="Run `simplecnn compare` on every commit of a simpleNN git repository (or bundle) that "
                    "changes MATLAB code, in parallel, and name the commits where a verdict changes.")
    p.add_argument("--repo", required=True, metavar="GIT_DIR_OR_BUNDLE", help="a git repository or bundle")
    p.add_argument("--config", action="append", metavar="CFG",
                   help="a simpleNN config (repeat for several columns; default: the bundled demo config)")
    p.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)), metavar="N",
                   help="commits compared at once, one Octave each (default: CPUs, at most 4)")
    p.add_argument("--out", metavar="PREFIX", help="write PREFIX.md, PREFIX.html and PREFIX.json")
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
