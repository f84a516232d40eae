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
"""
from __future__ import annotations

import struct as _struct
import zlib

import numpy as np

__all__ = ["Unsupported", "read", "write"]


class Unsupported(Exception):
    """Something this reader does not handle: use scipy.io instead."""


# data element types (mi*) and array classes (mx*)
_MI = {1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16, 5: np.int32, 6: np.uint32,
       7: np.float32, 9: np.float64, 12: np.int64, 13: np.uint64}
miINT8, miUINT32, miINT32, miSINGLE, miDOUBLE, miMATRIX, miCOMPRESSED = 1, 6, 5, 7, 9, 14, 15
mxCELL, mxSPARSE, mxDOUBLE, mxSINGLE = 1, 5, 6, 7
_MX = {6: np.float64, 7: np.float32, 8: np.int8, 9: np.uint8, 10: np.int16, 11: np.uint16,
       12: np.int32, 13: np.uint32, 14: np.int64, 15: np.uint64}
_COMPLEX, _LOGICAL = 0x0800, 0x0200


# --- reading -----------------------------------------------------------------------

def read(path, names):
    """``{name: array}`` for the variables ``names`` of a MAT v5 file."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 128 or buf[126:128] != b"IM":
        raise Unsupported("not a little-endian MAT v5 file")
    wanted, out, pos = set(names), {}, 128
    while pos + 8 <= len(buf) and len(out) < len(wanted):
        mtype, nbytes = _struct.unpack_from("<II", buf, pos)
        body = pos + 8
        if mtype == miCOMPRESSED:
            pos = body + nbytes
            name = _peek_name(buf[body:pos])
            if name is None or name in wanted:
                inner = zlib.decompress(buf[body:pos])
                itype, ibytes = _struct.unpack_from("<II", inner, 0)
                if itype != miMATRIX:
                    raise Unsupported(f"compressed element of type {itype}")
                name, value = _matrix(memoryview(inner)[8:8 + ibytes])
                out[name] = value
        elif mtype == miMATRIX:
            pos = body + nbytes + (-nbytes) % 8
            name, value = _matrix(memoryview(buf)[body:body + nbytes], wanted)
            if name in wanted:
                out[name] = value
        else:
            raise Unsupported(f"top-level element of type {mtype}")
    return out


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
    if mtype not in _MI:
        raise Unsupported(f"data of type {mtype}")
    return np.frombuffer(data, dtype=np.dtype(_MI[mtype]).newbyteorder("<"))


def _matrix(mv, wanted=None):
    """(name, value) of one miMATRIX body; value None when not wanted."""
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
