"""``simplecnn train``: train a CNN as the original ``cnn_train`` does.

    simplecnn train --config CFG --data DATA.mat [--validation V.mat]
                    [--options '-s 1 ...'] [--seed S] [--rowmajor] [--normalize]
                    --model OUT.mat

MATLAB equivalent (current layout)::

    load(DATA);                                           % y, Z
    model = cnn_train(y, Z, [y_v, Z_v,] CFG, OPTIONS);    % prints the progress lines
    save(OUT, 'model');

Standard output carries exactly the original's lines (Newton: one
``k-iter f: ...`` line per iteration and ``total_#CG: N``; SGD/Adam: one
``k-epoch f: ...`` line per epoch; ``validation accuracy: ...`` with
``--validation``), so the two runs can be diffed; the closing note goes to
standard error.  ``OUT.mat`` holds ``model``, which ``load`` in MATLAB/Octave
gives back as the original's model struct (``simplecnn_py.model_file``).

``--rowmajor``: the images of Z are stored row-major (the shipped MNIST demo
files).  ``--normalize``: the upstream MNIST example's preprocessing,
``Z/255`` minus the training mean per pixel (the validation set gets the
training mean); the model then also stores ``input_scale`` and
``input_mean`` and ``simplecnn predict`` applies them.
``--seed S`` seeds the one random stream (weights, subsets, batches); it
overrides ``-seed`` in the options; default 0.
"""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train a CNN (Newton, SGD or Adam) as cnn_train does",
        description="Train the CNN of a simpleNN config on a simpleNN data file with the original's "
                    "options and progress lines; save the model as a MAT file (a MATLAB model struct).")
    p.add_argument("--config", required=True, metavar="CFG", help="simpleNN config file")
    p.add_argument("--data", required=True, metavar="DATA.mat", help="MAT file with y (l x 1) and Z (l x a*b*d)")
    p.add_argument("--validation", metavar="V.mat", help="validation data; its accuracy is printed at the end")
    p.add_argument("--options", default="", metavar="'-s 1 ...'",
                   help="cnn_train's options string, e.g. '-s 1 -iter_max 10 -GNsize 100' "
                        "(quote it; -s 1 Newton, 2 SGD, 3 Adam)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random stream (default: -seed, else 0)")
    p.add_argument("--rowmajor", action="store_true",
                   help="images in Z are stored row-major (the shipped MNIST demo files)")
    p.add_argument("--normalize", action="store_true",
                   help="Z/255 minus the training mean (the upstream MNIST example); stored in the model")
    p.add_argument("--model", required=True, metavar="OUT.mat", help="output MAT file (variable model)")
    return p


def run(args) -> int:
    import sys
    import time
    import warnings

    from simplecnn_py.cnn_train import cnn_train
    from simplecnn_py.datafile import load_data, scale_pixels, subtract_mean
    from simplecnn_py.errors import InputError
    from simplecnn_py.model_file import save_model
    from simplecnn_py.read_config import read_config

    if args.seed is not None and args.seed < 0:
        raise InputError("--seed", f"must be >= 0, not {args.seed}")
    _check_writable(args.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = read_config(args.config)
    for w in caught:
        print(f"simplecnn: warning: {w.message}", file=sys.stderr)

    prob = load_data(args.data, config, rowmajor=args.rowmajor)
    Z, mean = prob.Z, None
    if args.normalize:
        Z, mean = subtract_mean(scale_pixels(Z))
    y_valid = Z_valid = None
    if args.validation:
        valid = load_data(args.validation, config, rowmajor=args.rowmajor)
        y_valid, Z_valid = valid.y, valid.Z
        if args.normalize:
            Z_valid, _ = subtract_mean(scale_pixels(Z_valid), mean)

    start = time.perf_counter()
    model, info = cnn_train(prob.y, Z, config, args.options, args.seed, y_valid=y_valid, Z_valid=Z_valid,
                            where=args.data, where_valid=args.validation or "validation data")
    seconds = time.perf_counter() - start
    if args.normalize:
        model.input_scale = 255.0
        model.input_mean = mean
    save_model(args.model, model)
    print(f"simplecnn train: l = {prob.l}, {seconds:.1f} s, wrote {args.model}", file=sys.stderr)
    return 0


def _check_writable(out):
    import os

    from simplecnn_py.errors import InputError

    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        raise InputError(out, "is a directory; --model names the MAT file to write")
    if not os.path.isdir(folder):
        raise InputError(out, f"cannot write: folder {folder} does not exist")
