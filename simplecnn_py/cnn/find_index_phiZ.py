"""``idx = find_index_phiZ(a, b, d, h, s)``: ``P_phi^m`` of the slides as indices.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/find_index_phiZ.m`` (both layouts, the same signature); this repository's
MATLAB twins are ``matlab_ref/seed/cnn/find_index_phiZ.m`` and
``matlab_ref/current/MATLAB/cnn/find_index_phiZ.m``.  ``P_phi^m`` is the
expansion phi of the gradient-calculation slides (eqs. (3) and (28)).

For one d x a x b image Z (channel fastest, then height, then width), the
convolution's expansion phi(Z) is (h*h*d) x (a_out*b_out) with
a_out = floor((a - h)/s) + 1 and b_out likewise.  Entry (row i + h*j + h*h*c,
column r + a_out*q), all 0-based, is Z(c, r*s + i, q*s + j), whose 1-based
position in vec(Z) is

    1 + c + d*((r*s + i) + a*(q*s + j)).

``idx`` lists these positions column-major over phi(Z), so
``phi(Z) = reshape(vec(Z)(idx), h*h*d, [])``.  With h = s = pool width it
gives the non-overlapping pooling windows (``net.idx_phiZ_pool``).
Shape: (h*h*d*a_out*b_out) x 1, 1-based int64.
"""
from __future__ import annotations

import numpy as np

from ..support.conventions import vec


def find_index_phiZ(a, b, d, h, s):
    a, b, d, h, s = (int(v) for v in (a, b, d, h, s))
    a_out = (a - h) // s + 1
    b_out = (b - h) // s + 1

    i = np.arange(h, dtype=np.int64).reshape(h, 1, 1, 1, 1)      # height offset
    j = np.arange(h, dtype=np.int64).reshape(1, h, 1, 1, 1)      # width offset
    c = np.arange(d, dtype=np.int64).reshape(1, 1, d, 1, 1)      # channel
    r = np.arange(a_out, dtype=np.int64).reshape(1, 1, 1, a_out, 1)  # output row
    q = np.arange(b_out, dtype=np.int64).reshape(1, 1, 1, 1, b_out)  # output column
    idx = 1 + c + d * ((r * s + i) + a * (q * s + j))              # h x h x d x a_out x b_out
    return vec(np.asfortranarray(idx))[:, None]
