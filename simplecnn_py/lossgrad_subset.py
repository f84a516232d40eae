"""``[net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, task)``.

Seed layout: the forward pass on the instances ``batch_idx`` (1-based), the
squared loss ``norm(Z{L+1} - Y, 'fro')^2`` with Y the one-hot columns of
``prob.label_mat``, and for ``task == 'fungrad'`` the backward pass of the
slides' "summary of operations" and code segment (eqs. (19)-(22) for full
layers, (26)-(28) for conv layers), summed over the batch:

    dXidS = 2*(Z{L+1} - Y)                                        (layer L)
    full m = L..LC+1:   dlossdW{m} = dXidS*Z{m}'        (19)
                        dlossdb{m} = sum(dXidS, 2)      (20)
                        dXidS = (W{m}'*dXidS) .* (Z{m} > 0)        (21), (22)
    dXidS = reshape(dXidS, ch_input(LC+1), [])
    conv m = LC..1:     dXidS = mat(vec(dXidS)' P_pool)  if pooled  (26)
                        dlossdW{m} = dXidS*phiZ{m}'     (27), (12)
                        dlossdb{m} = dXidS*ones         (14)
                        m > 1: V = W{m}'*dXidS
                               dXidS = mat(vec(V)' P_phi)           (28)
                               dXidS = dXidS(:, idx_pad + a_pad*b_pad*[0:n-1])   (P_pad)
                               dXidS = dXidS .* (Z{m} > 0)

Results go to ``net.dlossdW{m}`` (MATLAB's shape of ``weight{m}``) and
``net.dlossdb{m}`` (column).  Traced stages: forward (see feedforward) and
``(L, 'forward', 'loss')``; backward: full m: dXidS, dlossdW, dlossdb, and,
for m > 1, WtDelta, activation; conv m: dXidS, pool_gradient, dlossdW,
dlossdb, and for m > 1 WtDelta, phi_gradient, unpad, activation.

The lines below are the reference.  Unless it is selected
(``SIMPLECNN_REFERENCE=1`` or ``fastpaths.use_reference()``), an untraced call
runs ``simplecnn_py.fastpaths``' fused, chunked pass: the same values up to
the rounding of the products (BLAS orders their sums by the products'
widths), and dlossdW/dlossdb/loss summed chunk by chunk.
That pass keeps phiZ only chunk by chunk (as the seed original, whose backward
pass expands it again, keeps none): ``net.phiZ`` is a ``fastpaths.LazyPhiZ``
that rebuilds phiZ{m} from Z{m}, bit for bit, the first time it is read.
"""
from __future__ import annotations

import numpy as np

from . import fastpaths, trace
from .conventions import cols, float_type, ftype, mtimes, reshape, vec
from .feedforward import check_height, feedforward
from .vTP import vTP


def lossgrad_subset(prob, param, model, net, batch_idx, task):
    if task not in ("funonly", "fungrad"):
        raise ValueError(f"lossgrad_subset: unknown task {task!r}")
    check_height(prob.data, model)
    if fastpaths.enabled():                     # fused, chunked (issue 5); steps aside when tracing
        out = fastpaths.lossgrad_subset(prob, param, model, net, batch_idx, task)
        if out is not None:
            return out
    dtype = float_type(param)
    L, LC = model.L, model.LC
    batch_idx = np.asarray(batch_idx).reshape(-1)

    Y = ftype(cols(prob.label_mat, batch_idx), dtype)
    net = feedforward(cols(prob.data, batch_idx), param, model, net)
    n = net.num_sampled_data

    residual = net.Z[L + 1] - Y
    loss = np.linalg.norm(residual, "fro") ** 2
    trace.record(L, "forward", "loss", loss)
    if task == "funonly":
        return net, loss

    dXidS = 2 * residual
    for m in range(L, LC, -1):                                  # fully-connected layers
        trace.record(m, "backward", "dXidS", dXidS)
        net.dlossdW[m] = mtimes(dXidS, net.Z[m].T)
        net.dlossdb[m] = np.sum(dXidS, axis=1, keepdims=True)
        trace.record(m, "backward", "dlossdW", net.dlossdW[m])
        trace.record(m, "backward", "dlossdb", net.dlossdb[m])
        if m > 1:
            dXidS = mtimes(ftype(model.weight[m], dtype).T, dXidS)
            trace.record(m, "backward", "WtDelta", dXidS)
            dXidS = dXidS * (net.Z[m] > 0)
            trace.record(m, "backward", "activation", dXidS)

    dXidS = reshape(dXidS, model.ch_input[LC + 1], -1)
    for m in range(LC, 0, -1):                                  # convolutional layers
        trace.record(m, "backward", "dXidS", dXidS)
        if model.wd_subimage_pool[m] > 1:
            dXidS = reshape(vTP(param, model, net, m, dXidS, "pool_gradient"),
                            model.ch_input[m + 1], -1)
            trace.record(m, "backward", "pool_gradient", dXidS)
        net.dlossdW[m] = mtimes(dXidS, net.phiZ[m].T)
        net.dlossdb[m] = np.sum(dXidS, axis=1, keepdims=True)
        trace.record(m, "backward", "dlossdW", net.dlossdW[m])
        trace.record(m, "backward", "dlossdb", net.dlossdb[m])
        if m > 1:
            V = mtimes(ftype(model.weight[m], dtype).T, dXidS)
            trace.record(m, "backward", "WtDelta", V)
            dXidS = reshape(vTP(param, model, net, m, V, "phi_gradient"),
                            model.ch_input[m], -1)
            trace.record(m, "backward", "phi_gradient", dXidS)
            a_pad, b_pad = model.ht_pad[m], model.wd_pad[m]
            dXidS = cols(dXidS, vec(net.idx_pad[m] + a_pad * b_pad * np.arange(n)))
            trace.record(m, "backward", "unpad", dXidS)
            dXidS = dXidS * (net.Z[m] > 0)
            trace.record(m, "backward", "activation", dXidS)
    return net, loss
