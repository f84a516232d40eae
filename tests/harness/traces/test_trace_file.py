"""Trace files: the MAT v7.3 layout written with h5py reads back bit for bit
(every class, N-D, empty, char, compressed or not); Octave's own HDF5 layout
(``save -hdf5``, what the emitted driver writes under Octave) reads into the
same values; Octave ``load``s a Python-written trace (its v7.3 reader keeps
the values, though not every class: single and int arrays come back double,
char as uint16 codes); writing is atomic."""
from __future__ import annotations

import subprocess
import shutil

import numpy as np
import pytest

from simplecnn_harness.traces.file import FORMAT, TraceError, read_trace, write_trace
from tests.conftest import needs_octave, octave_quote


def sample():
    rng = np.random.default_rng(3)
    return {
        "simplecnn_trace": FORMAT,
        "meta": '{"a": "x\\ty", "n": 1}',
        "engine": "Octave 7.3.0",
        "d": np.asfortranarray(rng.standard_normal((5, 3, 2))),
        "s": rng.standard_normal((4, 2)).astype(np.float32),
        "big": np.asfortranarray(np.maximum(rng.standard_normal((300, 200)), 0)),
        "i": np.arange(6, dtype=np.int32).reshape(2, 3),
        "u8": np.array([[1, 255]], dtype=np.uint8),
        "b": np.array([[True, False, True]]),
        "scalar": np.array([[2.5]]),
        "neg0": np.array([[-0.0, np.nan, np.inf]]),
        "empty": np.zeros((0, 3)),
    }


def same(a, b):
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], str):
            assert a[k] == b[k], k
        else:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            assert a[k].tobytes(order="F") == b[k].tobytes(order="F"), k


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_bit_for_bit(tmp_path, compress):
    v = sample()
    f = write_trace(tmp_path / "t.mat", v, compress=compress)
    assert f.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    same(read_trace(f), v)


def test_compression_shrinks_the_zeros(tmp_path):
    v = sample()
    a = write_trace(tmp_path / "a.mat", v).stat().st_size
    b = write_trace(tmp_path / "b.mat", v, compress=True).stat().st_size
    assert b < 0.8 * a


def test_octave_hdf5_layout_reads_the_same(tmp_path):
    """A file in Octave's layout (a group per variable: type and value), as
    ``save -hdf5`` writes it, built here with h5py."""
    import h5py

    v = sample()
    del v["empty"]
    f = tmp_path / "o.h5"
    types = {np.dtype(np.float64): "matrix", np.dtype(np.float32): "float matrix",
             np.dtype(np.int32): "int32 matrix", np.dtype(np.uint8): "uint8 matrix",
             np.dtype(np.bool_): "bool matrix"}
    with h5py.File(f, "w") as h:
        for k, x in v.items():
            g = h.create_group(k)
            g.attrs["OCTAVE_NEW_FORMAT"] = np.uint8(1)
            if isinstance(x, str):
                g["type"] = np.bytes_("sq_string")
                g["value"] = np.frombuffer(x.encode(), dtype=np.int8).reshape(-1, 1)
            elif x.size == 1 and x.dtype == np.float64:
                g["type"] = np.bytes_("scalar")
                g["value"] = x.reshape(())
            else:
                g["type"] = np.bytes_(types[x.dtype])
                g["value"] = np.ascontiguousarray(x.T).astype(np.uint8 if x.dtype == np.bool_ else x.dtype)
    same(read_trace(f), v)


def test_not_a_trace_and_missing_are_refused(tmp_path):
    with pytest.raises(TraceError, match="no such trace file"):
        read_trace(tmp_path / "none.mat")
    (tmp_path / "x.mat").write_bytes(b"MATLAB 5.0 MAT-file, not HDF5")
    with pytest.raises(TraceError, match="not an HDF5"):
        read_trace(tmp_path / "x.mat")
    v = sample()
    v["simplecnn_trace"] = "something-else/9"
    write_trace(tmp_path / "o.mat", v)
    with pytest.raises(TraceError, match="not a simplecnn trace"):
        read_trace(tmp_path / "o.mat")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    f = write_trace(tmp_path / "t.mat", sample())
    before = f.read_bytes()
    bad = sample()
    bad["z"] = np.array([1 + 2j])                # no MATLAB class for complex here
    with pytest.raises(ValueError):
        write_trace(f, bad)
    assert f.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.mat"]


@needs_octave
def test_octave_loads_a_python_written_trace(tmp_path):
    v = sample()
    f = write_trace(tmp_path / "t.mat", v, compress=True)
    exe = shutil.which("octave-cli") or shutil.which("octave")
    code = (f"T = load('{octave_quote(f)}'); "
            "assert(isequal(size(T.d), [5 3 2])); assert(isequal(size(T.s), [4 2])); "
            "assert(isequal(size(T.big), [300 200])); assert(T.scalar == 2.5); "
            "assert(isequal(double(T.i), [0 1 2; 3 4 5])); "
            "assert(strcmp(char(T.engine(:)'), 'Octave 7.3.0')); "
            "printf('%.17g\\n', T.d(2, 3, 2), T.big(7, 9));")
    out = subprocess.run([exe, "--no-gui", "--norc", "--quiet", "--eval", code], capture_output=True,
                         text=True, timeout=120)
    assert "error: assert" not in out.stderr and "error:" not in out.stderr.replace(
        "error: ignoring const execution_exception& while preparing to exit", ""), out.stderr
    vals = [float(x) for x in out.stdout.split()]
    assert vals == [v["d"][1, 2, 1], v["big"][6, 8]]


@needs_octave
def test_what_octave_save_hdf5_writes_reads_back(tmp_path):
    """The real ``save -hdf5`` of every class a trace holds, empties included."""
    exe = shutil.which("octave-cli") or shutil.which("octave")
    f = tmp_path / "o.h5"
    code = ("simplecnn_trace = 'simplecnn-trace/1'; d = reshape(1:24, 2, 3, 4) / 7; s = single([1.5 -2]); "
            "b = [true false]; bs = true; i = int32([1; -2]); sc = 3; e = zeros(0, 3); es = ''; "
            f"save('-hdf5', '{octave_quote(f)}', 'simplecnn_trace', 'd', 's', 'b', 'bs', 'i', 'sc', 'e', 'es');")
    subprocess.run([exe, "--no-gui", "--norc", "--quiet", "--eval", code], capture_output=True, timeout=120)
    v = read_trace(f)
    assert v["d"].shape == (2, 3, 4) and v["d"][1, 2, 3] == 24 / 7
    assert v["s"].dtype == np.float32 and v["s"].tolist() == [[1.5, -2.0]]
    assert v["b"].dtype == np.bool_ and v["b"].tolist() == [[True, False]]
    assert v["bs"].dtype == np.bool_ and v["bs"].shape == (1, 1)
    assert v["i"].dtype == np.int32 and v["i"].tolist() == [[1], [-2]]
    assert v["sc"].shape == (1, 1) and v["sc"][0, 0] == 3.0
    assert v["e"].shape == (0, 3) and v["es"] == ""


def test_an_unwritable_folder_is_one_line(tmp_path, monkeypatch):
    import tempfile

    from simplecnn_py.support.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        write_trace(tmp_path / "no" / "t.mat", sample())

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(InputError, match="cannot write .*Permission denied"):
        write_trace(tmp_path / "t.mat", sample())
    assert list(tmp_path.iterdir()) == []


def test_big_plain_arrays_are_mapped_not_read(tmp_path):
    v = sample()
    v["huge"] = np.asfortranarray(np.random.default_rng(0).standard_normal((400, 400)))
    v["mask"] = np.asfortranarray(np.random.default_rng(1).random((1200, 900)) > 0.5)
    f = write_trace(tmp_path / "t.mat", v)
    got = read_trace(f)
    assert isinstance(got["huge"].base, np.memmap) or isinstance(got["huge"], np.memmap)
    assert got["huge"].flags.f_contiguous and not got["huge"].flags.writeable
    assert got["mask"].dtype == np.bool_
    same(got, v)
    z = read_trace(write_trace(tmp_path / "z.mat", v, compress=True))      # compressed: read
    assert not isinstance(z["huge"].base, np.memmap)
    same(z, v)
