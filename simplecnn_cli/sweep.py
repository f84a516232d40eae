"""``simplecnn sweep``: ``simplecnn compare`` on every commit of a simpleNN
repository that changes MATLAB code, and where the verdict changes.

    simplecnn sweep --repo GIT_DIR_OR_BUNDLE [--config CFG ...] [--jobs N]
                    [--out PREFIX] [--instances N] [--seed S] [--timeout SEC] [--quiet]

One column per ``--config`` (default: the bundled demo config).  Markdown on
stdout; with ``--out PREFIX`` also PREFIX.md, PREFIX.html, PREFIX.json; each
ends with the line that reproduces it (the JSON's ``command``).
Exit 0 every verdict PASS, 1 a parity failure, 2 a commit that could not be
driven (or bad input).
"""
from __future__ import annotations

import os

from simplecnn_cli import args as shared


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
    shared.output(p, "--out", "PREFIX", "write PREFIX.md, PREFIX.html and PREFIX.json",
                  prefix_of=(".md", ".html", ".json"))
    p.add_argument("--rev", default="HEAD", help="the history up to this revision (default HEAD)")
    p.add_argument("--commits", metavar="SHA,...", help="only these commits (short or full hashes)")
    shared.instances(p, help="generated instances per compare (default 64)")
    shared.seed(p, help="seed of the He init and generated data (default 0)")
    shared.timeout(p, help="Octave time limit per commit (default 600)")
    shared.quiet(p, help="no progress on stderr (a bar with time left on a terminal, else a line per compare)")
    return p


def run(args) -> int:
    from simplecnn_harness.reports.progress import progress_for
    from simplecnn_harness.workflows.sweep import sweep

    return sweep(repo=args.repo, configs=args.config or [None], jobs=args.jobs, rev=args.rev, commits=args.commits,
                 instances=args.instances, seed=args.seed, timeout=args.timeout, out=args.out,
                 command=reproduce_command(args), progress=progress_for(args.quiet))


def reproduce_command(args) -> str:
    return shared.reproduce("sweep", args, ("repo", "config", "rev", "commits", "instances", "seed", "timeout",
                                            "out"),
                            paths=("repo", "config", "out"), defaults={"rev": "HEAD", "seed": 0, "timeout": 600.0})
