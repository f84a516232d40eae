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
    return ties_combined([tie_pieces(model, m, n, py, mat, sigma)], rtol)


def tie_pieces(model, m, n, py, mat, sigma):
    """What ``tie_explained`` decides from, for ``n`` instances (one chunk of
    a streamed compare, or all): the windows whose gradient moved and all
    windows, whether each moved window is a tie, and the squared norms of the
    moved windows' gradient sums (difference, MATLAB's) and of the gradient
    with the moved windows taken as MATLAB's (difference, MATLAB's); None
    when the sizes do not fit the layer."""
    d, k = int(model.ch_input[m + 1]), int(model.wd_subimage_pool[m])
    a, b = int(model.ht_conv[m]), int(model.wd_conv[m])
    if np.size(py) != np.size(mat) or np.size(sigma) != np.size(mat) or k <= 1:
        return None
    P, M, S = (_windows(x, d, a, b, n, k) for x in (py, mat, sigma))
    scale = np.maximum(np.abs(P).max(axis=-1), np.abs(M).max(axis=-1))
    moved = np.abs(P - M).max(axis=-1) > 0.5 * scale
    top = np.sort(S[moved], axis=-1)
    eps = np.finfo(np.float32 if np.asarray(py).dtype == np.float32 else np.float64).eps
    tied = not np.any(top[:, -1] - top[:, -2] > 16 * eps * np.abs(top[:, -1]))
    sp, sm = P[moved].sum(axis=-1), M[moved].sum(axis=-1)
    fixed = np.asarray(py, dtype=np.float64).reshape(d, a, b, n, order="F").copy()
    a_out, b_out = a // k, b // k
    Pf = np.where(moved[..., None], M, P)                       # the moved windows taken as MATLAB's
    fixed[:, :a_out * k, :b_out * k, :] = Pf.reshape(d, n, a_out, b_out, k, k).transpose(0, 2, 4, 3, 5, 1) \
        .reshape(d, a_out * k, b_out * k, n)
    ref = np.asarray(mat, dtype=np.float64).reshape(fixed.shape, order="F")
    sq = lambda x: float(np.sum(np.square(x)))  # noqa: E731
    return {"moved": int(moved.sum()), "windows": int(moved.size), "tied": bool(tied),
            "sums": (sq(sp - sm), sq(sm)), "fixed": (sq(fixed - ref), sq(ref))}


def ties_combined(pieces, rtol):
    """``tie_explained``'s answer from the ``tie_pieces`` of consecutive
    instance chunks: the moved windows all ties, the gradient sums and the
    fixed gradient within ``rtol`` in norm over all the chunks."""
    tiny = np.finfo(np.float64).tiny
    if not pieces or any(p is None for p in pieces):
        return False, 0, 0
    moved, windows = sum(p["moved"] for p in pieces), sum(p["windows"] for p in pieces)
    if not moved or not all(p["tied"] for p in pieces):
        return False, 0, 0
    for what in ("sums", "fixed"):
        d, ref = (np.sqrt(sum(p[what][i] for p in pieces)) for i in (0, 1))
        if d > rtol * max(ref, tiny):
            return False, 0, 0
    return True, moved, windows


def explain_pooling_ties(result, inputs, P, M):
    """Accept the pool gradients that differ by the tie rule only, then the verdict again."""
    model, prob = inputs[1], inputs[2]
    n = int(prob.l)

    def explain(r):
        key, sig = r.key(), (r.layer, "forward", "sigmaS")
        sigma = M.get(sig)
        if sigma is None or key not in P or M.get(key) is None:
            return False, 0, 0
        return tie_explained(model, r.layer, n, P[key], M[key], sigma, result.rtol)

    accept_ties(result, explain)


def accept_ties(result, explain):
    """Each failing ``pool_gradient`` row that ``explain(row)`` says is ties
    only (``(ok, windows moved, windows)``) accepted with a note; the first
    divergence and the verdict again."""
    for r in result.stages:
        if r.stage != "pool_gradient" or r.direction != "backward" or not r.compared or r.ok:
            continue
        ok, count, windows = explain(r)
        if ok:
            r.ok, r.explained = True, True
            r.note = (f"in {count} of {windows} pooling windows the gradient went to another of two equal "
                      "maxima (identical patches: PyTorch takes the first row by row, simpleNN column by "
                      "column); each window's gradient agrees" + ("; " + r.note if r.note else ""))
    first = next((r for r in result.stages if r.compared and not r.ok and not r.explained), None)
    was = result.first_divergence or {}
    if first is None or (was.get("layer"), was.get("direction"), was.get("stage")) != first.key():
        result.first_divergence = None if first is None else {"layer": first.layer, "direction": first.direction,
                                                             "stage": first.stage}
    result.ok = first is None and any(r.compared for r in result.stages)
