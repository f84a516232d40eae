"""Fast ``JTBJv``: the Gauss-Newton product with the stored Jacobian.

Reference: ``simplecnn_py/opt/JTBJv.py`` (two einsum contractions over the whole
``dzdS``).  Here, chunk by chunk of instances: R{S^m} = V_W{m}*phi + v_b{m},
(J v)(k, i) as batched products with the chunk's (compact) ``dzdS``, u =
2 J v, T{m} the same way back, dW{m} += T{m}*phi'; the chunk's ``dzdS`` is
read from memory once and again from cache.  Equal to rounding
(tests/fast/test_fast_Jacobian.py).
"""
from __future__ import annotations

import numpy as np

from . import workspace
from ..cnn.cells_to_vec import cells_to_vec
from ..support.conventions import cell, mtimes
from ..cnn.vec_to_cells import vec_to_cells

from .layer import fusable
from .workspace import mtimes_into, run_parts, scratch
from .vTP import pool_scatter_into
from .Jacobian import groups, LazyDzdS

F = "F"


def JTBJv(model, net, v):
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
    layers = fusable(model, net)
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
    chunk = max(1, workspace.CHUNK_BYTES // (per_inst * np.dtype(dtype).itemsize))

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
                R_S = scratch(work, ("jtbjv", "RS", m), (rows[m], per[m] * k), dtype)
                mtimes_into(R_S, VW[m], phi_c)
                R_S += vb[m]
                if m in compact:                                           # R{S} at the winners
                    ly = geo[m]
                    flat = scratch(work, ("jtbjv", "flat", m), (D[m].shape[0], k), np.int64)
                    np.add(idx_pool[m][:, c0:c1], (ly.d_out * ly.ncol) * np.arange(k, dtype=np.int64) - 1,
                           out=flat)
                    Rw = scratch(work, ("jtbjv", "RSw", m), (D[m].shape[0], k), dtype)
                    np.take(R_S.reshape(-1, order=F), flat.reshape(-1, order=F), out=Rw.reshape(-1, order=F))
                    R_S = Rw
                JvT += np.matmul(D[m][:, :, c0:c1].T, R_S.reshape((-1, k), order=F).T[:, :, None])[:, :, 0]
            uT = 2 * JvT
            for m in range(1, L + 1):
                T = np.matmul(uT[:, None, :], D[m][:, :, c0:c1].T)[:, 0, :].T     # (P, k), F-ordered
                if m in compact:
                    ly = geo[m]
                    G = scratch(work, ("jtbjv", "G", m), (ly.d_out, ly.ncol * k), dtype)
                    pool_scatter_into(
                        G.reshape((ly.d_out, ly.a_conv, ly.b_conv, k), order=F),
                        T.reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F),
                        idx_pool[m][:, c0:c1].reshape((ly.d_out, ly.a_out, ly.b_out, k), order=F), work)
                    T = G
                else:
                    T = T.reshape((rows[m], -1), order=F)
                acc["dW", m] += mtimes(T, phi[m][:, c0 * per[m]:c1 * per[m]].T)
                acc["db", m] += np.sum(T, axis=1, keepdims=True)
        return acc

    return sum_parts(part, groups(n, chunk), L)


def sum_parts(part, groups, L):
    """Run ``part`` over the chunk groups (threads), add the per-group
    ``("dW", m)``/``("db", m)`` sums in a fixed order, and return them as one
    flat vector (``cells_to_vec``)."""
    def add(total, acc):
        for key in total:
            total[key] += acc[key]
        return total

    total = run_parts(part, groups, fold=add)
    dW, db = cell(L), cell(L)
    for m in range(1, L + 1):
        dW[m], db[m] = total["dW", m], total["db", m]
    return cells_to_vec(dW, db)
