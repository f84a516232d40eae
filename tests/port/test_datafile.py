"""Data, weights and gradient MAT files; check_data's layout.

Oracles: explicit loops over check_data's index definitions (its docstring), Octave
(its own reshape/permute, its save -struct, its load of our files), and
MATLAB v7.3 files built here with h5py following MATLAB's documented layout
(Octave cannot write v7.3).
"""
import re
import subprocess

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from simplecnn_py.cnn.check_data import check_data
from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.support.datafile import (load_data, load_weights, loadmat, rowmajor_to_colmajor, save_data,
                                   save_gradient, save_weights, scale_pixels, subtract_mean)
from simplecnn_py.support.errors import InputError
from simplecnn_py.cnn.read_config import weight_shapes

from conftest import needs_octave


def make_param(a=5, b=4, d=2, nL=3, ch=(3,), pad=(1,), h=(3,), s=(1,), pool=(2,), full=None):
    LC = len(ch)
    full = full or (nL,)
    return struct(L=LC + len(full), LC=LC, LF=len(full), ht_input=a, wd_input=b,
                  ch_input=cell((d,) + tuple(ch)), wd_pad_added=cell(pad), wd_filter=cell(h),
                  strides=cell(s), wd_subimage_pool=cell(pool), full_neurons=cell(full),
                  nL=full[-1], precision="double")


def octave(script, timeout=120):
    r = subprocess.run(["octave-cli", "--no-gui", "--quiet", "--eval", script],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


# --- MATLAB v7.3 files written the way MATLAB writes them --------------------

def write_v73(path, variables):
    """A MAT v7.3 file: 512-byte MATLAB header, then HDF5 with MATLAB's layout
    (transposed datasets, MATLAB_class attributes, sparse groups, cells as
    references into #refs#)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        counter = [0]

        def put(parent, name, value):
            if scipy.sparse.issparse(value):
                A = scipy.sparse.csc_matrix(value)
                g = parent.create_group(name)
                g.attrs["MATLAB_class"] = np.bytes_("double")
                g.attrs["MATLAB_sparse"] = np.uint64(A.shape[0])
                if A.nnz:
                    g.create_dataset("data", data=A.data.astype(np.float64))
                    g.create_dataset("ir", data=A.indices.astype(np.uint64))
                g.create_dataset("jc", data=A.indptr.astype(np.uint64))
                return g
            if isinstance(value, np.ndarray) and value.dtype == object:
                ref_list = np.empty(value.T.shape, dtype=h5py.ref_dtype)
                for idx, elem in np.ndenumerate(value):
                    counter[0] += 1
                    ds = put(refs, f"r{counter[0]}", elem)
                    ref_list[idx[::-1]] = ds.ref
                ds = parent.create_dataset(name, data=ref_list, dtype=h5py.ref_dtype)
                ds.attrs["MATLAB_class"] = np.bytes_("cell")
                return ds
            A = np.atleast_2d(np.asarray(value))
            cls = {np.dtype(np.float64): "double", np.dtype(np.float32): "single",
                   np.dtype(np.uint8): "uint8"}[A.dtype]
            ds = parent.create_dataset(name, data=np.ascontiguousarray(A.T))
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
            return ds

        for name, value in variables.items():
            put(f, name, value)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


# --- check_data: the layout of prob.data --------------------------------------

def test_check_data_layout_against_explicit_loops():
    """data(k + d*(r + a*c) + 1, i) = Z(i, r + a*c + a*b*k + 1) (0-based k, r, c)."""
    a, b, d, l = 5, 4, 3, 7
    param = make_param(a, b, d, nL=3)
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((l, a * b * d))
    y = np.array([2, 7, 7, 9, 2, 9, 2.0])
    prob = check_data(struct(y=y, Z=Z), param)
    expected = np.zeros((d * a * b, l))
    for i in range(l):
        for k in range(d):
            for r in range(a):
                for c in range(b):
                    expected[k + d * (r + a * c), i] = Z[i, r + a * c + a * b * k]
    assert np.array_equal(prob.data, expected)
    assert prob.data.flags.f_contiguous and prob.data.dtype == np.float64
    assert prob.l == l
    assert np.array_equal(prob.label_enum, [2, 7, 9])
    assert np.array_equal(prob.y_mapped, [1, 2, 2, 3, 1, 3, 1])
    onehot = np.zeros((3, l))
    for i, k in enumerate([1, 2, 2, 3, 1, 3, 1]):
        onehot[k - 1, i] = 1
    assert np.array_equal(prob.label_mat, onehot) and prob.label_mat.flags.f_contiguous


def test_check_data_single_precision_and_sparse():
    a, b, d, l = 3, 3, 1, 4
    param = make_param(a, b, d, nL=2, ch=(2,), pool=(1,))
    param.precision = "single"
    Z = np.arange(l * a * b, dtype=np.float64).reshape(l, a * b) / 7
    dense = check_data(struct(y=np.array([1, 2, 1, 2.0]), Z=Z), param)
    sparse = check_data(struct(y=np.array([1, 2, 1, 2.0]), Z=scipy.sparse.csr_matrix(Z)), param)
    assert dense.data.dtype == np.float32 and dense.label_mat.dtype == np.float32
    assert np.array_equal(dense.data, sparse.data)
    assert np.array_equal(dense.data, Z.T.astype(np.float32))  # d = 1: data is Z'


@needs_octave
def test_check_data_matches_octave_reshape_permute(tmp_path):
    a, b, d, l = 4, 3, 2, 5
    Z = np.random.default_rng(2).integers(0, 100, (l, a * b * d)).astype(float)
    scipy.io.savemat(tmp_path / "z.mat", {"Z": Z})
    octave(f"load('{tmp_path / 'z.mat'}'); data = reshape(permute(reshape(Z', {a}, {b}, {d}, {l}), [3 1 2 4]), "
           f"{d * a * b}, {l}); save('-v7', '{tmp_path / 'd.mat'}', 'data');")
    expected = scipy.io.loadmat(tmp_path / "d.mat")["data"]
    prob = check_data(struct(y=np.arange(l) % 3, Z=Z), make_param(a, b, d, nL=3))
    assert np.array_equal(prob.data, expected)


def test_check_data_label_count_differs_from_nL():
    param = make_param(2, 2, 1, nL=10)
    prob = struct(y=np.array([0, 1, 2, 1.0]), Z=np.zeros((4, 4)))
    with pytest.raises(InputError, match=r"y has 3 distinct labels \(0, 1, 2\) but .* nL = .* = 10") as e:
        check_data(prob, param, where="x.mat")
    assert e.value.where == "x.mat"


# --- loading data -------------------------------------------------------------

def test_load_dense_v5_and_v4(tmp_path):
    param = make_param(3, 2, 2, nL=2)
    Z = np.arange(48, dtype=float).reshape(4, 12)
    y = np.array([[5.0], [6.0], [5.0], [6.0]])
    for fmt in ("5", "4"):
        path = tmp_path / f"d{fmt}.mat"
        scipy.io.savemat(path, {"y": y, "Z": Z}, format=fmt)
        prob = load_data(path, param)
        assert np.array_equal(prob.Z, Z) and np.array_equal(prob.y, [5, 6, 5, 6]) and prob.l == 4


def test_load_uint8_and_row_labels(tmp_path):
    param = make_param(2, 2, 1, nL=2)
    Z = np.array([[0, 255, 3, 4], [1, 2, 3, 4]], dtype=np.uint8)
    scipy.io.savemat(tmp_path / "d.mat", {"y": np.array([[1, 2]]), "Z": Z})
    prob = load_data(tmp_path / "d.mat", param)
    assert prob.Z.dtype == np.float64 and prob.Z[0, 1] == 255.0
    assert np.array_equal(prob.y, [1, 2])


def test_short_sparse_rows_are_padded_with_zeros(tmp_path):
    param = make_param(3, 3, 2, nL=2)  # 18 columns needed
    rng = np.random.default_rng(3)
    dense = np.zeros((5, 18))
    dense[:, :11] = rng.standard_normal((5, 11)) * (rng.random((5, 11)) < 0.5)
    short = scipy.sparse.csc_matrix(dense[:, :11])
    y = np.array([1, 2, 1, 2, 2.0])
    scipy.io.savemat(tmp_path / "s.mat", {"y": y[:, None], "Z": short})
    prob = load_data(tmp_path / "s.mat", param)
    assert scipy.sparse.issparse(prob.Z) and prob.Z.shape == (5, 18)
    assert np.array_equal(prob.Z.toarray(), dense)
    full = check_data(prob, param)
    ref = check_data(struct(y=y, Z=dense), param)
    assert np.array_equal(full.data, ref.data)


def test_rowmajor_against_explicit_pixels():
    """Row-major storage: pixel (r, c) of channel k at column k*a*b + r*b + c."""
    a, b, d, l = 3, 5, 2, 2
    img = np.random.default_rng(4).standard_normal((l, d, a, b))
    Zrow = np.zeros((l, a * b * d))
    Zcol = np.zeros((l, a * b * d))
    for i in range(l):
        for k in range(d):
            for r in range(a):
                for c in range(b):
                    Zrow[i, k * a * b + r * b + c] = img[i, k, r, c]
                    Zcol[i, k * a * b + r + a * c] = img[i, k, r, c]
    assert np.array_equal(rowmajor_to_colmajor(Zrow, a, b, d), Zcol)
    sparse = rowmajor_to_colmajor(scipy.sparse.csc_matrix(Zrow), a, b, d)
    assert np.array_equal(sparse.toarray(), Zcol)


@needs_octave
def test_rowmajor_matches_octave_expression(tmp_path):
    a, b, d = 4, 3, 2
    Z = np.random.default_rng(5).integers(0, 9, (3, a * b * d)).astype(float)
    scipy.io.savemat(tmp_path / "z.mat", {"Z": Z})
    octave(f"load('{tmp_path / 'z.mat'}'); Z = reshape(permute(reshape(Z, [], {b}, {a}, {d}), [1 3 2 4]), [], "
           f"{a * b * d}); save('-v7', '{tmp_path / 'c.mat'}', 'Z');")
    assert np.array_equal(rowmajor_to_colmajor(Z, a, b, d), scipy.io.loadmat(tmp_path / "c.mat")["Z"])


def test_shipped_mnist_rowmajor(shared_data):
    param = make_param(28, 28, 1, nL=10, ch=(16,), pad=(2,), h=(5,))
    prob = load_data(shared_data / "mnist-demo.t.mat", param, rowmajor=True)
    raw = scipy.io.loadmat(shared_data / "mnist-demo.t.mat")["Z"]
    assert prob.l == 1000 and prob.Z.shape == (1000, 784)
    # pixel (r, c) of instance i sits at r*28 + c in the file, r + 28*c after
    assert prob.Z[0, 5 + 28 * 17] == raw[0, 5 * 28 + 17]
    assert np.array_equal(prob.Z.reshape(1000, 28, 28).transpose(0, 2, 1), raw.reshape(1000, 28, 28))
    prob = check_data(prob, param)
    assert np.array_equal(prob.label_enum, np.arange(10)) and prob.label_mat.sum() == 1000


def test_preprocessing_helpers():
    Z = np.array([[0, 255.0], [51, 102]])
    S = scale_pixels(Z)
    assert np.array_equal(S, [[0, 1], [0.2, 0.4]])
    C, mu = subtract_mean(S)
    assert np.allclose(mu, [[0.1, 0.7]]) and np.allclose(C.sum(axis=0), 0)
    C2, _ = subtract_mean(np.array([[1.0, 1.0]]), mu)
    assert np.allclose(C2, [[0.9, 0.3]])


# --- MAT v7.3 -------------------------------------------------------------------

def test_v73_dense_sparse_and_cells_equal_v5(tmp_path):
    param = make_param(3, 3, 2, nL=2)
    rng = np.random.default_rng(6)
    Z = rng.standard_normal((4, 18))
    y = np.array([[3.0], [1.0], [3.0], [1.0]])
    write_v73(tmp_path / "d73.mat", {"y": y, "Z": Z})
    assert open(tmp_path / "d73.mat", "rb").read(10) == b"MATLAB 7.3"
    prob = load_data(tmp_path / "d73.mat", param)
    assert np.array_equal(prob.Z, Z) and np.array_equal(prob.y, y.ravel())

    short = Z[:, :13] * (rng.random((4, 13)) < 0.4)
    write_v73(tmp_path / "s73.mat", {"y": y, "Z": scipy.sparse.csc_matrix(short)})
    prob = load_data(tmp_path / "s73.mat", param)
    expected = np.zeros((4, 18))
    expected[:, :13] = short
    assert scipy.sparse.issparse(prob.Z) and np.array_equal(prob.Z.toarray(), expected)

    c = np.empty((2, 1), dtype=object)
    c[0, 0], c[1, 0] = np.arange(6.0).reshape(2, 3), np.ones((3, 1), dtype=np.float32)
    write_v73(tmp_path / "c73.mat", {"c": c})
    got = loadmat(tmp_path / "c73.mat", ["c"])["c"]
    assert got.shape == (2, 1) and np.array_equal(got[0, 0], c[0, 0]) and got[1, 0].dtype == np.float32


def test_v73_weights(tmp_path):
    param = make_param(5, 4, 2, nL=3)
    weight, bias = _weights(param)
    write_v73(tmp_path / "w73.mat", {"weight": _cellarr(weight), "bias": _cellarr(bias)})
    W, b = load_weights(tmp_path / "w73.mat", param)
    for m in range(1, param.L + 1):
        assert np.array_equal(W[m], weight[m - 1]) and np.array_equal(b[m], bias[m - 1])


@needs_octave
def test_octave_hdf5_is_refused_with_advice(tmp_path):
    octave(f"y = [1;2]; Z = ones(2, 4); save('-hdf5', '{tmp_path / 'o.mat'}', 'y', 'Z');")
    with pytest.raises(InputError, match="Octave's save -hdf5"):
        load_data(tmp_path / "o.mat", make_param(2, 2, 1, nL=2))


# --- bad data files -------------------------------------------------------------

def _bad(tmp_path, variables, name="bad.mat"):
    path = tmp_path / name
    scipy.io.savemat(path, variables)
    return path


BAD_DATA = [
    ({"y": np.ones((3, 1))}, r"^no variable Z "),
    ({"Z": np.ones((3, 6))}, r"^no variable y "),
    ({"y": np.ones((3, 1)), "Z": np.ones((3, 7))}, r"^Z has 7 columns; the config's 3 x 2 x 1 images need 6"),
    ({"y": np.ones((3, 1)), "Z": np.ones((3, 5))}, r"^Z has 5 columns; .*need 6 .*only a sparse Z may have fewer"),
    ({"y": np.ones((3, 1)), "Z": scipy.sparse.csc_matrix(np.ones((3, 8)))}, r"^sparse Z has 8 columns"),
    ({"y": np.ones((4, 1)), "Z": np.ones((3, 6))}, r"^y has 4 labels but Z has 3 rows"),
    ({"y": np.ones((3, 1)), "Z": np.where(np.eye(3, 6) > 0, np.nan, 1.0)}, r"^Z has 3 NaN/Inf entries \(first Z\(1,1\) = nan\)"),
    ({"y": np.ones((3, 1)), "Z": scipy.sparse.csc_matrix(np.diag([1, np.inf, 1.0]))[:, [0, 1, 2, 0, 1, 2]]},
     r"^Z has 2 NaN/Inf entries \(first Z\(2,2\) = inf\)"),
    ({"y": np.array([[1.0], [np.inf], [2.0]]), "Z": np.ones((3, 6))}, r"^y has 1 NaN/Inf entries \(first y\(2\) = inf\)"),
    ({"y": np.ones((3, 2)), "Z": np.ones((3, 6))}, r"^y is 3 x 2; labels must be a vector"),
    ({"y": np.ones((3, 1)), "Z": np.ones((3, 6)) * 1j}, r"^Z is complex"),
    ({"y": np.ones((3, 1)), "Z": np.array([[np.ones(6)]] * 3, dtype=object)}, r"^Z is a cell array"),
    ({"y": np.ones((3, 1)), "Z": "abcdef"}, r"^Z is text"),
    ({"y": np.ones((0, 1)), "Z": np.ones((0, 6))}, r"^Z has no rows"),
]


@pytest.mark.parametrize("variables, message", BAD_DATA, ids=[f"bad{k}" for k in range(len(BAD_DATA))])
def test_bad_data_one_line_error_naming_file(tmp_path, variables, message):
    path = _bad(tmp_path, variables)
    with pytest.raises(InputError) as e:
        load_data(path, make_param(3, 2, 1, nL=2))
    assert e.value.where == str(path) and "\n" not in e.value.what
    assert re.search(message, e.value.what), e.value.what


def test_not_a_mat_file(tmp_path):
    param = make_param(2, 2, 1, nL=2)
    cases = {"missing.mat": None, "empty.mat": b"", "text.mat": b"hello, this is not a MAT file at all\n" * 4,
             "octave.mat": b"# Created by Octave 7.3.0\n# name: Z\n", "trunc.mat": None}
    for name, content in cases.items():
        path = tmp_path / name
        if name == "trunc.mat":
            save_data(path, [1, 2], np.ones((2, 4)))
            path.write_bytes(path.read_bytes()[:200])
        elif content is not None:
            path.write_bytes(content)
        with pytest.raises(InputError) as e:
            load_data(path, param)
        assert e.value.where == str(path) and "\n" not in e.value.what
        expected = {"missing.mat": "no such file", "empty.mat": "empty file", "text.mat": "not a MAT file",
                    "octave.mat": "Octave text file", "trunc.mat": "cannot read as a MAT file"}[name]
        assert expected in e.value.what, (name, e.value.what)
    with pytest.raises(InputError, match="is a directory"):
        load_data(tmp_path, param)


# --- weights --------------------------------------------------------------------

def _weights(param):
    """Deterministic weights of the config's shapes (the same formula as in Octave below)."""
    weight, bias = [], []
    for m, (r, c) in enumerate(weight_shapes(param), start=1):
        k = np.arange(1, r * c + 1, dtype=float)
        weight.append(np.reshape(np.sin(k * m) / m, (r, c), order="F"))
        bias.append(np.cos(np.arange(1, r + 1) * m)[:, None])
    return weight, bias


def _cellarr(values):
    out = np.empty((len(values), 1), dtype=object)
    for k, v in enumerate(values):
        out[k, 0] = v
    return out


def test_weights_round_trip(tmp_path):
    param = make_param(5, 4, 2, nL=3, ch=(3, 4), pad=(1, 0), h=(3, 2), s=(1, 1), pool=(2, 1), full=(6, 3))
    weight, bias = _weights(param)
    save_weights(tmp_path / "w.mat", cell(weight), cell(bias))
    raw = scipy.io.loadmat(tmp_path / "w.mat")
    assert raw["weight"].shape == (param.L, 1) and raw["bias"].shape == (param.L, 1)
    W, b = load_weights(tmp_path / "w.mat", param)
    for m in range(1, param.L + 1):
        assert np.array_equal(W[m], weight[m - 1]) and W[m].flags.f_contiguous
        assert np.array_equal(b[m], bias[m - 1]) and b[m].shape == (weight[m - 1].shape[0], 1)


@needs_octave
def test_weights_written_by_octave_save_struct(tmp_path):
    """Octave's save('w.mat', '-struct', 'model', 'weight', 'bias') is read as is,
    and the weights we save load in Octave as L x 1 cells of the same values."""
    param = make_param(5, 4, 2, nL=3, ch=(3, 4), pad=(1, 0), h=(3, 2), s=(1, 1), pool=(2, 1), full=(6, 3))
    shapes = weight_shapes(param)
    script = "model = struct(); model.weight = cell(4, 1); model.bias = cell(4, 1);"
    for m, (r, c) in enumerate(shapes, start=1):
        script += (f"model.weight{{{m}}} = reshape(sin((1:{r * c}) * {m}) / {m}, {r}, {c}); "
                   f"model.bias{{{m}}} = cos((1:{r})' * {m});")
    script += f"save('-v7', '{tmp_path / 'w.mat'}', '-struct', 'model', 'weight', 'bias');"
    octave(script)
    W, b = load_weights(tmp_path / "w.mat", param)
    weight, bias = _weights(param)
    for m in range(1, 5):
        assert np.allclose(W[m], weight[m - 1], rtol=0, atol=1e-15)
        assert np.allclose(b[m], bias[m - 1], rtol=0, atol=1e-15)

    save_weights(tmp_path / "ours.mat", W, b)
    out = octave(f"load('{tmp_path / 'ours.mat'}'); other = load('{tmp_path / 'w.mat'}'); "
                 "fprintf('%d %d %d %d\\n', iscell(weight), iscell(bias), size(weight, 1), size(weight, 2)); "
                 "for m = 1:4, fprintf('%d %d %d %d\\n', isequal(weight{m}, other.weight{m}), "
                 "isequal(bias{m}, other.bias{m}), size(bias{m}, 1), size(bias{m}, 2)); end")
    lines = out.split("\n")
    assert lines[0] == "1 1 4 1"
    for m in range(1, 5):
        assert lines[m] == f"1 1 {shapes[m - 1][0]} 1"


BAD_WEIGHTS = [
    (lambda W, b: {"weight": _cellarr(W)}, r"^no variable bias "),
    (lambda W, b: {"weight": W[0], "bias": _cellarr(b)}, r"^weight is a 3 x 18 double array; an L x 1 cell array \(L = 2\)"),
    (lambda W, b: {"weight": _cellarr(W[:1]), "bias": _cellarr(b)}, r"^weight has 1 cells; the config has L = 2"),
    (lambda W, b: {"weight": _cellarr([W[0][:, :-1], W[1]]), "bias": _cellarr(b)},
     r"^layer 1 \(conv\): weight\{1\} is 3 x 17; the config needs 3 x 18"),
    (lambda W, b: {"weight": _cellarr([W[0], W[1].T]), "bias": _cellarr(b)},
     r"^layer 2 \(full\): weight\{2\} is 12 x 2; the config needs 2 x 12"),
    (lambda W, b: {"weight": _cellarr(W), "bias": _cellarr([b[0].T, b[1]])},
     r"^layer 1 \(conv\): bias\{1\} is 1 x 3; the config needs 3 x 1"),
    (lambda W, b: {"weight": _cellarr([W[0], W[1] * np.nan]), "bias": _cellarr(b)}, r"^weight\{2\} has 24 NaN/Inf"),
    (lambda W, b: {"weight": _cellarr([W[0], "text"]), "bias": _cellarr(b)}, r"^layer 2 \(full\): weight\{2\} is text"),
]


@pytest.mark.parametrize("make, message", BAD_WEIGHTS, ids=[f"bad{k}" for k in range(len(BAD_WEIGHTS))])
def test_bad_weights_name_the_layer(tmp_path, make, message):
    param = make_param(4, 4, 2, nL=2)
    W, b = _weights(param)
    assert [w.shape for w in W] == [(3, 18), (2, 12)]
    path = tmp_path / "w.mat"
    scipy.io.savemat(path, make(W, b))
    with pytest.raises(InputError) as e:
        load_weights(path, param)
    assert e.value.where == str(path) and "\n" not in e.value.what
    assert re.search(message, e.value.what), e.value.what


def test_weights_inside_a_model_struct(tmp_path):
    param = make_param(4, 4, 2, nL=2)
    W, b = _weights(param)
    scipy.io.savemat(tmp_path / "m.mat", {"model": {"weight": _cellarr(W), "bias": _cellarr(b), "L": 2}})
    Wl, bl = load_weights(tmp_path / "m.mat", param)
    assert np.array_equal(Wl[2], W[1]) and np.array_equal(bl[1], b[0])


# --- gradient output --------------------------------------------------------------

@needs_octave
@pytest.mark.parametrize("dtype, cls", [(np.float64, "double"), (np.float32, "single")])
def test_gradient_file_loads_in_octave(tmp_path, dtype, cls):
    dW = cell([np.ones((3, 18), dtype=dtype), np.full((2, 12), 0.5, dtype=dtype)])
    db = cell([np.ones((3, 1), dtype=dtype), np.arange(2, dtype=dtype)])  # a 1-D bias becomes a column
    save_gradient(tmp_path / "g.mat", dtype(12.5), dW, db)
    out = octave(f"load('{tmp_path / 'g.mat'}'); "
                 "fprintf('%d %d %d %d %s %s %s %g\\n', iscell(dlossdW), iscell(dlossdb), size(dlossdW, 1), "
                 "size(dlossdW, 2), class(loss), class(dlossdW{1}), class(dlossdb{2}), loss); "
                 "fprintf('%d %d %d %d %g\\n', size(dlossdW{2}), size(dlossdb{2}), dlossdb{2}(2));")
    assert out.split("\n")[:2] == [f"1 1 2 1 {cls} {cls} {cls} 12.5", "2 12 2 1 1"]


def test_help_and_imports_leave_scipy_io_unloaded():
    """MAT files go through scipy.io / h5py, imported only when a file is read
    or written: `simplecnn --help` and importing datafile do not load them."""
    import subprocess
    import sys

    code = ("import sys\n"
            "import simplecnn_py.support.datafile\n"
            "from simplecnn_cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('scipy.io', 'h5py') if m in sys.modules]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_hand_written_mat_reader_is_gone():
    import importlib.util

    assert importlib.util.find_spec("simplecnn_py.mat5") is None
