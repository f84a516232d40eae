"""``simplecnn sweep``: ``simplecnn compare`` on every commit of a simpleNN
repository that changes MATLAB code, and where the verdict changes.

    simplecnn sweep --repo GIT_DIR_OR_BUNDLE [--config CFG ...] [--jobs N]
                    [--out PREFIX] [--instances N] [--seed S] [--timeout SEC] [--quiet]
    simplecnn sweep --repo ... --train='-s 1 -iter_max 2' --config CFG [--data DATA.mat]

With ``--train OPTIONS`` each commit runs compare-train instead (a column
per options string) and the table names where a training verdict changes.

    simplecnn sweep CONFIG_OR_FOLDER ... [--matlab-dir DIR] [--data DATA.mat]
                    [--instances N] [--precision P] [--mode M] [--seed S]
                    [--rtol TOL] [--timeout SEC] [--out FOLDER]

Without ``--repo``: one tree, a row per configuration (config files, or
folders of ``*.config``), each with its own JSON and HTML report in ``--out
FOLDER`` (default ./compare-report) beside summary.md, summary.html and
summary.json (``simplecnn_harness.sweep.configs``).

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
    p.add_argument("configs", nargs="*", metavar="CONFIG_OR_FOLDER",
                   help="without --repo: config files, or folders whose *.config files are taken (a row each)")
    p.add_argument("--repo", metavar="GIT_DIR_OR_BUNDLE", help="a git repository or bundle")
    shared.matlab_dir(p, help="without --repo: the MATLAB tree (default: the embedded matlab_ref/seed)")
    shared.precision(p, help="without --repo: working precision (default double)")
    p.add_argument("--mode", choices=("propagated", "isolated"), default="propagated",
                   help="without --repo: compare's mode (default propagated)")
    shared.tolerance(p, None, help="without --repo: compare's tolerance (default per precision)")
    p.add_argument("--config", action="append", metavar="CFG",
                   help="a simpleNN config (repeat for several columns; default: the bundled demo config)")
    p.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)), metavar="N",
                   help="commits compared at once, one Octave each (default: CPUs, at most 4)")
    shared.output(p, "--out", "PREFIX", "with --repo: write PREFIX.md, PREFIX.html and PREFIX.json; without: "
                  "the folder of the reports (default ./compare-report)", prefix_of=(".md", ".html", ".json"))
    p.add_argument("--rev", default="HEAD", help="the history up to this revision (default HEAD)")
    p.add_argument("--commits", metavar="SHA,...", help="only these commits (short or full hashes)")
    shared.instances(p, help="generated instances per compare (default 64)")
    shared.seed(p, help="seed of the He init and generated data (default 0)")
    shared.timeout(p, help="Octave time limit per commit (default 600)")
    shared.quiet(p, help="no progress on stderr (a bar with time left on a terminal, else a line per compare)")
    p.add_argument("--train", action="append", metavar="OPTIONS",
                   help="run compare-train with these cnn_train options instead of compare (write "
                        "--train='-s 1 -iter_max 2'; repeat for several columns); needs one --config")
    p.add_argument("--data", metavar="DATA.mat", help="training data for --train (default: the bundled demo data); "
                                                      "without --repo: one data file for every configuration")
    return p


def run(args) -> int:
    from simplecnn_harness.reports.progress import progress_for
    from simplecnn_harness.workflows.sweep import sweep

    return sweep(repo=args.repo, configs=args.config or [None], jobs=args.jobs, rev=args.rev, commits=args.commits,
                 instances=args.instances, seed=args.seed, timeout=args.timeout, out=args.out,
                 train=args.train, data=args.data, files=args.configs, matlab_dir=args.matlab_dir,
                 precision=args.precision, mode=args.mode, rtol=args.rtol,
                 command=reproduce_command(args), progress=progress_for(args.quiet))


def reproduce_command(args) -> str:
    return shared.reproduce("sweep", args, ("repo", "config", "rev", "commits", "instances", "seed", "timeout",
                                            "out", "train", "data"),
                            paths=("repo", "config", "out", "data"), defaults={"rev": "HEAD", "seed": 0, "timeout": 600.0})
