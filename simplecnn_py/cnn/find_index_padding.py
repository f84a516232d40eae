"""``idx_pad = find_index_padding(model, m)`` (seed layout).

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/find_index_padding.m`` (seed layout only: the current layout pads into a
4-D array of zeros); this repository's MATLAB twin is
``matlab_ref/seed/cnn/find_index_padding.m``.

Padding (``P_pad^m`` of the gradient-calculation slides, eqs. (3) and (28))
puts the a x b image of layer m into an
(a + 2p) x (b + 2p) plane of zeros.  ``idx_pad`` lists, column-major over the
unpadded image, the 1-based linear position within one padded channel plane
(a_pad x b_pad) where each pixel lands:

    idx_pad(1 + i + a*j) = 1 + (p + i) + a_pad*(p + j),   i < a, j < b (0-based)

so that ``pad(Z)(:, idx_pad + a_pad*b_pad*[0:n-1]) = Z`` for Z of size
d x (a*b*n).  Shape: (a*b) x 1, 1-based int64.
"""
from __future__ import annotations

import numpy as np

from ..support.conventions import vec


def find_index_padding(model, m):
    a = model.ht_input[m]
    b = model.wd_input[m]
    p = model.wd_pad_added[m]
    a_pad = model.ht_pad[m]

    i = np.arange(a, dtype=np.int64)[:, None]          # height, 0-based
    j = np.arange(b, dtype=np.int64)[None, :]          # width, 0-based
    idx_pad = 1 + (p + i) + a_pad * (p + j)             # a x b, 1-based
    return vec(np.asfortranarray(idx_pad))[:, None]
