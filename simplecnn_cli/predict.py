"""``simplecnn predict``: accuracy (and predictions) of a trained model.

    simplecnn predict --model M.mat --data DATA.mat [--rowmajor] [--out PRED.mat]

MATLAB equivalent (current layout)::

    load(M); load(DATA);                                 % model; y, Z
    [labels, accuracy] = cnn_predict(y, Z, model);

``M.mat`` is a model saved by ``simplecnn train`` or by MATLAB/Octave
(``save('M.mat', 'model')``); see ``simplecnn_py.model_file``.  When the
model stores ``input_scale``/``input_mean`` (``simplecnn train
--normalize``), Z is preprocessed with them first.  Prints
``accuracy: A (C/l correct)``; ``--out`` writes ``labels`` (l x 1) and
``accuracy``.
"""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "predict", help="accuracy of a trained model on a data file (cnn_predict)",
        description="Predict the labels of a simpleNN data file with a model saved by simplecnn train "
                    "or by MATLAB/Octave, and print the accuracy.")
    p.add_argument("--model", required=True, metavar="M.mat", help="MAT file with the model struct")
    p.add_argument("--data", required=True, metavar="DATA.mat", help="MAT file with y (l x 1) and Z (l x a*b*d)")
    p.add_argument("--rowmajor", action="store_true",
                   help="images in Z are stored row-major (the shipped MNIST demo files)")
    p.add_argument("--out", metavar="PRED.mat", help="write labels (l x 1) and accuracy to this MAT file")
    return p


def run(args) -> int:
    import sys

    import numpy as np

    from simplecnn_py.cnn_predict import cnn_predict
    from simplecnn_py.conventions import struct
    from simplecnn_py.datafile import load_data
    from simplecnn_py.errors import InputError
    from simplecnn_py.model_file import load_model

    model = load_model(args.model)
    shape = struct(ht_input=model.ht_input[1], wd_input=model.wd_input[1], ch_input=model.ch_input)
    prob = load_data(args.data, shape, rowmajor=args.rowmajor)
    Z = prob.Z
    if getattr(model, "input_mean", None) is not None:
        if model.input_mean.size != Z.shape[1]:
            raise InputError(args.model, f"input_mean has {model.input_mean.size} entries, Z has {Z.shape[1]} columns")
        Z = (Z.toarray() if hasattr(Z, "toarray") else Z) / model.input_scale - model.input_mean
        print(f"simplecnn predict: Z/{model.input_scale:g} minus the model's input_mean", file=sys.stderr)
    labels, accuracy = cnn_predict(prob.y, Z, model, where=args.data)
    correct = int(np.sum(labels == prob.y))
    print(f"accuracy: {accuracy:.15g} ({correct}/{prob.l} correct)")
    if args.out:
        import scipy.io

        try:
            scipy.io.savemat(args.out, {"labels": np.asarray(labels, dtype=np.float64).reshape(-1, 1),
                                        "accuracy": np.array([[accuracy]])}, format="5")
        except OSError as e:
            raise InputError(args.out, f"cannot write: {e.strerror or e}") from None
    return 0
