"""Fast paths of the second-order routines: ``Jacobian``, ``JTBJv``, ``R_JTBJv``.

Beside the line-for-line ``Jacobian.py``, ``JTBJv.py`` and ``R_JTBJv.py``
(issue 4), selected by the same switch as every fast path (issue 5):
``fastpaths.enabled()``; the reference lines run under
``SIMPLECNN_REFERENCE=1`` or ``fastpaths.use_reference()``.  Built on
``simplecnn_py.fastpaths``' kernels, chunking and threads (single-threaded
BLAS, groups of instance chunks summed in a fixed order, so the results do
not depend on the number of threads).

``Jacobian`` (``jacobian`` here)
    The reference runs the backward pass of all nL*n blocks at once:
    ``vTP(..., 'pool_Jacobian')`` (np.repeat of ``idx_pool`` and a scatter),
    ``V = W{m}'*dXidS`` (for the MNIST shape and 52 instances a 235 MB
    array), ``vTP(..., 'phi_Jacobian')``, the crop by fancy indexing and the
    mask, each a fresh full-size array.  Here the conv layers run chunk by
    chunk of instances (a few MiB, in cache): the pooling scatter
    (``pool_jacobian_into``) into a chunk buffer, ``W'*dXidS`` one filter
    offset at a time added into the padded array at once
    (``fastpaths.phi_gradient_blocks_into``: V never exists), the crop a
    slice, the mask a broadcast over the nL blocks of an instance.
    ``dzdS{m}`` of a pooled conv layer is kept *compact*: the values at the
    pooling winners only (the other entries are zeros in every block), a
    quarter of the bytes for 2x2 pooling.  ``net.dzdS`` is a ``LazyDzdS``
    that still reads as the reference's cell: ``net.dzdS[m]`` scatters the
    compact values the first time it is read, bit for bit as ``vTP`` does.

``JTBJv`` (``jtbjv`` here)
    Chunk by chunk of instances: R{S^m} = V_W{m}*phi + v_b{m}, (J v)(k, i)
    as batched products with the chunk's ``dzdS`` (compact: R{S^m} taken at
    the winners), u = 2 J v, T{m} the same way back, dW{m} += T{m}*phi'.  The
    chunk's ``dzdS`` is read from memory once and again from cache.

``R_JTBJv`` (``r_jtbjv`` here)
    ``Jv`` (the R-operator forward pass) and ``JTv`` (the backward pass with
    u = 2 J v) fused, chunk by chunk of instances, as the fused
    ``lossgrad_subset`` of ``fastpaths`` is.

Equality with the reference (``tests/test_newton_fast.py``): the pooling
scatter ``pool_jacobian_into`` and the phi scatter ``phi_jacobian_into`` are
data movement, bit-identical to the reference's ``vTP``; ``dzdS{m}`` is
bit-identical for the fully-connected layers and the top conv layer, and
equal to rounding below it (``W'*dXidS`` by offset blocks: BLAS orders the
sums by the product's shape); the Gauss-Newton products equal the
reference's to rounding (the same sums in another order, and summed over
chunks of instances).  Newton then takes the same steps (``compare-train``:
f to ~1e-11 after 3 iterations, the same #CG).

A routine steps aside (returns None, and the reference lines run) when
tracing is on or the net's index maps are not the standard ones, as
``fastpaths`` does.
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import fastpaths
from .cells_to_vec import cells_to_vec
from .conventions import cell, ftype, mtimes
from .vec_to_cells import vec_to_cells

__all__ = ["jacobian", "jtbjv", "r_jtbjv", "LazyDzdS", "pool_jacobian_into", "phi_jacobian_into",
           "single_threaded_blas"]

F = "F"
_CHUNK_BYTES = 8 * 2**20       # intermediates of one instance chunk (per thread)


@contextlib.contextmanager
def single_threaded_blas():
    """Inside, OpenBLAS runs one thread (when the fast paths are on and
    numpy's OpenBLAS is found; else nothing changes).

    For a loop that alternates the fast paths (which run their own threads
    with single-threaded BLAS) with small BLAS calls of its own: after a
    threaded BLAS call, OpenBLAS's idle worker spins for about 0.1 s and holds
    a core that the fast paths' next call needs (measured: a 13-instance
    ``R_JTBJv`` right after a threaded 87,600-long dot product takes 25 ms
    instead of 15).  ``newton`` runs its iterations inside.  The small calls
    (CG's dot products, norms) then sum in one thread: the same values up to
    rounding, and independent of the number of cores.
    """
    blas = fastpaths._openblas() if fastpaths.enabled() else None
    if blas is None:
        yield
        return
    before = blas[1]()
    blas[0](1)
    try:
        yield
    finally:
        blas[0](before)


# --- kernels -------------------------------------------------------------------

def pool_jacobian_into(G4, V4, idx_pool, nL, work):
    """vTP 'pool_Jacobian' for a chunk of k instances: G4 (d, a_conv, b_conv,
    nL*k) = zeros with V4 (d, a_out, b_out, nL*k) placed at the 1-based
    within-instance positions ``idx_pool`` ((d*a_out*b_out) x k, those
    instances' columns): block j + nL*i uses instance i's winners.  Each target
    receives one value, stored as ``0 + v`` (as accumarray adds it to zero)."""
    k = idx_pool.shape[1]
    I = fastpaths._scratch(work, ("jac", "idx"), (idx_pool.shape[0], nL, k), np.int64)
    I[...] = idx_pool.reshape((idx_pool.shape[0], 1, k), order=F)
    fastpaths.pool_scatter_into(G4, V4, I.reshape(V4.shape, order=F), work)


def phi_jacobian_into(out4, V6, h, s):
    """vTP 'phi_Jacobian' for a chunk of blocks: ``fastpaths.phi_scatter_into``
    (the blocks of the Jacobian are instances to it)."""
    fastpaths.phi_scatter_into(out4, V6, h, s)


# --- Jacobian ------------------------------------------------------------------

def _layers(model, net):
    """The conv layers' geometry when the fast path applies, else None."""
    return fastpaths._fusable(model, net)


MIN_CHUNKS = 4       # a subset of a few instances still runs on every thread


def _groups(n, chunk):
    """``fastpaths._split`` with at least MIN_CHUNKS chunks (when n allows) and
    an even number of them, so a small subset keeps both threads busy; a
    fixed function of n and the shapes (so are the sums over chunks)."""
    count = max(n // chunk, min(MIN_CHUNKS, n))
    if count > 1 and count % 2:
        count += 1
    return fastpaths._split(n, max(1, n // count))


def _chunk_size(layers, nL, itemsize):
    """Instances per chunk: a fixed function of the shapes."""
    per = 1
    for ly in layers:
        per = max(per, nL * itemsize * (2 * ly.d_out * ly.ncol + ly.d * ly.a_pad * ly.b_pad
                                        + ly.d * ly.ncol + ly.d * ly.a * ly.b))
    return max(1, _CHUNK_BYTES // per)


class LazyDzdS(fastpaths.LazyCell):
    """``net.dzdS`` as the fast ``Jacobian`` leaves it.

    For a pooled conv layer m, ``dzdS{m}`` is ``vTP(..., 'pool_Jacobian')``
    of the values d z / d Z^{m+1} at the pooling winners: 3 of every 4 of its
    entries (2x2 pooling) are zeros in every block.  The fast path keeps the
    winners' values only, ``compact[m]`` (ch_input(m+1) x
    (ht_input(m+1)*wd_input(m+1)*nL*n), blocks as in ``dzdS{m}``), which is
    what ``jtbjv`` reads.  The cell still reads as the reference's:
    ``net.dzdS[m]`` scatters ``compact[m]`` with ``idx_pool{m}`` the first time
    it is read (``pool_jacobian_into``: the same bits as the reference's
    ``vTP``) and keeps it.  Assigning an entry replaces it as in any cell.
    """

    __slots__ = ("compact", "idx_pool", "_make")

    def __init__(self, L, layers, idx_pool, nL, n):
        super().__init__(L)
        self.compact = {}
        self.idx_pool = {ly.m: idx_pool[ly.m] for ly in layers if ly.pool > 1}    # those of this forward pass
        self._make = ({ly.m: ly for ly in layers}, nL, n)

    def __getitem__(self, m):
        value = super().__getitem__(m)
        if value is None and int(m) in self.compact:
            value = self._expand(int(m))
            super().__setitem__(m, value)
        return value

    def __setitem__(self, m, value):
        self.compact.pop(int(m), None)
        super().__setitem__(m, value)

    def _expand(self, m):
        layers, nL, n = self._make
        ly, D = layers[m], self.compact[m]
        full = np.empty((ly.d_out, ly.ncol * nL * n), dtype=D.dtype, order=F)
        G4 = full.reshape((ly.d_out, ly.a_conv, ly.b_conv, nL * n), order=F)
        V4 = D.reshape((ly.d_out, ly.a_out, ly.b_out, nL * n), order=F)
        pool_jacobian_into(G4, V4, self.idx_pool[m], nL, {})
        return full

    def expanded(self, m):
        """False while dzdS{m} exists in its compact form only (tests, benchmark)."""
        return self._v[int(m) - 1] is not None



def jacobian(model, net):
    """Fast ``net = Jacobian(model, net)``; None to step aside."""
    layers = _layers(model, net)
    if layers is None:
        return None
    L, LC, nL = int(model.L), int(model.LC), int(model.nL)
    n = int(net.num_sampled_data)
    dtype = net.Z[L + 1].dtype
    W = [None] + [ftype(model.weight[m], dtype) for m in range(1, L + 1)]
    net.dzdS = dzdS = LazyDzdS(L, layers, net.idx_pool, nL, n)

    dXidS = np.asfortranarray(np.tile(np.eye(nL, dtype=dtype), (1, n)))   # repmat(eye(nL), 1, n)
    for m in range(L, LC, -1):
        dzdS[m] = dXidS
        dXidS = mtimes(W[m].T, dXidS)
        dXidS *= np.repeat(net.Z[m] > 0, nL, axis=1)

    out = {}                       # per conv layer: where the chunks write (compact, or the full dzdS)
    for ly in layers:
        if ly.pool > 1:
            dzdS.compact[ly.m] = out[ly.m] = np.empty((ly.d_out, ly.a_out * ly.b_out * nL * n), dtype=dtype,
                                                      order=F)
        else:
            dzdS[ly.m] = out[ly.m] = np.empty((ly.d_out, ly.ncol * nL * n), dtype=dtype, order=F)
    Wblocks = {ly.m: [np.asfortranarray(W[ly.m][:, q::ly.h * ly.h]) for q in range(ly.h * ly.h)]
               for ly in layers[1:]}
    top = layers[-1]
    per_top = top.a_out * top.b_out if top.pool > 1 else top.ncol           # columns of dXidS per block
    out_top = dXidS.reshape((top.d_out, per_top * nL * n), order=F)

    def part(chunks, work):
        for c0, c1 in chunks:
            k = c1 - c0
            B = nL * k
            D = out_top[:, c0 * nL * per_top:c1 * nL * per_top]
            for ly in reversed(layers):
                m = ly.m
                if ly.pool > 1:
                    per = ly.a_out * ly.b_out
                    out[m][:, c0 * nL * per:c1 * nL * per] = D           # the winners' values: compact[m]
                    if m == 1:
                        break
                    G = fastpaths._scratch(work, ("jac", "G", m), (ly.d_out, ly.ncol * B), dtype)
                    pool_jacobian_into(G.reshape((ly.d_out, ly.a_conv, ly.b_conv, B), order=F),
                                       D.reshape((ly.d_out, ly.a_out, ly.b_out, B), order=F),
                                       net.idx_pool[m][:, c0:c1], nL, work)
                else:
                    G = out[m][:, c0 * nL * ly.ncol:c1 * nL * ly.ncol]
                    G[...] = D
                    if m == 1:
                        break
                pad4 = fastpaths._scratch(work, ("jac", "pad", m), (ly.d, ly.a_pad, ly.b_pad, B), dtype)
                fastpaths.phi_gradient_blocks_into(pad4, Wblocks[m], G, ly.h, ly.s, ly.a_conv, ly.b_conv, work)
                nxt = fastpaths._scratch(work, ("jac", "dX", m), (ly.d, ly.a, ly.b, nL, k), dtype)
                Zm = net.Z[m][:, c0 * ly.a * ly.b:c1 * ly.a * ly.b]
                mask = Zm.reshape((ly.d, ly.a, ly.b, 1, k), order=F) > 0
                np.multiply(fastpaths.crop(pad4, ly.p, ly.a, ly.b).reshape((ly.d, ly.a, ly.b, nL, k), order=F),
                            mask, out=nxt)
                D = nxt.reshape((ly.d, ly.a * ly.b * B), order=F)

    fastpaths._run_parts(part, _groups(n, _chunk_size(layers, nL, np.dtype(dtype).itemsize)))
    return net


# --- JTBJv ----------------------------------------------------------------------

def jtbjv(model, net, v):
    """Fast ``Gv = JTBJv(model, net, v)``, chunk by chunk of instances; None to
    step aside.

    Per chunk: R{S^m} = V_W{m}*phi + v_b{m} for every layer, (J v)(k, i) as
    batched products with ``dzdS{m}`` (the pooled layers' compact form, with
    R{S^m} taken at the winners: the other entries of dzdS{m} are zeros),
    u = 2 J v, T{m} the same way back (scattered to the winners' positions),
    dW{m} += T{m}*phi', db{m} += sum(T{m}, 2); the chunk's dzdS is read twice
    from cache.  dW, db are summed over chunks, group by group in a fixed
    order.  The same sums as the reference in another order.
    """
    layers = _layers(model, net)
    dzdS = getattr(net, "dzdS", None)
    dtype = v.dtype
    if layers is None or dzdS is None or net.Z[1].dtype != dtype:
        return None
    L, LC, nL = int(model.L), int(model.LC), int(model.nL)
    n = int(net.num_sampled_data)
    compact = dzdS.compact if isinstance(dzdS, LazyDzdS) else {}
    idx_pool = dzdS.idx_pool if compact else None
    VW, vb = vec_to_cells(v, model)
    VW = [None] + [np.asfortranarray(VW[m]) for m in range(1, L + 1)]
    vb = [None] + [vb[m] for m in range(1, L + 1)]
    geo = {ly.m: ly for ly in layers}
    phi = [None] + [net.phiZ[m] if m <= LC else net.Z[m] for m in range(1, L + 1)]
    per = [None] + [phi[m].shape[1] // n for m in range(1, L + 1)]        # columns of phi{m} per instance
    D = [None]                                                              # (P, nL, n) per layer
    for m in range(1, L + 1):
        Dm = compact[m] if m in compact else dzdS[m]
        D.append(Dm.reshape((-1, nL, n), order=F))
    rows = [None] + [int(model.weight[m].shape[0]) for m in range(1, L + 1)]
    per_inst = nL * sum(D[m].shape[0] for m in range(1, L + 1)) + sum(
        3 * rows[m] * per[m] + phi[m].shape[0] * per[m] for m in range(1, L + 1))
    chunk = max(1, _CHUNK_BYTES // (per_inst * np.dtype(dtype).itemsize))

    def part(chunks, work):
        acc = {}
        for m in range(1, L + 1):
            acc["dW", m] = np.zeros(VW[m].shape, dtype=dtype, order=F)
            acc["db", m] = np.zeros((rows[m], 1), dtype=dtype, order=F)
        for c0, c1 in chunks:
            k = c1 - c0
            JvT = np.zeros((k, nL), dtype=dtype)                           # (J v)', instance-major
            for m in range(1, L + 1):
                phi_c = phi[m][:, c0 * per[m]:c1 * per[m]]
                R_S = fastpaths._scratch(work, ("jtbjv", "RS", m), (rows[m], per[m] * k), dtype)
                _mtimes_into(R_S, VW[m], phi_c)
                R_S += vb[m]
                if m in compact:                                           # R{S} at the winners
                    ly = geo[m]
                    flat = fastpaths._scratch(work, ("jtbjv", "flat", m), (D[m].shape[0], k), np.int64)
                    np.add(idx_pool[m][:, c0:c1], (ly.d_out * ly.ncol) * np.arange(k, dtype=np.int64) - 1,
                           out=flat)
                    Rw = fastpaths._scratch(work, ("jtbjv", "RSw", m), (D[m].shape[0], k), dtype)
                    np.take(R_S.reshape(-1, order=F), flat.reshape(-1, order=F), out=Rw.reshape(-1, order=F))
                    R_S = Rw
                JvT += np.matmul(D[m][:, :, c0:c1].T, R_S.reshape((-1, k), order=F).T[:, :, None])[:, :, 0]
            uT = 2 * JvT
            for m in range(1, L + 1):
                T = np.matmul(uT[:, None, :], D[m][:, :, c0:c1].T)[:, 0, :].T     # (P, k), F-ordered
                if m in compact:
                    ly = geo[m]
                    G = fastpaths._scratch(work, ("jtbjv", "G", m), (ly.d_out, ly.ncol * k), dtype)
                    fastpaths.pool_scatter_into(
                        G.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F),
                        T.reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F),
                        idx_pool[m][:, c0:c1].reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F), work)
                    T = G
                else:
                    T = T.reshape((rows[m], -1), order=F)
                acc["dW", m] += mtimes(T, phi[m][:, c0 * per[m]:c1 * per[m]].T)
                acc["db", m] += np.sum(T, axis=1, keepdims=True)
        return acc

    return _sum_parts(part, _groups(n, chunk), L)



def _sum_parts(part, groups, L):
    """Run ``part`` over the chunk groups (threads), add the per-group
    ``("dW", m)``/``("db", m)`` sums in a fixed order, and return them as one
    flat vector (``cells_to_vec``)."""
    def add(total, acc):
        for key in total:
            total[key] += acc[key]
        return total

    total = fastpaths._run_parts(part, groups, fold=add)
    dW, db = cell(L), cell(L)
    for m in range(1, L + 1):
        dW[m], db[m] = total["dW", m], total["db", m]
    return cells_to_vec(dW, db)

def _mtimes_into(out, A, B):
    """out = A*B for Fortran-ordered out."""
    np.matmul(B.T, A.T, out=out.T)


# --- R_JTBJv ---------------------------------------------------------------------

def r_jtbjv(model, net, v):
    """Fast ``Gv = R_JTBJv(model, net, v)``: ``Jv`` then ``JTv`` fused, chunk
    by chunk of instances, in the fast paths' threads; None to step aside.

    Per chunk, the R-operator forward pass (``Jv``'s lines) gives R{z}, then
    ``u = 2 R{z}`` goes back through ``JTv``'s lines; dW, db are summed over
    the chunks, group by group in a fixed order (so the result does not
    depend on the threads).  ``phi(pad(R{Z}))`` and ``W'*dXidS`` live chunk by
    chunk in cache (the latter by filter-offset blocks, as in the fused
    ``lossgrad_subset``).  The same arithmetic as the reference up to the
    ordering of the products' sums and of the sums over instances.
    """
    layers = _layers(model, net)
    dtype = v.dtype
    if layers is None or net.Z[1].dtype != dtype:
        return None
    L, LC = int(model.L), int(model.LC)
    n = int(net.num_sampled_data)
    VW, vb = vec_to_cells(v, model)
    VW = [None] + [np.asfortranarray(VW[m]) for m in range(1, L + 1)]
    vb = [None] + [vb[m] for m in range(1, L + 1)]
    W = [None] + [ftype(model.weight[m], dtype) for m in range(1, L + 1)]
    Wblocks = {ly.m: [np.asfortranarray(W[ly.m][:, q::ly.h * ly.h]) for q in range(ly.h * ly.h)]
               for ly in layers[1:]}
    phiZ = [None] + [net.phiZ[ly.m] for ly in layers]
    chunk = fastpaths._chunk_size(layers, np.dtype(dtype).itemsize)

    def forward(c0, c1, work):
        """R{z} of instances c0:c1 (Jv's lines), nL x k."""
        k = c1 - c0
        R_Z = None
        for ly in layers:
            m = ly.m
            R_S = fastpaths._scratch(work, ("rjtbjv", "RS", m), (ly.d_out, ly.ncol * k), dtype)
            _mtimes_into(R_S, VW[m], phiZ[m][:, c0 * ly.ncol:c1 * ly.ncol])
            R_S += vb[m]
            if m > 1:
                pad4 = fastpaths._zero_bordered(work, ("rjtbjv", ly.key()), (ly.d, ly.a_pad, ly.b_pad, 2 * chunk),
                                                dtype)[..., :k]
                fastpaths.pad_into(pad4, R_Z.reshape((ly.d, ly.a, ly.b, k), order=F), ly.p)
                P = fastpaths._scratch(work, ("rjtbjv", "phi", m), (ly.rows, ly.ncol * k), dtype)
                fastpaths.phiZ_into(P.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, k), order=F), pad4,
                                    ly.h, ly.s)
                WP = fastpaths._scratch(work, ("rjtbjv", "WP", m), (ly.d_out, ly.ncol * k), dtype)
                _mtimes_into(WP, W[m], P)
                R_S += WP
            per = ly.ncol
            if ly.pool > 1:                       # R{S} at the winners idx_pool{m}
                per = ly.a_out * ly.b_out
                D = ly.d_out * ly.ncol
                flat = fastpaths._scratch(work, ("rjtbjv", "flat", m), (ly.d_out * per, k), np.int64)
                np.add(net.idx_pool[m][:, c0:c1], D * np.arange(k, dtype=np.int64) - 1, out=flat)
                G = fastpaths._scratch(work, ("rjtbjv", "RSw", m), (ly.d_out, per * k), dtype)
                np.take(R_S.reshape(-1, order=F), flat.reshape(-1, order=F), out=G.reshape(-1, order=F))
                R_S = G
            R_Z = fastpaths._scratch(work, ("rjtbjv", "RZ", m), (ly.d_out, per * k), dtype)
            Z_next = net.Z[m + 1].reshape((ly.d_out, -1), order=F)        # Z{LC+1} is kept (d*a*b) x n
            np.multiply(R_S, Z_next[:, c0 * per:c1 * per] > 0, out=R_Z)
        R_Z = R_Z.reshape((-1, k), order=F)
        for m in range(LC + 1, L + 1):
            R_S = mtimes(VW[m], net.Z[m][:, c0:c1])
            R_S += vb[m]
            R_S += mtimes(W[m], R_Z)
            R_Z = R_S * (net.Z[m + 1][:, c0:c1] > 0) if m < L else R_S
        return R_Z

    def backward(c0, c1, u, acc, work):
        """JTv's lines for instances c0:c1 with v = u; sums into acc."""
        k = c1 - c0
        dXidS = u
        for m in range(L, LC, -1):
            Zm = net.Z[m][:, c0:c1]
            acc["dW", m] += mtimes(dXidS, Zm.T)
            acc["db", m] += np.sum(dXidS, axis=1, keepdims=True)
            dXidS = mtimes(W[m].T, dXidS)
            dXidS *= Zm > 0
        for ly in reversed(layers):
            m = ly.m
            if ly.pool > 1:
                G = fastpaths._scratch(work, ("rjtbjv", "G", m), (ly.d_out, ly.ncol * k), dtype)
                fastpaths.pool_scatter_into(
                    G.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F),
                    dXidS.reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F),
                    net.idx_pool[m][:, c0:c1].reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F), work)
                dXidS = G
            else:
                dXidS = dXidS.reshape((ly.d_out, -1), order=F)
            acc["dW", m] += mtimes(dXidS, phiZ[m][:, c0 * ly.ncol:c1 * ly.ncol].T)
            acc["db", m] += np.sum(dXidS, axis=1, keepdims=True)
            if m > 1:
                pad4 = fastpaths._scratch(work, ("rjtbjv", "dpad", m), (ly.d, ly.a_pad, ly.b_pad, k), dtype)
                fastpaths.phi_gradient_blocks_into(pad4, Wblocks[m], dXidS, ly.h, ly.s, ly.a_conv, ly.b_conv, work)
                nxt = fastpaths._scratch(work, ("rjtbjv", "dX", m), (ly.d, ly.a, ly.b, k), dtype)
                Zm = net.Z[m][:, c0 * ly.a * ly.b:c1 * ly.a * ly.b]
                np.multiply(fastpaths.crop(pad4, ly.p, ly.a, ly.b), Zm.reshape((ly.d, ly.a, ly.b, k), order=F) > 0,
                            out=nxt)
                dXidS = nxt.reshape((ly.d, -1), order=F)

    def part(chunks, work):
        acc = {}
        for m in range(1, L + 1):
            acc["dW", m] = np.zeros(W[m].shape, dtype=dtype, order=F)
            acc["db", m] = np.zeros((W[m].shape[0], 1), dtype=dtype, order=F)
        for c0, c1 in chunks:
            u = 2 * forward(c0, c1, work)
            backward(c0, c1, u, acc, work)
        return acc

    return _sum_parts(part, _groups(n, chunk), L)
