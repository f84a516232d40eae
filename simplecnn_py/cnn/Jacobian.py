"""``net = Jacobian(model, net)``: the stored Jacobian ``net.dzdS`` (``-Jacobian 1``).

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn/Jacobian.m`` (current layout); this repository's MATLAB twin is
``matlab_ref/current/MATLAB/cnn/Jacobian.m``.  For the instances of the last
``feedforward``, ``net.dzdS{m}`` holds d z^{L+1}_k / d S^{m,i} for every output
k and instance i, one block of columns per (k, i), block k + nL*(i-1) (class
fastest, then instance):

    full m:  dzdS{m} is n_{m+1} x (nL*n)
    conv m:  dzdS{m} is ch_input(m+1) x (ht_conv(m)*wd_conv(m)*nL*n)

It is ``JTv``'s backward pass (the gradient-calculation slides, eqs.
(19)-(22) and (26)-(28)) started from the nL
unit vectors of every instance, ``dXidS = [I_nL I_nL ... I_nL]``, with the
``'_Jacobian'`` operations of ``vTP`` and each instance's activation mask
repeated for its nL blocks::

    full m = L..LC+1:  dzdS{m} = dXidS;  dXidS = (W{m}'*dXidS) .* repelem(Z{m} > 0, 1, nL)
    conv m = LC..1:    dXidS = vTP(..., 'pool_Jacobian')  if pooled;  dzdS{m} = dXidS
                       m > 1: V = W{m}'*dXidS;  dXidS = vTP(..., V, 'phi_Jacobian');
                              remove the padding;  mask with Z{m} > 0 per block

Used by ``JTBJv``.  Like ``JTv``, this current-layout routine calls the
port's seed-layout ``vTP(param, model, net, m, V, op)`` (the current layout's
is ``vTP(model, net, m, num_data, V, op)``) and reads ``net.idx_pad``.

The lines below are the reference; unless it is selected
(``SIMPLECNN_REFERENCE=1`` or ``fast.use_reference()``),
``simplecnn_py/fast/Jacobian.py`` computes the same ``dzdS``
chunk by chunk (the same values up to the rounding of ``W'*dXidS``).
"""
from __future__ import annotations

import numpy as np

from simplecnn_py import fast
from simplecnn_py.fast import Jacobian as fast_path
from simplecnn_py.support.conventions import cell, cols, ftype, mtimes, reshape, vec
from simplecnn_py.cnn.vTP import vTP

__all__ = ["Jacobian"]


def Jacobian(model, net):
    if fast.enabled() and fast_path.Jacobian(model, net) is not None:
        return net
    L, LC, nL = model.L, model.LC, model.nL
    n = net.num_sampled_data
    dtype = net.Z[L + 1].dtype
    net.dzdS = cell(L)

    dXidS = np.asfortranarray(np.tile(np.eye(nL, dtype=dtype), (1, n)))   # repmat(eye(nL), 1, n)
    for m in range(L, LC, -1):
        net.dzdS[m] = dXidS
        dXidS = mtimes(ftype(model.weight[m], dtype).T, dXidS) * np.repeat(net.Z[m] > 0, nL, axis=1)

    for m in range(LC, 0, -1):
        dXidS = reshape(dXidS, model.ch_input[m + 1], -1)
        if model.wd_subimage_pool[m] > 1:
            # seed-layout vTP(param, model, net, m, V, op); current: vTP(model, net, m, num_data, V, op)
            dXidS = reshape(vTP(None, model, net, m, dXidS, "pool_Jacobian"), model.ch_input[m + 1], -1)
        net.dzdS[m] = dXidS
        if m > 1:
            V = mtimes(ftype(model.weight[m], dtype).T, dXidS)
            # seed-layout vTP(param, model, net, m, V, op); current: vTP(model, net, m, num_data, V, op)
            dXidS = reshape(vTP(None, model, net, m, V, "phi_Jacobian"), model.ch_input[m], -1)
            a_pad, b_pad = model.ht_pad[m], model.wd_pad[m]
            dXidS = cols(dXidS, vec(net.idx_pad[m] + a_pad * b_pad * np.arange(nL * n)))
            mask = reshape(net.Z[m] > 0, -1, 1, n)                      # one mask per instance
            dXidS = reshape(dXidS, -1, nL, n) * mask
    return net
