"""``simplecnn gradient``: loss and gradient of ``lossgrad_subset`` over all
instances of a data file, written to a MAT file (the port alone; the CLI's
help describes the MATLAB equivalent)."""
from __future__ import annotations

import sys


def gradient(config, data, out, *, weights=None, precision="double", seed=0, rowmajor=False, bsize=None,
             strict=False, progress=None) -> int:
    """Read config, data and weights, compute, write ``out`` (loss,
    dlossdW, dlossdb), print one line; 0.  ``strict``: a network the
    original cannot run is refused (else a warning)."""
    import warnings

    from simplecnn_py.cnn.read_config import read_config
    from simplecnn_py.support.errors import InputError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        param = read_config(config)
    for w in caught:
        print(f"simplecnn: warning: {w.message}", file=sys.stderr)
    param.precision = precision
    if bsize is not None and bsize < 1:
        raise InputError("--bsize", f"must be a positive number of instances, not {bsize}")

    from simplecnn_py.cnn.check_data import check_data
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.support.datafile import load_data, load_weights, save_gradient
    from simplecnn_py.support import quirks
    from simplecnn_py.support.finite import finite_lossgrad_all

    prob = load_data(data, param, rowmajor=rowmajor)
    prob = check_data(prob, param, where=data)
    if weights:                         # He init's draws would be replaced at once
        from simplecnn_py.support.rng import NoDraws

        model = init_model(param, seed=NoDraws())
        weight, bias = load_weights(weights, param)
        for m in range(1, model.L + 1):
            model.weight[m] = weight[m].astype(model.weight[m].dtype, order="F")
            model.bias[m] = bias[m].astype(model.bias[m].dtype, order="F")
    else:
        model = init_model(param, seed=seed)

    batch = min(prob.l, bsize or prob.l)                    # instances per lossgrad_subset call
    quirks.say(quirks.original_vtp_failure(model, batch), strict, config,
               note="these numbers are the mathematically right ones")
    try:
        loss, dlossdW, dlossdb = finite_lossgrad_all(prob, param, model, bsize, weights or data)
    except MemoryError:
        raise InputError(config, "the network needs more memory than this machine has "
                                 "(try a smaller --bsize)") from None
    try:
        save_gradient(out, loss, dlossdW, dlossdb)
    except OSError as e:
        raise InputError(out, f"cannot write: {e.strerror or e}") from None
    print(f"simplecnn gradient: l = {prob.l}, loss = {float(loss):.17g} ({param.precision}), wrote {out}")
    return 0
