"""``simplecnn compare-train``: train on both sides with one random stream and
compare per iteration (Newton) or per epoch (SGD, Adam).

    simplecnn compare-train [--matlab-dir DIR] --config CFG --data DATA.mat
                            [--instances N] [--validation V.mat] --options='-s 1 -iter_max 5 ...'
                            --seed S [--no-floor] [--rtol TOL] [--json FILE] [--html FILE]
                            [--timeout SEC] [--quiet]

The Python port trains first (its draws recorded), then the tree's own
``cnn_train`` runs under Octave with those draws replayed (weights
initialisation, Gauss-Newton subsets, SGD/Adam batches), and once more with
the replayed weight draws moved by a few ulps: how far that moves the
original is its own floor.  Pass: f (Newton) or loss/batch_size (SGD, Adam)
agrees to max(--rtol, 10 x floor) relative at every iteration/epoch, the CG
step counts and val_acc are equal, and the progress lines print the same
words (their text is compared as well).  Exit 0 pass, 1 parity failure, 2 bad
input or a broken environment (no Octave, an Octave error, a timeout).  A
progress bar (or, off a terminal, progress lines) goes to stderr; the table
and the verdict to stdout, then the line that reproduces the report (also
the JSON's ``command`` and the HTML page's last line).  ``--tol`` is still
read as ``--rtol``.  See docs/compare-train.md.
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "compare-train", help="train on both sides (replayed randomness) and compare per iteration/epoch",
        description="Train with the Python port and with a MATLAB tree's own cnn_train under Octave, "
                    "both drawing from one random stream, and compare f per Newton iteration "
                    "(and the #CG counts) or per SGD/Adam epoch.")
    shared.matlab_dir(p, help="simpleNN tree of the current layout (default: the embedded "
                              "matlab_ref/current/MATLAB)")
    shared.config(p, required=True)
    shared.data(p, required=True, help="simpleNN data file (y, Z)")
    shared.instances(p)
    p.add_argument("--options", required=True, metavar="'...'",
                   help="cnn_train's options string; write --options='-s 1 -iter_max 5' (with '=': a value "
                        "starting with '-' is otherwise read as a flag by argparse)")
    shared.seed(p, default=None, required=True,
                help="seed of the Python side's stream (0 <= S < 2^32), replayed to the MATLAB side")
    p.add_argument("--validation", metavar="V.mat",
                   help="validation data (both sides print val_acc and return the best model)")
    p.add_argument("--validation-instances", type=int, default=None, metavar="N",
                   help="use the first N validation instances")
    p.add_argument("--no-floor", action="store_true",
                   help="skip the second MATLAB run that measures the original's own sensitivity to "
                        "rounding (the verdict then uses --rtol alone)")
    shared.rowmajor(p)
    p.add_argument("--normalize", action="store_true",
                   help="Z/255 minus the mean of the instances used (the upstream MNIST example's preprocessing)")
    shared.tolerance(p, 1e-9, "relative tolerance on f (default 1e-9)")
    p.add_argument("--lenient-replay", action="store_true",
                   help="serve randn/rand values by count across draw boundaries (for code that draws "
                        "randn(m*n, 1) and reshapes); randperm is always checked draw by draw")
    shared.json(p, help="write the comparison as JSON")
    shared.html(p)
    shared.timeout(p)
    shared.quiet(p, help="no progress bar or progress lines on stderr")
    return p


def run(args) -> int:
    from simplecnn_harness.reports.progress import progress_for
    from simplecnn_harness.workflows.compare_train import compare_train

    return compare_train(matlab_dir=args.matlab_dir, config=args.config, data=args.data, options=args.options,
                         seed=args.seed, instances=args.instances, validation=args.validation,
                         validation_instances=args.validation_instances, floor=not args.no_floor,
                         rowmajor=args.rowmajor, normalize=args.normalize, rtol=args.rtol,
                         lenient_replay=args.lenient_replay, timeout=args.timeout, json=args.json, html=args.html,
                         command=reproduce_command(args), progress=progress_for(args.quiet))


def reproduce_command(args) -> str:
    return shared.reproduce("compare-train", args, (
        "matlab_dir", "config", "data", "instances", "validation", "validation_instances", "options", "seed",
        "no_floor", "rowmajor", "normalize", "rtol", "lenient_replay", "timeout", "json", "html"),
        paths=("matlab_dir", "config", "data", "validation", "json", "html"),
        defaults={"rtol": 1e-9, "timeout": 600.0})
