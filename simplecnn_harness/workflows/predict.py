"""``simplecnn predict``: accuracy (and labels) of a trained model on a data
file with the port's ``cnn_predict`` (the port alone)."""
from __future__ import annotations

import sys


def predict(model_file, data, *, options="", rowmajor=None, out=None, quiet=False, strict=False) -> int:
    """Predict, print ``accuracy: A (C/l correct)``, write ``out`` (labels,
    accuracy) when given; 0.  ``rowmajor``: True/False as asked, None for
    the model's own layout.  ``quiet``: no notes on stderr.  ``strict``: a
    model whose network the original cannot train is refused (else a warning)."""
    import numpy as np

    from simplecnn_py.cnn_predict import cnn_predict, parameter
    from simplecnn_py.support.conventions import struct
    from simplecnn_py.support.datafile import load_data
    from simplecnn_py.support.errors import InputError
    from simplecnn_py.support import quirks
    from simplecnn_py.support.model_file import atomic_write, load_model

    parameter(options)                                      # bad options: refused before any work
    model = load_model(model_file)
    quirks.say(quirks.original_vtp_failure(model), strict, model_file,
               what=quirks.TRAINS_NOT, note="its cnn_predict runs on this model and predicts as here")
    trained = getattr(model, "input_rowmajor", None)
    if rowmajor is not None and trained is not None and rowmajor != trained:
        want, got = ("row-major (--rowmajor)", "column-major") if trained else ("column-major", "row-major")
        raise InputError(model_file, f"the model was trained on {want} images but "
                                     f"--{'rowmajor' if rowmajor else 'colmajor'} says {data} holds {got} ones; "
                                     f"drop the flag to use the model's layout")
    use_rowmajor = rowmajor if rowmajor is not None else bool(trained)
    shape = struct(ht_input=model.ht_input[1], wd_input=model.wd_input[1], ch_input=model.ch_input)
    prob = load_data(data, shape, rowmajor=use_rowmajor)
    Z = prob.Z
    if getattr(model, "input_mean", None) is not None:
        if model.input_mean.size != Z.shape[1]:
            raise InputError(model_file, f"input_mean has {model.input_mean.size} entries, Z has {Z.shape[1]} columns")
        Z = (Z.toarray() if hasattr(Z, "toarray") else Z) / model.input_scale - model.input_mean
        if not quiet:
            print(f"simplecnn predict: Z/{model.input_scale:g} minus the model's input_mean", file=sys.stderr)
    if trained and rowmajor is None and not quiet:
        print("simplecnn predict: images read row-major, as the model was trained", file=sys.stderr)
    labels, accuracy = cnn_predict(prob.y, Z, model, options, where=data)
    correct = int(np.sum(labels == prob.y))
    print(f"accuracy: {accuracy:.15g} ({correct}/{prob.l} correct)")
    if out:
        import scipy.io

        atomic_write(out, lambda tmp: scipy.io.savemat(
            tmp, {"labels": np.asarray(labels, dtype=np.float64).reshape(-1, 1),
                  "accuracy": np.array([[accuracy]])}, format="5"))
    return 0
