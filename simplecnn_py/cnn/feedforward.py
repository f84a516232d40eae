"""``net = feedforward(data, param, model, net)`` (seed layout).

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/feedforward.m``.  This repository's MATLAB twins:
``matlab_ref/seed/cnn/feedforward.m`` (this signature) and
``matlab_ref/current/MATLAB/cnn/feedforward.m`` (the current layout's
``feedforward(data, model, net)``).  The forward pass of the
gradient-calculation slides (eq. (3); fully-connected layers in the form of eq.
(10)), in MATLAB's shapes:

    Z{1} = reshape(data, ch_input(1), [])                     d x (a*b*n)
    conv m = 1..LC:
        phiZ{m}  = phi(pad(Z{m}))            (padding_and_phiZ)
        Z{m+1}   = max(W{m}*phiZ{m} + b{m}, 0)     sigma(S^m), d' x (a_conv*b_conv*n)
        [Z{m+1}, idx_pool{m}] = maxpooling(...)   when wd_subimage_pool(m) > 1
    Z{LC+1} = reshape(Z{LC+1}, [], n)                          (d*a*b) x n
    full m = LC+1..L:
        Z{m+1} = W{m}*Z{m} + b{m}, then max(., 0) except for m = L (linear)

``phiZ{m}`` is kept in ``net`` for the backward pass (the slides' "Storing
phi(pad(Z))": it trades memory for not expanding twice, the CPU choice).
Sets ``net.num_sampled_data = n``.  Everything is in the working precision
(``param.precision``): data and weights are cast if needed, never upcast.
Traced stages: conv m: idx_pad, idx_phiZ, phiZ, sigmaS, Z, idx_pool;
full m: Z.  Unless the reference path is selected, ``simplecnn_py/fast/feedforward.py``
runs a fused, chunked version (not when tracing), with the same values up
to the rounding of the products (docs/performance.md).
"""
from __future__ import annotations

import numpy as np

from .. import fast
from ..support import trace
from ..fast import feedforward as fast_path
from ..support.conventions import float_type, ftype, mtimes, reshape
from ..support.errors import InputError
from .maxpooling import maxpooling
from .padding_and_phiZ import padding_and_phiZ


def check_height(data, model):
    """Bad input, not a reshape error: instances must have d*a*b values."""
    dab = model.ch_input[1] * model.ht_input[1] * model.wd_input[1]
    if np.ndim(data) != 2 or data.shape[0] != dab:
        got = data.shape[0] if np.ndim(data) == 2 else np.size(data)
        raise InputError("data", f"instances have {got} values, the configuration needs "
                         f"ch_input(1)*ht_input*wd_input = {dab}")


def feedforward(data, param, model, net):
    dtype = float_type(param)
    L, LC = model.L, model.LC
    check_height(data, model)
    data = ftype(data, dtype)
    if fast.enabled() and fast_path.feedforward(data, param, model, net) is not None:
        return net                              # fast/feedforward.py, fused; steps aside when tracing
    n = data.shape[1]
    net.num_sampled_data = n
    net.Z[1] = reshape(data, model.ch_input[1], -1)

    for m in range(1, LC + 1):
        trace.record(m, "forward", "idx_pad", net.idx_pad[m])
        trace.record(m, "forward", "idx_phiZ", net.idx_phiZ[m])
        net.phiZ[m] = padding_and_phiZ(model, net, m)
        trace.record(m, "forward", "phiZ", net.phiZ[m])

        W, b = ftype(model.weight[m], dtype), ftype(model.bias[m], dtype)
        S = mtimes(W, net.phiZ[m])
        S += b
        net.Z[m + 1] = np.maximum(S, 0, out=S)                     # sigma(S^m)
        trace.record(m, "forward", "sigmaS", net.Z[m + 1])

        if model.wd_subimage_pool[m] > 1:
            net.Z[m + 1], net.idx_pool[m] = maxpooling(model, net, m)
        trace.record(m, "forward", "Z", net.Z[m + 1])
        if model.wd_subimage_pool[m] > 1:
            trace.record(m, "forward", "idx_pool", net.idx_pool[m])

    net.Z[LC + 1] = reshape(net.Z[LC + 1], -1, n)                  # (d*a*b) x n

    for m in range(LC + 1, L + 1):
        W, b = ftype(model.weight[m], dtype), ftype(model.bias[m], dtype)
        Z = mtimes(W, net.Z[m])
        Z += b
        if m < L:
            np.maximum(Z, 0, out=Z)
        net.Z[m + 1] = Z
        trace.record(m, "forward", "Z", net.Z[m + 1])
    return net
