"""Trace files on disk: flat MAT v7.3 (HDF5) files that MATLAB, Octave and
Python all read.

A trace is a set of top-level variables, each a numeric/logical array or a
char row (no cells, no structs: the simplest part of the format, which
MATLAB's ``load``, ``h5read`` and h5py read alike).  Two writers produce it:

* :func:`write_trace` (Python, h5py): MATLAB's own v7.3 layout, a 512-byte
  user block holding the MAT header, one dataset per variable with the
  attribute ``MATLAB_class`` and MATLAB's dimensions reversed (HDF5 is
  row-major), char as uint16; ``load trace.mat`` works in MATLAB;
* the emitted driver (``emit.py``) run in MATLAB writes the same
  layout with ``save -v7.3``; run in Octave (whose ``save -v7.3`` is not
  implemented) it writes ``save -hdf5``: one group per variable holding the
  datasets ``type`` (Octave's type name) and ``value``.

:func:`read_trace` reads all three into the same ``{name: value}``: numeric
arrays in MATLAB's shape and class (Fortran order), char rows as ``str``.
Writing is atomic (``simplecnn_py.support.atomic``).  :func:`sha256_file`
and :func:`sha256_arrays` are the digests a trace keeps of its inputs.
"""
from __future__ import annotations

import contextlib
import hashlib
import time
from pathlib import Path

import numpy as np

from simplecnn_py.support.atomic import replacing
from simplecnn_py.support.errors import InputError

FORMAT = "simplecnn-trace/1"          # every record of one whole run (``--all-records``, the emitted driver)
FORMAT_CHUNKED = "simplecnn-trace/2"  # the judge's stages, chunk by chunk (``record.py``, docs/traces.md)
FORMATS = (FORMAT, FORMAT_CHUNKED)

_MATLAB_CLASS = {np.dtype(np.float64): "double", np.dtype(np.float32): "single",
                 np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8", np.dtype(np.int16): "int16",
                 np.dtype(np.uint16): "uint16", np.dtype(np.int32): "int32", np.dtype(np.uint32): "uint32",
                 np.dtype(np.int64): "int64", np.dtype(np.uint64): "uint64"}
_CLASS_DTYPE = {v: k for k, v in _MATLAB_CLASS.items()}
_CLASS_DTYPE["logical"] = np.dtype(np.bool_)
# Octave's type names (ls-hdf5) -> numpy
_OCTAVE_TYPES = {"matrix": np.float64, "scalar": np.float64, "float matrix": np.float32,
                 "float scalar": np.float32, "bool matrix": np.bool_, "bool": np.bool_}
for _b in (8, 16, 32, 64):
    for _s in ("int", "uint"):
        _OCTAVE_TYPES[f"{_s}{_b} matrix"] = np.dtype(f"{_s}{_b}")
        _OCTAVE_TYPES[f"{_s}{_b} scalar"] = np.dtype(f"{_s}{_b}")


class TraceError(InputError):
    """A trace file that cannot be read (exit 2, one line)."""

    def __init__(self, path, what):
        super().__init__(str(path), what)


def _mat_header() -> bytes:
    text = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: "
            f"{time.strftime('%a %b %d %H:%M:%S %Y', time.gmtime())} HDF5 schema 1.00 .").encode("ascii")
    head = text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
    return head.ljust(512, b"\0")


COMPRESS_FROM = 1 << 16          # bytes: smaller arrays are stored plain


def write_trace(path, variables: dict, compress: bool = False) -> Path:
    """Write ``variables`` (name -> ndarray | str) as a MAT v7.3 file,
    atomically; ``compress``: arrays of 64 KiB or more deflated (gzip level 1,
    as MATLAB's own v7.3 files are: ReLU and padding zeros halve a trace)."""
    with trace_writer(path, compress) as add:
        for name, value in variables.items():
            add(name, value)
    return Path(path)


@contextlib.contextmanager
def trace_writer(path, compress: bool = False, shuffle: bool = False):
    """A trace written variable by variable (``add(name, value[, deflate])``: a chunk's
    values go to the file as they come and can be released), atomically:
    nothing is at ``path`` unless the block ends without an error.
    ``compress``: arrays of ``COMPRESS_FROM`` bytes or more deflated (gzip
    level 1); ``shuffle``: the HDF5 shuffle filter first (the bytes of each
    significance together), which deflates doubles better."""
    import h5py

    path = Path(path)
    folder = path.resolve().parent
    if not folder.is_dir():
        raise InputError("--out", f"cannot write {path}: folder {folder} does not exist")
    body = []

    def fail(e):
        return InputError("--out", f"cannot write {path}: {e.strerror or str(e).splitlines()[0]}")

    try:
        with replacing(path) as tmp:
            with h5py.File(tmp, "w", userblock_size=512, libver="earliest") as f:
                def add(name, value, deflate=None):     # deflate: this variable's own choice
                    try:
                        _write_var(f, name, value, compress if deflate is None else deflate, shuffle)
                    except OSError as e:
                        raise fail(e) from None
                try:
                    yield add
                except OSError as e:         # the caller's own, not the file's
                    body.append(e)
                    raise
            with open(tmp, "r+b") as f:
                f.write(_mat_header())
    except OSError as e:
        if body and e is body[0]:
            raise
        raise fail(e) from None


def _write_var(f, name, value, compress=False, shuffle=False):
    if isinstance(value, str):
        data = np.frombuffer(value.encode("utf-16-le"), dtype="<u2").reshape(-1, 1)
        if data.size == 0:
            ds = f.create_dataset(name, data=np.array([1, 0], dtype=np.uint64))
            ds.attrs["MATLAB_empty"] = np.uint8(1)
        else:
            ds = f.create_dataset(name, data=data)
        ds.attrs["MATLAB_class"] = np.bytes_("char")
        ds.attrs["MATLAB_int_decode"] = np.int32(2)
        return
    a = np.asarray(value)
    if a.ndim < 2:
        a = a.reshape(1, -1) if a.ndim == 1 else a.reshape(1, 1)
    if a.dtype == np.bool_:
        cls, data = "logical", a.astype(np.uint8)
    else:
        cls = _MATLAB_CLASS.get(a.dtype)
        if cls is None:
            raise ValueError(f"trace variable {name}: dtype {a.dtype} has no MATLAB class")
        data = a
    if data.size == 0:
        ds = f.create_dataset(name, data=np.array(a.shape, dtype=np.uint64))
        ds.attrs["MATLAB_empty"] = np.uint8(1)
    else:
        # HDF5 is row-major: MATLAB's dims reversed, the bytes of the column-major array
        extra = {"compression": "gzip", "compression_opts": 1} if compress and data.nbytes >= COMPRESS_FROM else {}
        if extra and shuffle:
            extra["shuffle"] = True
        ds = f.create_dataset(name, data=np.ascontiguousarray(data.T), **extra)
    ds.attrs["MATLAB_class"] = np.bytes_(cls)
    if cls == "logical":
        ds.attrs["MATLAB_int_decode"] = np.int32(1)


def read_trace(path, keep=None) -> dict:
    """Every variable of a trace file (either writer's layout), or those
    whose name ``keep(name)`` accepts (a chunk of a chunked trace; the
    format variable is always read and checked)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise TraceError(path, "no such trace file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise TraceError(path, f"not an HDF5 (MAT v7.3) file ({str(e).splitlines()[0]})")
    out = {}
    with f:
        for name in f:
            if keep is not None and name != "simplecnn_trace" and not keep(name):
                continue
            obj = f[name]
            try:
                if isinstance(obj, h5py.Group) and "value" in obj and "type" in obj:
                    out[name] = _octave_var(obj, path)
                elif isinstance(obj, h5py.Dataset) and "MATLAB_class" in obj.attrs:
                    out[name] = _matlab_var(obj, path)
            except (KeyError, ValueError, TypeError, OSError) as e:
                raise TraceError(path, f"variable {name} cannot be read ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
    got = out.get("simplecnn_trace")
    if isinstance(got, str) and got.startswith("simplecnn-trace/") and got not in FORMATS:
        raise TraceError(path, f"its format {got} is newer than this simplecnn reads ({', '.join(FORMATS)}); "
                               "update simplecnn")
    if got not in FORMATS:
        raise TraceError(path, f"not a simplecnn trace (no simplecnn_trace = '{FORMAT}' in it)")
    return out


MAP_FROM = 1 << 20               # bytes: bigger plain datasets are mapped, not read


def _raw(ds, path):
    """The dataset's array: mapped read-only from the file (no copy, pages
    read when used, as the live run's records are) when it is big, stored
    contiguously, unfiltered and native-endian; else read."""
    if ds.nbytes >= MAP_FROM and ds.chunks is None and ds.compression is None and ds.dtype.isnative \
            and ds.dtype.kind in "biuf":
        offset = ds.id.get_offset()
        if offset is not None:
            return np.memmap(path, dtype=ds.dtype, mode="r", offset=offset, shape=ds.shape)
    return ds[()]


def _as_class(a, dtype):
    """``a`` (MATLAB's dims) as ``dtype``, Fortran order, without a copy when it already is."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_ and a.dtype == np.uint8:
        a = a.view(np.bool_)
    return np.asfortranarray(a.astype(dtype, copy=False))


def _attr_text(v):
    return v.decode("ascii") if isinstance(v, bytes) else str(v)


def _matlab_var(ds, path):
    cls = _attr_text(ds.attrs["MATLAB_class"])
    if int(ds.attrs.get("MATLAB_empty", 0)):
        shape = tuple(int(x) for x in ds[()])
        return "" if cls == "char" else np.zeros(shape, dtype=_CLASS_DTYPE[cls], order="F")
    if cls == "char":
        a = np.asarray(ds[()]).T
        return a.reshape(-1, order="F").astype("<u2").tobytes().decode("utf-16-le")
    raw = _raw(ds, path)
    a = (raw if isinstance(raw, np.ndarray) else np.asarray(raw)).T    # back to MATLAB's dims, column-major
    return _as_class(a, _CLASS_DTYPE[cls])


def _octave_var(g, path):
    tname = _attr_text(g["type"][()])
    if tname not in ("sq_string", "string") and not int(g.attrs.get("OCTAVE_EMPTY_MATRIX", 0)):
        raw = _raw(g["value"], path)
    else:
        raw = g["value"][()]
    if tname in ("sq_string", "string"):
        if int(g.attrs.get("OCTAVE_EMPTY_MATRIX", 0)):
            return ""
        a = np.asarray(raw).T
        return a.reshape(-1, order="F").astype(np.uint8).tobytes().decode("utf-8")
    dtype = _OCTAVE_TYPES.get(tname)
    if dtype is None:
        raise ValueError(f"Octave type '{tname}' is not used in traces")
    if int(g.attrs.get("OCTAVE_EMPTY_MATRIX", 0)):
        # an empty matrix: the value holds its dimensions (MATLAB's order)
        return np.zeros(tuple(int(x) for x in np.asarray(raw).reshape(-1)), dtype=dtype, order="F")
    a = raw if isinstance(raw, np.ndarray) else np.asarray(raw)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    else:
        a = a.T
        if a.ndim == 1:
            a = a.reshape(-1, 1)
    return _as_class(a, dtype)


def sha256_file(path) -> str | None:
    """SHA-256 of a file's bytes (None for no file)."""
    if not path:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sha256_arrays(*arrays) -> str:
    """SHA-256 over arrays' dtypes, shapes and column-major bytes."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.asfortranarray(a).tobytes(order="F"))
    return h.hexdigest()
