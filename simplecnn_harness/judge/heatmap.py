"""Where two values of a stage differ, as a grid small enough to draw.

The judge keeps, for the first divergent stage (else the stage with the
largest error), block maxima of the difference laid out as MATLAB's array:
the report draws it as a heatmap without the arrays, which live only as
long as the sources' runs.

A streamed compare builds the same grid piece by piece (:class:`GridStream`,
fed by :class:`MappedAccumulator`): the grid's layout is that of the whole
array (known from the first chunk's shape and the number of instances), the
block maxima of the pieces that differ are combined by max, and the scale
(the largest finite MATLAB magnitude) by max over every piece: the same
numbers as :func:`heatmap_grid` on the whole arrays.
"""
from __future__ import annotations

import math

import numpy as np

from . import metrics as C

MAX_ROWS, MAX_COLS = 48, 160


def grid_layout(shape, size, max_rows=MAX_ROWS, max_cols=MAX_COLS):
    """``(rows, cols, row block, column block, grid rows, grid columns, vector)`` of the
    heatmap of an array of MATLAB shape ``shape`` with ``size`` entries (see :func:`heatmap_grid`)."""
    shape = tuple(shape) if len(shape) == 2 else (size, 1)
    vector = min(shape) == 1
    if vector:
        shape = (1, size)
        max_rows, max_cols = 1, 2 * max_cols
    rows, cols = shape
    br, bc = int(math.ceil(rows / max_rows)), int(math.ceil(cols / max_cols))
    return rows, cols, br, bc, int(math.ceil(rows / br)), int(math.ceil(cols / bc)), vector


def heatmap_grid(a, b, precision, max_rows=MAX_ROWS, max_cols=MAX_COLS):
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
    rows, cols, br, bc, gr, gc, vector = grid_layout(B.shape, B.size, max_rows, max_cols)
    A = A.astype(dtype, copy=False).reshape((rows, cols), order="F")
    B = B.astype(dtype, copy=False).reshape((rows, cols), order="F")
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
    return _finish(grid, scale, rows, cols, br, bc, original, vector)


def _finish(grid, scale, rows, cols, br, bc, original, vector):
    rel = grid / scale if scale > 0 else grid
    return {"rows": rows, "cols": cols, "block": [br, bc], "scale": scale, "grid": rel.tolist(),
            "shape": original, "vector": vector, "folded": False}


class GridStream:
    """:func:`heatmap_grid` of two arrays given as consecutive pieces of their
    column-major flat values (instance chunks: the instances are the last axis).

    ``shape``: MATLAB's shape of one chunk of ``instances`` instances; ``n``:
    the instances of the whole run (the whole array's shape is the chunk's
    with its last axis scaled)."""

    def __init__(self, shape, instances, n):
        shape = list(shape)
        size = int(np.prod(shape)) if shape else 1
        self.ok = size > 0 and size % instances == 0 and (len(shape) != 2 or shape[-1] % instances == 0)
        if not self.ok:
            return
        whole = shape[:-1] + [shape[-1] // instances * n] if shape else []
        self.size = size // instances * n
        self.rows, self.cols, self.br, self.bc, gr, gc, self.vector = grid_layout(whole, self.size)
        self.grid = np.zeros((gr, gc))
        self.scale = 0.0
        self.shape = whole

    def scale_of(self, y):
        """Take a piece of MATLAB's values into the scale (its largest finite magnitude)."""
        if not y.size:
            return
        hi, lo = y.max(), y.min()
        if np.isfinite(hi) and np.isfinite(lo):
            s = max(abs(float(hi)), abs(float(lo)))
        else:
            fin = y[np.isfinite(y)]
            s = float(np.max(np.abs(fin))) if fin.size else 0.0
        self.scale = max(self.scale, s)

    def add(self, x, y, offset):
        """The block maxima of a piece that differs: ``x``, ``y`` (flat, the working
        precision) are the whole arrays' entries ``offset .. offset + len - 1``."""
        with np.errstate(invalid="ignore"):
            x64, y64 = x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)
            d = np.abs(x64 - y64)
            nan = np.isnan(d)
            if nan.any():
                same = (x64 == y64) | (np.isnan(x64) & np.isnan(y64))
                d = np.where(same, 0.0, np.where(nan, np.inf, d))
        R = self.rows
        c0, r0 = divmod(offset, R)
        ncol = -(-(r0 + d.size) // R)
        full = np.zeros(ncol * R)
        full[r0:r0 + d.size] = d
        full = full.reshape((R, ncol), order="F")
        by_rows = np.maximum.reduceat(full, np.arange(0, R, self.br), axis=0)      # grid rows x columns
        first = (-c0) % self.bc                                                    # the next column block's start
        starts = np.concatenate(([0], np.arange(first if first else self.bc, ncol, self.bc)))
        starts = np.unique(starts)
        cells = np.maximum.reduceat(by_rows, starts, axis=1)
        j0 = c0 // self.bc
        np.maximum(self.grid[:, j0:j0 + cells.shape[1]], cells, out=self.grid[:, j0:j0 + cells.shape[1]])

    def result(self, shape=None):
        return _finish(self.grid, self.scale, self.rows, self.cols, self.br, self.bc,
                       list(shape) if shape is not None else self.shape, self.vector)


class MappedAccumulator(C.Accumulator):
    """A ``metrics.Accumulator`` that also builds the heatmap grid of the arrays
    it is fed (``grid``: a :class:`GridStream`): every block goes into the
    scale, only blocks with differing entries into the block maxima."""

    def __init__(self, grid):
        super().__init__()
        self.grid = grid

    def add(self, x, y):
        self.grid.scale_of(y)
        if np.array_equal(x, y):            # the usual block: equal entries, only ||b||^2 grows (as in add)
            y64 = y.astype(np.float64, copy=False)
            cb = float(np.dot(y64, y64))
            if np.isfinite(cb):
                self.seen += x.size
                self.sq_b += cb
                return
        offset, before = self.seen, self.n_diff
        super().add(x, y)
        if self.n_diff != before:
            self.grid.add(x, y, offset)


def heatmap_stage(results, usable):
    """The stage whose heatmap is shown: the first divergent one (where the
    sides start to differ) among those ``usable(key)`` says have values of one
    size, else the array stage with the largest error; None when neither."""
    first = next((r for r in results if r.compared and not r.ok and not r.explained and usable(r.key())), None)
    if first is not None:
        return first
    cands = [r for r in results if r.compared and r.kind == "array" and r.rel_err is not None
             and usable(r.key(), sized=False)]
    if not cands:
        return None
    rank = lambda r: (r.rel_err if np.isfinite(r.rel_err) else 1e300, r.max_abs_err or 0.0)  # noqa: E731
    return max(cands, key=rank)


def worst_heatmap(results, values_a, values_b, precision):
    """Heatmap data of the first divergent stage (where the sides start to
    differ), else of the stage with the largest error.  ``values_a`` and
    ``values_b``: {key: array} of the stages compared (the candidate's as
    the judge compared them, the reference's)."""
    def usable(key, sized=True):
        return key in values_a and (not sized or np.size(values_a[key]) == np.size(values_b[key]))

    w = heatmap_stage(results, usable)
    if w is None:
        return None
    hm = heatmap_grid(values_a[w.key()], values_b[w.key()], precision)
    return labelled(hm, w)


def labelled(hm, w):
    """The grid ``hm`` named after the stage result ``w`` (None stays None)."""
    if hm is None:
        return None
    hm.update(layer=w.layer, direction=w.direction, stage=w.stage, rel_err=w.rel_err)
    return hm
