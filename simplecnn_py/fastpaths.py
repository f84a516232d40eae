"""Fast paths beside the line-for-line port (issue 5).

The port's routines (``padding_and_phiZ``, ``maxpooling``, ``vTP``,
``feedforward``, ``lossgrad_subset``) read line for line beside MATLAB and
gather/scatter through the slides' index maps (``idx_pad``, ``idx_phiZ``,
``idx_pool``) with fancy indexing and ``accumarray``.  That is faithful but
slow: the slides say the matrix products are the bottleneck, and with index
maps they are not.  This module computes the same things with strided views:

==========================  ==============================================
routine (reference)         fast path here
==========================  ==============================================
padding (``idx_pad``)       one slice assignment into a zero-bordered array
phiZ (``idx_phiZ``)         one strided copy per filter offset (i, j); or,
                            rows in (c, i, j) order, one copy in all
                            (``phiZ_cij_into``, ``phiZT_cij_into``)
crop (``idx_pad`` columns)  one slice of the padded array
maxpooling (first max)      running ``maximum`` over the h*h window offsets,
                            then the first offset equal to the maximum
                            (``first_max_into``)
vTP ``pool_*``              direct assignment: windows do not overlap, so
                            each target gets one value (``0 + v``, as
                            accumarray adds it to zero); or, from the
                            winners' window offsets, one masked write per
                            offset (``scatter_by_offsets``)
vTP ``phi_*``               one strided add per filter offset, width offset
                            DEScending, then height offset DEScending: the
                            order in which accumarray meets the
                            contributions of each target, so the sums are
                            the same floating-point sums
==========================  ==============================================

Data movement is bit-identical to the reference, and so are the scatter-adds
(same additions in the same order); ``tests/test_fastpaths.py`` checks every
one with ``np.array_equal`` on the raw bytes.

``lossgrad_subset`` and ``feedforward`` also have a fused path: instances are
processed in chunks of a few instances (about 8 MiB of intermediates),
each chunk running the forward and then the backward pass through all
layers, in two threads with single-threaded BLAS (numpy releases the GIL in
products, copies and ufuncs).  ``W'*Delta`` is computed one filter offset
at a time (``phi_gradient_blocks_into``), so neither it nor the phi
gradient of the whole batch is ever built.  Per instance, the values are
the reference's up to the rounding of the products: OpenBLAS's sums depend
on the width of a product and on its thread count (the reference itself
gives other bits with one BLAS thread than with two), so nothing computed
after a product is bit-identical between the two paths, only equal to
rounding; pooling winners agree unless two entries tie to the last bit.
``dlossdW``, ``dlossdb`` and the loss are sums over instances, added chunk
by chunk, then group by group in a fixed order.  Chunks and groups depend on
the shapes and the number of instances only, so the results do not depend on
the number of cores or on which thread ran what (bit for bit).

What the fused pass keeps to itself it lays out for speed, not as MATLAB
does (the products do not care; every kernel below is tested against the
reference's own layout):

* a chunk's phiZ has its rows in (channel, height offset, width offset)
  order, ``phiZ[cij_rows(d, h), :]``, built by one copy of a strided view
  of the padded input (``phiZ_cij_into``: runs of d channels at both ends;
  the reference's rows put h*h entries between two channels), and W{m}'s
  columns are permuted to match (dlossdW{m} is permuted back).  With one
  channel (the first layer) it is stored transposed, one column per filter
  offset (``phiZT_cij_into``), and the columns are pool-major
  (``pool_major_cols``): the positions of each pooling window offset form
  one block laid out like the pooled output, so pooling and its scatter run
  on whole blocks (the first layer has no phi gradient, whose adds want
  the natural order);
* max pooling comes before sigma: max(sigma(S)) = sigma(max(S)) bit for bit
  (np.maximum(x, 0) is +0 for all x <= 0, -0 included, and keeps NaN), on a
  quarter of the values.  The winner is kept as its window offset (one byte,
  ``maxpool_offsets_into``; offset 0 where sigma's window is all zeros, as
  the first entry wins there) and the backward scatter writes each offset's
  share of the window at once (``scatter_by_offsets``); MATLAB's 1-based
  ``idx_pool`` is built only when read (``LazyIdxPool``);
* ``S + b`` runs with b repeated down a whole conv column, and dlossdb is a
  matrix-vector product with ones.

``lossgrad_subset`` keeps phiZ only chunk by chunk: ``net.phiZ`` is a
``LazyPhiZ`` that builds phiZ{m} again, the same bits, when it is read
(``feedforward`` keeps it, as ``Jv``/``JTBJv`` read it over and over).  Inside
``gradient_only()`` it keeps nothing but the gradient (``simplecnn gradient``).

Selecting the reference path
----------------------------
* environment: ``SIMPLECNN_REFERENCE=1`` (read at import);
* code: ``with fastpaths.use_reference(): ...`` (or ``use_reference(False)``
  to force the fast paths inside a reference block);
* tracing (``simplecnn_py.trace.tracing()``) always runs
  ``feedforward``/``lossgrad_subset`` stage by stage, as the reference does,
  so every stage can be recorded; the per-routine fast paths stay on since
  they are bit-identical;
* ``SIMPLECNN_THREADS=1``: one thread (the same results).

A fast path also steps aside (returns ``None`` and the routine runs its
reference lines) when the net's index maps are not the standard ones, e.g.
when the harness feeds MATLAB's own maps in isolated mode.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import itertools
import math
import os
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import trace
from .conventions import cell

__all__ = [
    "enabled", "use_reference", "gradient_only", "LazyPhiZ", "LazyIdxPool",
    "padding_and_phiZ", "maxpooling", "vTP", "feedforward", "lossgrad_subset",
    "pad_into", "phiZ_into", "phiZ_cij_into", "phiZT_cij_into", "cij_rows", "pool_major_cols", "crop",
    "first_max_into", "maxpool_offsets_into", "idx_from_offsets", "maxpool_into",
    "pool_scatter_into", "scatter_by_offsets", "scatter_by_offsets_stacked", "pool_scatter_offsets_into",
    "phi_scatter_into", "phi_gradient_blocks_into",
]

F = "F"

# --- the switch --------------------------------------------------------------

_reference = os.environ.get("SIMPLECNN_REFERENCE", "").strip() not in ("", "0")
_keep_net = True


def enabled() -> bool:
    """True when the fast paths are in use (the default)."""
    return not _reference


@contextlib.contextmanager
def gradient_only():
    """Inside, the fused ``lossgrad_subset`` keeps nothing in ``net`` but
    ``dlossdW``/``dlossdb`` (and ``num_sampled_data``, ``Z{1}``): ``Z{m}``
    for m > 1, ``idx_pool`` and ``phiZ`` are left empty.  For callers that
    want the loss and the gradient only (``simplecnn gradient``): the batch's
    intermediates then live chunk by chunk in cache, never in fresh memory."""
    global _keep_net
    previous, _keep_net = _keep_net, False
    try:
        yield
    finally:
        _keep_net = previous


@contextlib.contextmanager
def use_reference(flag: bool = True):
    """Run the enclosed calls on the reference (``flag=True``) or fast path."""
    global _reference
    previous, _reference = _reference, bool(flag)
    try:
        yield
    finally:
        _reference = previous


# --- kernels on 4-D column-major views ---------------------------------------
#
# An array d x (a*b*n) (channel fastest, then height, then width, then
# instance) is viewed as the 4-D array (d, a, b, n) in Fortran order.
# phiZ, (h*h*d) x (a_out*b_out*n), is viewed as (h, h, d, a_out, b_out, n):
# row i + h*j + h*h*c, column r + a_out*q + a_out*b_out*inst.

@functools.lru_cache(maxsize=4096)
def _span(start, count, step):
    """The slice start, start+step, ..., count values."""
    return slice(start, start + step * (count - 1) + 1, step)


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
            P6[i, j] = pad4[:, _span(i, a_out, s), _span(j, b_out, s), :]


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


def pool_base(d, a_conv, h, a_out, b_out):
    """1-based position, within one instance's d*a_conv*b_conv values, of the
    first entry (offset i = j = 0) of each pooling window: (d, a_out, b_out)."""
    c = np.arange(d, dtype=np.int64)[:, None, None]
    r = np.arange(a_out, dtype=np.int64)[None, :, None]
    q = np.arange(b_out, dtype=np.int64)[None, None, :]
    return 1 + c + d * (r * h + a_conv * (q * h))


def _pool_windows(A4, h, a_out, b_out):
    """The h*h pooling window offsets of A4 (d, a_conv, b_conv, n) as
    strided views (d, a_out, b_out, n), in window order (height offset
    fastest)."""
    return [A4[:, _span(i, a_out, h), _span(j, b_out, h), :] for j in range(h) for i in range(h)]


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
    ne = _scratch(work, "ne", M.shape, np.bool_)
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
    first_max_into(M4, k4, _pool_windows(S4, h, M4.shape[1], M4.shape[2]), work)


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
    k = _scratch(work, "k", Zout4.shape, offset_dtype(h))
    maxpool_offsets_into(Zout4, k, S4, h, work)
    idx_from_offsets(idx4, k, base, S4.shape[1], h)


def pool_scatter_into(G4, V4, idx4, work):
    """vec(V)^T P_pool for a chunk: G4 (d, a_conv, b_conv, n) = zeros with
    V4 (d, a_out, b_out, n) placed at the 1-based within-instance positions
    idx4.  Windows do not overlap, so each target receives one value, stored
    as ``0 + v`` like accumarray's sum (so -0 becomes +0)."""
    d, a_conv, b_conv, n = G4.shape
    G4.fill(0)
    flat = _scratch(work, "flat", V4.shape, np.int64)
    np.add(idx4, (d * a_conv * b_conv) * np.arange(n, dtype=np.int64) - 1, out=flat)
    vals = _scratch(work, "vals", V4.shape, G4.dtype)
    np.add(V4, G4.dtype.type(0), out=vals)
    G4.reshape(-1, order=F)[flat.reshape(-1, order=F)] = vals.reshape(-1, order=F)


def scatter_by_offsets(targets, V, K, work):
    """targets[q] = ``0 + v`` where K == q and +0 elsewhere, for every q,
    bit for bit: the pooling scatter of V (vec(V)' P_pool) into the window
    offsets ``targets`` (arrays shaped like V), K the winners' offsets.

    Each target is written once, as the bits of ``0 + v`` times (K == q) in
    integers, so that a non-winner gets +0 whatever v is (-0, Inf, NaN: a
    float product would leak them).
    """
    bits = _plus_zero_bits(V, work)
    eq = _scratch(work, "eq", V.shape, np.bool_)
    for q, target in enumerate(targets):
        np.equal(K, q, out=eq)
        np.multiply(bits, eq, out=target.view(bits.dtype))


def _plus_zero_bits(V, work):
    """The bits of ``0 + V`` (what accumarray stores: -0 becomes +0) as
    same-sized integers, in a scratch array."""
    vals = _scratch(work, "vals", V.shape, V.dtype)
    np.add(V, V.dtype.type(0), out=vals)
    return vals.view(np.dtype(f"i{V.dtype.itemsize}"))


def scatter_by_offsets_stacked(G2, V, K, work):
    """``scatter_by_offsets`` into the columns of G2 (numel(V) x Q, column q
    the target of offset q, as in a pool-major layout): one comparison and
    one product over all of G2, broadcasting V and K."""
    bits = _plus_zero_bits(V, work)
    eq = _scratch(work, "eq2", G2.shape, np.bool_)
    np.equal(K.reshape((-1, 1), order=F), np.arange(G2.shape[1], dtype=K.dtype), out=eq)
    np.multiply(bits.reshape((-1, 1), order=F), eq, out=G2.view(bits.dtype))


def pool_scatter_offsets_into(G4, V4, k4, h, work):
    """``pool_scatter_into`` with the winners given as window offsets k4
    (``maxpool_offsets_into``): G4 (d, a_conv, b_conv, n) gets ``0 + v`` at
    the winner of each window and +0 everywhere else, bit for bit; rows and
    columns past the last whole window are zeroed."""
    a_conv, b_conv = G4.shape[1], G4.shape[2]
    a_out, b_out = V4.shape[1], V4.shape[2]
    scatter_by_offsets(_pool_windows(G4, h, a_out, b_out), V4, k4, work)
    if a_conv > h * a_out:
        G4[:, h * a_out:] = 0
    if b_conv > h * b_out:
        G4[:, :, h * b_out:] = 0


def phi_scatter_into(out4, V6, h, s):
    """vec(V)^T P_phi for a chunk: out4 (d, a_pad, b_pad, n) = zeros plus,
    for every filter offset, V6[i, j] (d, a_out, b_out, n) added at the
    positions it was gathered from.

    accumarray adds the contributions of one target in the order of their
    subscripts: output column q ascending, then output row r ascending, i.e.
    width offset j = x - s*q DEScending, then height offset i DEScending.
    Looping the offsets in that order makes every sum the same sequence of
    floating-point additions as the reference.
    """
    a_out, b_out = V6.shape[3], V6.shape[4]
    out4.fill(0)
    for j in range(h - 1, -1, -1):
        for i in range(h - 1, -1, -1):
            tgt = out4[:, _span(i, a_out, s), _span(j, b_out, s), :]
            np.add(tgt, V6[i, j], out=tgt)


def phi_gradient_blocks_into(out4, Wblocks, D, h, s, a_out, b_out, work):
    """vec(W'*D)^T P_phi without forming W'*D: out4 (d, a_pad, b_pad, n).

    The rows of V = W'*D for filter offset (i, j) are
    V_ij = W(:, rows of (i, j))' * D, a d x (a_out*b_out*n) product over the
    same index as V's (the same sums up to BLAS's ordering); computed one
    offset at a time it comes out channel-fastest, like out4, and is added at
    once, offsets in the order of ``phi_scatter_into``.  ``Wblocks[i + h*j]`` is
    W(:, rows of (i, j)), Fortran-ordered.
    """
    d, _, _, n = out4.shape
    V = _scratch(work, "Vij", (d, D.shape[1]), out4.dtype)
    V4 = V.reshape((d, a_out, b_out, n), order=F)
    out4.fill(0)
    first = True
    for j in range(h - 1, -1, -1):
        for i in range(h - 1, -1, -1):
            _mtimes_into(V, Wblocks[i + h * j].T, D)
            tgt = out4[:, _span(i, a_out, s), _span(j, b_out, s), :]
            if first:       # 0 + V, as adding to the zeros (without reading them)
                np.add(V4, out4.dtype.type(0), out=tgt)
                first = False
            else:
                np.add(tgt, V4, out=tgt)


_ARENA_BYTES = 16 * 2**20    # scratch of a thread comes from arenas of at least this size
_HUGE = 2**21                # a transparent huge page


def _arena_empty(work, size, dtype):
    """An uninitialised 1-D array of ``size`` items from this thread's arena.

    The scratch of a pass (about 20 MiB per thread here, in some 30 arrays)
    is carved out of a few large blocks instead of allocated array by array:
    numpy asks the kernel for transparent huge pages for allocations of 4 MiB
    and more, so the first pass of a process takes a few page faults of 2 MiB
    instead of thousands of 4 KiB (~2.5 us each on this machine's VM), and
    later passes run with fewer TLB misses.  Views start on 64-byte lines.
    """
    dtype = np.dtype(dtype)
    nbytes = -(-size * dtype.itemsize // 64) * 64
    arena = work.get("arena")
    if arena is None or arena[1] + nbytes > arena[0].size:
        capacity = max(_ARENA_BYTES, nbytes)
        block = np.empty(capacity + _HUGE, dtype=np.uint8)
        start = -block.ctypes.data % _HUGE                   # from a huge-page boundary
        arena = work["arena"] = [block[start:start + capacity], 0]
    block, offset = arena
    arena[1] = offset + nbytes
    return block[offset:offset + size * dtype.itemsize].view(dtype)


def _zero_bordered(work, key, shape, dtype):
    """A zero array kept in ``work`` whose border stays zero: callers write
    only its interior (the padding buffers)."""
    key = ("zero", key, tuple(shape), np.dtype(dtype))
    buf = work.get(key)
    if buf is None:
        buf = _arena_empty(work, math.prod(shape), dtype).reshape(shape, order=F)
        buf[...] = 0
        work[key] = buf
    return buf


def _scratch(work, name, shape, dtype):
    """A scratch array of ``shape`` from ``work``, F-order.

    A buffer is made half as large again as first asked for, so that a
    chunk one instance longer (see ``_split``) fits as well.  The views
    handed out are kept with their buffer (the same call returns the same
    view: no slicing and reshaping on every chunk).
    """
    views = work.get((name, dtype))
    view = views.get(shape) if views is not None else None
    if view is not None:
        return view
    size = math.prod(shape)
    buf = work.get(("buf", name, np.dtype(dtype)))
    if buf is None or buf.size < size:
        buf = _arena_empty(work, size + size // 2, dtype)
        work[("buf", name, np.dtype(dtype))] = buf
        for key in [key for key in work if len(key) == 2 and key[0] == name and key[1] == dtype]:
            del work[key]                  # views of the old buffer
        views = work[(name, dtype)] = {}
    elif views is None:
        views = work[(name, dtype)] = {}
    view = views[shape] = buf[:size].reshape(shape, order=F)
    return view


# --- layer geometry and the standard index maps -------------------------------

class _Layer:
    """Sizes of conv layer m (1-based names as in ``model``)."""

    def __init__(self, model, m):
        self.m = m
        self.d = int(model.ch_input[m])
        self.a, self.b = int(model.ht_input[m]), int(model.wd_input[m])
        self.p = int(model.wd_pad_added[m])
        self.a_pad, self.b_pad = int(model.ht_pad[m]), int(model.wd_pad[m])
        self.h, self.s = int(model.wd_filter[m]), int(model.strides[m])
        self.a_conv, self.b_conv = int(model.ht_conv[m]), int(model.wd_conv[m])
        self.d_out = int(model.ch_input[m + 1])
        self.pool = int(model.wd_subimage_pool[m])
        self.a_out, self.b_out = int(model.ht_input[m + 1]), int(model.wd_input[m + 1])
        self.rows = self.h * self.h * self.d                 # rows of phiZ
        self.ncol = self.a_conv * self.b_conv                # columns of phiZ per instance
        if self.pool > 1:
            self.base = pool_base(self.d_out, self.a_conv, self.pool, self.a_out, self.b_out)

    def key(self):
        return (self.d, self.a, self.b, self.p, self.h, self.s, self.d_out, self.pool)


def _index_maps(layer):
    """The standard idx_pad, idx_phiZ, idx_phiZ_pool of a layer (1-based)."""
    from .find_index_phiZ import find_index_phiZ

    ly = layer
    i = np.arange(ly.a, dtype=np.int64)[:, None]
    j = np.arange(ly.b, dtype=np.int64)[None, :]
    idx_pad = (1 + (ly.p + i) + ly.a_pad * (ly.p + j)).reshape(-1, 1, order=F)
    idx_phiZ = find_index_phiZ(ly.a_pad, ly.b_pad, ly.d, ly.h, ly.s)
    idx_pool = (find_index_phiZ(ly.a_conv, ly.b_conv, ly.d_out, ly.pool, ly.pool)
                if ly.pool > 1 else None)
    return idx_pad, idx_phiZ, idx_pool


_standard_cache: dict = {}
_standard_lock = threading.Lock()


def _standard(net, layer, which):
    """True when net's index map ``which`` of this layer is the standard one
    (the fast paths compute exactly those maps' gathers and scatters)."""
    given = getattr(net, which, None)
    given = given[layer.m] if given is not None else None
    if given is None:
        return False
    with _standard_lock:
        maps = _standard_cache.get(layer.key())
        if maps is None:
            maps = _standard_cache[layer.key()] = _index_maps(layer)
    want = {"idx_pad": maps[0], "idx_phiZ": maps[1], "idx_phiZ_pool": maps[2]}[which]
    given = np.asarray(given)
    return want is not None and given.size == want.size and np.array_equal(given.reshape(-1), want.reshape(-1))


# --- threads -----------------------------------------------------------------
#
# Two halves of the batch run in two threads; BLAS is single-threaded during
# that time (OpenBLAS's own threads would fight ours for the two cores).

NPARTS = max(1, min(8, os.cpu_count() or 1))     # threads (at most)
_helpers = None
_pool_lock = threading.Lock()


class _Helpers:
    """``n`` threads kept for the passes (so their scratch dicts persist),
    each running the job it is handed.

    A few lines of ``threading`` instead of ``concurrent.futures``, whose
    import (with ``logging``) is ~6 ms of every ``simplecnn`` process.
    """

    def __init__(self, n):
        self.n = n
        self._go = [threading.Semaphore(0) for _ in range(n)]
        self._done = threading.Semaphore(0)
        self._job, self._errors = None, []
        for k in range(n):
            threading.Thread(target=self._serve, args=(k,), name=f"simplecnn-{k + 1}", daemon=True).start()

    def _serve(self, k):
        while True:
            self._go[k].acquire()
            try:
                self._job()
            except BaseException as e:      # handed to the caller of run()
                self._errors.append(e)
            finally:
                self._done.release()

    def run(self, job, count):
        """``job()`` in ``count`` helpers and in the calling thread at once;
        returns when all are done, raising the first exception any raised."""
        count = min(count, self.n)
        self._job, self._errors = job, []
        for go in self._go[:count]:
            go.release()
        try:
            job()
        finally:
            for _ in range(count):
                self._done.acquire()
        if self._errors:
            raise self._errors[0]


_blas = False        # not looked up yet


def _openblas():
    """(set, get) of numpy's OpenBLAS thread count, or None if not found."""
    global _blas
    if _blas is not False:
        return _blas
    _blas = None
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so"))):
        try:
            lib = ctypes.CDLL(path)
            for suffix in ("64_", "", "_64"):
                s = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
                g = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
                if s is not None and g is not None:
                    s.argtypes, s.restype, g.restype = [ctypes.c_int], None, ctypes.c_int
                    c = getattr(lib, f"scipy_openblas_get_corename{suffix}", None)
                    if c is not None:
                        c.restype = ctypes.c_char_p
                    _blas = (s, g, c)
                    return _blas
        except OSError:
            continue
    return _blas


def _openblas_corename():
    """The kernels numpy's OpenBLAS runs (``"Haswell"``, ``"SkylakeX"``, ...),
    or None if unknown (reported by ``simplecnn bench``)."""
    blas = _openblas()
    if blas is None or blas[2] is None:
        return None
    return blas[2]().decode(errors="replace")


def _workers():
    """How many threads to run the groups on: one per core (up to 8) when we
    can make BLAS single-threaded, else 1 (the groups run one after the
    other: the same results)."""
    override = os.environ.get("SIMPLECNN_THREADS")
    if override:
        return max(1, min(NPARTS, int(override)))
    if (os.cpu_count() or 1) < 2 or _openblas() is None:
        return 1
    return NPARTS


def _run_parts(fn, groups, fold=None):
    """[fn(group, work) for group in groups], in threads when possible.

    The threads take the groups one after the other as they become free (so
    a core held by another process does not hold the whole pass back).  With
    ``fold``, the results are folded in group order, ``total = fold(total,
    result)`` as soon as every earlier group is in (so at most a few results
    wait), and the total is returned: whatever is summed over groups is summed
    in the same order every time.  Without ``fold`` the results are returned
    in group order.  ``work`` is the calling thread's scratch dict, kept
    between calls (a few MiB per thread), so that repeated calls do not fault
    fresh pages in.  BLAS is single-threaded meanwhile: a chunk's products are
    small, and OpenBLAS's own threads would fight ours for the cores (and
    spin badly when other processes hold them).
    """
    global _helpers
    nw = _workers()
    blas = _openblas()
    done, state, lock = {}, {"next": 0, "total": None}, threading.Lock()

    def finish(i, result):
        if fold is None:
            done[i] = result
            return
        with lock:
            done[i] = result
            while state["next"] in done:
                r = done.pop(state["next"])
                state["total"] = r if state["next"] == 0 else fold(state["total"], r)
                state["next"] += 1

    with _pool_lock:
        before = None
        if blas is not None:
            before = blas[1]()
            blas[0](1)
        try:
            if nw == 1 or len(groups) == 1:
                work = _thread_work()
                for i, g in enumerate(groups):
                    finish(i, fn(g, work))
            else:
                if _helpers is None or _helpers.n < nw - 1:
                    _helpers = _Helpers(nw - 1)        # (an older, smaller set just stays idle)
                taken = itertools.count()              # next() is atomic under the GIL
                failed = []

                def worker():
                    work = _thread_work()
                    for i in iter(lambda: next(taken), None):
                        if i >= len(groups) or failed:
                            return
                        try:
                            finish(i, fn(groups[i], work))
                        except BaseException:
                            failed.append(i)           # the other threads stop too
                            raise

                _helpers.run(worker, nw - 1)
        finally:
            if before is not None:
                blas[0](before)
    return state["total"] if fold is not None else [done[i] for i in range(len(groups))]


_local = threading.local()


def _thread_work():
    """This thread's scratch dict (see ``_scratch``)."""
    work = getattr(_local, "work", None)
    if work is None:
        work = _local.work = {}
    return work


NGROUPS = 16          # the chunks of a batch form at most 16 groups (fixed by n and the shapes)
FUSED_GROUPS = 64     # ... at most 64 in the fused pass (smaller groups: less time with one core idle at the end)


def _split(n, chunk, groups=NGROUPS):
    """Instances 0..n-1 in n // chunk chunks (at least one) of consecutive
    instances whose sizes differ by one at most, in at most ``groups`` groups
    of consecutive chunks.

    So no chunk is shorter than ``chunk`` unless n is (a one-column product is
    a slow matrix-vector product), and none much longer.  The chunks and groups
    depend on n and the shapes only, not on the machine.
    """
    count = max(1, n // chunk)
    size, extra = divmod(n, count)
    chunks, c0 = [], 0
    for c in range(count):
        c1 = c0 + size + (1 if c < extra else 0)
        chunks.append((c0, c1))
        c0 = c1
    per = -(-len(chunks) // groups)
    return [chunks[k:k + per] for k in range(0, len(chunks), per)]


_CHUNK_BYTES = 8 * 2**20     # intermediates of one chunk (per thread): stays in L3 (measured best of 1.5-16 MiB)


def _chunk_size(layers, itemsize):
    """Instances per chunk: a fixed function of the shapes and the precision
    (so are the sums over chunks)."""
    per = 1
    for ly in layers:
        per = max(per, (2 * ly.rows * ly.ncol + ly.d * ly.a_pad * ly.b_pad + 2 * ly.d_out * ly.ncol) * itemsize)
    return max(1, _CHUNK_BYTES // per)


# --- per-routine fast paths (same arguments and results as the reference) -----

def padding_and_phiZ(model, net, m):
    """Fast ``padding_and_phiZ(model, net, m)``; None when it must step aside."""
    ly = _Layer(model, m)
    if not (_standard(net, ly, "idx_pad") and _standard(net, ly, "idx_phiZ")):
        return None
    return _phiZ_of(ly, net.Z[m], int(net.num_sampled_data))


def _phiZ_of(ly, Z, n):
    """phi(pad(Z)) of conv layer ``ly`` for Z, d x (a*b*n): chunk by chunk."""
    Z4 = Z.reshape((ly.d, ly.a, ly.b, n), order=F)
    phiZ = np.empty((ly.rows, ly.ncol * n), dtype=Z.dtype, order=F)
    P6 = phiZ.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, n), order=F)
    chunk = _chunk_size([ly], Z.dtype.itemsize)

    def part(chunks, work):
        pad4 = _zero_bordered(work, ("pad", ly.key()), (ly.d, ly.a_pad, ly.b_pad, 2 * chunk), Z.dtype)
        for c0, c1 in chunks:
            k = c1 - c0
            pad_into(pad4[..., :k], Z4[..., c0:c1], ly.p)
            phiZ_into(P6[..., c0:c1], pad4[..., :k], ly.h, ly.s)

    _run_parts(part, _split(n, chunk))
    return phiZ


class LazyCell(cell):
    """A cell whose entries are built the first time they are read: iterating,
    converting and comparing go through ``__getitem__``, so a lazy cell reads
    exactly as the filled one.  Subclasses define ``__getitem__``."""

    __slots__ = ()

    def __iter__(self):
        return (self[m] for m in range(1, len(self) + 1))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(list(self), dtype=dtype)

    def __eq__(self, other):
        return isinstance(other, cell) and list(self) == list(other)

    def tolist(self):
        return list(self)

    def built(self, m):
        """True once entry m has been built (for tests and the benchmark);
        reading it would build it."""
        return self._v[int(m) - 1] is not None


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
            value = _phiZ_of(layers[int(m) - 1], Zs[int(m) - 1], n)
            super().__setitem__(m, value)
        return value


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
    ly = _Layer(model, m)
    if not _standard(net, ly, "idx_phiZ_pool"):
        return None
    n = int(net.num_sampled_data)
    S = net.Z[m + 1]
    S4 = S.reshape((ly.d_out, ly.a_conv, ly.b_conv, n), order=F)
    Zout = np.empty((ly.d_out, ly.a_out * ly.b_out * n), dtype=S.dtype, order=F)
    idx_pool = np.empty((ly.d_out * ly.a_out * ly.b_out, n), dtype=np.int64, order=F)
    Z4 = Zout.reshape((ly.d_out, ly.a_out, ly.b_out, n), order=F)
    I4 = idx_pool.reshape((ly.d_out, ly.a_out, ly.b_out, n), order=F)
    chunk = _chunk_size([ly], S.dtype.itemsize)

    def part(chunks, work):
        for c0, c1 in chunks:
            maxpool_into(Z4[..., c0:c1], I4[..., c0:c1], S4[..., c0:c1], ly.pool, ly.base, work)

    _run_parts(part, _split(n, chunk))
    return Zout, idx_pool


def vTP(param, model, net, m, V, op):
    """Fast ``vTP(param, model, net, m, V, op)`` (1-D result); None to step aside."""
    ly = _Layer(model, m)
    n = int(net.num_sampled_data)
    V = np.asarray(V)
    if op in ("pool_gradient", "pool_Jacobian"):
        idx_pool = net.idx_pool[m]
        if idx_pool is None or ly.pool <= 1:
            return None
        blocks = n if op == "pool_gradient" else int(model.nL) * n
        out = np.empty(ly.d_out * ly.a_conv * ly.b_conv * blocks, dtype=V.dtype)
        G4 = out.reshape((ly.d_out, ly.a_conv, ly.b_conv, blocks), order=F)
        V4 = V.reshape((ly.d_out, ly.a_out, ly.b_out, blocks), order=F)
        I2 = np.asarray(idx_pool)
        if op == "pool_Jacobian":          # block k + nL*i uses instance i's idx_pool
            I2 = np.repeat(I2, int(model.nL), axis=1)
        I4 = I2.reshape((ly.d_out, ly.a_out, ly.b_out, blocks), order=F)
        chunk = _chunk_size([ly], V.dtype.itemsize)

        def part(chunks, work):
            for c0, c1 in chunks:
                pool_scatter_into(G4[..., c0:c1], V4[..., c0:c1], I4[..., c0:c1], work)

        _run_parts(part, _split(blocks, chunk))
        return out
    if op in ("phi_gradient", "phi_Jacobian"):
        if not _standard(net, ly, "idx_phiZ"):
            return None
        blocks = n if op == "phi_gradient" else int(model.nL) * n
        out = np.empty(ly.d * ly.a_pad * ly.b_pad * blocks, dtype=V.dtype)
        out4 = out.reshape((ly.d, ly.a_pad, ly.b_pad, blocks), order=F)
        V6 = V.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, blocks), order=F)
        chunk = _chunk_size([ly], V.dtype.itemsize)

        def part(chunks, work):
            for c0, c1 in chunks:
                phi_scatter_into(out4[..., c0:c1], V6[..., c0:c1], ly.h, ly.s)

        _run_parts(part, _split(blocks, chunk))
        return out
    return None


# --- the fused forward/backward ---------------------------------------------

def _fusable(model, net):
    """The conv layers' geometry when every index map is standard, else None."""
    if trace.enabled():
        return None
    layers = [_Layer(model, m) for m in range(1, int(model.LC) + 1)]
    for ly in layers:
        if not (_standard(net, ly, "idx_pad") and _standard(net, ly, "idx_phiZ")):
            return None
        if ly.pool > 1 and not _standard(net, ly, "idx_phiZ_pool"):
            return None
    return layers


def _mtimes_into(out, A, B):
    """out = A*B for Fortran-ordered out (the product of conventions.mtimes)."""
    np.matmul(B.T, A.T, out=out.T)


class _Fused:
    """One forward (and backward) pass over a batch, chunk by chunk."""

    def __init__(self, model, net, layers, data, dtype, keep_phiZ, keep_net=True):
        self.model, self.net, self.layers, self.dtype = model, net, layers, np.dtype(dtype)
        self.keep_phiZ = keep_phiZ and keep_net
        self.keep_net = keep_net
        self.L, self.LC = int(model.L), int(model.LC)
        self.n = n = data.shape[1]
        self.W = [None] + [np.asarray(model.weight[m], dtype=dtype, order=F) for m in range(1, self.L + 1)]
        self.b = [None] + [np.asarray(model.bias[m], dtype=dtype, order=F) for m in range(1, self.L + 1)]
        net.num_sampled_data = n
        net.Z[1] = data.reshape((int(model.ch_input[1]), -1), order=F)
        self.per1 = net.Z[1].shape[1] // n if n else 0     # columns of Z{1} per instance
        if self.keep_phiZ or not keep_net:
            net.phiZ = cell(len(layers))
        self.offsets = {}            # the batch's pooling winners as window offsets (kept nets)
        for ly in layers:
            if self.keep_phiZ:
                net.phiZ[ly.m] = np.empty((ly.rows, ly.ncol * n), dtype=dtype, order=F)
            cols = (ly.a_out * ly.b_out) if ly.pool > 1 else ly.ncol
            net.Z[ly.m + 1] = np.empty((ly.d_out, cols * n), dtype=dtype, order=F) if keep_net else None
            if ly.pool > 1:
                net.idx_pool[ly.m] = None
                if keep_net:
                    self.offsets[ly.m] = np.empty((ly.d_out * ly.a_out * ly.b_out, n), dtype=offset_dtype(ly.pool),
                                                  order=F)
        for m in range(self.LC + 1, self.L + 1):
            net.Z[m + 1] = np.empty((self.W[m].shape[0], n), dtype=dtype, order=F) if keep_net else None
        self.chunk = _chunk_size(layers, self.dtype.itemsize)
        # phiZ kept (feedforward): the reference's layout.  A chunk's own
        # phiZ: rows in (c, i, j) order (phiZ_cij_into), W{m}'s columns
        # permuted to match (self.rows; None: the reference's order, as for
        # d = 1), and dlossdW{m} permuted back at the end ...
        self.rows = {ly.m: None if self.keep_phiZ or ly.d == 1 else cij_rows(ly.d, ly.h) for ly in layers}
        # ... and for the first layer (no phi gradient) the columns pool-major
        # (pool_major_cols): each pooling window offset one block of columns
        # laid out like the pooled output, so that pooling and its scatter
        # run on whole blocks
        self.pool_major = {ly.m: (not self.keep_phiZ and ly.m == 1 and ly.pool > 1 and ly.a_conv % ly.pool == 0
                                  and ly.b_conv % ly.pool == 0) for ly in layers}
        self.WK = {ly.m: self.W[ly.m] if self.rows[ly.m] is None else np.asfortranarray(self.W[ly.m][:, self.rows[ly.m]])
                   for ly in layers}
        # b{m} once for each row of a conv output, d_out*a_conv values: S + b
        # in runs that long (a (d_out, 1) operand makes runs of d_out)
        self.btile = {ly.m: np.tile(self.b[ly.m][:, 0], ly.a_conv)[:, None] for ly in layers}
        # W{m}(:, rows of filter offset (i, j)), for phi_gradient_blocks_into
        # (consecutive columns of WK in the (c, i, j) order)
        self.Wblocks = {ly.m: [self.WK[ly.m][:, ly.d * q:ly.d * (q + 1)] if self.rows[ly.m] is not None
                               else np.asfortranarray(self.W[ly.m][:, q::ly.h * ly.h]) for q in range(ly.h * ly.h)]
                        for ly in layers}

    def _phiZ(self, m, c0, c1, work, pad4=None):
        """phiZ{m} of instances c0:c1, rows x columns (built from pad4 when
        given): in net.phiZ{m} when the batch's phiZ is kept (feedforward),
        else in a chunk buffer, rows in (c, i, j) order (``self.rows``),
        columns pool-major when ``self.pool_major[m]``, stored transposed
        when d = 1 (``phiZT_cij_into``)."""
        ly, k = self.layers[m - 1], c1 - c0
        if self.keep_phiZ:
            P = self.net.phiZ[m][:, c0 * ly.ncol:c1 * ly.ncol]
            if pad4 is not None:
                phiZ_into(P.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, k), order=F), pad4, ly.h, ly.s)
            return P
        pool = ly.pool if self.pool_major[m] else 1
        if ly.d == 1:
            PT = _scratch(work, ("phiZT", m), (ly.ncol * k, ly.rows), self.dtype)
            if pad4 is not None:
                phiZT_cij_into(PT, pad4, ly.h, ly.s, pool)
            return PT.T
        P = _scratch(work, ("phiZ", m), (ly.rows, ly.ncol * k), self.dtype)
        if pad4 is not None:
            phiZ_cij_into(P, pad4, ly.h, ly.s, pool)
        return P

    def _chunk_of(self, name, m, c0, c1, rows, per, dtype, work):
        """Columns of instances c0:c1 (``per`` columns each) of net.<name>{m},
        or a chunk buffer when the net keeps nothing (``keep_net`` False)."""
        if self.keep_net:
            return getattr(self.net, name)[m][:, c0 * per:c1 * per]
        return _scratch(work, (name, m), (rows, per * (c1 - c0)), dtype)

    def forward_chunk(self, c0, c1, work):
        """The forward pass of instances c0:c1; returns their Z{m} (2-D views)
        and, under ("k", m), their pooling winners as window offsets."""
        net, k = self.net, c1 - c0
        Z = {1: net.Z[1][:, c0 * self.per1:c1 * self.per1]}
        for ly in self.layers:
            m = ly.m
            pad4 = _zero_bordered(work, ("pad", ly.key()), (ly.d, ly.a_pad, ly.b_pad, 2 * self.chunk), self.dtype)
            pad_into(pad4[..., :k], Z[m].reshape((ly.d, ly.a, ly.b, k), order=F), ly.p)
            phiZ = self._phiZ(m, c0, c1, work, pad4[..., :k])
            if ly.pool > 1:
                S = _scratch(work, ("S", m), (ly.d_out, ly.ncol * k), self.dtype)
            else:
                S = self._chunk_of("Z", m + 1, c0, c1, ly.d_out, ly.ncol, self.dtype, work)
            _mtimes_into(S, self.WK[m], phiZ)                    # S = W*phiZ + b
            S2 = S.reshape((ly.d_out * ly.a_conv, ly.b_conv * k), order=F)
            np.add(S2, self.btile[m], out=S2)
            if ly.pool > 1:
                # pooling first, then sigma on the pooled values:
                # max(sigma(S)) = sigma(max(S)) bit for bit (np.maximum(x, 0)
                # gives +0 for every x <= 0, -0 included, and keeps NaN)
                per = ly.a_out * ly.b_out
                Zm = self._chunk_of("Z", m + 1, c0, c1, ly.d_out, per, self.dtype, work)
                K = (self.offsets[m][:, c0:c1] if self.keep_net
                     else _scratch(work, ("k", m), (ly.d_out * per, k), offset_dtype(ly.pool)))
                if self.pool_major[m]:
                    Q = per * k
                    first_max_into(Zm, K.reshape(Zm.shape, order=F),
                                   [S[:, q * Q:(q + 1) * Q] for q in range(ly.pool * ly.pool)], work)
                else:
                    shape = (ly.d_out, ly.a_out, ly.b_out, k)
                    maxpool_offsets_into(Zm.reshape(shape, order=F), K.reshape(shape, order=F),
                                         S.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F), ly.pool, work)
                np.maximum(Zm, 0, out=Zm)                       # sigma
                # the winner in sigma(S): the same where the maximum is > 0
                # (or NaN); where it is <= 0 the window of sigma(S) is all +0,
                # and the first entry wins
                nz = _scratch(work, "nz", Zm.shape, np.bool_)
                np.not_equal(Zm, 0, out=nz)
                np.multiply(K, nz.reshape(K.shape, order=F), out=K)
                Z[m + 1], Z["k", m] = Zm, K
            else:
                np.maximum(S, 0, out=S)                          # sigma(S)
                Z[m + 1] = S
        Z[self.LC + 1] = Z[self.LC + 1].reshape((-1, k), order=F)
        for m in range(self.LC + 1, self.L + 1):
            out = self._chunk_of("Z", m + 1, c0, c1, self.W[m].shape[0], 1, self.dtype, work)
            _mtimes_into(out, self.W[m], Z[m])
            out += self.b[m]
            if m < self.L:
                np.maximum(out, 0, out=out)
            Z[m + 1] = out
        return Z

    def backward_chunk(self, c0, c1, Z, Y, acc, work):
        """Loss and gradient sums of instances c0:c1 (their Z from
        forward_chunk), added into ``acc`` (dW{m} with columns in phiZ's row
        order, ``self.rows``)."""
        k, L, LC = c1 - c0, self.L, self.LC
        residual = Z[L + 1] - Y[:, c0:c1]
        r = residual.reshape(-1, order=F)
        _accumulate(acc, "loss", np.dot(r, r))
        dXidS = 2 * residual
        for m in range(L, LC, -1):                               # fully-connected layers
            _accumulate(acc, ("dW", m), _mtimes(dXidS, Z[m].T))
            _accumulate(acc, ("db", m), np.add.reduce(dXidS, axis=1, keepdims=True))
            dXidS = _mtimes(self.W[m].T, dXidS)
            dXidS *= (Z[m] > 0)
        for ly in reversed(self.layers):                         # convolutional layers
            m = ly.m
            if ly.pool > 1:
                G = _scratch(work, ("G", m), (ly.d_out, ly.ncol * k), self.dtype)
                if self.pool_major[m]:
                    Q = ly.a_out * ly.b_out * k
                    scatter_by_offsets_stacked(G.reshape((ly.d_out * Q, ly.pool * ly.pool), order=F),
                                               dXidS.reshape((ly.d_out, Q), order=F),
                                               Z["k", m].reshape((ly.d_out, Q), order=F), work)
                else:
                    shape = (ly.d_out, ly.a_out, ly.b_out, k)
                    pool_scatter_offsets_into(G.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F),
                                              dXidS.reshape(shape, order=F), Z["k", m].reshape(shape, order=F),
                                              ly.pool, work)
                dXidS = G
            else:
                dXidS = dXidS.reshape((ly.d_out, -1), order=F)
            phiZ = self._phiZ(m, c0, c1, work)                   # as the forward pass left it
            _accumulate(acc, ("dW", m), _mtimes(dXidS, phiZ.T))
            _accumulate(acc, ("db", m), np.matmul(dXidS, _ones(work, dXidS.shape[1], self.dtype))[:, None])
            if m > 1:                                            # V = W'*dXidS, vec(V)' P_phi
                pad4 = _scratch(work, ("dpad", m), (ly.d, ly.a_pad, ly.b_pad, k), self.dtype)
                phi_gradient_blocks_into(pad4, self.Wblocks[m], dXidS, ly.h, ly.s, ly.a_conv, ly.b_conv, work)
                nxt = _scratch(work, ("dX", m), (ly.d, ly.a, ly.b, k), self.dtype)
                pos = _scratch(work, ("pos", m), (ly.d, ly.a, ly.b, k), np.bool_)
                np.greater(Z[m].reshape((ly.d, ly.a, ly.b, k), order=F), 0, out=pos)
                np.multiply(crop(pad4, ly.p, ly.a, ly.b), pos, out=nxt)
                dXidS = nxt.reshape((ly.d, -1), order=F)

    def run(self, Y=None):
        """Forward pass; with Y also the loss and gradients.  Returns the sums."""
        parts = _split(self.n, self.chunk, FUSED_GROUPS)

        def part(chunks, work):
            acc = {} if Y is not None else None
            for c0, c1 in chunks:
                Z = self.forward_chunk(c0, c1, work)
                if Y is not None:
                    self.backward_chunk(c0, c1, Z, Y, acc, work)
            return acc

        def add(total, acc):
            for key in total:
                total[key] += acc[key]
            return total

        total = _run_parts(part, parts, fold=add if Y is not None else None)
        if Y is not None:
            for ly in self.layers:                               # dW{m} back in W{m}'s column order
                rows = self.rows[ly.m]
                if rows is not None:
                    dW = np.empty_like(total["dW", ly.m])
                    dW[:, rows] = total["dW", ly.m]
                    total["dW", ly.m] = dW
        net = self.net
        if self.keep_net:
            if not self.keep_phiZ:
                net.phiZ = LazyPhiZ(self.layers, [net.Z[ly.m] for ly in self.layers], self.n)
            net.idx_pool = LazyIdxPool(self.layers, self.offsets)
            net.Z[self.LC + 1] = net.Z[self.LC + 1].reshape((-1, self.n), order=F)
        return total if Y is not None else None


def _accumulate(acc, key, value):
    """acc[key] += value, the first value taken as it is (a fresh array)."""
    if key in acc:
        acc[key] += value
    else:
        acc[key] = value


def _ones(work, n, dtype):
    """A vector of n ones (this thread's, kept)."""
    key = ("ones", np.dtype(dtype))
    buf = work.get(key)
    if buf is None or buf.size < n:
        buf = work[key] = np.ones(max(n, 2 * buf.size if buf is not None else n), dtype=dtype)
    return buf[:n]


def _mtimes(A, B):
    return np.matmul(B.T, A.T).T


def feedforward(data, param, model, net):
    """Fused ``feedforward``; None to step aside (tracing, non-standard maps)."""
    from .conventions import float_type, ftype

    layers = _fusable(model, net)
    if layers is None:
        return None
    dtype = float_type(param)
    _Fused(model, net, layers, ftype(data, dtype), dtype, keep_phiZ=True).run()
    return net


def lossgrad_subset(prob, param, model, net, batch_idx, task):
    """Fused ``[net, loss] = lossgrad_subset(...)``; None to step aside."""
    from .conventions import cols, float_type, ftype

    if task not in ("funonly", "fungrad"):
        return None
    layers = _fusable(model, net)
    if layers is None:
        return None
    dtype = float_type(param)
    batch_idx = np.asarray(batch_idx).reshape(-1)
    Y = ftype(cols(prob.label_mat, batch_idx), dtype)
    keep_net = _keep_net or task == "funonly"
    fused = _Fused(model, net, layers, ftype(cols(prob.data, batch_idx), dtype), dtype, keep_phiZ=False,
                   keep_net=keep_net)
    if task == "funonly":
        fused.run()
        residual = net.Z[int(model.L) + 1] - Y
        return net, np.linalg.norm(residual, "fro") ** 2
    total = fused.run(Y)
    for m in range(1, int(model.L) + 1):
        net.dlossdW[m] = total["dW", m]
        net.dlossdb[m] = total["db", m]
    return net, total["loss"]
