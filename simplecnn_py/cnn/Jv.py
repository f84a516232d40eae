"""``R_z = Jv(model, net, v)``: the Jacobian-vector product J v by the R-operator.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn/Jv.m`` (current layout); this repository's MATLAB twin is
``matlab_ref/current/MATLAB/cnn/Jv.m``.  J is the Jacobian of the network
output z^{L+1,i} of the instances of the last ``feedforward`` with respect to
the flat parameter vector (``cells_to_vec`` layout, ``model.var_ptr``); ``v``
is such a vector, split into ``V_W{m}``, ``v_b{m}``. The forward pass
differentiated in the direction v (no stored Jacobian), from eqs. (3)-(5) and
(10)-(11) of the gradient-calculation slides:

    R{Z^1} = 0
    conv m:  R{S^m} = V_W{m}*phiZ{m} + v_b{m} + W{m}*phi(pad(R{Z^m}))
             pooled: R{S^m} taken at the winners idx_pool{m} (P_pool^{m,i} R{S})
             R{Z^{m+1}} = R{S^m} .* (Z{m+1} > 0)
    full m:  R{S^m} = V_W{m}*Z{m} + v_b{m} + W{m}*R{Z^m}
             R{Z^{m+1}} = R{S^m} .* (Z{m+1} > 0)  for m < L,   R{S^L}  for m = L

The activation mask is applied after pooling, on Z{m+1}: a pooled value is
> 0 exactly when its winner's S is > 0 (the slides' argument for eq. (24)), so
this is the exact adjoint of ``JTv``.  Returns ``R_z``, nL x n (MATLAB's
shape).  The current layout's ``padding_and_phiZ(model, net, Z, m, num_data)``
is ``phiZ_of`` below, over the port's seed-layout ``padding_and_phiZ``.
"""
from __future__ import annotations

import copy

import numpy as np

from simplecnn_py.support.conventions import cell, ftype, mtimes, reshape, to0
from simplecnn_py.cnn.padding_and_phiZ import padding_and_phiZ
from simplecnn_py.cnn.vec_to_cells import vec_to_cells

__all__ = ["Jv", "phiZ_of"]


def phiZ_of(model, net, Z, m):
    """phi(pad(Z)) for an array ``Z`` shaped as ``net.Z{m}``: the current layout's
    ``padding_and_phiZ(model, net, Z, m, num_data)``.  The port's
    ``padding_and_phiZ(model, net, m)`` (seed layout) reads ``net.Z{m}``, so it
    is called on a shallow copy of ``net`` whose ``Z{m}`` is ``Z``."""
    view = copy.copy(net)
    view.Z = cell(len(net.Z))
    view.Z[m] = Z
    return padding_and_phiZ(model, view, m)


def Jv(model, net, v):
    L, LC = model.L, model.LC
    n = net.num_sampled_data
    VW, vb = vec_to_cells(v, model)

    R_Z = None
    for m in range(1, LC + 1):
        R_S = mtimes(VW[m], net.phiZ[m]) + vb[m]
        if m > 1:
            # current layout: padding_and_phiZ(model, net, R_Z, m, num_data), via the seed-layout one
            R_S += mtimes(ftype(model.weight[m], v.dtype), phiZ_of(model, net, R_Z, m))
        if model.wd_subimage_pool[m] > 1:
            D = R_S.shape[0] * model.ht_conv[m] * model.wd_conv[m]
            R_S = np.take_along_axis(reshape(R_S, D, n), to0(net.idx_pool[m]), axis=0)
            R_S = reshape(np.asfortranarray(R_S), model.ch_input[m + 1], -1)
        R_Z = R_S * reshape(net.Z[m + 1] > 0, *R_S.shape)
    R_Z = reshape(R_Z, -1, n)
    for m in range(LC + 1, L + 1):
        R_S = mtimes(VW[m], net.Z[m]) + vb[m] + mtimes(ftype(model.weight[m], v.dtype), R_Z)
        R_Z = R_S * (net.Z[m + 1] > 0) if m < L else R_S
    return R_Z
