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


def add_parser(sub):
    p = sub.add_parser(
        "predict", help="accuracy of a trained model on a data file (cnn_predict)",
        description="Predict the labels of a simpleNN data file with a model saved by simplecnn train "
                    "or by MATLAB/Octave, and print the accuracy.")
    p.add_argument("--model", required=True, metavar="M.mat", help="MAT file with the model struct")
    p.add_argument("--data", required=True, metavar="DATA.mat", help="MAT file with y (l x 1) and Z (l x a*b*d)")
    p.add_argument("--options", default="", metavar="'-bsize N'",
                   help="cnn_predict's options: only -bsize (default 128); write --options='-bsize 256'")
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("--rowmajor", action="store_true", default=None,
                        help="images in Z are stored row-major (default: as the model was trained, "
                             "else column-major)")
    layout.add_argument("--colmajor", action="store_true", default=None,
                        help="images in Z are stored column-major (simpleNN's own layout)")
    p.add_argument("--out", metavar="PRED.mat", help="write labels (l x 1) and accuracy to this MAT file")
    p.add_argument("--strict", action="store_true",
                   help="refuse (exit 2) a model whose network the original simpleNN cannot train, instead "
                        "of a warning (docs/migration-guide.md, quirks)")
    return p


def run(args) -> int:
    import sys

    import numpy as np

    from simplecnn_py.cnn_predict import cnn_predict, parameter
    from simplecnn_py.support.conventions import struct
    from simplecnn_py.support.datafile import load_data
    from simplecnn_py.support.errors import InputError
    from simplecnn_py.support.model_file import atomic_write, load_model
    from simplecnn_py.support import quirks

    parameter(args.options)                                 # bad options: refused before any work
    model = load_model(args.model)
    quirks.say(quirks.original_vtp_failure(model), args.strict, args.model,
               what=quirks.TRAINS_NOT, note="its cnn_predict runs on this model and predicts as here")
    trained = getattr(model, "input_rowmajor", None)
    asked = True if args.rowmajor else (False if args.colmajor else None)
    if asked is not None and trained is not None and asked != trained:
        want, got = ("row-major (--rowmajor)", "column-major") if trained else ("column-major", "row-major")
        raise InputError(args.model, f"the model was trained on {want} images but --{'rowmajor' if asked else 'colmajor'} "
                                     f"says {args.data} holds {got} ones; drop the flag to use the model's layout")
    rowmajor = asked if asked is not None else bool(trained)
    shape = struct(ht_input=model.ht_input[1], wd_input=model.wd_input[1], ch_input=model.ch_input)
    prob = load_data(args.data, shape, rowmajor=rowmajor)
    Z = prob.Z
    if getattr(model, "input_mean", None) is not None:
        if model.input_mean.size != Z.shape[1]:
            raise InputError(args.model, f"input_mean has {model.input_mean.size} entries, Z has {Z.shape[1]} columns")
        Z = (Z.toarray() if hasattr(Z, "toarray") else Z) / model.input_scale - model.input_mean
        print(f"simplecnn predict: Z/{model.input_scale:g} minus the model's input_mean", file=sys.stderr)
    if trained and asked is None:
        print("simplecnn predict: images read row-major, as the model was trained", file=sys.stderr)
    labels, accuracy = cnn_predict(prob.y, Z, model, args.options, where=args.data)
    correct = int(np.sum(labels == prob.y))
    print(f"accuracy: {accuracy:.15g} ({correct}/{prob.l} correct)")
    if args.out:
        import scipy.io

        _ensure_folder(args.out)
        atomic_write(args.out, lambda tmp: scipy.io.savemat(
            tmp, {"labels": np.asarray(labels, dtype=np.float64).reshape(-1, 1),
                  "accuracy": np.array([[accuracy]])}, format="5"))
    return 0


def _ensure_folder(path):
    import os

    from simplecnn_py.support.errors import InputError

    if os.path.isdir(path):
        raise InputError(path, "is a directory; --out names the MAT file to write")
