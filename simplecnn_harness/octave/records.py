"""Reading what the Octave recorder (``octave/simplecnn_rec__.m``) wrote.

``records.idx`` has one line per recorded value, in execution order::

    name layer class file nbytes ndims dim1 dim2 ...

and each kept value is in ``file``, written by Octave's ``save -binary``:
the magic ``Octave-1-L`` and a float-format byte, then for the one variable
its name and doc string (int32 length + bytes each), a global flag byte, a
type byte (255: the type name follows as int32 length + text), and for a
matrix type ``-ndims`` and the dims (int32), a storage-type byte (double
and float matrices only: Octave stores big all-integer double matrices in a
smaller integer type) and the raw column-major data.  Values are mapped
read-only with ``numpy.memmap`` (no copy) in MATLAB's shape and order.
"""
from __future__ import annotations

import struct as _struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Octave's save_type codes (ls-utils.h)
_SAVE_TYPES = {0: np.uint8, 1: np.uint16, 2: np.uint32, 3: np.int8, 4: np.int16, 5: np.int32,
               6: np.float32, 7: np.float64, 8: np.uint64, 9: np.int64}
# matrix type names without a storage-type byte
_PLAIN = {"bool matrix": np.uint8, "int8 matrix": np.int8, "uint8 matrix": np.uint8,
          "int16 matrix": np.int16, "uint16 matrix": np.uint16, "int32 matrix": np.int32,
          "uint32 matrix": np.uint32, "int64 matrix": np.int64, "uint64 matrix": np.uint64}
_SCALARS = {"bool": np.uint8, "int8 scalar": np.int8, "uint8 scalar": np.uint8,
            "int16 scalar": np.int16, "uint16 scalar": np.uint16, "int32 scalar": np.int32,
            "uint32 scalar": np.uint32, "int64 scalar": np.int64, "uint64 scalar": np.uint64}
_CLASS_DTYPES = {"double": np.float64, "single": np.float32, "logical": np.bool_,
                 "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
                 "int32": np.int32, "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64}


class UnreadableRecord(Exception):
    pass


def load_octave_binary(path) -> np.ndarray:
    """The one variable of a ``save -binary`` file, as a (memory-mapped) array."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4096)

    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(head):
            raise UnreadableRecord(f"{path.name}: truncated header")
        out = head[pos:pos + n]
        pos += n
        return out

    def i32():
        return _struct.unpack("<i", take(4))[0]

    if take(10) != b"Octave-1-L":
        raise UnreadableRecord(f"{path.name}: not a little-endian Octave binary file")
    take(1)                              # float format
    take(i32())                          # name
    take(i32())                          # doc string
    take(1)                              # global flag
    code = take(1)[0]
    if code != 255:
        raise UnreadableRecord(f"{path.name}: old-style Octave type code {code}")
    tname = take(i32()).decode("ascii", "replace")
    if tname in ("scalar", "float scalar"):
        st = take(1)[0]
        dtype = _SAVE_TYPES[st]
        return np.frombuffer(take(np.dtype(dtype).itemsize), dtype=dtype).reshape(1, 1)
    if tname in _SCALARS:
        dtype = _SCALARS[tname]
        return np.frombuffer(take(np.dtype(dtype).itemsize), dtype=dtype).reshape(1, 1)
    if tname in ("matrix", "float matrix") or tname in _PLAIN:
        nd = i32()
        if nd >= 0:                      # old 2-D form: rows, then columns
            dims = (nd, i32())
        else:
            dims = tuple(i32() for _ in range(-nd))
        if tname in _PLAIN:
            dtype = _PLAIN[tname]
        else:
            dtype = _SAVE_TYPES.get(take(1)[0])
            if dtype is None:
                raise UnreadableRecord(f"{path.name}: unknown storage type")
        n = int(np.prod(dims))
        if n == 0:
            return np.zeros(dims, dtype=dtype, order="F")
        return np.memmap(path, dtype=dtype, mode="r", offset=pos, shape=dims, order="F")
    raise UnreadableRecord(f"{path.name}: Octave type '{tname}' is not read by the harness")


@dataclass
class Record:
    seq: int              # order of execution
    name: str             # 's<id>' for a statement, or a 'put' name
    layer: float
    cls: str
    file: str             # '-' when only class and size were recorded
    nbytes: int
    shape: tuple
    folder: Path | None = None
    _cache: np.ndarray | None = None
    problem: str | None = None

    @property
    def stmt_id(self) -> int | None:
        return int(self.name[1:]) if self.name.startswith("s") and self.name[1:].isdigit() else None

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 0

    @property
    def has_values(self) -> bool:
        return self.file != "-"

    @property
    def key(self) -> str:
        """``NAME@LAYER`` as the recorder's ``only`` list names a record."""
        return f"{self.name}@{self.layer:.17g}"

    @property
    def was_read(self) -> bool:
        """True once :meth:`value` has read the values."""
        return self._cache is not None

    def value(self) -> np.ndarray | None:
        """The recorded array (MATLAB's shape, Fortran order, MATLAB's class), or None."""
        if not self.has_values:
            return None
        if self._cache is None:
            try:
                a = load_octave_binary(self.folder / self.file)
            except (UnreadableRecord, OSError) as e:
                self.problem = str(e)
                return None
            want = _CLASS_DTYPES.get(self.cls)
            if want is not None and a.dtype != want:
                a = np.asfortranarray(a.astype(want))     # Octave's compact integer storage
            if a.shape != self.shape and a.size == self.numel:
                a = a.reshape(self.shape, order="F")
            self._cache = a
        return self._cache


def read_records(folder) -> list[Record]:
    folder = Path(folder)
    idx = folder / "records.idx"
    if not idx.exists():
        return []
    out = []
    for seq, line in enumerate(idx.read_text().splitlines()):
        parts = line.split()
        if len(parts) < 6:
            continue
        name, layer, cls, file, nbytes, nd = parts[:6]
        shape = tuple(int(x) for x in parts[6:6 + int(nd)])
        out.append(Record(seq, name, float(layer), cls, file, int(nbytes), shape, folder))
    return out


def read_error(folder):
    """``(step, message, stack)`` from ``error.txt``, or None."""
    f = Path(folder) / "error.txt"
    if not f.exists():
        return None
    lines = f.read_text(errors="replace").splitlines()
    step = lines[0] if lines else ""
    message = "; ".join(p.strip() for p in (lines[1] if len(lines) > 1 else "").split("<NL>") if p.strip())
    stack = [ln.split("\t") for ln in lines[2:] if ln.strip()]
    return step, message, stack
