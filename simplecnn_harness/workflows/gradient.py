"""``simplecnn gradient``: loss and gradient of ``lossgrad_subset`` over all
instances of a data file, written to a MAT file (the port alone; the CLI's
help describes the MATLAB equivalent)."""
from __future__ import annotations

def gradient(config, data, out, *, weights=None, precision="double", seed=0, rowmajor=False, bsize=None,
             strict=False, progress=None) -> int:
    """Read config, data and weights, compute, write ``out`` (loss,
    dlossdW, dlossdb), print one line; 0.  ``strict``: a network the
    original cannot run is refused (else a warning)."""
    from simplecnn_py.support import quirks
    from simplecnn_py.support.datafile import save_gradient
    from simplecnn_py.support.errors import InputError
    from simplecnn_py.support.finite import finite_lossgrad_all

    from .. import inputs

    if bsize is not None and bsize < 1:
        raise InputError("--bsize", f"must be a positive number of instances, not {bsize}")
    ins = inputs.load(config=config, data=data, weights=weights, precision=precision, seed=seed,
                      rowmajor=rowmajor, command="gradient")
    param, model, prob = ins.param, ins.model, ins.prob
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
