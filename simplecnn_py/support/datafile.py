"""MAT files in and out: simpleNN data, weights (W.mat) and gradients (OUT.mat).

MATLAB originals and their shapes:

* data (as ``simplecnn_py/cnn/check_data.py`` reads it): ``load(file)`` gives
  ``y`` (l x 1 labels) and ``Z``
  (l x a*b*d, one instance a row, channel k in columns (k-1)*a*b+1..k*a*b,
  each channel image vec'ed column-major).  ``Z`` may be sparse, and a sparse
  ``Z`` may have fewer than a*b*d columns (the missing trailing columns are
  zero).
* weights: ``save('w.mat', '-struct', 'model', 'weight', 'bias')`` writes
  ``weight`` and ``bias``, L x 1 cell arrays; ``weight{m}`` is
  ``ch_input(m+1) x wd_filter(m)^2*ch_input(m)`` for a conv layer and
  ``n_m x n_{m-1}`` for a fully-connected one, ``bias{m}`` a column.
* gradient output: ``loss`` (1 x 1), ``dlossdW`` and ``dlossdb`` (L x 1 cells
  of the shapes of ``weight`` and ``bias``), class single or double.

MAT versions 4, 5, 6 and 7 are read and written by ``scipy.io`` (imported
only when a file is read or written, so that ``simplecnn --help`` stays
fast); version 7.3 (HDF5 with a 512-byte MATLAB header) is read by h5py,
imported only for such files.
MATLAB's v7.3 layout: each variable is an HDF5 dataset with a
``MATLAB_class`` attribute, stored transposed (an m x n array is an n x m
dataset); a sparse matrix is a group with datasets ``data``, ``ir`` (0-based
row indices), ``jc`` (column pointers) and a ``MATLAB_sparse`` attribute
(the row count); a cell array is a dataset of object references into
``#refs#``; a struct is a group of its fields.  Files written by Octave's
``save -hdf5`` use another layout and are refused with advice.

Every problem is an ``InputError(path, what)`` with a one-line ``what``.
Loading never rescales: ``scale_pixels`` and ``subtract_mean`` are the
upstream MNIST example's preprocessing, kept separate.
"""
from __future__ import annotations

import sys

import numpy as np

from simplecnn_py.support.conventions import cell, reshape, struct, to0
from simplecnn_py.support.errors import InputError

__all__ = [
    "loadmat", "load_data", "save_data", "rowmajor_to_colmajor",
    "scale_pixels", "subtract_mean",
    "load_weights", "save_weights", "save_gradient",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


# --- reading any MAT file -----------------------------------------------------

def loadmat(path, names):
    """``{name: value}`` for the variables ``names`` present in the MAT file.

    Numeric arrays come back 2-D (or N-D) as MATLAB holds them, sparse
    matrices as ``scipy.sparse.csc_matrix``, cell arrays as object arrays,
    structs as dicts of their fields.  Absent names are simply missing.
    """
    where = str(path)
    version = _mat_version(where)
    if version == "7.3":
        return _loadmat_h5(where, names)
    import scipy.io

    try:
        raw = scipy.io.loadmat(where, variable_names=list(names), squeeze_me=False,
                               struct_as_record=True, chars_as_strings=True)
    except Exception as e:  # a damaged file: scipy's own message, one line
        raise InputError(where, f"cannot read as a MAT file ({_one_line(e)})") from None
    return {k: _from_scipy(v) for k, v in raw.items() if not k.startswith("__")}


def _one_line(e):
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def _mat_version(where):
    """'4', '5' (5, 6 and 7 share the format) or '7.3'; InputError otherwise."""
    try:
        with open(where, "rb") as f:
            head = f.read(128)
            f.seek(512)
            h5_at_512 = f.read(8) == _HDF5_SIGNATURE
    except FileNotFoundError:
        raise InputError(where, "no such file") from None
    except IsADirectoryError:
        raise InputError(where, "is a directory, not a MAT file") from None
    except OSError as e:
        raise InputError(where, f"cannot read: {e.strerror or e}") from None
    if not head:
        raise InputError(where, "empty file, not a MAT file")
    if head.startswith(_HDF5_SIGNATURE):
        raise InputError(where, "an HDF5 file without MATLAB's header (Octave's save -hdf5?); "
                                "save it with -v7 (Octave: save -mat7-binary) or MATLAB's -v7.3")
    if head.startswith(b"# Created by Octave") or head.startswith(b"# name:"):
        raise InputError(where, "an Octave text file, not a MAT file; save it with save('-v7', ...)")
    if head.startswith(b"MATLAB 7.3") or h5_at_512:
        return "7.3"
    if len(head) == 128 and head[126:128] == b"IM" and head[124:126] == b"\x00\x01":
        return "5"  # little-endian v5 header, recognised without importing scipy
    from scipy.io.matlab import matfile_version

    try:
        major, _ = matfile_version(where)
    except Exception as e:
        raise InputError(where, f"not a MAT file ({_one_line(e)})") from None
    return {0: "4", 1: "5", 2: "7.3"}.get(major, "5")


def _from_scipy(v):
    """scipy.io's representation -> ours (structs become dicts)."""
    if isinstance(v, np.ndarray) and v.dtype.names:  # struct array
        if v.size != 1:
            return v  # refused later as 'a struct array'
        return {name: _from_scipy(v[name].flat[0]) for name in v.dtype.names}
    return v


def _loadmat_h5(where, names):
    try:
        import h5py
    except ImportError:
        raise InputError(where, "a MAT v7.3 (HDF5) file; reading it needs h5py (pip install h5py)") from None
    try:
        with h5py.File(where, "r") as f:
            return {name: _h5_value(f, f[name]) for name in names if name in f}
    except InputError:
        raise
    except Exception as e:
        raise InputError(where, f"cannot read as a MAT v7.3 file ({_one_line(e)})") from None


def _attr_str(obj, key):
    v = obj.attrs.get(key)
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("ascii", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return b"".join(v.ravel()).decode("ascii", "replace")
    return str(v)


def _h5_value(f, obj):
    """One MATLAB v7.3 object as numpy (undoing the transposed storage)."""
    import h5py

    cls = _attr_str(obj, "MATLAB_class")
    if isinstance(obj, h5py.Group):
        if "MATLAB_sparse" in obj.attrs:
            return _h5_sparse(obj, cls)
        if cls == "struct" or cls is None:
            return {k: _h5_value(f, obj[k]) for k in obj.keys() if not k.startswith("#")}
        return np.empty((0, 0), dtype=object)  # an object MATLAB cannot give us as data
    if int(np.asarray(obj.attrs.get("MATLAB_empty", 0)).ravel()[0] if "MATLAB_empty" in obj.attrs else 0):
        dims = np.asarray(obj[()]).ravel()
        return np.zeros(tuple(int(x) for x in dims[::-1]) if dims.size >= 2 else (0, 0))
    a = obj[()]
    if cls == "cell":
        refs = np.asarray(a)
        out = np.empty(refs.shape, dtype=object)
        for k, ref in np.ndenumerate(refs):
            out[k] = _h5_value(f, f[ref])
        return _mat_shape(out.T)
    a = np.asarray(a)
    if a.dtype.names and set(a.dtype.names) >= {"real", "imag"}:
        a = a["real"] + 1j * a["imag"]
    if cls == "char":
        return np.array(["".join(chr(c) for c in a.T.ravel(order="F"))])
    if cls == "logical":
        a = a.astype(bool)
    return _mat_shape(a.T)


def _mat_shape(a):
    """MATLAB arrays have at least two dimensions."""
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a


def _h5_sparse(g, cls):
    import scipy.sparse

    nrows = int(np.asarray(g.attrs["MATLAB_sparse"]).ravel()[0])
    jc = np.asarray(g["jc"][()], dtype=np.int64).ravel()
    ir = np.asarray(g["ir"][()], dtype=np.int64).ravel() if "ir" in g else np.zeros(0, np.int64)
    data = np.asarray(g["data"][()]) if "data" in g else np.zeros(0)
    if data.dtype.names and set(data.dtype.names) >= {"real", "imag"}:
        data = data["real"] + 1j * data["imag"]
    data = data.ravel().astype(bool if cls == "logical" else data.dtype)
    return scipy.sparse.csc_matrix((data, ir, jc), shape=(nrows, jc.size - 1))


# --- checking a loaded variable ----------------------------------------------

def _issparse(v):
    """scipy.sparse.issparse without importing scipy (not loaded: nothing is sparse)."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(v)


def _describe(v):
    if _issparse(v):
        return "a sparse matrix"
    if isinstance(v, dict):
        return "a struct"
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return "a cell array"
        if v.dtype.names:
            return "a struct array"
        if v.dtype.kind in "US":
            return "text"
        if v.dtype.kind == "c":
            return "complex"
        cls = {"float64": "double", "float32": "single", "bool": "logical"}.get(v.dtype.name, v.dtype.name)
        return "a " + " x ".join(str(s) for s in v.shape) + f" {cls} array"
    return type(v).__name__


def _is_real_numeric(v):
    if _issparse(v):
        return v.dtype.kind in "biuf"
    return isinstance(v, np.ndarray) and v.dtype.kind in "biuf"


def _first_bad(where, name, A):
    """InputError for the first NaN/Inf entry of A (dense or sparse), if any."""
    if _issparse(A):
        A = A.tocoo()
        bad = ~np.isfinite(A.data)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            i, j, v = int(A.row[k]), int(A.col[k]), A.data[k]
            raise InputError(where, f"{name} has {int(bad.sum())} NaN/Inf entries (first {name}({i + 1},{j + 1}) = {v})")
        return
    bad = ~np.isfinite(A)
    if bad.any():
        if A.ndim == 1:
            k = int(np.flatnonzero(bad)[0])
            at, v = f"{name}({k + 1})", A[k]
        else:
            j, i = (int(x) for x in np.argwhere(bad.T)[0])  # first in column-major order
            at, v = f"{name}({i + 1},{j + 1})", A[i, j]
        raise InputError(where, f"{name} has {int(bad.sum())} NaN/Inf entries (first {at} = {v})")


# --- simpleNN data -------------------------------------------------------------

def load_data(path, param, rowmajor=False):
    """``load(path)``: ``prob`` with ``y`` (l labels, float64, 1-D), ``Z``
    (l x a*b*d, float64 dense or scipy.sparse CSC, one instance a row) and
    ``l``, checked against ``param`` (image a x b x d =
    ht_input x wd_input x ch_input(1)).

    A sparse ``Z`` with fewer than a*b*d columns is padded with zero columns.
    ``rowmajor=True`` is for files whose images are stored row-major (the
    shipped MNIST demo); it applies the upstream example's
    ``Z = reshape(permute(reshape(Z, [], b, a, d), [1 3 2 4]), [], a*b*d)``.
    Labels may be any finite numbers; ``check_data`` maps them with ``unique``.
    """
    where = str(path)
    v = loadmat(where, ["y", "Z"])
    missing = [k for k in ("y", "Z") if k not in v]
    if missing:
        raise InputError(where, f"no variable {' or '.join(missing)} (a simpleNN data file holds y, l x 1 labels, "
                                "and Z, l x a*b*d instances)")
    y, Z = v["y"], v["Z"]
    for name, A in (("y", y), ("Z", Z)):
        if not _is_real_numeric(A):
            raise InputError(where, f"{name} is {_describe(A)}; a real numeric {'vector' if name == 'y' else 'matrix'} is needed")
        if A.ndim != 2:
            raise InputError(where, f"{name} has {A.ndim} dimensions; a {'vector' if name == 'y' else 'matrix'} is needed")
    if _issparse(y):
        y = y.toarray()
    if min(y.shape) > 1:
        raise InputError(where, f"y is {y.shape[0]} x {y.shape[1]}; labels must be a vector (l x 1)")
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    l = Z.shape[0]
    if l == 0:
        raise InputError(where, "Z has no rows (no instances)")
    if y.size != l:
        raise InputError(where, f"y has {y.size} labels but Z has {l} rows (one instance a row)")
    _first_bad(where, "y", y)
    if _issparse(Z):
        Z = Z.tocsc().astype(np.float64)
    else:
        Z = np.asarray(Z, dtype=np.float64)
    _first_bad(where, "Z", Z)
    Z = _fit_width(where, Z, param)
    if rowmajor:
        Z = rowmajor_to_colmajor(Z, param.ht_input, param.wd_input, param.ch_input[1])
    return struct(y=y, Z=Z, l=l)


def _fit_width(where, Z, param):
    a, b, d = param.ht_input, param.wd_input, param.ch_input[1]
    n, width = a * b * d, Z.shape[1]
    if width > n or (width < n and not hasattr(Z, "tocsc")):
        kind = "sparse " if hasattr(Z, "tocsc") else ""
        more = "" if width > n else " (only a sparse Z may have fewer, zero, trailing columns)"
        raise InputError(where, f"{kind}Z has {width} columns; the config's {a} x {b} x {d} images need "
                                f"{n} = ht_input*wd_input*ch_input(1){more}")
    if width < n:
        Z = Z.copy()
        Z.resize((Z.shape[0], n))
    return Z


def rowmajor_to_colmajor(Z, a, b, d):
    """``reshape(permute(reshape(Z, [], b, a, d), [1 3 2 4]), [], a*b*d)``.

    Each row's a x b channel images are stored row-major (width fastest); the
    result has them column-major.  Done as a column permutation (the same
    expression applied to the index row ``1:a*b*d``), so dense and sparse
    ``Z`` are treated alike.
    """
    idx = reshape(np.arange(1, a * b * d + 1), 1, b, a, d)
    perm = reshape(np.transpose(idx, (0, 2, 1, 3)), 1, a * b * d)[0]
    if hasattr(Z, "tocsc"):
        return Z.tocsc()[:, to0(perm)]
    return np.ascontiguousarray(Z[:, to0(perm)])


def scale_pixels(Z, top=255.0):
    """``Z / 255``: the upstream MNIST example's first preprocessing step."""
    return Z / top


def subtract_mean(Z, mean=None):
    """``Z - mean(Z)`` with the per-column (per-pixel) mean over instances.

    The upstream example subtracts the *training* mean from both sets: call
    ``Zt, mu = subtract_mean(Z)`` on the training data, then
    ``subtract_mean(Ztest, mu)``.  A sparse ``Z`` becomes dense.
    Returns ``(Z - mean, mean)`` with ``mean`` a 1 x a*b*d row.
    """
    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    if mean is None:
        mean = np.mean(Z, axis=0, keepdims=True)
    return Z - mean, mean


def save_data(path, y, Z):
    """``save(path, 'y', 'Z')`` in MAT v5 (y as l x 1; Z dense or sparse)."""
    import scipy.io

    y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    scipy.io.savemat(str(path), {"y": y, "Z": Z}, format="5", do_compression=True)


# --- weights and gradients ----------------------------------------------------

def _as_cell_list(where, name, v, L):
    """A MATLAB L-element cell vector (any orientation) as a Python list."""
    if not (isinstance(v, np.ndarray) and v.dtype == object):
        raise InputError(where, f"{name} is {_describe(v)}; an L x 1 cell array (L = {L}) is needed")
    if min(v.shape, default=0) > 1 or v.ndim != 2:
        raise InputError(where, f"{name} is a {' x '.join(map(str, v.shape))} cell array; an L x 1 cell (L = {L}) is needed")
    if v.size != L:
        raise InputError(where, f"{name} has {v.size} cells; the config has L = {L} layers")
    return list(v.ravel(order="F"))


def load_weights(path, param):
    """``load(path)`` of ``weight``/``bias`` (or a struct ``model`` holding them),
    every shape checked against the config: ``(weight, bias)`` as 1-based
    cells of float64 Fortran-ordered arrays (bias{m} an n x 1 column).
    """
    from simplecnn_py.cnn.read_config import weight_shapes

    where = str(path)
    v = loadmat(where, ["weight", "bias", "model"])
    if ("weight" not in v or "bias" not in v) and isinstance(v.get("model"), dict):
        v = v["model"]
    missing = [k for k in ("weight", "bias") if k not in v]
    if missing:
        raise InputError(where, f"no variable {' or '.join(missing)} (save('W.mat', '-struct', 'model', "
                                "'weight', 'bias') writes both)")
    L = param.L
    Ws = _as_cell_list(where, "weight", v["weight"], L)
    bs = _as_cell_list(where, "bias", v["bias"], L)
    weight, bias = cell(L), cell(L)
    for m, (rows, ncols) in enumerate(weight_shapes(param), start=1):
        kind = "conv" if m <= param.LC else "full"
        W, b = Ws[m - 1], bs[m - 1]
        for name, A, want in ((f"weight{{{m}}}", W, (rows, ncols)), (f"bias{{{m}}}", b, (rows, 1))):
            if hasattr(A, "toarray"):
                A = A.toarray()
            if not _is_real_numeric(A) or A.ndim != 2:
                raise InputError(where, f"layer {m} ({kind}): {name} is {_describe(A)}; a real matrix is needed")
            if A.shape != want:
                raise InputError(where, f"layer {m} ({kind}): {name} is {A.shape[0]} x {A.shape[1]}; "
                                        f"the config needs {want[0]} x {want[1]}")
            _first_bad(where, name, np.asarray(A, dtype=np.float64))
        weight[m] = np.asfortranarray(np.asarray(_dense(W), dtype=np.float64))
        bias[m] = np.asfortranarray(np.asarray(_dense(b), dtype=np.float64))
    return weight, bias


def _dense(A):
    return A.toarray() if hasattr(A, "toarray") else A


def _cell_array(values):
    """A 1-based ``cell`` (or list) of arrays -> an L x 1 object array (a MATLAB cell)."""
    values = list(values)
    out = np.empty((len(values), 1), dtype=object)
    for k, A in enumerate(values):
        A = np.asarray(A)
        if A.dtype not in (np.float64, np.float32):
            A = A.astype(np.float64)
        out[k, 0] = A.reshape(-1, 1) if A.ndim == 1 else A
    return out


def save_weights(path, weight, bias):
    """``save(path, '-struct', 'model', 'weight', 'bias')``: L x 1 cells, MAT v5."""
    _savemat(path, {"weight": _cell_array(weight), "bias": _cell_array(bias)})


def save_gradient(path, loss, dlossdW, dlossdb):
    """OUT.mat: ``loss`` (1 x 1) and ``dlossdW``/``dlossdb`` (L x 1 cells), MAT v5.

    The class (single/double) is the arrays' dtype; ``loss`` takes the
    gradients' class.
    """
    dW = _cell_array(dlossdW)
    dtype = dW[0, 0].dtype if dW.size else np.float64
    _savemat(path, {"loss": np.array([[loss]], dtype=dtype), "dlossdW": dW, "dlossdb": _cell_array(dlossdb)})


def _savemat(path, variables):
    """``save(path, ...)`` of ``variables`` in MAT v5 (compressed), by scipy.io."""
    import scipy.io

    scipy.io.savemat(str(path), variables, format="5", do_compression=True, oned_as="column")
