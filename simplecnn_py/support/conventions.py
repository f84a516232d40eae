"""MATLAB conventions, in one place.

Every routine of the port is written beside its MATLAB twin.  The few places
where MATLAB and numpy disagree are named here, so that no module carries an
ad hoc ``order='F'`` or ``- 1``:

* ``struct`` and ``cell``: MATLAB structs (attribute access) and cell arrays /
  per-layer vectors indexed from 1, so ``net.Z{m+1}`` reads ``net.Z[m+1]`` and
  ``model.ch_input(m)`` reads ``model.ch_input[m]``.
* column-major storage: every matrix the port keeps is Fortran-ordered, so
  that MATLAB's ``reshape`` and ``vec`` are views (no copies), and products
  return Fortran-ordered results (``mtimes``).
* 1-based indices: index arrays that MATLAB exposes (``idx_pad``,
  ``idx_phiZ``, ``idx_pool``, ``batch_idx``) hold MATLAB's 1-based values;
  ``to0``/``to1`` convert at the moment of use.
* MATLAB semantics: ``max`` with first-max ties, ``accumarray`` (sum in the
  order of the subscripts), ``unique`` (sorted values and the third output).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Iterable

import numpy as np

__all__ = [
    "struct", "cell", "vec", "reshape", "zeros", "mtimes", "cols",
    "to0", "to1", "first_max", "accumarray", "unique", "ftype", "float_type",
    "gather_blocks", "accumarray_blocks",
]


class struct(SimpleNamespace):
    """A MATLAB struct: fields by attribute, ``isfield`` by ``hasattr``."""

    def isfield(self, name: str) -> bool:
        return hasattr(self, name)


class cell:
    """A 1-based sequence: a MATLAB cell array ``{}`` or a per-layer vector.

    ``cell(3)`` is ``cell(3, 1)`` of empties (``None``); ``cell([1, 16, 32])``
    wraps values.  ``c[m]`` is ``c{m}`` (or ``c(m)``) for m = 1..numel(c);
    index 0 or a negative index is an error, as in MATLAB.
    """

    __slots__ = ("_v",)

    def __init__(self, n_or_values: int | Iterable[Any] = 0):
        if isinstance(n_or_values, (int, np.integer)):
            self._v = [None] * int(n_or_values)
        else:
            self._v = list(n_or_values)

    def _pos(self, m: int) -> int:
        if isinstance(m, slice):
            raise TypeError("cell indices are single 1-based integers")
        m = int(m)
        if not 1 <= m <= len(self._v):
            raise IndexError(f"index {m} out of bound 1..{len(self._v)}")
        return m - 1

    def __getitem__(self, m: int) -> Any:
        return self._v[self._pos(m)]

    def __setitem__(self, m: int, value: Any) -> None:
        self._v[self._pos(m)] = value

    def __len__(self) -> int:
        return len(self._v)

    def __iter__(self):
        return iter(self._v)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._v, dtype=dtype)

    def __eq__(self, other) -> bool:
        return isinstance(other, cell) and self._v == other._v

    def __repr__(self) -> str:
        return f"cell({self._v!r})"

    def numel(self) -> int:
        return len(self._v)

    def tolist(self) -> list:
        return list(self._v)


# --- column-major storage -------------------------------------------------

def vec(A: np.ndarray) -> np.ndarray:
    """``A(:)``: stack the columns (a view when ``A`` is Fortran-ordered)."""
    return np.reshape(A, -1, order="F")


def reshape(A: np.ndarray, *shape: int) -> np.ndarray:
    """MATLAB's column-major ``reshape``; ``-1`` plays the role of ``[]``.

    A view whenever ``A`` is Fortran-ordered (or a vector), which is how the
    port stores every array.
    """
    return np.reshape(A, shape, order="F")


def zeros(*shape: int, dtype=np.float64) -> np.ndarray:
    """``zeros(m, n, ...)`` stored column-major."""
    return np.zeros(shape, dtype=dtype, order="F")


def mtimes(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A*B`` with a Fortran-ordered result.

    Computed as ``(B.T @ A.T).T``: for Fortran-ordered (or transposed) inputs
    the operands handed to BLAS are contiguous, no copy is made, and the
    C-ordered product of the transposes is the Fortran-ordered ``A*B``.
    ``mtimes(W.T, D)`` is ``W'*D`` and ``mtimes(D, P.T)`` is ``D*P'``.
    """
    return np.matmul(B.T, A.T).T


def cols(A: np.ndarray, idx1) -> np.ndarray:
    """``A(:, idx)`` for 1-based ``idx``, Fortran-ordered.

    A view when ``idx`` is a run of consecutive columns, else a copy.
    """
    idx1 = np.asarray(idx1).reshape(-1)
    if idx1.size and np.all(np.diff(idx1) == 1):
        return A[:, int(idx1[0]) - 1:int(idx1[-1])]
    return np.asfortranarray(A[:, to0(idx1)])


def ftype(x, dtype) -> np.ndarray:
    """Cast to the working precision (``single``/``double``), Fortran-ordered."""
    return np.asfortranarray(x, dtype=dtype)


def float_type(param) -> type:
    """The working precision of a run, as the current layout's ``float_type``
    global: ``param.precision`` is ``'double'`` (default) or ``'single'``."""
    precision = getattr(param, "precision", "double") or "double"
    if precision == "double":
        return np.float64
    if precision == "single":
        return np.float32
    from .errors import InputError
    raise InputError("precision", f"must be 'double' or 'single', not {precision!r}")


# --- 1-based indices -------------------------------------------------------

def to0(idx1) -> np.ndarray:
    """MATLAB 1-based indices to numpy 0-based ones."""
    return np.asarray(idx1) - 1


def to1(idx0) -> np.ndarray:
    """numpy 0-based indices to MATLAB 1-based ones."""
    return np.asarray(idx0) + 1


# --- MATLAB semantics ------------------------------------------------------

def first_max(A: np.ndarray):
    """``[M, I] = max(A, [], 1)``: column maxima and 1-based row of the winner.

    A tie goes to the first maximal entry, as in MATLAB (``np.argmax`` has
    the same rule).  Returns ``M`` and ``I`` as 1 x n rows.
    """
    I0 = np.argmax(A, axis=0)
    M = np.take_along_axis(A, I0[None, :], axis=0)
    return M, to1(I0)[None, :]


def accumarray(subs1, vals: np.ndarray, n: int) -> np.ndarray:
    """``accumarray(subs, vals, [n 1])`` with the default ``@sum``.

    Values are added one by one in the order of ``subs`` into zeros of the
    class of ``vals``, which is the order Octave's accumarray uses, so the
    result is bit-identical to it (single stays single).
    """
    vals = np.asarray(vals).reshape(-1, order="F")
    out = np.zeros(n, dtype=vals.dtype)
    np.add.at(out, to0(np.asarray(subs1).reshape(-1, order="F")), vals)
    return out


def gather_blocks(A: np.ndarray, idx1, n: int) -> np.ndarray:
    """``reshape(A(idx + numel(A)/n*[0:n-1]), [], n)`` for a column ``idx``.

    ``vec(A)`` is read as n consecutive equal blocks (one per instance); column
    i of the result is block i taken at the 1-based positions ``idx``.  Same
    values as MATLAB's offset indexing, without building the (numel(idx) x n)
    index array.  Fortran-ordered, numel(idx) x n.
    """
    by_block = np.reshape(A, (-1, n), order="F")               # column i = block i
    return np.take(by_block.T, to0(np.asarray(idx1).reshape(-1, order="F")), axis=1).T


def accumarray_blocks(idx1, V: np.ndarray, block_len: int, n: int) -> np.ndarray:
    """``accumarray(idx + block_len*[0:n-1], V(:), [block_len*n 1])``.

    ``idx`` is a column of 1-based positions within one block; column i of the
    (numel(idx) x n) subscript matrix is ``idx`` offset into block i.  Blocks
    are disjoint, and within a block the values are added in subscript order,
    so the result is bit-identical to ``accumarray`` on the offset subscripts
    (and so to Octave's), without building them.  Returns a 1-D array.
    """
    idx0 = to0(np.asarray(idx1).reshape(-1, order="F"))
    V = np.reshape(V, (idx0.size, n), order="F")
    out = np.zeros((block_len, n), dtype=V.dtype, order="F")
    for i in range(n):
        np.add.at(out[:, i], idx0, V[:, i])
    return out.reshape(-1, order="F")


def unique(y):
    """``[C, ia, ic] = unique(y)`` for a vector: sorted values ``C``, and
    ``ic`` (1-based) with ``C(ic) == y``.  ``ia`` holds the first occurrence.
    """
    y = np.asarray(y).reshape(-1)
    C, ia, ic = np.unique(y, return_index=True, return_inverse=True)
    return C, to1(ia), to1(ic.reshape(-1))
