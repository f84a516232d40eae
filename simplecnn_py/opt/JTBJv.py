"""``Gv = JTBJv(model, net, v)``: the Gauss-Newton product with the stored Jacobian.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/opt/JTBJv.m`` (current layout, ``-Jacobian 1``); this repository's
MATLAB twin is ``matlab_ref/current/MATLAB/opt/JTBJv.m``: G v = J' B J v with B
= 2I (the squared loss' Hessian with respect to z^{L+1}), summed over the
instances of the last ``feedforward``, from ``net.dzdS`` (``Jacobian``).  ``v``
and ``Gv`` are flat parameter vectors (``cells_to_vec`` layout).  For each
layer m, with phi = phiZ{m} (conv) or Z{m} (full) and R{S^m} = V_W{m}*phi +
v_b{m} (the gradient-calculation slides, eqs. (5), (11)):

    (J v)(k, i) = sum_m < dzdS{m}(:, block (k,i)), R{S^{m,i}} >
    u = B (J v) = 2 (J v)
    T{m}(:, block i) = sum_k u(k, i) dzdS{m}(:, block (k,i))
    J' u for layer m = vec([T{m}*phi', sum(T{m}, 2)])           (eqs. (12), (14))

The lines below are the reference; unless it is selected
(``SIMPLECNN_REFERENCE=1`` or ``fast.use_reference()``),
``simplecnn_py/fast/JTBJv.py`` does the two contractions as
batched matrix products (the same sums in another order).
"""
from __future__ import annotations

import numpy as np

from simplecnn_py import fast
from simplecnn_py.fast import JTBJv as fast_path
from simplecnn_py.cnn.cells_to_vec import cells_to_vec
from simplecnn_py.support.conventions import cell, mtimes, reshape
from simplecnn_py.cnn.vec_to_cells import vec_to_cells

__all__ = ["JTBJv"]


def JTBJv(model, net, v):
    if fast.enabled() and (Gv := fast_path.JTBJv(model, net, v)) is not None:
        return Gv
    L, LC, nL = model.L, model.LC, model.nL
    n = net.num_sampled_data
    VW, vb = vec_to_cells(v, model)
    phi = cell([net.phiZ[m] if m <= LC else net.Z[m] for m in range(1, L + 1)])

    Jv_ = np.zeros((nL, n), dtype=v.dtype)
    for m in range(1, L + 1):
        R_S = reshape(mtimes(VW[m], phi[m]) + vb[m], -1, n)                 # (rows*positions) x n
        dzdS = reshape(net.dzdS[m], -1, nL, n)
        Jv_ += np.einsum("pki,pi->ki", dzdS, R_S)
    u = 2 * Jv_

    dW, db = cell(L), cell(L)
    for m in range(1, L + 1):
        dzdS = reshape(net.dzdS[m], -1, nL, n)
        T = reshape(np.asfortranarray(np.einsum("pki,ki->pi", dzdS, u)), net.dzdS[m].shape[0], -1)
        dW[m] = mtimes(T, phi[m].T)
        db[m] = np.sum(T, axis=1, keepdims=True)
    return cells_to_vec(dW, db)
