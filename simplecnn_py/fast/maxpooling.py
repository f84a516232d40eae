"""Fast ``maxpooling``: window maxima and MATLAB's first-max winners.

Reference: ``simplecnn_py/cnn/maxpooling.py`` (gather the windows with
``idx_phiZ_pool``, ``first_max``).  Here: a running ``maximum`` over the h*h
window offsets (the first maximal entry bit for bit, -0 and +0 included),
then the first offset equal to the maximum by integer arithmetic
(``first_max_into``), then ``idx_pool`` from the offsets
(``idx_from_offsets``); values and ``idx_pool`` bit-identical
(tests/fast/test_fast_maxpooling.py).  ``LazyIdxPool`` is ``net.idx_pool`` as the
fused pass leaves it (winners kept as one-byte offsets, positions built when
read).
"""
from __future__ import annotations

import threading

import numpy as np

from .layer import Layer, LazyCell, span, standard
from .workspace import chunk_size, run_parts, scratch, split

F = "F"


def pool_windows(A4, h, a_out, b_out):
    """The h*h pooling window offsets of A4 (d, a_conv, b_conv, n) as
    strided views (d, a_out, b_out, n), in window order (height offset
    fastest)."""
    return [A4[:, span(i, a_out, h), span(j, b_out, h), :] for j in range(h) for i in range(h)]


def first_max_into(M, K, wins, work):
    """M = the entrywise maximum of the equally shaped arrays ``wins`` (a
    window's entries in window order) and K (uint8 or int64) the index of the
    first one equal to it, as MATLAB's ``max`` picks the first maximal entry.
    """
    # the maximum, taken in window order: np.maximum(w, M) returns M, the
    # earlier entry, on a tie (+0 against -0 included), so M ends as the
    # first maximal entry bit for bit (test_maxpooling_first_max_and_signed_zeros)
    np.copyto(M, wins[0])
    for w in wins[1:]:
        np.maximum(w, M, out=M)
    # the first index q whose entry equals the maximum, in Horner form:
    # K = ne0*(1 + ne1*(1 + ... (1 + ne_{Q-2}))), ne_q = (entry q != max)
    # (integer arithmetic: masked copies are slow on strided views)
    Q = len(wins)
    if Q == 1:
        K.fill(0)
        return
    np.not_equal(wins[Q - 2], M, out=K)
    ne = scratch(work, "ne", M.shape, np.bool_)
    for q in range(Q - 3, -1, -1):
        np.add(K, 1, out=K)
        np.not_equal(wins[q], M, out=ne)
        np.multiply(K, ne, out=K)


def maxpool_offsets_into(M4, k4, S4, h, work):
    """Max pooling of S4 (d, a_conv, b_conv, n) with h x h windows, winners
    as window offsets: M4 (d, a_out, b_out, n) gets the window maxima, k4
    (same shape, ``offset_dtype(h)``) the offset q = i + h*j (height offset
    fastest, the window order of ``idx_phiZ_pool``) of the first entry equal
    to the maximum.
    """
    first_max_into(M4, k4, pool_windows(S4, h, M4.shape[1], M4.shape[2]), work)


def offset_dtype(h):
    """The dtype of window offsets 0..h*h-1."""
    return np.uint8 if h * h <= 255 else np.int64


def idx_from_offsets(idx4, k4, base, a_conv, h):
    """1-based positions within the instance (``idx_pool``) of the winners
    given as window offsets k4 (d, a_out, b_out, n): offset q = i + h*j of
    the window whose first entry is at ``base`` (``pool_base``) is position
    base + d*(i + a_conv*j).  Writes idx4 (int64, same shape)."""
    d = k4.shape[0]
    offs = np.array([d * (i + a_conv * j) for j in range(h) for i in range(h)], dtype=np.int64)
    np.add(offs[k4], base[..., None], out=idx4)


def maxpool_into(Zout4, idx4, S4, h, base, work):
    """Max pooling of S4 (d, a_conv, b_conv, n) with h x h windows.

    Zout4 (d, a_out, b_out, n) gets the window maxima and idx4 (same shape,
    int64) the 1-based position within the instance of the first maximal
    entry in the window order of ``idx_phiZ_pool`` (height offset fastest),
    as MATLAB's ``max`` picks it.  ``work`` is a dict of scratch arrays.
    """
    k = scratch(work, "k", Zout4.shape, offset_dtype(h))
    maxpool_offsets_into(Zout4, k, S4, h, work)
    idx_from_offsets(idx4, k, base, S4.shape[1], h)


class LazyIdxPool(LazyCell):
    """``net.idx_pool`` as the fused pass leaves it: the winners are kept as
    window offsets (``maxpool_offsets_into``, one byte each), and
    ``net.idx_pool[m]`` builds MATLAB's 1-based positions from them the first
    time it is read (``idx_from_offsets``), and keeps them."""

    __slots__ = ("_make",)

    def __init__(self, layers, offsets):
        super().__init__(len(layers))
        self._make = (layers, offsets)

    _lock = threading.Lock()        # threads of a fast path may read it first

    def __getitem__(self, m):
        value = super().__getitem__(m)
        layers, offsets = self._make
        if value is None and int(m) in offsets:
            with self._lock:
                value = super().__getitem__(m)
                if value is None:
                    ly, K = layers[int(m) - 1], offsets[int(m)]
                    value = np.empty(K.shape, dtype=np.int64, order=F)
                    shape = (ly.d_out, ly.a_out, ly.b_out, K.shape[1])
                    idx_from_offsets(value.reshape(shape, order=F), K.reshape(shape, order=F), ly.base, ly.a_conv,
                                     ly.pool)
                    super().__setitem__(m, value)
        return value


def maxpooling(model, net, m):
    """Fast ``[Zout, idx_pool] = maxpooling(model, net, m)``; None to step aside."""
    ly = Layer(model, m)
    if not standard(net, ly, "idx_phiZ_pool"):
        return None
    n = int(net.num_sampled_data)
    S = net.Z[m + 1]
    S4 = S.reshape((ly.d_out, ly.a_conv, ly.b_conv, n), order=F)
    Zout = np.empty((ly.d_out, ly.a_out * ly.b_out * n), dtype=S.dtype, order=F)
    idx_pool = np.empty((ly.d_out * ly.a_out * ly.b_out, n), dtype=np.int64, order=F)
    Z4 = Zout.reshape((ly.d_out, ly.a_out, ly.b_out, n), order=F)
    I4 = idx_pool.reshape((ly.d_out, ly.a_out, ly.b_out, n), order=F)
    chunk = chunk_size([ly], S.dtype.itemsize)

    def part(chunks, work):
        for c0, c1 in chunks:
            maxpool_into(Z4[..., c0:c1], I4[..., c0:c1], S4[..., c0:c1], ly.pool, ly.base, work)

    run_parts(part, split(n, chunk))
    return Zout, idx_pool
