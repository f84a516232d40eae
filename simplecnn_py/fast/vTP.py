"""Fast ``vTP``: the pooling and phi scatters (vec(V)' P_pool, vec(V)' P_phi).

Reference: ``simplecnn_py/cnn/vTP.py`` (``accumarray`` at ``idx_pool`` or
``idx_phiZ``).  Here:

* ``pool_*``: windows do not overlap, so each target gets one value, stored
  as ``0 + v`` as accumarray adds it to zero (``pool_scatter_into``); or,
  from the winners' window offsets, one masked write per offset
  (``scatter_by_offsets``, ``pool_scatter_offsets_into``,
  ``scatter_by_offsets_stacked``);
* ``phi_*``: one strided add per filter offset, width offset DEScending,
  then height offset DEScending (``phi_scatter_into``): the order in which
  accumarray meets the contributions of each target, so every sum is the
  same floating-point sum; ``phi_gradient_blocks_into`` adds W'*D one filter
  offset at a time without forming W'*D.

Bit-identical, checked on raw bytes (tests/fast/test_fast_vTP.py).
"""
from __future__ import annotations

import numpy as np

from .layer import Layer, span, standard
from .workspace import chunk_size, mtimes_into, run_parts, scratch, split
from .maxpooling import pool_windows

F = "F"


def pool_scatter_into(G4, V4, idx4, work):
    """vec(V)^T P_pool for a chunk: G4 (d, a_conv, b_conv, n) = zeros with
    V4 (d, a_out, b_out, n) placed at the 1-based within-instance positions
    idx4.  Windows do not overlap, so each target receives one value, stored
    as ``0 + v`` like accumarray's sum (so -0 becomes +0)."""
    d, a_conv, b_conv, n = G4.shape
    G4.fill(0)
    flat = scratch(work, "flat", V4.shape, np.int64)
    np.add(idx4, (d * a_conv * b_conv) * np.arange(n, dtype=np.int64) - 1, out=flat)
    vals = scratch(work, "vals", V4.shape, G4.dtype)
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
    eq = scratch(work, "eq", V.shape, np.bool_)
    for q, target in enumerate(targets):
        np.equal(K, q, out=eq)
        np.multiply(bits, eq, out=target.view(bits.dtype))


def _plus_zero_bits(V, work):
    """The bits of ``0 + V`` (what accumarray stores: -0 becomes +0) as
    same-sized integers, in a scratch array."""
    vals = scratch(work, "vals", V.shape, V.dtype)
    np.add(V, V.dtype.type(0), out=vals)
    return vals.view(np.dtype(f"i{V.dtype.itemsize}"))


def scatter_by_offsets_stacked(G2, V, K, work):
    """``scatter_by_offsets`` into the columns of G2 (numel(V) x Q, column q
    the target of offset q, as in a pool-major layout): one comparison and
    one product over all of G2, broadcasting V and K."""
    bits = _plus_zero_bits(V, work)
    eq = scratch(work, "eq2", G2.shape, np.bool_)
    np.equal(K.reshape((-1, 1), order=F), np.arange(G2.shape[1], dtype=K.dtype), out=eq)
    np.multiply(bits.reshape((-1, 1), order=F), eq, out=G2.view(bits.dtype))


def pool_scatter_offsets_into(G4, V4, k4, h, work):
    """``pool_scatter_into`` with the winners given as window offsets k4
    (``maxpool_offsets_into``): G4 (d, a_conv, b_conv, n) gets ``0 + v`` at
    the winner of each window and +0 everywhere else, bit for bit; rows and
    columns past the last whole window are zeroed."""
    a_conv, b_conv = G4.shape[1], G4.shape[2]
    a_out, b_out = V4.shape[1], V4.shape[2]
    scatter_by_offsets(pool_windows(G4, h, a_out, b_out), V4, k4, work)
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
            tgt = out4[:, span(i, a_out, s), span(j, b_out, s), :]
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
    V = scratch(work, "Vij", (d, D.shape[1]), out4.dtype)
    V4 = V.reshape((d, a_out, b_out, n), order=F)
    out4.fill(0)
    first = True
    for j in range(h - 1, -1, -1):
        for i in range(h - 1, -1, -1):
            mtimes_into(V, Wblocks[i + h * j].T, D)
            tgt = out4[:, span(i, a_out, s), span(j, b_out, s), :]
            if first:       # 0 + V, as adding to the zeros (without reading them)
                np.add(V4, out4.dtype.type(0), out=tgt)
                first = False
            else:
                np.add(tgt, V4, out=tgt)


def vTP(param, model, net, m, V, op):
    """Fast ``vTP(param, model, net, m, V, op)`` (1-D result); None to step aside."""
    ly = Layer(model, m)
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
        chunk = chunk_size([ly], V.dtype.itemsize)

        def part(chunks, work):
            for c0, c1 in chunks:
                pool_scatter_into(G4[..., c0:c1], V4[..., c0:c1], I4[..., c0:c1], work)

        run_parts(part, split(blocks, chunk))
        return out
    if op in ("phi_gradient", "phi_Jacobian"):
        if not standard(net, ly, "idx_phiZ"):
            return None
        blocks = n if op == "phi_gradient" else int(model.nL) * n
        out = np.empty(ly.d * ly.a_pad * ly.b_pad * blocks, dtype=V.dtype)
        out4 = out.reshape((ly.d, ly.a_pad, ly.b_pad, blocks), order=F)
        V6 = V.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, blocks), order=F)
        chunk = chunk_size([ly], V.dtype.itemsize)

        def part(chunks, work):
            for c0, c1 in chunks:
                phi_scatter_into(out4[..., c0:c1], V6[..., c0:c1], ly.h, ly.s)

        run_parts(part, split(blocks, chunk))
        return out
    return None
