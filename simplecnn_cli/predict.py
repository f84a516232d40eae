"""``simplecnn predict``: accuracy (and predictions) of a trained model.

    simplecnn predict --model M.mat --data DATA.mat [--options='-bsize N'] [--rowmajor]
                      [--out PRED.mat] [--strict]

MATLAB equivalent (current layout)::

    load(M); load(DATA);                                   % model; y, Z
    [results, acc] = cnn_predict(y, Z, model, '-bsize N');

``M.mat`` is a model saved by ``simplecnn train`` or by the real
``cnn_train`` in MATLAB/Octave (``save('M.mat', 'model')``; current or seed
layout); see ``simplecnn_py.support.model_file``.  As the original, the labels of
DATA must take exactly nL distinct values.  A model written by ``simplecnn
train`` remembers the image layout and the normalisation of its training
data: they are applied, and ``--rowmajor`` against a column-major model (or
``--colmajor`` against a row-major one) is refused with one line.  Prints
``accuracy: A (C/l correct)``; ``--out`` writes ``labels`` (l x 1) and
``accuracy`` (atomically).
"""
from __future__ import annotations

from simplecnn_cli import args as shared


def add_parser(sub):
    p = sub.add_parser(
        "predict", help="accuracy of a trained model on a data file (cnn_predict)",
        description="Predict the labels of a simpleNN data file with a model saved by simplecnn train "
                    "or by MATLAB/Octave, and print the accuracy.")
    p.add_argument("--model", required=True, metavar="M.mat", help="MAT file with the model struct")
    shared.data(p, required=True)
    p.add_argument("--options", default="", metavar="'-bsize N'",
                   help="cnn_predict's options: only -bsize (default 128); write --options='-bsize 256'")
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("--rowmajor", action="store_true", default=None,
                        help="images in Z are stored row-major (default: as the model was trained, "
                             "else column-major)")
    layout.add_argument("--colmajor", action="store_true", default=None,
                        help="images in Z are stored column-major (simpleNN's own layout)")
    shared.output(p, "--out", "PRED.mat", "write labels (l x 1) and accuracy to this MAT file")
    shared.quiet(p, help="no notes on stderr (the model's layout and normalisation applied)")
    shared.strict(p, "train")
    return p


def run(args) -> int:
    from simplecnn_harness.workflows.predict import predict

    return predict(args.model, args.data, options=args.options, out=args.out, quiet=args.quiet, strict=args.strict,
                   rowmajor=True if args.rowmajor else (False if args.colmajor else None))
