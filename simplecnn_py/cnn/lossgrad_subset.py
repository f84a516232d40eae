"""``[net, loss] = lossgrad_subset(prob, param, model, net, batch_idx, task)``.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/lossgrad_subset.m``. This repository's MATLAB twins:
``matlab_ref/seed/cnn/lossgrad_subset.m`` (this signature, the backward pass
inline) and ``matlab_ref/current/MATLAB/cnn/lossgrad_subset.m``
(``lossgrad_subset(prob, model, net, batch_idx, task)``, calling ``JTv``).

Seed layout: the forward pass on the instances ``batch_idx`` (1-based), the
squared loss ``norm(Z{L+1} - Y, 'fro')^2`` with Y the one-hot columns of
``prob.label_mat``, and for ``task == 'fungrad'`` the backward pass of the
gradient-calculation slides' "summary of operations" and code segment (eqs.
(19)-(22) for full layers, (26)-(28) for conv layers), summed over the batch:

    dXidS = 2*(Z{L+1} - Y)                                        (layer L)
    full m = L..LC+1:   dlossdW{m} = dXidS*Z{m}'        (19)
                        dlossdb{m} = sum(dXidS, 2)      (20)
                        dXidS = (W{m}'*dXidS) .* (Z{m} > 0)        (21), (22)
    dXidS = reshape(dXidS, ch_input(LC+1), [])
    conv m = LC..1:     dXidS = mat(vec(dXidS)' P_pool)  if pooled  (26)
                        dlossdW{m} = dXidS*phiZ{m}'     (27), (12)
                        dlossdb{m} = dXidS*ones         (14)
                        m > 1: V = W{m}'*dXidS
                               dXidS = mat(vec(V)' P_phi)           (28)
                               dXidS = dXidS(:, idx_pad + a_pad*b_pad*[0:n-1])   (P_pad)
                               dXidS = dXidS .* (Z{m} > 0)

Results go to ``net.dlossdW{m}`` (MATLAB's shape of ``weight{m}``) and
``net.dlossdb{m}`` (column).  The seed original writes the backward pass
inline here; the port keeps it once, in ``JTv`` (as the current layout
does: ``lossgrad_subset`` calls ``JTv(model, net, 2*(Z{L+1} - Y))``), so the
lines to read beside the slides' code segment are in ``JTv.py``.  Traced stages: forward (see feedforward) and
``(L, 'forward', 'loss')``; backward: full m: dXidS, dlossdW, dlossdb, and,
for m > 1, WtDelta, activation; conv m: dXidS, pool_gradient, dlossdW,
dlossdb, and for m > 1 WtDelta, phi_gradient, unpad, activation.

The lines below are the reference.  Unless it is selected
(``SIMPLECNN_REFERENCE=1`` or ``fast.use_reference()``), an untraced call
runs ``simplecnn_py/fast/lossgrad_subset.py``'s fused, chunked pass: the same values up to
the rounding of the products (BLAS orders their sums by the products'
widths), and dlossdW/dlossdb/loss summed chunk by chunk.
That pass keeps phiZ only chunk by chunk (as the seed original, whose backward
pass expands it again, keeps none): ``net.phiZ`` is a ``fast.padding_and_phiZ.LazyPhiZ``
that rebuilds phiZ{m} from Z{m}, bit for bit, the first time it is read.
"""
from __future__ import annotations

import numpy as np

from .. import fast
from ..support import trace
from ..fast import lossgrad_subset as fast_path
from ..support.conventions import cols, float_type, ftype
from .JTv import JTv
from .feedforward import check_height, feedforward


def lossgrad_subset(prob, param, model, net, batch_idx, task):
    if task not in ("funonly", "fungrad"):
        raise ValueError(f"lossgrad_subset: unknown task {task!r}")
    check_height(prob.data, model)
    if fast.enabled() and (out := fast_path.lossgrad_subset(prob, param, model, net, batch_idx, task)) is not None:
        return out                              # fast/lossgrad_subset.py, fused; steps aside when tracing
    dtype = float_type(param)
    L = model.L
    batch_idx = np.asarray(batch_idx).reshape(-1)

    Y = ftype(cols(prob.label_mat, batch_idx), dtype)
    net = feedforward(cols(prob.data, batch_idx), param, model, net)

    residual = net.Z[L + 1] - Y
    loss = np.linalg.norm(residual, "fro") ** 2
    trace.record(L, "forward", "loss", loss)
    if task == "funonly":
        return net, loss

    # the backward pass, eqs. (19)-(28): the current layout's JTv(model, net, v), called from the seed layout
    net.dlossdW, net.dlossdb = JTv(model, net, 2 * residual)
    return net, loss
