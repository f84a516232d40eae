"""Fast ``padding_and_phiZ`` (P_pad then P_phi), and the phiZ kernels of the fused pass.

Reference: ``simplecnn_py/cnn/padding_and_phiZ.py`` (``pad(:, idx_pad + ...) = Z``,
then ``vec(pad)(idx_phiZ + ...)``).  Here: ``pad_into`` is one slice
assignment into a zero-bordered array, ``phiZ_into`` one strided copy per
filter offset (i, j); bit-identical (tests/fast/test_fast_padding_and_phiZ.py).

For the fused pass, which keeps phiZ to itself: ``phiZ_cij_into`` builds
``phiZ[cij_rows(d, h), :]`` (rows in (channel, i, j) order) in one copy of a
strided view, ``phiZT_cij_into`` its transpose (one channel), optionally with
pool-major columns (``pool_major_cols``); ``crop`` is the backward P_pad.
``LazyPhiZ`` is ``net.phiZ`` as the fused ``lossgrad_subset`` leaves it: built
again, the same bits, when read.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .layer import Layer, LazyCell, span, standard
from .workspace import chunk_size, run_parts, split, zero_bordered

F = "F"


def pad_into(pad4, Z4, p):
    """P_pad: write Z4 (d, a, b, n) into the interior of pad4 (d, a+2p, b+2p, n).

    pad4's border must already be zero (it stays zero when pad4 is reused).
    """
    a, b = Z4.shape[1], Z4.shape[2]
    pad4[:, p:p + a, p:p + b, :] = Z4


def phiZ_into(P6, pad4, h, s):
    """P_phi: phiZ(i, j, c, r, q, n) = pad(c, r*s + i, q*s + j, n).

    P6 is the (h, h, d, a_out, b_out, n) view of phiZ; one strided copy per
    filter offset.
    """
    a_out, b_out = P6.shape[3], P6.shape[4]
    for j in range(h):
        for i in range(h):
            P6[i, j] = pad4[:, span(i, a_out, s), span(j, b_out, s), :]


def _phiZ_source(pad4, h, s, pool=1):
    """pad4 (d, a_pad, b_pad, n) read as phiZ's entries, a strided view.

    (d, h, h, a_out, b_out, n): [c, i, j, r, q, n] = pad(c, r*s + i, q*s + j, n),
    entry (c + d*(i + h*j), column r + a_out*q + a_out*b_out*n) of the
    (c, i, j)-ordered phiZ.  With ``pool`` > 1 (pool-major columns, see
    ``pool_major_cols``) the output position is r = pool*ro + ip,
    q = pool*qo + jp, and the view is (d, h, h, a_out/pool, b_out/pool, n,
    pool, pool) [c, i, j, ro, qo, n, ip, jp].
    """
    d, a_pad, b_pad, n = pad4.shape
    sc, sr, sq, sn = pad4.strides
    a_out, b_out = (a_pad - h) // s + 1, (b_pad - h) // s + 1
    if pool == 1:
        return as_strided(pad4, (d, h, h, a_out, b_out, n), (sc, sr, sq, s * sr, s * sq, sn), writeable=False)
    return as_strided(pad4, (d, h, h, a_out // pool, b_out // pool, n, pool, pool),
                      (sc, sr, sq, pool * s * sr, pool * s * sq, sn, s * sr, s * sq), writeable=False)


def cij_rows(d, h):
    """The row order of ``phiZ_cij_into``: row c + d*(i + h*j) of its phiZ is
    row i + h*j + h*h*c of the reference phiZ (numpy indices)."""
    c = np.arange(d)[:, None, None]
    i = np.arange(h)[None, :, None]
    j = np.arange(h)[None, None, :]
    return (i + h * j + h * h * c).reshape(-1, order=F)


def pool_major_cols(a_conv, b_conv, pool, n):
    """The column order of a pool-major phiZ (``phiZ_cij_into(..., pool)``):
    its column ro + a_o*qo + a_o*b_o*inst + a_o*b_o*n*(ip + pool*jp)
    (a_o = a_conv/pool, b_o = b_conv/pool) is the reference's column
    r + a_conv*q + a_conv*b_conv*inst with r = pool*ro + ip, q = pool*qo + jp:
    the columns of each pooling window offset (ip, jp) form one block, laid
    out like the pooled output (numpy indices)."""
    a_o, b_o = a_conv // pool, b_conv // pool
    ro = np.arange(a_o)[:, None, None, None, None]
    qo = np.arange(b_o)[None, :, None, None, None]
    inst = np.arange(n)[None, None, :, None, None]
    ip = np.arange(pool)[None, None, None, :, None]
    jp = np.arange(pool)[None, None, None, None, :]
    return ((pool * ro + ip) + a_conv * (pool * qo + jp) + a_conv * b_conv * inst).reshape(-1, order=F)


def phiZ_cij_into(P, pad4, h, s, pool=1):
    """P_phi for a phiZ the caller keeps to itself: P (rows x columns) =
    ``phiZ[cij_rows(d, h), :]``, rows in (channel, height offset, width
    offset) order, or with ``pool`` > 1 also the columns pool-major,
    ``phiZ[cij_rows(d, h)][:, pool_major_cols(...)]``.

    Every filter offset's block is channel-fastest like pad4, so one copy of
    the windows view moves runs of d values at both ends (the reference
    layout has stride h*h between channels, one copy per offset).
    """
    src = _phiZ_source(pad4, h, s, pool)
    np.copyto(P.reshape(src.shape, order=F), src)


def phiZT_cij_into(PT, pad4, h, s, pool=1):
    """The transpose of ``phiZ_cij_into``'s P, PT (columns x rows): for
    d = 1 every filter offset is one column of PT, copied in runs of a_out
    values (in phiZ each value lands h*h entries after the previous one).
    BLAS reads the transpose at no cost."""
    src = _phiZ_source(pad4, h, s, pool)
    shape = src.shape[3:] + src.shape[:3]
    np.copyto(PT.reshape(shape, order=F), src.transpose(tuple(range(3, src.ndim)) + (0, 1, 2)))


def crop(pad4, p, a, b):
    """The backward P_pad: the interior (d, a, b, n) of a padded array (a view)."""
    return pad4[:, p:p + a, p:p + b, :]


def padding_and_phiZ(model, net, m):
    """Fast ``padding_and_phiZ(model, net, m)``; None when it must step aside."""
    ly = Layer(model, m)
    if not (standard(net, ly, "idx_pad") and standard(net, ly, "idx_phiZ")):
        return None
    return phiZ_of(ly, net.Z[m], int(net.num_sampled_data))


def phiZ_of(ly, Z, n):
    """phi(pad(Z)) of conv layer ``ly`` for Z, d x (a*b*n): chunk by chunk."""
    Z4 = Z.reshape((ly.d, ly.a, ly.b, n), order=F)
    phiZ = np.empty((ly.rows, ly.ncol * n), dtype=Z.dtype, order=F)
    P6 = phiZ.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, n), order=F)
    chunk = chunk_size([ly], Z.dtype.itemsize)

    def part(chunks, work):
        pad4 = zero_bordered(work, ("pad", ly.key()), (ly.d, ly.a_pad, ly.b_pad, 2 * chunk), Z.dtype)
        for c0, c1 in chunks:
            k = c1 - c0
            pad_into(pad4[..., :k], Z4[..., c0:c1], ly.p)
            phiZ_into(P6[..., c0:c1], pad4[..., :k], ly.h, ly.s)

    run_parts(part, split(n, chunk))
    return phiZ


class LazyPhiZ(LazyCell):
    """``net.phiZ`` as the fused ``lossgrad_subset`` leaves it.

    The fused pass keeps phiZ{m} only chunk by chunk, in cache: writing the
    whole batch's phiZ to memory costs more than building it again.  The
    cell still reads as the reference's: ``net.phiZ[m]`` builds phi(pad(Z{m}))
    from the Z{m} of that pass the first time it is read (the same bits), and
    keeps it.  Assigning an entry replaces it as in any cell.
    """

    __slots__ = ("_make",)

    def __init__(self, layers, Zs, n):
        super().__init__(len(layers))
        self._make = (layers, Zs, n)

    def __getitem__(self, m):
        value = super().__getitem__(m)
        if value is None:
            layers, Zs, n = self._make
            value = phiZ_of(layers[int(m) - 1], Zs[int(m) - 1], n)
            super().__setitem__(m, value)
        return value
