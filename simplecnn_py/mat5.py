"""A small reader and writer of MAT version 5 files (MATLAB -v6/-v7, Octave -v7).

Why: importing ``scipy.io`` costs about 0.2 s, more than reading the data, and
``simplecnn gradient`` is timed as a whole process.  This module covers what
simpleNN files hold; ``scipy.io.loadmat``/``savemat`` remain the reference
path (``simplecnn_py.datafile`` falls back to them whenever this module
raises ``Unsupported``, and ``tests/test_mat5.py`` proves both give the same
arrays).

Format (MathWorks' "MAT-File Format", version 5): a 128-byte header (text,
subsystem offset, version 0x0100, endianness 'IM'), then data elements, each
an 8-byte tag (type, byte count) or a 4-byte "small element" tag, data padded
to 8 bytes.  A variable is a ``miMATRIX`` element, possibly inside a
``miCOMPRESSED`` (zlib) element, holding array flags (class, complex and
logical bits, nzmax), dimensions, name, and then the real part (numeric),
``ir``/``jc``/real part (sparse), or one ``miMATRIX`` per element (cell), in
column-major order.

Read: numeric classes, logical, sparse (double/logical) and cell arrays, little-
endian files.  Anything else (structs, objects, char, complex, big-endian)
raises ``Unsupported``.  Write: dense real double/single matrices and cell
arrays of them, uncompressed.

``prefetch(path, names)`` starts reading a file, and inflating its compressed
variables, in a thread; the next ``read`` of that file takes what it found.
This module imports numpy only when it builds arrays, so that a prefetch can
start before numpy is loaded: ``simplecnn gradient`` inflates its data file
(~17 ms of zlib for 1024 MNIST images; zlib lets other threads run) while
Python imports numpy (~85 ms on one core).
"""
from __future__ import annotations

import os
import struct as _struct
import threading
import zlib

__all__ = ["Unsupported", "prefetch", "read", "write"]


class Unsupported(Exception):
    """Something this reader does not handle: use scipy.io instead."""


# data element types (mi*, as numpy dtypes, little-endian) and array classes (mx*)
_MI = {1: "<i1", 2: "<u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<f4", 9: "<f8", 12: "<i8", 13: "<u8"}
miINT8, miUINT32, miINT32, miSINGLE, miDOUBLE, miMATRIX, miCOMPRESSED = 1, 6, 5, 7, 9, 14, 15
mxCELL, mxSPARSE, mxDOUBLE, mxSINGLE = 1, 5, 6, 7
_MX = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
_COMPLEX, _LOGICAL = 0x0800, 0x0200


# --- reading -----------------------------------------------------------------------

def read(path, names):
    """``{name: array}`` for the variables ``names`` of a MAT v5 file."""
    buf, inflated = _take_prefetched(path, names)
    if buf is None:
        with open(path, "rb") as f:
            buf = f.read()
    if len(buf) < 128 or buf[126:128] != b"IM":
        raise Unsupported("not a little-endian MAT v5 file")
    wanted, out = set(names), {}
    for mtype, body, nbytes in _elements(buf):
        if len(out) == len(wanted):
            break
        if mtype == miCOMPRESSED:
            inner = inflated.get(body)
            if inner is None:
                name = _peek_name(buf[body:body + nbytes])
                if name is None or name in wanted:
                    inner = zlib.decompress(buf[body:body + nbytes])
            if inner is not None:
                itype, ibytes = _struct.unpack_from("<II", inner, 0)
                if itype != miMATRIX:
                    raise Unsupported(f"compressed element of type {itype}")
                name, value = _matrix(memoryview(inner)[8:8 + ibytes], wanted)
                if name in wanted:
                    out[name] = value
        elif mtype == miMATRIX:
            name, value = _matrix(memoryview(buf)[body:body + nbytes], wanted)
            if name in wanted:
                out[name] = value
        else:
            raise Unsupported(f"top-level element of type {mtype}")
    return out


def _elements(buf):
    """(type, body offset, byte count) of each top-level element after the
    128-byte header (a compressed element is not padded to 8 bytes)."""
    pos = 128
    while pos + 8 <= len(buf):
        mtype, nbytes = _struct.unpack_from("<II", buf, pos)
        yield mtype, pos + 8, nbytes
        pos += 8 + nbytes + (0 if mtype == miCOMPRESSED else (-nbytes) % 8)


# --- prefetching ---------------------------------------------------------------------

_prefetched = {}     # absolute path -> (thread, names, [result])


def prefetch(path, names):
    """Start reading the MAT v5 file ``path`` in a thread, inflating the
    compressed variables among ``names``; the next ``read`` of ``path`` for
    those names uses the bytes read.  Never raises: whatever goes wrong is
    met again, and reported, by ``read``."""
    result = []

    def run():
        try:
            with open(path, "rb") as f:
                head = f.read(128)
                if head[126:128] != b"IM":      # not MAT v5 (HDF5, text, ...): not read here
                    return
                buf = head + f.read()
            inflated = {}
            for mtype, body, nbytes in _elements(buf):
                if mtype == miCOMPRESSED and _peek_name(buf[body:body + nbytes]) in names:
                    inflated[body] = zlib.decompress(memoryview(buf)[body:body + nbytes])
            result.append((buf, inflated))
        except Exception:        # read() reads the file itself, and says what is wrong
            pass

    thread = threading.Thread(target=run, name="simplecnn-prefetch", daemon=True)
    _prefetched[os.path.abspath(path)] = (thread, set(names), result)
    thread.start()


def _take_prefetched(path, names):
    """(file bytes, {body offset: inflated element}) from a prefetch of
    ``path`` covering ``names``, or (None, {})."""
    entry = _prefetched.pop(os.path.abspath(path), None)
    if entry is None:
        return None, {}
    thread, fetched, result = entry
    thread.join()
    if not result or not set(names) <= fetched:
        return None, {}
    return result[0]


def _peek_name(compressed):
    """The variable name of a compressed element, decompressing only its head."""
    d = zlib.decompressobj()
    head = d.decompress(compressed, 256)
    try:
        _, _, rest = _element(memoryview(head)[8:], 0)          # array flags
        _, _, rest2 = _element(memoryview(head)[8:], rest)      # dimensions
        t, name, _ = _element(memoryview(head)[8:], rest2)      # name
    except (_struct.error, ValueError, IndexError):
        return None
    return bytes(name).decode("latin-1")


def _element(mv, pos):
    """(type, data memoryview, next position) of the element at ``pos``."""
    word = _struct.unpack_from("<I", mv, pos)[0]
    if word >> 16:  # small data element: 2-byte count, 2-byte type, 4 bytes of data
        mtype, nbytes = word & 0xFFFF, word >> 16
        return mtype, mv[pos + 4:pos + 4 + nbytes], pos + 8
    mtype, nbytes = _struct.unpack_from("<II", mv, pos)
    start = pos + 8
    return mtype, mv[start:start + nbytes], start + nbytes + (-nbytes) % 8


def _numbers(mtype, data):
    import numpy as np

    if mtype not in _MI:
        raise Unsupported(f"data of type {mtype}")
    return np.frombuffer(data, dtype=_MI[mtype])


def _matrix(mv, wanted=None):
    """(name, value) of one miMATRIX body; value None when not wanted."""
    import numpy as np

    if len(mv) == 0:
        return "", np.zeros((0, 0))
    t, flags, pos = _element(mv, 0)
    flag_words = _numbers(t, flags)
    cls, bits = int(flag_words[0]) & 0xFF, int(flag_words[0])
    t, dims, pos = _element(mv, pos)
    dims = tuple(int(x) for x in _numbers(t, dims))
    t, name, pos = _element(mv, pos)
    name = bytes(name).decode("latin-1")
    if wanted is not None and name not in wanted:
        return name, None
    if bits & _COMPLEX:
        raise Unsupported("complex array")
    if cls == mxCELL:
        flat = np.empty(int(np.prod(dims)), dtype=object)
        for k in range(flat.size):
            t, sub, pos = _element(mv, pos)
            if t != miMATRIX:
                raise Unsupported(f"cell element of type {t}")
            flat[k] = _matrix(sub)[1]
        return name, flat.reshape(dims, order="F")
    if cls == mxSPARSE:
        t, ir, pos = _element(mv, pos)
        ir = _numbers(t, ir)
        t, jc, pos = _element(mv, pos)
        jc = _numbers(t, jc)
        t, pr, pos = _element(mv, pos)
        nnz = int(jc[-1]) if jc.size else 0
        pr = _numbers(t, pr)[:nnz] if len(pr) else np.zeros(0)
        import scipy.sparse

        dtype = bool if bits & _LOGICAL else np.float64
        return name, scipy.sparse.csc_matrix((pr.astype(dtype), ir[:nnz].astype(np.int64), jc.astype(np.int64)),
                                             shape=dims)
    if cls not in _MX:
        raise Unsupported(f"array class {cls}")
    t, pr, pos = _element(mv, pos)
    values = _numbers(t, pr) if len(pr) else np.zeros(0)
    dtype = _MX[cls]  # a logical array is uint8 with the logical bit; kept uint8, as scipy.io does
    if values.size != int(np.prod(dims)):
        raise ValueError(f"{name}: {values.size} values for dimensions {dims}")
    return name, values.astype(dtype).reshape(dims, order="F")


# --- writing -----------------------------------------------------------------------

def write(path, variables, header="MATLAB 5.0 MAT-file, written by simplecnn_py"):
    """Write ``{name: value}``: value a real float64/float32 array (1-D becomes
    a column) or an object array (a cell) of such arrays."""
    parts = [header.encode("ascii")[:116].ljust(116, b" ") + b"\x00" * 8 + b"\x00\x01" + b"IM"]
    for name, value in variables.items():
        parts.append(_matrix_bytes(name, value))
    with open(path, "wb") as f:
        f.write(b"".join(parts))


def _tagged(mtype, data):
    pad = (-len(data)) % 8
    return _struct.pack("<II", mtype, len(data)) + data + b"\x00" * pad


def _matrix_bytes(name, value):
    import numpy as np

    A = np.asarray(value)
    if A.ndim < 2:
        A = A.reshape(-1, 1)
    if A.dtype == object:
        cls = mxCELL
        body = b"".join(_matrix_bytes("", elem) for elem in A.reshape(-1, order="F"))
    elif A.dtype in (np.float64, np.float32):
        cls = mxDOUBLE if A.dtype == np.float64 else mxSINGLE
        mtype = miDOUBLE if A.dtype == np.float64 else miSINGLE
        body = _tagged(mtype, np.asarray(A, dtype=A.dtype.newbyteorder("<")).tobytes(order="F"))
    else:
        raise Unsupported(f"writing {A.dtype} arrays")
    flags = _tagged(miUINT32, _struct.pack("<II", cls, 0))
    dims = _tagged(miINT32, np.asarray(A.shape, dtype="<i4").tobytes())
    content = flags + dims + _tagged(miINT8, name.encode("latin-1")) + body
    return _tagged(miMATRIX, content)
