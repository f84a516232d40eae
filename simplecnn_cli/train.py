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


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train a CNN (Newton, SGD or Adam) as cnn_train does",
        description="Train the CNN of a simpleNN config on a simpleNN data file with the original's "
                    "options and progress lines; save the model as a MAT file (the real code's model struct). "
                    "Give the options with an equals sign, --options='-s 2 -lr 0.01': argparse takes a "
                    "value starting with '-' for a flag otherwise.")
    p.add_argument("--config", required=True, metavar="CFG", help="simpleNN config file")
    p.add_argument("--data", required=True, metavar="DATA.mat", help="MAT file with y (l x 1) and Z (l x a*b*d)")
    p.add_argument("--validation", metavar="V.mat",
                   help="validation data: val_acc every iteration/epoch, the best model is saved")
    p.add_argument("--options", default="", metavar="'-s 1 ...'",
                   help="cnn_train's options string; write --options='-s 1 -iter_max 10' (with '=': a value "
                        "starting with '-' is otherwise read as a flag); -s 1 Newton, 2 SGD, 3 Adam")
    p.add_argument("--seed", type=int, default=None,
                   help="cnn_train's seed argument (default: unseeded, as the original)")
    p.add_argument("--rowmajor", action="store_true",
                   help="images in Z are stored row-major (the shipped MNIST demo files); kept in the model")
    p.add_argument("--normalize", action="store_true",
                   help="Z/255 minus the training mean (the upstream MNIST example); stored in the model")
    p.add_argument("--model", required=True, metavar="OUT.mat", help="output MAT file (variable model)")
    p.add_argument("--json", metavar="FILE", help="write the training curve and values as JSON")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML page with the training curve")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true",
                   help="refuse (exit 2) a network the original simpleNN cannot train, instead of a warning "
                        "(docs/migration-guide.md, quirks)")
    return p


def run(args) -> int:
    import sys
    import time
    import warnings

    from simplecnn_harness.reports.train_report import progress_bar, train_record, write_train_html, write_train_json
    from simplecnn_py.cnn_train import cnn_train
    from simplecnn_py.support.datafile import load_data, scale_pixels, subtract_mean
    from simplecnn_py.support.errors import InputError
    from simplecnn_py.support.model_file import save_model
    from simplecnn_py.opt.parse_options import parse_options
    from simplecnn_py.cnn.read_config import read_config
    from simplecnn_py.support import quirks

    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise InputError("--seed", f"must be an integer in [0, 2^32), not {args.seed}")
    for flag, path in (("--model", args.model), ("--json", args.json), ("--html", args.html)):
        if path:
            _check_writable(flag, path)
    param = parse_options(args.options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = read_config(args.config)
    for w in caught:
        print(f"simplecnn: warning: {w.message}", file=sys.stderr)
    prob = load_data(args.data, config, rowmajor=args.rowmajor)
    quirks.say(quirks.original_vtp_failure(config, min(param.bsize, prob.l)), args.strict, args.config,
               note="the port trains it with the mathematically right gradients")
    Z, mean = prob.Z, None
    if args.normalize:
        Z, mean = subtract_mean(scale_pixels(Z))
    y_valid = Z_valid = None
    if args.validation:
        valid = load_data(args.validation, config, rowmajor=args.rowmajor)
        y_valid, Z_valid = valid.y, valid.Z
        if args.normalize:
            Z_valid, _ = subtract_mean(scale_pixels(Z_valid), mean)

    newton = param.solver == 1
    on_step, bar = progress_bar(param.iter_max if newton else param.epoch_max, "iter" if newton else "epoch",
                                args.quiet)
    out = _Tee(sys.stdout)
    start = time.perf_counter()
    try:
        from contextlib import redirect_stdout

        import numpy as np

        with redirect_stdout(out), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            model, info = cnn_train(prob.y, Z, y_valid, Z_valid, config, args.options, args.seed,
                                    where=args.data, where_valid=args.validation or "validation data",
                                    progress=on_step)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    model.input_rowmajor = bool(args.rowmajor)
    if args.normalize:
        model.input_scale = 255.0
        model.input_mean = mean
    save_model(args.model, model)
    solver = {1: "newton", 2: "sgd", 3: "adam"}[param.solver]
    record = train_record(args.options, solver, info, out.lines, seconds, prob.l,
                          0 if y_valid is None else int(len(y_valid)))
    if args.json:
        write_train_json(args.json, record)
    if args.html:
        write_train_html(args.html, record)
    print(f"simplecnn train: l = {prob.l}, {seconds:.1f} s, wrote {args.model}", file=sys.stderr)
    return 0


class _Tee:
    """stdout passed through, lines kept for the report."""

    def __init__(self, out):
        self.out, self.buf, self.lines = out, "", []

    def write(self, s):
        self.out.write(s)
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.lines.append(line)
        return len(s)

    def flush(self):
        self.out.flush()


def _check_writable(flag, out):
    import os

    from simplecnn_py.support.errors import InputError

    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        raise InputError(out, f"is a directory; {flag} names the file to write")
    if not os.path.isdir(folder):
        raise InputError(out, f"cannot write: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(out, f"cannot write: folder {folder} is not writable")
