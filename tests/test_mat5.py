"""simplecnn_py.mat5 (the fast MAT v5 reader/writer) against scipy.io, the
reference path, on files written by scipy, by Octave and the shipped data."""
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from simplecnn_py import mat5
from simplecnn_py.datafile import loadmat

from conftest import needs_octave


def _cell(*values, shape=None):
    out = np.empty(len(values), dtype=object)
    for k, v in enumerate(values):
        out[k] = v
    return out.reshape(shape or (len(values), 1), order="F")


def corpus():
    rng = np.random.default_rng(0)
    sp = rng.standard_normal((7, 5)) * (rng.random((7, 5)) < 0.3)
    return {
        "dbl": rng.standard_normal((4, 3)),
        "sgl": rng.standard_normal((3, 5)).astype(np.float32),
        "i8": np.array([[-3, 4, 127]], dtype=np.int8),
        "u8": rng.integers(0, 256, (6, 2)).astype(np.uint8),
        "i16": np.array([[-300], [2]], dtype=np.int16),
        "u16": np.array([[60000]], dtype=np.uint16),
        "i32": np.array([[-70000, 5]], dtype=np.int32),
        "u32": np.array([[4000000000]], dtype=np.uint32),
        "i64": np.array([[-2**40]], dtype=np.int64),
        "u64": np.array([[2**60]], dtype=np.uint64),
        "small": np.array([[2.5]]),                      # small data element format
        "ints_as_double": np.array([[1.0, 2.0, 3.0]]),   # scipy may store these compactly
        "logic": np.array([[True, False], [False, True]]),
        "empty": np.zeros((0, 3)),
        "nd": rng.standard_normal((2, 3, 4)),
        "sparse": scipy.sparse.csc_matrix(sp),
        "sparse_empty": scipy.sparse.csc_matrix((3, 4)),
        "cell": _cell(rng.standard_normal((2, 2)), np.ones((3, 1), dtype=np.float32), np.zeros((0, 0))),
        "nested": _cell(_cell(np.array([[1.0]]), np.array([[2.0, 3.0]])), np.array([[4.0]]), shape=(1, 2)),
    }


def same(a, b):
    if scipy.sparse.issparse(b):
        return scipy.sparse.issparse(a) and a.shape == b.shape and np.array_equal(a.toarray(), b.toarray())
    a, b = np.asarray(a), np.asarray(b)
    if b.dtype == object:
        return a.dtype == object and a.shape == b.shape and all(same(x, y) for x, y in zip(a.ravel(), b.ravel()))
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("compress", [False, True])
def test_reads_scipy_files_as_scipy_does(tmp_path, compress):
    path = tmp_path / "c.mat"
    scipy.io.savemat(path, corpus(), do_compression=compress)
    names = list(corpus())
    ours = mat5.read(path, names)
    ref = scipy.io.loadmat(path, variable_names=names)
    for name in names:
        assert same(ours[name], ref[name]), name


def test_only_the_names_asked(tmp_path):
    path = tmp_path / "c.mat"
    scipy.io.savemat(path, corpus(), do_compression=True)
    assert set(mat5.read(path, ["u8", "sparse", "nope"])) == {"u8", "sparse"}


@pytest.mark.parametrize("value", [{"a": np.ones((1, 1))}, "text", np.ones((2, 2)) * 1j])
def test_unsupported_falls_back_to_scipy(tmp_path, value):
    path = tmp_path / "u.mat"
    scipy.io.savemat(path, {"x": value, "y": np.ones((1, 1))})
    with pytest.raises(mat5.Unsupported):
        mat5.read(path, ["x"])
    got = loadmat(path, ["x"])["x"]  # datafile falls back to scipy.io
    assert got is not None


@needs_octave
@pytest.mark.parametrize("fmt", ["-v7", "-v6"])
def test_reads_octave_files(tmp_path, fmt):
    path = tmp_path / "o.mat"
    script = ("dbl = reshape(1:12, 3, 4) / 7; sgl = single([1.5 2.5]); u8 = uint8([0 255; 7 9]); "
              "i32 = int32([-5; 6]); logic = [true false true]; sp = sparse([1 3], [2 2], [4.5 -1], 4, 3); "
              "c = {magic(3), single(2); [], {1, [2 3]}}; e = zeros(0, 2); nd = reshape(1:24, 2, 3, 4); "
              f"save('{fmt}', '{path}', 'dbl', 'sgl', 'u8', 'i32', 'logic', 'sp', 'c', 'e', 'nd');")
    r = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--eval", script], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    names = ["dbl", "sgl", "u8", "i32", "logic", "sp", "c", "e", "nd"]
    ours = mat5.read(path, names)
    ref = scipy.io.loadmat(path, variable_names=names)
    for name in names:
        assert same(ours[name], ref[name]), name
    assert ours["sp"][2, 1] == -1 and ours["c"][1, 1][0, 1][0, 1] == 3


def test_reads_the_shipped_mnist_file(shared_data):
    path = shared_data / "mnist-demo.t.mat"
    ours = mat5.read(path, ["y", "Z"])
    ref = scipy.io.loadmat(path)
    assert same(ours["y"], ref["y"]) and same(ours["Z"], ref["Z"])


def test_written_files_read_by_scipy(tmp_path):
    rng = np.random.default_rng(1)
    variables = {"loss": np.array([[3.25]]), "row": np.arange(5.0), "s": rng.standard_normal((3, 2)).astype(np.float32),
                 "c": _cell(rng.standard_normal((4, 7)), rng.standard_normal((4, 1)).astype(np.float32)),
                 "fortran": np.asfortranarray(rng.standard_normal((5, 6))), "view": rng.standard_normal((6, 5)).T}
    mat5.write(tmp_path / "w.mat", variables)
    ref = scipy.io.loadmat(tmp_path / "w.mat")
    assert same(ref["loss"], variables["loss"]) and same(ref["row"], variables["row"].reshape(-1, 1))
    assert same(ref["s"], variables["s"]) and same(ref["c"], variables["c"])
    assert same(ref["fortran"], variables["fortran"]) and same(ref["view"], variables["view"])
    ours = mat5.read(tmp_path / "w.mat", list(variables))
    assert same(ours["c"], variables["c"])
    with pytest.raises(mat5.Unsupported):
        mat5.write(tmp_path / "x.mat", {"i": np.arange(3)})


# --- prefetch -------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
def test_a_prefetched_read_gives_the_same_arrays(tmp_path, compress, monkeypatch):
    path = tmp_path / "c.mat"
    scipy.io.savemat(path, corpus(), do_compression=compress)
    names = list(corpus())
    plain = mat5.read(path, names)
    inflated = []
    real = mat5.zlib.decompress
    monkeypatch.setattr(mat5.zlib, "decompress", lambda *a: inflated.append(1) or real(*a))
    mat5.prefetch(str(path), names)
    mat5._prefetched[os.path.abspath(path)][0].join()
    done_in_thread = len(inflated)
    fetched = mat5.read(path, names)
    assert set(fetched) == set(plain) and all(same(fetched[k], plain[k]) for k in names)
    if compress:                      # all inflating was done by the prefetch
        assert done_in_thread == len(names) and len(inflated) == done_in_thread
    assert not mat5._prefetched       # used once


def test_a_prefetch_for_other_names_is_not_used(tmp_path):
    path = tmp_path / "c.mat"
    scipy.io.savemat(path, corpus(), do_compression=True)
    mat5.prefetch(path, ["u8"])
    got = mat5.read(path, ["u8", "dbl"])
    assert same(got["dbl"], corpus()["dbl"]) and same(got["u8"], corpus()["u8"])


def test_a_prefetch_that_fails_leaves_the_error_to_read(tmp_path):
    missing = tmp_path / "none.mat"
    mat5.prefetch(missing, ["y"])        # does not raise
    with pytest.raises(FileNotFoundError):
        mat5.read(missing, ["y"])
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"MATLAB 5.0".ljust(126, b" ") + b"IM" + b"\x0f\x00\x00\x00\x10\x00\x00\x00" + b"not zlib" * 2)
    mat5.prefetch(bad, ["y"])
    with pytest.raises(Exception) as e:
        mat5.read(bad, ["y"])
    assert not isinstance(e.value, AssertionError)
    h5 = tmp_path / "h.mat"                # not MAT v5: the prefetch keeps nothing
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(600))
    mat5.prefetch(h5, ["y"])
    thread, _, result = mat5._prefetched.pop(os.path.abspath(h5))
    thread.join()
    assert result == []


def test_mat5_can_start_before_numpy_is_loaded():
    """simplecnn gradient prefetches its data file before numpy is imported."""
    code = ("import sys; import simplecnn_py.mat5 as m; assert 'numpy' not in sys.modules, 'numpy loaded'; "
            "m.prefetch('/nonexistent.mat', ['y']); m._prefetched.popitem()[1][0].join(); "
            "assert 'numpy' not in sys.modules, 'numpy loaded by the thread'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
