"""Isolated mode: each Python stage fed the MATLAB side's input to that stage.

In propagated mode each side runs end to end, so an error made early shows up
in every later stage.  Here every stage of the port is recomputed from the
MATLAB values of its inputs, so a stage's own error is seen:

forward, conv m (``net.Z{m}`` = MATLAB's input of layer m)
    phiZ    = padding_and_phiZ(model, net, m)
    sigmaS  = max(W{m} * phiZ_MATLAB + b{m}, 0)
    Z, idx_pool = maxpooling(model, net with Z{m+1} = sigmaS_MATLAB, m)
forward, full m
    Z = W{m} * Z_MATLAB{m} + b{m}, then max(., 0) except for m = L
    loss = norm(Z_MATLAB{L+1} - Y, 'fro')^2
backward, full m (Delta = MATLAB's dXidS of layer m)
    dXidS(L) = 2*(Z_MATLAB{L+1} - Y);  dlossdW = Delta*Z_MATLAB{m}';
    dlossdb = sum(Delta, 2);  WtDelta = W{m}'*Delta;
    activation = WtDelta_MATLAB .* (Z_MATLAB{m} > 0)
backward, conv m
    pool_gradient = vTP(param, model, net with idx_pool{m} = MATLAB's, m, Delta, 'pool_gradient')
    dlossdW = P*phiZ_MATLAB',  dlossdb = sum(P, 2)   (P = MATLAB's pool_gradient, or Delta)
    WtDelta = W{m}'*P;  phi_gradient = vTP(..., WtDelta_MATLAB, 'phi_gradient')
    unpad = phi_gradient_MATLAB(:, idx_pad{m} + a_pad*b_pad*(0:n-1))
    activation = unpad_MATLAB .* (Z_MATLAB{m} > 0)

Index maps (``idx_pad``, ``idx_phiZ``, ``idx_phiZ_pool``) are the port's own
(they depend on the model only and are compared as stages of their own).
When the MATLAB code does not expose an input, the isolated output of the
stage before it is used instead.  ``padding_and_phiZ``, ``maxpooling`` and
``vTP`` are looked up in their modules at each call (your routines, when
``compare --python routines:`` has swapped them in); the products, sums and
masks are written here.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.support.conventions import cell, cols, mtimes, reshape, struct
import simplecnn_py

# The routines are called through their modules' attributes, so that your
# routines swapped in there (``sources/routines.py``) are the ones re-run.


def padding_and_phiZ(model, net, m):
    return simplecnn_py.routine_module("padding_and_phiZ").padding_and_phiZ(model, net, m)


def maxpooling(model, net, m):
    return simplecnn_py.routine_module("maxpooling").maxpooling(model, net, m)


def vTP(param, model, net, m, V, op):
    return simplecnn_py.routine_module("vTP").vTP(param, model, net, m, V, op)


def _net_copy(net):
    new = struct(**vars(net))
    for name in ("Z", "idx_pool"):
        if hasattr(net, name):
            setattr(new, name, cell(list(getattr(net, name))))
    return new


def isolated_stages(param, model, net, Y, M: dict, dtype) -> dict:
    """Python stage values computed from MATLAB inputs ``M`` ({key: array or None})."""
    L, LC = int(model.L), int(model.LC)
    n = int(net.num_sampled_data)
    out: dict[tuple[int, str, str], np.ndarray] = {}

    def f(a):
        if a is None:
            return None
        a = np.asfortranarray(np.asarray(a), dtype=dtype)
        return a if a.flags.writeable else a.copy(order="F")     # records are read-only maps

    def get(key, fallback=None):
        v = M.get(key)
        return f(v) if v is not None else fallback

    W = {m: f(model.weight[m]) for m in range(1, L + 1)}
    b = {m: f(model.bias[m]) for m in range(1, L + 1)}

    # MATLAB's input of layer m: its Z of layer m-1 (the data for m = 1)
    def Z_in(m):
        if m == 1:
            return f(net.Z[1])
        z = get((m - 1, "forward", "Z"))
        return z if z is not None else f(net.Z[m])

    # ---- forward ----
    for m in range(1, LC + 1):
        net2 = _net_copy(net)
        d = int(model.ch_input[m])
        net2.Z[m] = reshape(Z_in(m), d, -1)
        phiZ = padding_and_phiZ(model, net2, m)
        out[(m, "forward", "phiZ")] = phiZ
        phiZ_M = get((m, "forward", "phiZ"), phiZ)
        S = mtimes(W[m], phiZ_M) + b[m]
        sigmaS = np.maximum(S, 0)
        out[(m, "forward", "sigmaS")] = sigmaS
        sigmaS_M = get((m, "forward", "sigmaS"), sigmaS)
        if int(model.wd_subimage_pool[m]) > 1:
            net2.Z[m + 1] = reshape(sigmaS_M, int(model.ch_input[m + 1]), -1)
            Zp, idx_pool = maxpooling(model, net2, m)
            out[(m, "forward", "Z")] = Zp
            out[(m, "forward", "idx_pool")] = idx_pool
        else:
            out[(m, "forward", "Z")] = sigmaS_M
        out[(m, "forward", "idx_pad")] = net.idx_pad[m] if hasattr(net, "idx_pad") else None
        out[(m, "forward", "idx_phiZ")] = net.idx_phiZ[m]
    for m in range(LC + 1, L + 1):
        z_in = reshape(Z_in(m), -1, n)
        Z = mtimes(W[m], z_in) + b[m]
        out[(m, "forward", "Z")] = Z if m == L else np.maximum(Z, 0)
    Zout = get((L, "forward", "Z"), out[(L, "forward", "Z")])
    Yf = f(Y)
    out[(L, "forward", "loss")] = np.asarray(np.linalg.norm(Zout - Yf, "fro") ** 2, dtype=dtype)

    # ---- backward ----
    out[(L, "backward", "dXidS")] = 2 * (Zout - Yf)

    def Z_of(m):               # MATLAB's Z{m} (input of layer m), as the mask needs it
        return Z_in(m)

    for m in range(L, LC, -1):
        delta = get((m, "backward", "dXidS"), out.get((m, "backward", "dXidS")))
        zm = reshape(Z_of(m), -1, n)
        out[(m, "backward", "dlossdW")] = mtimes(delta, zm.T)
        out[(m, "backward", "dlossdb")] = np.sum(delta, axis=1, keepdims=True)
        if m > 1:
            V = mtimes(W[m].T, delta)
            out[(m, "backward", "WtDelta")] = V
            V_M = get((m, "backward", "WtDelta"), V)
            act = V_M * (zm > 0)
            out[(m, "backward", "activation")] = act
            out[(m - 1, "backward", "dXidS")] = get((m, "backward", "activation"), act)
    for m in range(LC, 0, -1):
        d_next, d = int(model.ch_input[m + 1]), int(model.ch_input[m])
        delta = get((m, "backward", "dXidS"), out.get((m, "backward", "dXidS")))
        delta = reshape(delta, d_next, -1)
        net2 = _net_copy(net)
        net2.num_sampled_data = n
        if int(model.wd_subimage_pool[m]) > 1:
            idx_M = M.get((m, "forward", "idx_pool"))
            if idx_M is not None:
                net2.idx_pool[m] = np.asfortranarray(np.asarray(idx_M)).astype(np.int64)
            P = reshape(vTP(param, model, net2, m, delta, "pool_gradient"), d_next, -1)
            out[(m, "backward", "pool_gradient")] = P
            P = reshape(get((m, "backward", "pool_gradient"), P), d_next, -1)
        else:
            P = delta
        phiZ_M = get((m, "forward", "phiZ"), out[(m, "forward", "phiZ")])
        out[(m, "backward", "dlossdW")] = mtimes(P, phiZ_M.T)
        out[(m, "backward", "dlossdb")] = np.sum(P, axis=1, keepdims=True)
        if m > 1:
            V = mtimes(W[m].T, P)
            out[(m, "backward", "WtDelta")] = V
            V_M = get((m, "backward", "WtDelta"), V)
            G = reshape(vTP(param, model, net2, m, V_M, "phi_gradient"), d, -1)
            out[(m, "backward", "phi_gradient")] = G
            G_M = reshape(get((m, "backward", "phi_gradient"), G), d, -1)
            a_pad, b_pad = int(model.ht_pad[m]), int(model.wd_pad[m])
            idx = np.asarray(net.idx_pad[m]).reshape(-1, 1) + a_pad * b_pad * np.arange(n)
            U = cols(G_M, idx.reshape(-1, order="F"))            # idx(:), column-major
            out[(m, "backward", "unpad")] = U
            U_M = reshape(get((m, "backward", "unpad"), U), d, -1)
            act = U_M * (reshape(Z_of(m), d, -1) > 0)
            out[(m, "backward", "activation")] = act
            out[(m - 1, "backward", "dXidS")] = get((m, "backward", "activation"), act)
    return out
