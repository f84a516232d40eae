"""``net = init_net(param, model)`` (seed layout argument order).

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/init_net.m``; this repository's MATLAB twins are
``matlab_ref/seed/cnn/init_net.m`` (this argument order) and
``matlab_ref/current/MATLAB/cnn/init_net.m`` (``init_net(model, param)``, no
``idx_pad``).  The P matrices of the gradient-calculation slides (eq. (3)) as
index maps, all 1-based int64 column vectors (see ``find_index_padding`` and
``find_index_phiZ``):

* ``idx_pad{m}  = find_index_padding(model, m)``                (P_pad^m)
* ``idx_phiZ{m} = find_index_phiZ(ht_pad(m), wd_pad(m), ch_input(m),
  wd_filter(m), strides(m))``                                    (P_phi^m)
* ``idx_phiZ_pool{m} = find_index_phiZ(ht_conv(m), wd_conv(m),
  ch_input(m+1), pool, pool)`` for pooled layers (empty otherwise).

The seed original passes ``(wd_pad, ht_pad)`` to ``find_index_phiZ``, which
is wrong for non-square padded inputs; we pass ``(ht_pad, wd_pad)`` as the
current layout does.  ``Z`` (L+1 cells), ``phiZ``, ``idx_pool`` (LC cells)
and ``dlossdW``/``dlossdb`` (L cells) start empty.
"""
from __future__ import annotations

from ..support.conventions import cell, struct
from .find_index_padding import find_index_padding
from .find_index_phiZ import find_index_phiZ


def init_net(param, model):
    L, LC = model.L, model.LC
    net = struct()
    net.idx_pad = cell(LC)
    net.idx_phiZ = cell(LC)
    net.idx_phiZ_pool = cell(LC)
    for m in range(1, LC + 1):
        net.idx_pad[m] = find_index_padding(model, m)
        net.idx_phiZ[m] = find_index_phiZ(model.ht_pad[m], model.wd_pad[m], model.ch_input[m],
                                          model.wd_filter[m], model.strides[m])
        pool = model.wd_subimage_pool[m]
        if pool > 1:
            net.idx_phiZ_pool[m] = find_index_phiZ(model.ht_conv[m], model.wd_conv[m],
                                                   model.ch_input[m + 1], pool, pool)
    net.Z = cell(L + 1)
    net.phiZ = cell(LC)
    net.idx_pool = cell(LC)
    net.dlossdW = cell(L)
    net.dlossdb = cell(L)
    net.num_sampled_data = 0
    return net
