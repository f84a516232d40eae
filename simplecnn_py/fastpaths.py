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
phiZ (``idx_phiZ``)         one strided copy per filter offset (i, j)
crop (``idx_pad`` columns)  one slice of the padded array
maxpooling (first max)      running ``maximum`` over the h*h window offsets,
                            then the first offset equal to the maximum
vTP ``pool_*``              direct assignment: windows do not overlap, so
                            each target gets one value (``0 + v``, as
                            accumarray adds it to zero)
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
processed in chunks of a few instances (about 8 MiB of intermediates, so they
stay in cache), each chunk running the forward and then the backward pass
through all layers, in two threads with single-threaded BLAS (numpy releases
the GIL in products, copies and ufuncs).  ``W'*Delta`` is computed one filter
offset at a time (``phi_gradient_blocks_into``), so neither it nor the phi
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
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import trace
from .conventions import cell

__all__ = [
    "enabled", "use_reference", "gradient_only", "LazyPhiZ",
    "padding_and_phiZ", "maxpooling", "vTP", "feedforward", "lossgrad_subset",
    "pad_into", "phiZ_into", "crop", "maxpool_into", "pool_scatter_into", "phi_scatter_into",
    "phi_gradient_blocks_into",
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


def maxpool_into(Zout4, idx4, S4, h, base, work):
    """Max pooling of S4 (d, a_conv, b_conv, n) with h x h windows.

    Zout4 (d, a_out, b_out, n) gets the window maxima and idx4 (same shape,
    int64) the 1-based position within the instance of the first maximal
    entry in the window order of ``idx_phiZ_pool`` (height offset fastest),
    as MATLAB's ``max`` picks it.  ``work`` is a dict of scratch arrays.
    """
    d, a_conv, _, n = S4.shape
    a_out, b_out = Zout4.shape[1], Zout4.shape[2]
    shape = (d, a_out, b_out, n)
    win = [S4[:, _span(i, a_out, h), _span(j, b_out, h), :] for j in range(h) for i in range(h)]
    # the maximum, taken in window order: np.maximum(w, M) returns M, the
    # earlier entry, on a tie (+0 against -0 included), so M ends as the
    # first maximal entry bit for bit (test_maxpooling_first_max_and_signed_zeros)
    np.copyto(Zout4, win[0])
    for w in win[1:]:
        np.maximum(w, Zout4, out=Zout4)
    # the first offset k whose entry equals the maximum, in Horner form:
    # k = ne0*(1 + ne1*(1 + ... (1 + ne_{h*h-2}))), ne_q = (entry q != max)
    # (uint8 arithmetic: masked copies are slow on strided views)
    k = _scratch(work, "k", shape, np.uint8 if h * h <= 255 else np.int64)
    ne = _scratch(work, "ne", shape, np.bool_)
    k.fill(0)
    for q in range(len(win) - 2, -1, -1):
        np.add(k, 1, out=k)
        np.not_equal(win[q], Zout4, out=ne)
        np.multiply(k, ne, out=k)
    # offset k = i + h*j  ->  position base + d*(i + a_conv*j)
    offs = np.array([d * (i + a_conv * j) for j in range(h) for i in range(h)], dtype=np.int64)
    np.add(offs[k], base[..., None], out=idx4)


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
    out4.fill(0)
    for j in range(h - 1, -1, -1):
        for i in range(h - 1, -1, -1):
            _mtimes_into(V, Wblocks[i + h * j].T, D)
            tgt = out4[:, _span(i, a_out, s), _span(j, b_out, s), :]
            np.add(tgt, V.reshape((d, a_out, b_out, n), order=F), out=tgt)


def _zero_bordered(work, key, shape, dtype):
    """A zero array kept in ``work`` whose border stays zero: callers write
    only its interior (the padding buffers)."""
    key = ("zero", key, tuple(shape), np.dtype(dtype))
    buf = work.get(key)
    if buf is None:
        buf = work[key] = np.zeros(shape, dtype=dtype, order=F)
    return buf


def _scratch(work, name, shape, dtype):
    """A scratch array of ``shape`` from ``work``, F-order.

    A buffer is made half as large again as first asked for, so that a
    chunk one instance longer (see ``_split``) fits as well.
    """
    size = math.prod(shape)
    buf = work.get((name, np.dtype(dtype)))
    if buf is None or buf.size < size:
        buf = np.empty(size + size // 2, dtype=dtype)
        work[(name, np.dtype(dtype))] = buf
    return buf[:size].reshape(shape, order=F)


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
_pool = None
_pool_lock = threading.Lock()


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
                    _blas = (s, g)
                    return _blas
        except OSError:
            continue
    return _blas


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
    global _pool
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
                if _pool is None:
                    _pool = ThreadPoolExecutor(max_workers=NPARTS, thread_name_prefix="simplecnn")
                taken = itertools.count()              # next() is atomic under the GIL

                def worker():
                    work = _thread_work()
                    for i in iter(lambda: next(taken), None):
                        if i >= len(groups):
                            return
                        finish(i, fn(groups[i], work))

                for f in [_pool.submit(worker) for _ in range(nw)]:
                    f.result()
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


def _split(n, chunk):
    """Instances 0..n-1 in n // chunk chunks (at least one) of consecutive
    instances whose sizes differ by one at most, in at most NGROUPS groups of
    consecutive chunks.

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
    per = -(-len(chunks) // NGROUPS)
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


    def built(self, m):
        """True once phiZ{m} has been built (for tests and the benchmark)."""
        return self._v[int(m) - 1] is not None


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
        for ly in layers:
            if self.keep_phiZ:
                net.phiZ[ly.m] = np.empty((ly.rows, ly.ncol * n), dtype=dtype, order=F)
            cols = (ly.a_out * ly.b_out) if ly.pool > 1 else ly.ncol
            net.Z[ly.m + 1] = np.empty((ly.d_out, cols * n), dtype=dtype, order=F) if keep_net else None
            if ly.pool > 1:
                net.idx_pool[ly.m] = (np.empty((ly.d_out * ly.a_out * ly.b_out, n), dtype=np.int64, order=F)
                                      if keep_net else None)
        for m in range(self.LC + 1, self.L + 1):
            net.Z[m + 1] = np.empty((self.W[m].shape[0], n), dtype=dtype, order=F) if keep_net else None
        self.chunk = _chunk_size(layers, self.dtype.itemsize)
        # W{m}(:, rows of filter offset (i, j)), for phi_gradient_blocks_into
        self.Wblocks = {ly.m: [np.asfortranarray(self.W[ly.m][:, k::ly.h * ly.h]) for k in range(ly.h * ly.h)]
                        for ly in layers}

    def _phiZ(self, m, c0, c1, work):
        """phiZ{m} of instances c0:c1: in net.phiZ{m}, or in a chunk buffer
        when the batch's phiZ is not kept (lossgrad_subset)."""
        ly = self.layers[m - 1]
        if self.keep_phiZ:
            return self.net.phiZ[m][:, c0 * ly.ncol:c1 * ly.ncol]
        return _scratch(work, ("phiZ", m), (ly.rows, ly.ncol * (c1 - c0)), self.dtype)

    def _chunk_of(self, name, m, c0, c1, rows, per, dtype, work):
        """Columns of instances c0:c1 (``per`` columns each) of net.<name>{m},
        or a chunk buffer when the net keeps nothing (``keep_net`` False)."""
        if self.keep_net:
            return getattr(self.net, name)[m][:, c0 * per:c1 * per]
        return _scratch(work, (name, m), (rows, per * (c1 - c0)), dtype)

    def forward_chunk(self, c0, c1, work):
        """The forward pass of instances c0:c1; returns their Z{m} (2-D views)."""
        net, k = self.net, c1 - c0
        Z = {1: net.Z[1][:, c0 * self.per1:c1 * self.per1]}
        for ly in self.layers:
            m = ly.m
            pad4 = _zero_bordered(work, ("pad", ly.key()), (ly.d, ly.a_pad, ly.b_pad, 2 * self.chunk), self.dtype)
            pad_into(pad4[..., :k], Z[m].reshape((ly.d, ly.a, ly.b, k), order=F), ly.p)
            phiZ = self._phiZ(m, c0, c1, work)
            phiZ_into(phiZ.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, k), order=F),
                      pad4[..., :k], ly.h, ly.s)
            if ly.pool > 1:
                S = _scratch(work, ("S", m), (ly.d_out, ly.ncol * k), self.dtype)
            else:
                S = self._chunk_of("Z", m + 1, c0, c1, ly.d_out, ly.ncol, self.dtype, work)
            _mtimes_into(S, self.W[m], phiZ)                     # S = W*phiZ + b
            S += self.b[m]
            np.maximum(S, 0, out=S)                              # sigma(S)
            if ly.pool > 1:
                per = ly.a_out * ly.b_out
                Z[m + 1] = self._chunk_of("Z", m + 1, c0, c1, ly.d_out, per, self.dtype, work)
                I = self._chunk_of("idx_pool", m, c0, c1, ly.d_out * per, 1, np.int64, work)
                maxpool_into(Z[m + 1].reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F),
                             I.reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F),
                             S.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F),
                             ly.pool, ly.base, work)
                Z["I", m] = I
            else:
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
        forward_chunk), added into ``acc``."""
        k, L, LC = c1 - c0, self.L, self.LC
        residual = Z[L + 1] - Y[:, c0:c1]
        r = residual.reshape(-1, order=F)
        acc["loss"] += np.dot(r, r)
        dXidS = 2 * residual
        for m in range(L, LC, -1):                               # fully-connected layers
            acc["dW", m] += _mtimes(dXidS, Z[m].T)
            acc["db", m] += np.add.reduce(dXidS, axis=1, keepdims=True)
            dXidS = _mtimes(self.W[m].T, dXidS)
            dXidS *= (Z[m] > 0)
        for ly in reversed(self.layers):                         # convolutional layers
            m = ly.m
            if ly.pool > 1:
                G = _scratch(work, ("G", m), (ly.d_out, ly.ncol * k), self.dtype)
                pool_scatter_into(G.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F),
                                  dXidS.reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F),
                                  Z["I", m].reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F), work)
                dXidS = G
            else:
                dXidS = dXidS.reshape((ly.d_out, -1), order=F)
            phiZ = self._phiZ(m, c0, c1, work)              # as the forward pass left it
            acc["dW", m] += _mtimes(dXidS, phiZ.T)
            acc["db", m] += np.add.reduce(dXidS, axis=1, keepdims=True)
            if m > 1:                                            # V = W'*dXidS, vec(V)' P_phi
                pad4 = _scratch(work, ("dpad", m), (ly.d, ly.a_pad, ly.b_pad, k), self.dtype)
                phi_gradient_blocks_into(pad4, self.Wblocks[m], dXidS, ly.h, ly.s, ly.a_conv, ly.b_conv, work)
                nxt = _scratch(work, ("dX", m), (ly.d, ly.a, ly.b, k), self.dtype)
                np.multiply(crop(pad4, ly.p, ly.a, ly.b), Z[m].reshape((ly.d, ly.a, ly.b, k), order=F) > 0, out=nxt)
                dXidS = nxt.reshape((ly.d, -1), order=F)

    def run(self, Y=None):
        """Forward pass; with Y also the loss and gradients.  Returns the sums."""
        parts = _split(self.n, self.chunk)
        L = self.L

        def part(chunks, work):
            acc = None
            if Y is not None:
                acc = {"loss": self.dtype.type(0)}
                for m in range(1, L + 1):
                    acc["dW", m] = np.zeros(self.W[m].shape, dtype=self.dtype, order=F)
                    acc["db", m] = np.zeros((self.W[m].shape[0], 1), dtype=self.dtype, order=F)
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
        net = self.net
        if self.keep_net:
            if not self.keep_phiZ:
                net.phiZ = LazyPhiZ(self.layers, [net.Z[ly.m] for ly in self.layers], self.n)
            net.Z[self.LC + 1] = net.Z[self.LC + 1].reshape((-1, self.n), order=F)
        return total if Y is not None else None


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
