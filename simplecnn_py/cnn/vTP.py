"""``row = vTP(param, model, net, m, V, op)`` (seed layout): vec(V)^T P.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/vTP.m``; this repository's MATLAB twins are ``matlab_ref/seed/cnn/vTP.m``
(this signature) and ``matlab_ref/current/MATLAB/cnn/vTP.m``
(``vTP(model, net, m, num_data, V, op)``; ``JTv`` and ``Jacobian``,
current-layout routines, call this seed form with ``param = None``).

The products of a row vector with the P matrices of the gradient-calculation
slides, done by
``accumarray`` (values added in subscript order, as MATLAB/Octave do):

* ``'pool_gradient'`` (eq. (26), first step of the backward conv layer):
  V is d x (a_out*b_out*n), d = ch_input(m+1); the result, of length
  d*a_conv*b_conv*n, is vec(V_i)^T P_pool^{m,i} per instance: V scattered to
  ``idx_pool{m} + d*a_conv*b_conv*[0:n-1]``.
* ``'phi_gradient'`` (eq. (28) without the padding):  V = W'*Delta is
  (h*h*d) x (a_conv*b_conv*n), d = ch_input(m); the result, of length
  d*a_pad*b_pad*n, is vec(V_i)^T P_phi^m per instance: V scattered to
  ``idx_phiZ{m} + d*a_pad*b_pad*[0:n-1]``, overlapping patches adding up.
* ``'pool_Jacobian'``, ``'phi_Jacobian'``: the same for nL vectors per
  instance.  V holds nL*n blocks, each of the size above, ordered class
  fastest, then instance (block k + nL*(i-1) for class k of instance i); the
  result holds nL*n blocks in the same order.  The pooling block of instance i
  uses instance i's ``idx_pool``.

Returns a 1-D array (MATLAB's row vector); callers reshape it, e.g.
``reshape(vTP(...), ch_input(m+1), [])``.

The lines below are the reference; ``simplecnn_py/fast/vTP.py`` gives the same
bits with strided adds unless the reference path is selected.
"""
from __future__ import annotations

import numpy as np

from .. import fast
from ..fast import vTP as fast_path
from ..support.conventions import accumarray, accumarray_blocks


def vTP(param, model, net, m, V, op):
    if fast.enabled() and (row := fast_path.vTP(param, model, net, m, V, op)) is not None:
        return row                              # fast/vTP.py: the same sums in the same order
    n = net.num_sampled_data
    if op in ("pool_gradient", "pool_Jacobian"):
        d, a, b = model.ch_input[m + 1], model.ht_conv[m], model.wd_conv[m]
        idx_pool = net.idx_pool[m]                                    # (d*a_out*b_out) x n
        if op == "pool_gradient":
            # accumarray(idx_pool + d*a*b*[0:n-1], V(:))
            subs = np.add(idx_pool, d * a * b * np.arange(n), order="F")
            return accumarray(subs, V, d * a * b * n)
        nL = model.nL
        block = np.arange(nL)[:, None] + nL * np.arange(n)[None, :]   # nL x n: k + nL*i
        subs = np.add(idx_pool[:, None, :], d * a * b * block[None, :, :], order="F")  # (d*a_out*b_out) x nL x n
        return accumarray(subs, V, d * a * b * nL * n)
    if op in ("phi_gradient", "phi_Jacobian"):
        d, a, b = model.ch_input[m], model.ht_pad[m], model.wd_pad[m]
        blocks = n if op == "phi_gradient" else model.nL * n
        # accumarray(idx_phiZ + d*a*b*[0:blocks-1], V(:)), block by block
        return accumarray_blocks(net.idx_phiZ[m], V, d * a * b, blocks)
    raise ValueError(f"vTP: unknown op {op!r}")
