"""Fast ``lossgrad_subset``: loss and gradient of a batch by the fused, chunked pass.

Reference: ``simplecnn_py/cnn/lossgrad_subset.py`` (the seed layout's
signature; twin of ``matlab_ref/seed/cnn/lossgrad_subset.m``, the backward
pass as in ``matlab_ref/current/MATLAB/cnn/JTv.m``).  The pass itself, forward
through every layer and straight back chunk by chunk, is ``fast/fused.py``'s
``Fused``; this module picks the batch, runs it, and puts the sums where the
reference puts them (``net.dlossdW``, ``net.dlossdb``, the loss).  The net
keeps Z and idx_pool (the latter lazily, from the winners' offsets) and a
``LazyPhiZ``; inside ``fast.gradient_only()`` it keeps nothing but the
gradient.  Equal to the reference to rounding.  Tests:
tests/fast/test_fast_lossgrad_subset.py.
"""
from __future__ import annotations

import numpy as np

from . import switch
from .fused import Fused
from .layer import fusable


def lossgrad_subset(prob, param, model, net, batch_idx, task):
    """Fused ``[net, loss] = lossgrad_subset(...)``; None to step aside."""
    from ..support.conventions import cols, float_type, ftype

    if task not in ("funonly", "fungrad"):
        return None
    layers = fusable(model, net)
    if layers is None:
        return None
    dtype = float_type(param)
    batch_idx = np.asarray(batch_idx).reshape(-1)
    Y = ftype(cols(prob.label_mat, batch_idx), dtype)
    keep_net = switch.keep_net() or task == "funonly"
    fused = Fused(model, net, layers, ftype(cols(prob.data, batch_idx), dtype), dtype, keep_phiZ=False,
                  keep_net=keep_net)
    if task == "funonly":
        fused.run()
        residual = net.Z[int(model.L) + 1] - Y
        return net, np.linalg.norm(residual, "fro") ** 2
    total = fused.run(Y)
    for m in range(1, int(model.L) + 1):
        net.dlossdW[m] = total["dW", m]
        net.dlossdb[m] = total["db", m]
    return net, total["loss"]
