"""The fused, chunked pass behind the fast ``lossgrad_subset`` and ``feedforward``.

The reference lines (``simplecnn_py/cnn/lossgrad_subset.py``: ``feedforward``
stage by stage over the batch, then ``JTv``; twins of
``matlab_ref/current/MATLAB/cnn/feedforward.m`` and ``JTv.m``) are the
forward pass of the gradient-calculation slides (eq. (3)) and their backward
pass (eqs. (19)-(22) for fully-connected layers, (26)-(28) for conv layers).
``Fused`` computes the same over a batch in chunks of a few instances
(``workspace.CHUNK_BYTES`` of intermediates), each chunk forward through every
layer and, when labels are given, straight back, in the workspace's threads
with single-threaded BLAS; ``W'*dXidS`` one filter offset at a time
(``phi_gradient_blocks_into``), phiZ kept chunk by chunk (rows in (c, i, j)
order, pool-major columns for the first layer), pooling before sigma, winners
as one-byte window offsets.  ``dlossdW``, ``dlossdb`` and the loss are summed
chunk by chunk, then group by group (at most ``FUSED_GROUPS``) in a fixed
order: the results do not depend on the threads, and equal the reference's to
rounding (the products' sums are ordered by BLAS).

Two routines drive it, each in its own module: ``fast/lossgrad_subset.py``
(``keep_phiZ=False``: loss and gradient, the net's phiZ and idx_pool rebuilt
lazily) and ``fast/feedforward.py`` (``keep_phiZ=True``: forward only, the
whole net kept as the reference keeps it).  docs/performance.md says why each
layout is what it is.  Tests: tests/fast/test_fast_lossgrad_subset.py.
"""
from __future__ import annotations

import numpy as np

from ..support.conventions import cell

from .workspace import chunk_size, mtimes_into, run_parts, scratch, split, zero_bordered
from .padding_and_phiZ import cij_rows, crop, LazyPhiZ, pad_into, phiZ_cij_into, phiZ_into, phiZT_cij_into
from .maxpooling import first_max_into, LazyIdxPool, maxpool_offsets_into, offset_dtype
from .vTP import phi_gradient_blocks_into, pool_scatter_offsets_into, scatter_by_offsets_stacked

__all__ = ["Fused", "FUSED_GROUPS"]

F = "F"
FUSED_GROUPS = 64     # chunks are summed in at most 64 groups (smaller groups: less time with one core idle at the end)


class Fused:
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
        self.chunk = chunk_size(layers, self.dtype.itemsize)
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
            PT = scratch(work, ("phiZT", m), (ly.ncol * k, ly.rows), self.dtype)
            if pad4 is not None:
                phiZT_cij_into(PT, pad4, ly.h, ly.s, pool)
            return PT.T
        P = scratch(work, ("phiZ", m), (ly.rows, ly.ncol * k), self.dtype)
        if pad4 is not None:
            phiZ_cij_into(P, pad4, ly.h, ly.s, pool)
        return P

    def _chunk_of(self, name, m, c0, c1, rows, per, dtype, work):
        """Columns of instances c0:c1 (``per`` columns each) of net.<name>{m},
        or a chunk buffer when the net keeps nothing (``keep_net`` False)."""
        if self.keep_net:
            return getattr(self.net, name)[m][:, c0 * per:c1 * per]
        return scratch(work, (name, m), (rows, per * (c1 - c0)), dtype)

    def forward_chunk(self, c0, c1, work):
        """The forward pass of instances c0:c1; returns their Z{m} (2-D views)
        and, under ("k", m), their pooling winners as window offsets."""
        net, k = self.net, c1 - c0
        Z = {1: net.Z[1][:, c0 * self.per1:c1 * self.per1]}
        for ly in self.layers:
            m = ly.m
            pad4 = zero_bordered(work, ("pad", ly.key()), (ly.d, ly.a_pad, ly.b_pad, 2 * self.chunk), self.dtype)
            pad_into(pad4[..., :k], Z[m].reshape((ly.d, ly.a, ly.b, k), order=F), ly.p)
            phiZ = self._phiZ(m, c0, c1, work, pad4[..., :k])
            if ly.pool > 1:
                S = scratch(work, ("S", m), (ly.d_out, ly.ncol * k), self.dtype)
            else:
                S = self._chunk_of("Z", m + 1, c0, c1, ly.d_out, ly.ncol, self.dtype, work)
            mtimes_into(S, self.WK[m], phiZ)                    # S = W*phiZ + b
            S2 = S.reshape((ly.d_out * ly.a_conv, ly.b_conv * k), order=F)
            np.add(S2, self.btile[m], out=S2)
            if ly.pool > 1:
                # pooling first, then sigma on the pooled values:
                # max(sigma(S)) = sigma(max(S)) bit for bit (np.maximum(x, 0)
                # gives +0 for every x <= 0, -0 included, and keeps NaN)
                per = ly.a_out * ly.b_out
                Zm = self._chunk_of("Z", m + 1, c0, c1, ly.d_out, per, self.dtype, work)
                K = (self.offsets[m][:, c0:c1] if self.keep_net
                     else scratch(work, ("k", m), (ly.d_out * per, k), offset_dtype(ly.pool)))
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
                nz = scratch(work, "nz", Zm.shape, np.bool_)
                np.not_equal(Zm, 0, out=nz)
                np.multiply(K, nz.reshape(K.shape, order=F), out=K)
                Z[m + 1], Z["k", m] = Zm, K
            else:
                np.maximum(S, 0, out=S)                          # sigma(S)
                Z[m + 1] = S
        Z[self.LC + 1] = Z[self.LC + 1].reshape((-1, k), order=F)
        for m in range(self.LC + 1, self.L + 1):
            out = self._chunk_of("Z", m + 1, c0, c1, self.W[m].shape[0], 1, self.dtype, work)
            mtimes_into(out, self.W[m], Z[m])
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
                G = scratch(work, ("G", m), (ly.d_out, ly.ncol * k), self.dtype)
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
                pad4 = scratch(work, ("dpad", m), (ly.d, ly.a_pad, ly.b_pad, k), self.dtype)
                phi_gradient_blocks_into(pad4, self.Wblocks[m], dXidS, ly.h, ly.s, ly.a_conv, ly.b_conv, work)
                nxt = scratch(work, ("dX", m), (ly.d, ly.a, ly.b, k), self.dtype)
                pos = scratch(work, ("pos", m), (ly.d, ly.a, ly.b, k), np.bool_)
                np.greater(Z[m].reshape((ly.d, ly.a, ly.b, k), order=F), 0, out=pos)
                np.multiply(crop(pad4, ly.p, ly.a, ly.b), pos, out=nxt)
                dXidS = nxt.reshape((ly.d, -1), order=F)

    def run(self, Y=None):
        """Forward pass; with Y also the loss and gradients.  Returns the sums."""
        parts = split(self.n, self.chunk, FUSED_GROUPS)

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

        total = run_parts(part, parts, fold=add if Y is not None else None)
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
