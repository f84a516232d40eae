"""``[Zout, idx_pool] = maxpooling(model, net, m)`` (seed layout).

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/maxpooling.m``; this repository's MATLAB twins are
``matlab_ref/seed/cnn/maxpooling.m`` (this signature) and
``matlab_ref/current/MATLAB/cnn/maxpooling.m``
(``[Z, idx_pool, R_Z] = maxpooling(model, net, Zin, m, R_Zin)``).

Max pooling of ``net.Z{m+1}`` = sigma(S^m) (d x a_conv*b_conv*n) with
non-overlapping h x h windows, h = ``wd_subimage_pool(m)`` (the gradient-calculation slides, eq. (3)):

    Z^{m+1,i} = mat(P_pool^{m,i} vec(sigma(S^{m,i})))   d x (a_out*b_out)

The windows are gathered with ``idx_phiZ_pool{m}`` (phi with filter = stride
= h), reshaped to (h*h) x (d*a_out*b_out*n) and the column maximum is taken
with MATLAB's rule: the first maximal entry wins a tie (ReLU zeros tie
often).  ``idx_pool`` ((d*a_out*b_out) x n, 1-based) is, for each pooled
value, the linear position of the winner within its instance's
d*a_conv*b_conv values: the nonzero column of row k of P_pool^{m,i}.

The lines below are the reference; ``simplecnn_py/fast/maxpooling.py`` gives the same
result with strided views unless the reference path is selected.
"""
from __future__ import annotations

import numpy as np

from .. import fast
from ..fast import maxpooling as fast_path
from ..support.conventions import first_max, gather_blocks, reshape, to0


def maxpooling(model, net, m):
    if fast.enabled() and (out := fast_path.maxpooling(model, net, m)) is not None:
        return out                              # fast/maxpooling.py: the same values and winners
    n = net.num_sampled_data
    d = model.ch_input[m + 1]
    a_conv, b_conv = model.ht_conv[m], model.wd_conv[m]
    h = model.wd_subimage_pool[m]
    sigmaS = net.Z[m + 1]

    # the windows: sigmaS(idx_phiZ_pool + d*a_conv*b_conv*[0:n-1])
    windows = reshape(gather_blocks(sigmaS, net.idx_phiZ_pool[m], n), h * h, -1)   # (h*h) x (d*a_out*b_out*n)

    Zout, I = first_max(windows)                                # 1 x (d*a_out*b_out*n), 1-based rows
    Zout = reshape(Zout, d, -1)                                 # d x (a_out*b_out*n)

    # winner's row within one instance's gathered column -> its position in Z
    I = reshape(I, -1, n)                                       # (d*a_out*b_out) x n
    k = I + h * h * np.arange(I.shape[0])[:, None]              # 1-based, within idx_phiZ_pool
    idx_pool = np.asfortranarray(net.idx_phiZ_pool[m][to0(k), 0])
    return Zout, idx_pool
