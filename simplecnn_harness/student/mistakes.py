"""The backward pass with a classic mistake made on purpose (for ``check_gradient``).

``backward(model, net, v, mistake)`` is ``JTv``'s backward pass (slides,
eqs. (19)-(22), (26)-(28)) on the forward pass kept in ``net``, with at most
one mistake a student deriving it by hand makes.  ``check_gradient`` runs
every mistake of ``mistakes(model)`` and names the one that reproduces the
student's numbers.  The port itself is never changed.

A mistake is a ``Mistake(kind, layer, arg)``; ``layer`` None means "at every
layer where it can happen".  Kinds (``CAUSES`` has the text shown to the
student):

* ``no_mask``: the ReLU mask ``.* (Z{m} > 0)`` left out (eq. (22), and the
  last step of the conv layer).
* ``pool_every``: the pool gradient (26) sent to every position of the window
  (``arg`` 'copy'), or spread evenly, as average pooling's (``arg`` 'mean'),
  instead of to the window's maximum only.
* ``rowmajor``: a row-major reshape (numpy's default ``order='C'``) where
  simpleNN reshapes column-major: ``arg`` 'boundary' (the full -> conv
  reshape of dXidS to ch_input(LC+1) rows), 'pool' or 'phi' (the reshape of
  vTP's row).
* ``index_slip``: 1-based indices used as 0-based (``arg`` +1) or an extra
  ``- 1`` (``arg`` -1): the pool scatter, phi scatter or unpadding reads or
  writes one position off (``Mistake.where`` in 'pool', 'phi', 'unpad').
* ``transposed_W``: ``W{m}*dXidS`` for ``W{m}'*dXidS`` (only where W{m} is
  square, else the shapes would not fit).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simplecnn_py.support.conventions import accumarray, cell, cols, ftype, mtimes, reshape, to0, vec
from simplecnn_py.cnn.vTP import vTP

__all__ = ["Mistake", "mistakes", "backward"]


@dataclass(frozen=True)
class Mistake:
    kind: str
    layer: int | None = None        # None: at every layer where it applies
    arg: object = None
    where: str | None = None        # index_slip: 'pool' | 'phi' | 'unpad'
    spill: bool = False             # index_slip at 'pool': one scatter over the batch (spills over)

    def at(self, m):
        return self.layer is None or self.layer == m

    def first_stage(self, model):
        """The first (m, stage) of the backward pass this mistake changes."""
        L, LC = model.L, model.LC
        if self.kind == "rowmajor" and self.arg == "boundary":
            return (LC, "dXidS")
        stage = {"no_mask": "activation", "pool_every": "pool_gradient", "transposed_W": "WtDelta",
                 "rowmajor": f"{self.arg}_gradient"}.get(self.kind)
        if self.kind == "index_slip":
            stage = {"pool": "pool_gradient", "phi": "phi_gradient", "unpad": "unpad"}[self.where]
        if self.layer is not None:
            return (self.layer, stage)
        if self.kind == "no_mask":
            return (L, stage) if L > LC else (LC, stage)
        if stage == "pool_gradient":
            return (max(m for m in range(1, LC + 1) if model.wd_subimage_pool[m] > 1), stage)
        return (LC, stage)

    def describe(self):
        at = "every layer" if self.layer is None else f"layer {self.layer}"
        if self.kind == "no_mask":
            return f"ReLU mask (Z{{m}} > 0) left out at {at}"
        if self.kind == "pool_every":
            how = "copied to" if self.arg == "copy" else "divided evenly among"
            return f"pool gradient {how} every window position at {at}"
        if self.kind == "rowmajor":
            what = {"boundary": "of dXidS from the full layers to ch_input(LC+1) rows",
                    "pool": "of the pool gradient (vTP's row)", "phi": "of the phi gradient (vTP's row)"}[self.arg]
            return f"row-major reshape {what}" + ("" if self.arg == "boundary" else f" at {at}")
        if self.kind == "index_slip":
            return f"{self.where} indices {'+1' if self.arg > 0 else '-1'} off (1-based used as 0-based) at {at}"
        if self.kind == "transposed_W":
            return f"W{{m}}*dXidS for W{{m}}'*dXidS at {at}"
        return self.kind


def mistakes(model):
    """Every mistake the backward pass of this network can have, the
    every-layer variants first."""
    L, LC = model.L, model.LC
    masked = [m for m in range(L, LC, -1)] + [m for m in range(LC, 1, -1)]
    pooled = [m for m in range(LC, 0, -1) if model.wd_subimage_pool[m] > 1]
    phi = [m for m in range(LC, 1, -1)]
    out = [Mistake("no_mask")] + [Mistake("no_mask", m) for m in masked]
    for how in ("copy", "mean"):
        if pooled:
            out += [Mistake("pool_every", None, how)] + [Mistake("pool_every", m, how) for m in pooled]
    out.append(Mistake("rowmajor", None, "boundary"))
    if pooled:
        out += [Mistake("rowmajor", None, "pool")] + [Mistake("rowmajor", m, "pool") for m in pooled]
    if phi:
        out += [Mistake("rowmajor", None, "phi")] + [Mistake("rowmajor", m, "phi") for m in phi]
    for where, layers in (("pool", pooled), ("phi", phi), ("unpad", phi)):
        for k in (+1, -1):
            if layers:
                for spill in ((False, True) if where == "pool" else (False,)):
                    out += [Mistake("index_slip", None, k, where, spill)]
                    out += [Mistake("index_slip", m, k, where, spill) for m in layers]
    square = [m for m in range(1, L + 1) if m > 1 and model.weight[m].shape[0] == model.weight[m].shape[1]]
    out += [Mistake("transposed_W", m) for m in square]
    return out


def _rows(row, d, n, mistake, m, arg):
    """``reshape(row, d, [])``; with a row-major mistake here, each instance's
    block of d*k values is read as numpy's ``reshape(block, (d, k))`` does
    (order='C': the k values of channel 0 first, where simpleNN has the d
    channels of position 1 first)."""
    if mistake is not None and mistake.kind == "rowmajor" and mistake.arg == arg and mistake.at(m):
        per_instance = reshape(np.asarray(row), -1, n)                       # column i = instance i
        out = np.reshape(per_instance.T, (n, d, -1), order="C")             # out[i, c, k]
        return np.asfortranarray(np.reshape(np.transpose(out, (1, 0, 2)), (d, -1), order="C"))
    return reshape(row, d, -1)


def _scatter_shifted(subs1, V, N, k):
    """``accumarray(subs + k, V(:), [N 1])``, what falls outside 1..N dropped."""
    subs0 = to0(vec(np.asarray(subs1))) + k
    vals = vec(np.asarray(V))
    keep = (subs0 >= 0) & (subs0 < N)
    out = np.zeros(N, dtype=vals.dtype)
    np.add.at(out, subs0[keep], vals[keep])
    return out


def _slip(mistake, where, m):
    if mistake is not None and mistake.kind == "index_slip" and mistake.where == where and mistake.at(m):
        return mistake.arg
    return 0


class _Stop(Exception):
    pass


class _Records(dict):
    """The stages computed so far; stops the pass once ``until`` is stored."""

    def __init__(self, until):
        super().__init__()
        self.until = until

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if key == self.until:
            raise _Stop


def backward(model, net, v, mistake=None, until=None):
    """JTv's backward pass with ``mistake`` (None: none): ``(dzdW, dzdb, records)``,
    records keyed ``(m, stage)`` with docs/design.md's backward stage names.
    With ``until`` = (m, stage) the pass stops once that stage is computed
    (dzdW, dzdb are then None)."""
    rec = _Records(until)
    try:
        dzdW, dzdb = _backward(model, net, v, mistake, rec)
    except _Stop:
        return None, None, dict(rec)
    return dzdW, dzdb, dict(rec)


def _backward(model, net, v, mistake, rec):
    L, LC = model.L, model.LC
    n = net.num_sampled_data
    dtype = v.dtype
    dzdW, dzdb = cell(L), cell(L)

    def weight_product(m, D):
        W = ftype(model.weight[m], dtype)
        if mistake is not None and mistake.kind == "transposed_W" and mistake.at(m):
            return mtimes(W, D)
        return mtimes(W.T, D)

    def mask(m, D):
        if mistake is not None and mistake.kind == "no_mask" and mistake.at(m):
            return D
        return D * (net.Z[m] > 0)

    dXidS = v
    for m in range(L, LC, -1):
        rec[(m, "dXidS")] = dXidS
        dzdW[m] = mtimes(dXidS, net.Z[m].T)
        dzdb[m] = np.sum(dXidS, axis=1, keepdims=True)
        rec[(m, "dlossdW")], rec[(m, "dlossdb")] = dzdW[m], dzdb[m]
        dXidS = weight_product(m, dXidS)
        rec[(m, "WtDelta")] = dXidS
        dXidS = mask(m, dXidS)
        rec[(m, "activation")] = dXidS

    dXidS = _rows(dXidS, model.ch_input[LC + 1], n, mistake, None, "boundary")
    for m in range(LC, 0, -1):
        rec[(m, "dXidS")] = dXidS
        h = model.wd_subimage_pool[m]
        if h > 1:
            d, a, b = model.ch_input[m + 1], model.ht_conv[m], model.wd_conv[m]
            a_o = model.ht_input[m + 1] * model.wd_input[m + 1]          # pooled positions per instance
            if mistake is not None and mistake.kind == "pool_every" and mistake.at(m):
                row = _every_position(dXidS, d, a, b, h, n, mistake.arg)
            elif _slip(mistake, "pool", m):
                k = _slip(mistake, "pool", m)
                if mistake.spill:           # one accumarray over the batch: into the next instance
                    row = _scatter_shifted(net.idx_pool[m] + d * a * b * np.arange(n), dXidS, d * a * b * n, k)
                else:                       # instance by instance: what falls off an instance is lost
                    row = np.concatenate([_scatter_shifted(net.idx_pool[m][:, i], dXidS[:, i * a_o:(i + 1) * a_o],
                                                           d * a * b, k) for i in range(n)])
            else:
                row = vTP(None, model, net, m, dXidS, "pool_gradient")
            dXidS = _rows(row, d, n, mistake, m, "pool")
            rec[(m, "pool_gradient")] = dXidS
        dzdW[m] = mtimes(dXidS, net.phiZ[m].T)
        dzdb[m] = np.sum(dXidS, axis=1, keepdims=True)
        rec[(m, "dlossdW")], rec[(m, "dlossdb")] = dzdW[m], dzdb[m]
        if m > 1:
            V = weight_product(m, dXidS)
            rec[(m, "WtDelta")] = V
            d, a_pad, b_pad = model.ch_input[m], model.ht_pad[m], model.wd_pad[m]
            if _slip(mistake, "phi", m):
                N = d * a_pad * b_pad
                subs = np.add(net.idx_phiZ[m], N * np.arange(n), order="F")
                row = _scatter_shifted(subs, V, N * n, _slip(mistake, "phi", m))
            else:
                row = vTP(None, model, net, m, V, "phi_gradient")
            dXidS = _rows(row, d, n, mistake, m, "phi")
            rec[(m, "phi_gradient")] = dXidS
            idx = vec(net.idx_pad[m] + a_pad * b_pad * np.arange(n))
            k = _slip(mistake, "unpad", m)
            if k:
                idx = idx + k
                inside = (idx >= 1) & (idx <= dXidS.shape[1])
                out = np.zeros((dXidS.shape[0], idx.size), dtype=dXidS.dtype, order="F")
                out[:, inside] = dXidS[:, to0(idx[inside])]
                dXidS = out
            else:
                dXidS = cols(dXidS, idx)
            rec[(m, "unpad")] = dXidS
            dXidS = mask(m, dXidS)
            rec[(m, "activation")] = dXidS
    return dzdW, dzdb


def _every_position(D, d, a, b, h, n, how):
    """The pool gradient with each pooled value put at every position of its
    h x h window ('copy'), or divided by h*h ('mean'); leftover rows and
    columns (a, b not multiples of h) get nothing.  Length d*a*b*n."""
    a_out, b_out = a // h, b // h
    D4 = reshape(D, d, a_out, b_out, n)
    out = np.zeros((d, a, b, n), dtype=D.dtype, order="F")
    scale = 1.0 if how == "copy" else 1.0 / (h * h)
    for j in range(h):
        for i in range(h):
            out[:, i:a_out * h:h, j:b_out * h:h, :] = D4 * scale
    return vec(out)
