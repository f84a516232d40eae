"""Fast ``Jacobian``: dz/dS of every layer, chunk by chunk of instances.

Reference: ``simplecnn_py/cnn/Jacobian.py``, all nL*n blocks at once
(``vTP(..., 'pool_Jacobian')`` with np.repeat of ``idx_pool``, ``V = W'*dXidS``
(235 MB for 52 MNIST instances), ``vTP(..., 'phi_Jacobian')``, crop, mask:
fresh full-size arrays).  Here the conv layers run chunk by chunk of
instances (a few MiB, in cache): the pooling scatter (``pool_jacobian_into``)
into a chunk buffer, ``W'*dXidS`` one filter offset at a time added into the
padded array (``phi_gradient_blocks_into``: V never exists), the crop a
slice, the mask a broadcast over an instance's nL blocks.  ``dzdS{m}`` of a
pooled conv layer is kept *compact* (the winners' values only, a quarter of
the bytes); ``net.dzdS`` is a ``LazyDzdS`` that still reads as the
reference's cell.  Scatters bit-identical to ``vTP``; ``dzdS`` bit-identical
down to the top conv layer, to rounding below (tests/fast/test_fast_Jacobian.py).
``groups``/``jacobian_chunk_size`` are the chunking of the second-order fast
paths (never fewer than ``MIN_CHUNKS`` chunks, so a 13-instance subset keeps
both threads busy).
"""
from __future__ import annotations

import numpy as np

from . import workspace
from ..support.conventions import ftype, mtimes

from .layer import fusable, LazyCell
from .workspace import run_parts, scratch, split
from .padding_and_phiZ import crop
from .vTP import phi_gradient_blocks_into, phi_scatter_into, pool_scatter_into

F = "F"


def pool_jacobian_into(G4, V4, idx_pool, nL, work):
    """vTP 'pool_Jacobian' for a chunk of k instances: G4 (d, a_conv, b_conv,
    nL*k) = zeros with V4 (d, a_out, b_out, nL*k) placed at the 1-based
    within-instance positions ``idx_pool`` ((d*a_out*b_out) x k, those
    instances' columns): block j + nL*i uses instance i's winners.  Each target
    receives one value, stored as ``0 + v`` (as accumarray adds it to zero)."""
    k = idx_pool.shape[1]
    I = scratch(work, ("jac", "idx"), (idx_pool.shape[0], nL, k), np.int64)
    I[...] = idx_pool.reshape((idx_pool.shape[0], 1, k), order=F)
    pool_scatter_into(G4, V4, I.reshape(V4.shape, order=F), work)


def phi_jacobian_into(out4, V6, h, s):
    """vTP 'phi_Jacobian' for a chunk of blocks: ``phi_scatter_into``
    (the blocks of the Jacobian are instances to it)."""
    phi_scatter_into(out4, V6, h, s)


MIN_CHUNKS = 4       # a subset of a few instances still runs on every thread


def groups(n, chunk):
    """``split`` with at least MIN_CHUNKS chunks (when n allows) and
    an even number of them, so a small subset keeps both threads busy; a
    fixed function of n and the shapes (so are the sums over chunks)."""
    count = max(n // chunk, min(MIN_CHUNKS, n))
    if count > 1 and count % 2:
        count += 1
    return split(n, max(1, n // count))


def jacobian_chunk_size(layers, nL, itemsize):
    """Instances per chunk: a fixed function of the shapes."""
    per = 1
    for ly in layers:
        per = max(per, nL * itemsize * (2 * ly.d_out * ly.ncol + ly.d * ly.a_pad * ly.b_pad
                                        + ly.d * ly.ncol + ly.d * ly.a * ly.b))
    return max(1, workspace.CHUNK_BYTES // per)


class LazyDzdS(LazyCell):
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


def Jacobian(model, net):
    """Fast ``net = Jacobian(model, net)``; None to step aside."""
    layers = fusable(model, net)
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
                    G = scratch(work, ("jac", "G", m), (ly.d_out, ly.ncol * B), dtype)
                    pool_jacobian_into(G.reshape((ly.d_out, ly.a_conv, ly.b_conv, B), order=F),
                                       D.reshape((ly.d_out, ly.a_out, ly.b_out, B), order=F),
                                       net.idx_pool[m][:, c0:c1], nL, work)
                else:
                    G = out[m][:, c0 * nL * ly.ncol:c1 * nL * ly.ncol]
                    G[...] = D
                    if m == 1:
                        break
                pad4 = scratch(work, ("jac", "pad", m), (ly.d, ly.a_pad, ly.b_pad, B), dtype)
                phi_gradient_blocks_into(pad4, Wblocks[m], G, ly.h, ly.s, ly.a_conv, ly.b_conv, work)
                nxt = scratch(work, ("jac", "dX", m), (ly.d, ly.a, ly.b, nL, k), dtype)
                Zm = net.Z[m][:, c0 * ly.a * ly.b:c1 * ly.a * ly.b]
                mask = Zm.reshape((ly.d, ly.a, ly.b, 1, k), order=F) > 0
                np.multiply(crop(pad4, ly.p, ly.a, ly.b).reshape((ly.d, ly.a, ly.b, nL, k), order=F),
                            mask, out=nxt)
                D = nxt.reshape((ly.d, ly.a * ly.b * B), order=F)

    run_parts(part, groups(n, jacobian_chunk_size(layers, nL, np.dtype(dtype).itemsize)))
    return net
