"""``simplecnn compare-train``: train on both sides with one random stream and
compare per iteration (Newton) or per epoch (SGD, Adam).

    simplecnn compare-train [--matlab-dir DIR] --config CFG --data DATA.mat
                            [--instances N] [--validation V.mat] --options='-s 1 -iter_max 5 ...'
                            --seed S [--no-floor] [--json FILE] [--html FILE] [--timeout SEC]

The Python port trains first (its draws recorded), then the tree's own
``cnn_train`` runs under Octave with those draws replayed (weights
initialisation, Gauss-Newton subsets, SGD/Adam batches), and once more with
the replayed weight draws moved by a few ulps: how far that moves the
original is its own floor.  Pass: f (Newton) or loss/batch_size (SGD, Adam)
agrees to max(--tol, 10 x floor) relative at every iteration/epoch, the CG
step counts and val_acc are equal, and the progress lines print the same
words (their text is compared as well).  Exit 0 pass, 1 parity failure, 2 bad
input or a broken environment (no Octave, an Octave error, a timeout).  A
progress bar (or, off a terminal, progress lines) goes to stderr; the table
and the verdict to stdout.  See docs/compare-train.md.
"""
from __future__ import annotations

import json
import sys


def add_parser(sub):
    p = sub.add_parser(
        "compare-train", help="train on both sides (replayed randomness) and compare per iteration/epoch",
        description="Train with the Python port and with a MATLAB tree's own cnn_train under Octave, "
                    "both drawing from one random stream, and compare f per Newton iteration "
                    "(and the #CG counts) or per SGD/Adam epoch.")
    p.add_argument("--matlab-dir", metavar="DIR", default=None,
                   help="simpleNN tree of the current layout (default: the embedded matlab_ref/current/MATLAB)")
    p.add_argument("--config", required=True, metavar="CFG", help="simpleNN config file")
    p.add_argument("--data", required=True, metavar="DATA.mat", help="simpleNN data file (y, Z)")
    p.add_argument("--instances", type=int, default=None, metavar="N", help="use the first N instances")
    p.add_argument("--options", required=True, metavar="'...'",
                   help="cnn_train's options string; write --options='-s 1 -iter_max 5' (with '=': a value "
                        "starting with '-' is otherwise read as a flag by argparse)")
    p.add_argument("--seed", required=True, type=int, metavar="S",
                   help="seed of the Python side's stream (0 <= S < 2^32), replayed to the MATLAB side")
    p.add_argument("--validation", metavar="V.mat",
                   help="validation data (both sides print val_acc and return the best model)")
    p.add_argument("--validation-instances", type=int, default=None, metavar="N",
                   help="use the first N validation instances")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the second MATLAB run that measures the original's own sensitivity to "
                        "rounding (the verdict then uses --tol alone)")
    p.add_argument("--rowmajor", action="store_true",
                   help="images in Z are stored row-major (the shipped MNIST demo files)")
    p.add_argument("--normalize", action="store_true",
                   help="Z/255 minus the mean of the instances used (the upstream MNIST example's preprocessing)")
    p.add_argument("--tol", type=float, default=1e-9, help="relative tolerance on f (default 1e-9)")
    p.add_argument("--lenient-replay", action="store_true",
                   help="serve randn/rand values by count across draw boundaries (for code that draws "
                        "randn(m*n, 1) and reshapes); randperm is always checked draw by draw")
    p.add_argument("--json", metavar="FILE", help="write the comparison as JSON")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--timeout", type=float, default=600, metavar="SEC",
                   help="stop Octave after SEC seconds (default 600)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines on stderr")
    return p


def run(args) -> int:
    import os

    from simplecnn_harness.training.compare_train import (PERTURBATION, compare_train, default_progress, format_table,
                                                 summary, write_html)
    from simplecnn_py.support.errors import InputError

    if args.timeout is not None and args.timeout <= 0:
        raise InputError("--timeout", f"must be a positive number of seconds, not {args.timeout:g}")
    if not 0 <= args.seed < 2**32:
        raise InputError("--seed", f"must be an integer in [0, 2^32), not {args.seed}")
    if not args.tol > 0:
        raise InputError("--tol", f"must be a positive number, not {args.tol:g}")
    for flag, path in (("--json", args.json), ("--html", args.html)):
        if path:
            folder = os.path.dirname(os.path.abspath(path))
            if os.path.isdir(path) or not os.path.isdir(folder):
                raise InputError(path, f"cannot write the {flag[2:]} report here")
    from simplecnn_harness.reports.train_report import progress_bar
    from simplecnn_py.opt.parse_options import parse_options

    param = parse_options(args.options)
    newton = param.solver == 1
    on_step, bar = progress_bar(param.iter_max if newton else param.epoch_max, "iter" if newton else "epoch",
                                args.quiet, desc="python side")
    try:
        result = compare_train(args.matlab_dir, args.config, args.data, args.options, args.seed,
                               instances=args.instances, timeout=args.timeout, tol=args.tol,
                               rowmajor=args.rowmajor, normalize=args.normalize,
                               progress=None if (args.quiet or bar is not None) else default_progress,
                               strict_replay=not args.lenient_replay, validation=args.validation,
                               validation_instances=args.validation_instances,
                               perturbation=None if args.no_floor else PERTURBATION, on_step=on_step)
    finally:
        if bar is not None:
            bar.close()
    if result.rows:
        print(format_table(result))
    print(summary(result))
    if args.json:
        from simplecnn_py.support.model_file import atomic_write

        doc = result.to_json()

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1, allow_nan=False, default=_plain)
        atomic_write(args.json, write)
    if args.html:
        write_html(args.html, result)
    sys.stdout.flush()
    return 0 if result.passed else 1


def _plain(x):
    import math

    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return v if math.isfinite(v) else None
