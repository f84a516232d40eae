"""``[dzdW, dzdb] = JTv(model, net, v)``: the backward pass as the product J' v.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn/JTv.m`` (current layout); this repository's MATLAB twin is
``matlab_ref/current/MATLAB/cnn/JTv.m``.  ``lossgrad_subset`` calls it with
``v = 2*(Z{L+1} - Y)`` to get ``dlossdW``/``dlossdb``.  J is the Jacobian of
the network output z^{L+1,i} of the instances of the last ``feedforward`` with
respect to the flat parameter vector; ``v`` is nL x n, one column per instance.
The summary of operations of the gradient-calculation slides (eqs. (19)-(22)
for fully-connected layers, (26)-(28), (12) and (14) for conv layers):

    dXidS = v                                                   (layer L)
    full m = L..LC+1:   dzdW{m} = dXidS*Z{m}'        (19)
                        dzdb{m} = sum(dXidS, 2)      (20)
                        dXidS = (W{m}'*dXidS) .* (Z{m} > 0)      (21), (22)
    dXidS = reshape(dXidS, ch_input(LC+1), [])
    conv m = LC..1:     dXidS = mat(vec(dXidS)' P_pool^m)   if pooled      (26)
                        dzdW{m} = dXidS*phiZ{m}'     (27), (12)
                        dzdb{m} = sum(dXidS, 2)      (14)
                        m > 1:  V = W{m}'*dXidS
                                dXidS = mat(vec(V)' P_phi^m)               (28)
                                dXidS = dXidS(:, idx_pad + a_pad*b_pad*[0:n-1])   (P_pad^m)
                                dXidS = dXidS .* (Z{m} > 0)

Shapes (MATLAB's): ``dzdW{m}``/``dzdb{m}`` as ``model.weight{m}``/``model.bias{m}``,
in the class of ``v``.  Uses ``net.Z``, ``net.phiZ``, ``net.idx_pool``,
``net.idx_phiZ``, ``net.idx_pad`` and ``net.num_sampled_data`` of the forward
pass.  Traced stages (docs/design.md), the same as ``lossgrad_subset``'s:
full m: dXidS, dlossdW, dlossdb, WtDelta, activation; conv m: dXidS,
pool_gradient, dlossdW, dlossdb, and for m > 1 WtDelta, phi_gradient, unpad,
activation.

Two layouts meet here: this routine has the current layout's signature, but
it calls the port's ``vTP``, which has the seed layout's
``vTP(param, model, net, m, V, op)`` (the current layout's is
``vTP(model, net, m, num_data, V, op)``), and reads the seed layout's
``net.idx_pad`` to remove the padding (the current layout crops a 4-D array).
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.support import trace
from simplecnn_py.support.conventions import cell, cols, ftype, mtimes, reshape, vec
from simplecnn_py.cnn.vTP import vTP

__all__ = ["JTv"]


def JTv(model, net, v):
    L, LC = model.L, model.LC
    dtype = v.dtype
    n = net.num_sampled_data
    dzdW, dzdb = cell(L), cell(L)

    dXidS = v
    for m in range(L, LC, -1):                                  # fully-connected layers
        trace.record(m, "backward", "dXidS", dXidS)
        dzdW[m] = mtimes(dXidS, net.Z[m].T)
        dzdb[m] = np.sum(dXidS, axis=1, keepdims=True)
        trace.record(m, "backward", "dlossdW", dzdW[m])
        trace.record(m, "backward", "dlossdb", dzdb[m])
        dXidS = mtimes(ftype(model.weight[m], dtype).T, dXidS)
        trace.record(m, "backward", "WtDelta", dXidS)
        dXidS = dXidS * (net.Z[m] > 0)
        trace.record(m, "backward", "activation", dXidS)

    dXidS = reshape(dXidS, model.ch_input[LC + 1], -1)
    for m in range(LC, 0, -1):                                  # convolutional layers
        trace.record(m, "backward", "dXidS", dXidS)
        if model.wd_subimage_pool[m] > 1:
            # seed-layout vTP(param, model, net, m, V, op); current: vTP(model, net, m, num_data, V, op)
            dXidS = reshape(vTP(None, model, net, m, dXidS, "pool_gradient"), model.ch_input[m + 1], -1)
            trace.record(m, "backward", "pool_gradient", dXidS)
        dzdW[m] = mtimes(dXidS, net.phiZ[m].T)
        dzdb[m] = np.sum(dXidS, axis=1, keepdims=True)
        trace.record(m, "backward", "dlossdW", dzdW[m])
        trace.record(m, "backward", "dlossdb", dzdb[m])
        if m > 1:
            V = mtimes(ftype(model.weight[m], dtype).T, dXidS)
            trace.record(m, "backward", "WtDelta", V)
            # seed-layout vTP(param, model, net, m, V, op); current: vTP(model, net, m, num_data, V, op)
            dXidS = reshape(vTP(None, model, net, m, V, "phi_gradient"), model.ch_input[m], -1)
            trace.record(m, "backward", "phi_gradient", dXidS)
            a_pad, b_pad = model.ht_pad[m], model.wd_pad[m]
            dXidS = cols(dXidS, vec(net.idx_pad[m] + a_pad * b_pad * np.arange(n)))
            trace.record(m, "backward", "unpad", dXidS)
            dXidS = dXidS * (net.Z[m] > 0)
            trace.record(m, "backward", "activation", dXidS)
    return dzdW, dzdb
