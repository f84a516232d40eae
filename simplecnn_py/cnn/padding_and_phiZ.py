"""``phiZ = padding_and_phiZ(model, net, m)`` (seed layout): phi(pad(Z^m)).

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/padding_and_phiZ.m``; this repository's MATLAB twins are
``matlab_ref/seed/cnn/padding_and_phiZ.m`` (this signature) and
``matlab_ref/current/MATLAB/cnn/padding_and_phiZ.m``
(``padding_and_phiZ(model, net, Z, m, num_data)``; ``Jv.phiZ_of`` gives that
form).

For each instance i (the gradient-calculation slides, eq. (3)):

    phi(pad(Z^{m,i})) = mat(P_phi^m P_pad^m vec(Z^{m,i}))   (h*h*d) x (a_conv*b_conv)

Padding writes ``net.Z{m}`` (d x a*b*n) into a d x (a_pad*b_pad*n) array of
zeros at the columns ``idx_pad{m} + a_pad*b_pad*[0:n-1]``; phi gathers
``vec(padded)`` at ``idx_phiZ{m} + d*a_pad*b_pad*[0:n-1]`` and reshapes it to
(h*h*d) x (a_conv*b_conv*n), instance i occupying columns
(i-1)*a_conv*b_conv+1 .. i*a_conv*b_conv.  n is ``net.num_sampled_data``.

The lines below are the reference; unless ``SIMPLECNN_REFERENCE=1`` (or
``fast.use_reference()``), ``simplecnn_py/fast/padding_and_phiZ.py`` computes the same
array with strided copies when the net's index maps are the standard ones.
"""
from __future__ import annotations

import numpy as np

from .. import fast
from ..fast import padding_and_phiZ as fast_path
from ..support.conventions import gather_blocks, reshape, to0, vec, zeros


def padding_and_phiZ(model, net, m):
    if fast.enabled() and (phiZ := fast_path.padding_and_phiZ(model, net, m)) is not None:
        return phiZ                             # fast/padding_and_phiZ.py: the same values by strided copies
    n = net.num_sampled_data
    d = model.ch_input[m]
    a_pad, b_pad = model.ht_pad[m], model.wd_pad[m]
    h = model.wd_filter[m]
    Z = net.Z[m]

    # pad: Zpad(:, idx_pad + a_pad*b_pad*[0:n-1]) = Z
    pad_Z = zeros(d, a_pad * b_pad * n, dtype=Z.dtype)
    idx_pad0 = vec(np.add(to0(net.idx_pad[m]), a_pad * b_pad * np.arange(n), order="F"))
    pad_Z[:, idx_pad0] = Z

    # phi: phiZ = reshape(pad_Z(idx_phiZ + d*a_pad*b_pad*[0:n-1]), h*h*d, [])
    phiZ = gather_blocks(pad_Z, net.idx_phiZ[m], n)
    return reshape(phiZ, h * h * d, -1)
