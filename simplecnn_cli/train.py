"""``simplecnn train``: train a CNN as the real ``cnn_train`` does.

    simplecnn train --config CFG --data DATA.mat [--validation V.mat]
                    [--options='-s 1 ...'] [--seed S] [--rowmajor] [--normalize]
                    [--json FILE] [--html FILE] [--quiet] [--strict] --model OUT.mat

MATLAB equivalent (current layout)::

    load(DATA);                                                 % y, Z
    model = cnn_train(y, Z, y_v, Z_v, CFG, OPTIONS, SEED);      % prints the progress lines
    save(OUT, 'model');

Standard output carries exactly the original's lines (Newton: ``initial f:``,
one ``k-iter ...`` line per iteration, ``total_#CG: N``; SGD/Adam: one
``k-epoch loss/batch_size: ...`` line per epoch; `` val_acc: ...`` with
``--validation``, whose best model is the one saved).  A progress bar (tqdm:
count, rate, time left) goes to stderr when it is a terminal, unless
``--quiet``.  ``OUT.mat`` holds ``model``, the real code's model struct
(``simplecnn_py.support.model_file``), which the real ``cnn_predict`` reads.

``--rowmajor``: the images of Z are stored row-major (the shipped MNIST demo
files); the model remembers it.  ``--normalize``: ``Z/255`` minus the
training mean per pixel (the upstream MNIST example); the model stores
``input_scale`` and ``input_mean`` and ``simplecnn predict`` applies them.
``--seed S``: the original's 7th argument; without it the draws are
unseeded, as the original's.  NaN/Inf in f stops training with one line
(exit 2) and writes no model.  ``--json``/``--html``: the training curve.
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train a CNN (Newton, SGD or Adam) as cnn_train does",
        description="Train the CNN of a simpleNN config on a simpleNN data file with the original's "
                    "options and progress lines; save the model as a MAT file (the real code's model struct). "
                    "Give the options with an equals sign, --options='-s 2 -lr 0.01': argparse takes a "
                    "value starting with '-' for a flag otherwise.")
    shared.config(p, required=True)
    shared.data(p, required=True)
    p.add_argument("--validation", metavar="V.mat",
                   help="validation data: val_acc every iteration/epoch, the best model is saved")
    p.add_argument("--options", default="", metavar="'-s 1 ...'",
                   help="cnn_train's options string; write --options='-s 1 -iter_max 10' (with '=': a value "
                        "starting with '-' is otherwise read as a flag); -s 1 Newton, 2 SGD, 3 Adam")
    shared.seed(p, default=None, help="cnn_train's seed argument (default: unseeded, as the original)")
    shared.rowmajor(p, help="images in Z are stored row-major (the shipped MNIST demo files); kept in the model")
    p.add_argument("--normalize", action="store_true",
                   help="Z/255 minus the training mean (the upstream MNIST example); stored in the model")
    shared.output(p, "--model", "OUT.mat", "output MAT file (variable model)", required=True)
    shared.json(p, help="write the training curve and values as JSON")
    shared.html(p, help="write a self-contained HTML page with the training curve")
    shared.quiet(p, help="no progress bar")
    shared.strict(p, "train")
    return p


def run(args) -> int:
    from simplecnn_harness.reports.progress import progress_for
    from simplecnn_harness.workflows.train import train

    return train(args.config, args.data, args.model, options=args.options, seed=args.seed,
                 validation=args.validation, rowmajor=args.rowmajor, normalize=args.normalize,
                 json=args.json, html=args.html, strict=args.strict,
                 progress=progress_for(args.quiet))
