"""Where two values of a stage differ, as a grid small enough to draw.

The judge keeps, for the first divergent stage (else the stage with the
largest error), block maxima of the difference laid out as MATLAB's array:
the report draws it as a heatmap without the arrays, which live only as
long as the sources' runs.
"""
from __future__ import annotations

import math

import numpy as np


def heatmap_grid(a, b, precision, max_rows=48, max_cols=160):
    """Block maxima of |a - b| / max|b| over a grid of at most max_rows x max_cols.

    ``b`` (MATLAB's value) gives the layout: its 2-D shape as MATLAB has it
    (``a`` is read in column-major order into it).  A vector (one row or one
    column) becomes a 1 x k strip of at most ``2 * max_cols`` cells.  NaN on
    one side counts as an infinite difference."""
    dtype = np.float32 if precision == "single" else np.float64
    A = np.asarray(a)
    B = np.asarray(b)
    if A.size != B.size or A.size == 0:
        return None
    original = list(B.shape)
    shape = B.shape if B.ndim == 2 else (B.size, 1)
    vector = min(shape) == 1
    if vector:
        shape = (1, B.size)
        max_rows, max_cols = 1, 2 * max_cols
    A = A.astype(dtype, copy=False).reshape(shape, order="F")
    B = B.astype(dtype, copy=False).reshape(shape, order="F")
    rows, cols = shape
    br, bc = int(math.ceil(rows / max_rows)), int(math.ceil(cols / max_cols))
    gr, gc = int(math.ceil(rows / br)), int(math.ceil(cols / bc))
    finite_b = np.abs(B[np.isfinite(B)]) if B.size else B
    scale = float(np.max(finite_b)) if finite_b.size else 0.0
    grid = np.zeros((gr, gc))
    for i in range(gr):
        blockA = A[i * br:(i + 1) * br].astype(np.float64)
        blockB = B[i * br:(i + 1) * br].astype(np.float64)
        with np.errstate(invalid="ignore"):
            d = np.abs(blockA - blockB)
        same = (blockA == blockB) | (np.isnan(blockA) & np.isnan(blockB))
        d = np.where(same, 0.0, np.where(np.isnan(d), np.inf, d))
        for j in range(gc):
            grid[i, j] = d[:, j * bc:(j + 1) * bc].max(initial=0.0)
    rel = grid / scale if scale > 0 else grid
    return {"rows": rows, "cols": cols, "block": [br, bc], "scale": scale, "grid": rel.tolist(),
            "shape": original, "vector": vector, "folded": False}


def worst_heatmap(results, values_a, values_b, precision):
    """Heatmap data of the first divergent stage (where the sides start to
    differ), else of the stage with the largest error.  ``values_a`` and
    ``values_b``: {key: array} of the stages compared (the candidate's as
    the judge compared them, the reference's)."""
    first = next((r for r in results if r.compared and not r.ok and not r.explained and r.key() in values_a
                  and np.size(values_a[r.key()]) == np.size(values_b[r.key()])), None)
    cands = [r for r in results if r.compared and r.kind == "array" and r.rel_err is not None
             and r.key() in values_a]
    if first is None and not cands:
        return None
    rank = lambda r: (r.rel_err if np.isfinite(r.rel_err) else 1e300, r.max_abs_err or 0.0)  # noqa: E731
    w = first if first is not None else max(cands, key=rank)
    hm = heatmap_grid(values_a[w.key()], values_b[w.key()], precision)
    if hm is None:
        return None
    hm.update(layer=w.layer, direction=w.direction, stage=w.stage, rel_err=w.rel_err)
    return hm
