"""Ties in max pooling, PyTorch against simpleNN.

When a pooling window holds two exactly equal maxima (identical patches of
an image give identical convolution outputs: the saturated strokes of
MNIST), both sides take the *first* maximum, but they scan the window in
different orders: PyTorch row by row, simpleNN column by column (its window
index is i + h*j).  The gradient of that window then goes to another
position: ``pool_gradient`` differs there, while each window's gradient is
the same and, the patches being identical, so are ``dlossdW`` and
``dlossdb``.  Such a ``pool_gradient`` is accepted with a note (``ok*``) when
every window where the two differ is an exact tie whose gradient sums agree;
anything else stays a divergence.
"""
from __future__ import annotations

import numpy as np


def _windows(A, d, a, b, n, k):
    """d x (a*b*n) -> (d, n, a_out, b_out, k*k) of the whole k x k windows."""
    a_out, b_out = a // k, b // k
    X = np.asarray(A, dtype=np.float64).reshape(d, a, b, n, order="F")[:, :a_out * k, :b_out * k, :]
    X = X.reshape(d, a_out, k, b_out, k, n).transpose(0, 5, 1, 3, 2, 4)
    return X.reshape(d, n, a_out, b_out, k * k)


def tie_explained(model, m, n, py, mat, sigma, rtol):
    """(True, windows whose gradient moved, windows) when the two pool
    gradients differ, beyond ``rtol``, only by windows whose gradient went to
    another position of a (near-)tie of ``sigma`` (two maxima within 16 ULP),
    the window's gradient being the same."""
    d, k = int(model.ch_input[m + 1]), int(model.wd_subimage_pool[m])
    a, b = int(model.ht_conv[m]), int(model.wd_conv[m])
    if np.size(py) != np.size(mat) or np.size(sigma) != np.size(mat) or k <= 1:
        return False, 0, 0
    P, M, S = (_windows(x, d, a, b, n, k) for x in (py, mat, sigma))
    scale = np.maximum(np.abs(P).max(axis=-1), np.abs(M).max(axis=-1))
    moved = np.abs(P - M).max(axis=-1) > 0.5 * scale
    if not moved.any():
        return False, 0, 0
    top = np.sort(S[moved], axis=-1)
    eps = np.finfo(np.float32 if np.asarray(py).dtype == np.float32 else np.float64).eps
    if np.any(top[:, -1] - top[:, -2] > 16 * eps * np.abs(top[:, -1])):
        return False, 0, 0
    sp, sm = P[moved].sum(axis=-1), M[moved].sum(axis=-1)
    if np.linalg.norm(sp - sm) > rtol * max(np.linalg.norm(sm), np.finfo(np.float64).tiny):
        return False, 0, 0
    fixed = np.asarray(py, dtype=np.float64).reshape(d, a, b, n, order="F").copy()
    a_out, b_out = a // k, b // k
    Pf = np.where(moved[..., None], M, P)                       # the moved windows taken as MATLAB's
    fixed[:, :a_out * k, :b_out * k, :] = Pf.reshape(d, n, a_out, b_out, k, k).transpose(0, 2, 4, 3, 5, 1) \
        .reshape(d, a_out * k, b_out * k, n)
    ref = np.asarray(mat, dtype=np.float64).reshape(fixed.shape, order="F")
    if np.linalg.norm(fixed - ref) > rtol * max(np.linalg.norm(ref), np.finfo(np.float64).tiny):
        return False, 0, 0
    return True, int(moved.sum()), int(moved.size)


def explain_pooling_ties(result, inputs, P, M):
    """Accept the pool gradients that differ by the tie rule only, then the verdict again."""
    model, prob = inputs[1], inputs[2]
    n = int(prob.l)
    for r in result.stages:
        if r.stage != "pool_gradient" or r.direction != "backward" or not r.compared or r.ok:
            continue
        key, sig = r.key(), (r.layer, "forward", "sigmaS")
        sigma = M.get(sig)
        if sigma is None or key not in P or M.get(key) is None:
            continue
        ok, count, windows = tie_explained(model, r.layer, n, P[key], M[key], sigma, result.rtol)
        if ok:
            r.ok, r.explained = True, True
            r.note = (f"in {count} of {windows} pooling windows the gradient went to another of two equal "
                      "maxima (identical patches: PyTorch takes the first row by row, simpleNN column by "
                      "column); each window's gradient agrees" + ("; " + r.note if r.note else ""))
    first = next((r for r in result.stages if r.compared and not r.ok and not r.explained), None)
    result.first_divergence = None if first is None else {"layer": first.layer, "direction": first.direction,
                                                         "stage": first.stage}
    result.ok = first is None and any(r.compared for r in result.stages)
