"""Fast ``R_JTBJv``: the Gauss-Newton product by the R-operator.

Reference: ``simplecnn_py/opt/R_JTBJv.py`` (``Jv`` then ``JTv`` over the subset,
stage by stage).  Here both are fused, chunk by chunk of instances (the
R-operator forward pass, then back with u = 2 J v), as the fused
``lossgrad_subset`` is.  Equal to rounding (tests/fast/test_fast_Jacobian.py).
"""
from __future__ import annotations

import numpy as np

from ..support.conventions import ftype, mtimes
from ..cnn.vec_to_cells import vec_to_cells

from .layer import fusable
from .workspace import chunk_size, mtimes_into, scratch, zero_bordered
from .padding_and_phiZ import crop, pad_into, phiZ_into
from .vTP import phi_gradient_blocks_into, pool_scatter_into
from .Jacobian import groups
from .JTBJv import sum_parts

F = "F"


def R_JTBJv(model, net, v):
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
    layers = fusable(model, net)
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
    chunk = chunk_size(layers, np.dtype(dtype).itemsize)

    def forward(c0, c1, work):
        """R{z} of instances c0:c1 (Jv's lines), nL x k."""
        k = c1 - c0
        R_Z = None
        for ly in layers:
            m = ly.m
            R_S = scratch(work, ("rjtbjv", "RS", m), (ly.d_out, ly.ncol * k), dtype)
            mtimes_into(R_S, VW[m], phiZ[m][:, c0 * ly.ncol:c1 * ly.ncol])
            R_S += vb[m]
            if m > 1:
                pad4 = zero_bordered(work, ("rjtbjv", ly.key()), (ly.d, ly.a_pad, ly.b_pad, 2 * chunk),
                                                dtype)[..., :k]
                pad_into(pad4, R_Z.reshape((ly.d, ly.a, ly.b, k), order=F), ly.p)
                P = scratch(work, ("rjtbjv", "phi", m), (ly.rows, ly.ncol * k), dtype)
                phiZ_into(P.reshape((ly.h, ly.h, ly.d, ly.a_conv, ly.b_conv, k), order=F), pad4,
                                    ly.h, ly.s)
                WP = scratch(work, ("rjtbjv", "WP", m), (ly.d_out, ly.ncol * k), dtype)
                mtimes_into(WP, W[m], P)
                R_S += WP
            per = ly.ncol
            if ly.pool > 1:                       # R{S} at the winners idx_pool{m}
                per = ly.a_out * ly.b_out
                D = ly.d_out * ly.ncol
                flat = scratch(work, ("rjtbjv", "flat", m), (ly.d_out * per, k), np.int64)
                np.add(net.idx_pool[m][:, c0:c1], D * np.arange(k, dtype=np.int64) - 1, out=flat)
                G = scratch(work, ("rjtbjv", "RSw", m), (ly.d_out, per * k), dtype)
                np.take(R_S.reshape(-1, order=F), flat.reshape(-1, order=F), out=G.reshape(-1, order=F))
                R_S = G
            R_Z = scratch(work, ("rjtbjv", "RZ", m), (ly.d_out, per * k), dtype)
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
                G = scratch(work, ("rjtbjv", "G", m), (ly.d_out, ly.ncol * k), dtype)
                pool_scatter_into(
                    G.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F),
                    dXidS.reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F),
                    net.idx_pool[m][:, c0:c1].reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F), work)
                dXidS = G
            else:
                dXidS = dXidS.reshape((ly.d_out, -1), order=F)
            acc["dW", m] += mtimes(dXidS, phiZ[m][:, c0 * ly.ncol:c1 * ly.ncol].T)
            acc["db", m] += np.sum(dXidS, axis=1, keepdims=True)
            if m > 1:
                pad4 = scratch(work, ("rjtbjv", "dpad", m), (ly.d, ly.a_pad, ly.b_pad, k), dtype)
                phi_gradient_blocks_into(pad4, Wblocks[m], dXidS, ly.h, ly.s, ly.a_conv, ly.b_conv, work)
                nxt = scratch(work, ("rjtbjv", "dX", m), (ly.d, ly.a, ly.b, k), dtype)
                Zm = net.Z[m][:, c0 * ly.a * ly.b:c1 * ly.a * ly.b]
                np.multiply(crop(pad4, ly.p, ly.a, ly.b), Zm.reshape((ly.d, ly.a, ly.b, k), order=F) > 0,
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

    return sum_parts(part, groups(n, chunk), L)
