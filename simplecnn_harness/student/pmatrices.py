"""The slides' P matrices, built from their definitions (an oracle).

The port never forms these matrices: it uses index maps (``idx_pad``,
``idx_phiZ``, ``idx_pool``) and ``accumarray``.  The matrices below are
written from the slides' definitions (gradient-calculation slides, eqs. (3),
(23)-(28)) with plain loops, so the tests, the notebooks of docs/notebooks
and ``check_gradient`` can hold the index-based routines against them.

Positions in vec of a d x a x b array (channel fastest, then height, then
width, as simpleNN stores an image) are ``c + d*(y + a*x)``, 0-based.

P_pad    : (d*a_pad*b_pad) x (d*a*b),       vec(pad(Z)) = P_pad vec(Z)
P_phi    : (h*h*d*a_out*b_out) x (d*a*b),   vec(phi(Z)) = P_phi vec(Z)
P_pool   : (d*a_out*b_out) x (d*a*b), one 1 per row at the window's first
           maximum of one instance's sigma(S)
P_window : the same shape, a 1 at *every* position of each window (what a
           pool gradient "sent to every window position" multiplies by)

All are ``scipy.sparse.csr_matrix`` of float64 ones.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from simplecnn_py.support.conventions import reshape

__all__ = ["P_pad", "P_phi", "P_pool", "P_window", "blocks", "position"]


def position(c, y, x, d, a):
    """0-based position of entry (channel c, row y, column x) in vec of a d x a x b array."""
    return c + d * (y + a * x)


def _ones(rows, cols, shape):
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)


def P_pad(d, a, b, p):
    """Zero padding of width p of a d x a x b image (channel fastest)."""
    a_pad, b_pad = a + 2 * p, b + 2 * p
    rows, cols = [], []
    for x in range(b):
        for y in range(a):
            for c in range(d):
                rows.append(position(c, y + p, x + p, d, a_pad))
                cols.append(position(c, y, x, d, a))
    return _ones(rows, cols, (d * a_pad * b_pad, d * a * b))


def P_phi(d, a, b, h, s):
    """Patch expansion of a (padded) d x a x b image: output column (r, q)
    holds the h x h x d patch at (r*s, q*s), height offset fastest, then
    width offset, then channel."""
    a_out, b_out = (a - h) // s + 1, (b - h) // s + 1
    rows, cols = [], []
    row = 0
    for q in range(b_out):
        for r in range(a_out):
            for c in range(d):
                for j in range(h):
                    for i in range(h):
                        rows.append(row)
                        cols.append(position(c, r * s + i, q * s + j, d, a))
                        row += 1
    return _ones(rows, cols, (h * h * d * a_out * b_out, d * a * b))


def P_pool(sigmaS_i, d, a, b, h):
    """Max pooling of one instance (sigma(S), d x a*b values), windows h x h,
    the first maximal entry (height offset fastest, then width) winning ties."""
    X = reshape(np.asarray(sigmaS_i), d, a, b)
    a_out, b_out = a // h, b // h
    rows, cols = [], []
    for q in range(b_out):
        for r in range(a_out):
            for c in range(d):
                best, where = None, None
                for j in range(h):
                    for i in range(h):
                        v = X[c, r * h + i, q * h + j]
                        if best is None or v > best:
                            best, where = v, position(c, r * h + i, q * h + j, d, a)
                rows.append(position(c, r, q, d, a_out))
                cols.append(where)
    return _ones(rows, cols, (d * a_out * b_out, d * a * b))


def P_window(d, a, b, h):
    """Every position of each h x h pooling window (no maximum chosen)."""
    a_out, b_out = a // h, b // h
    rows, cols = [], []
    for q in range(b_out):
        for r in range(a_out):
            for c in range(d):
                for j in range(h):
                    for i in range(h):
                        rows.append(position(c, r, q, d, a_out))
                        cols.append(position(c, r * h + i, q * h + j, d, a))
    return _ones(rows, cols, (d * a_out * b_out, d * a * b))


def blocks(A, n):
    """The n per-instance column blocks of A (d x (k*n))."""
    k = A.shape[1] // n
    return [A[:, i * k:(i + 1) * k] for i in range(n)]
