"""Helpers shared by the tests of the port (test_port_*.py), and the tests of
init_model / init_net: sizes, He draws, var_ptr, config validation."""
import math

import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.support.errors import InputError
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.support.rng import Stream


@pytest.fixture(params=["reference", "fast"])
def port_path(request):
    """Run a test on the line-for-line reference routines and again with
    simplecnn_py.fast on (the default outside tests), so that the
    independent oracles here check both."""
    with fast.use_reference(request.param == "reference"):
        yield request.param


@pytest.fixture
def reference_path():
    """Run a test on the reference routines only."""
    with fast.use_reference(True):
        yield


def make_param(ht, wd, ch, pad, filt, stride, pool, full, precision="double", **run):
    """A ``param`` struct as read_config builds it (cells for the vectors)."""
    LC, LF = len(filt), len(full)
    return struct(L=LC + LF, LC=LC, LF=LF, nL=full[-1], ht_input=ht, wd_input=wd,
                  ch_input=cell(ch), wd_pad_added=cell(pad), wd_filter=cell(filt),
                  strides=cell(stride), wd_subimage_pool=cell(pool),
                  full_neurons=cell(full), precision=precision, **run)


def make_prob(model, n, seed=0, dtype=np.float64, labels=None):
    """Random instances (some negative values, so ReLU zeros and pooling ties
    occur), labels 1..nL and their one-hot ``label_mat``, as check_data
    would give them."""
    g = np.random.default_rng(seed)
    dab = model.ch_input[1] * model.ht_input[1] * model.wd_input[1]
    data = np.asfortranarray(g.standard_normal((dab, n)), dtype=dtype)
    y = g.integers(1, model.nL + 1, n) if labels is None else np.asarray(labels)
    label_mat = np.zeros((model.nL, n), dtype=dtype, order="F")
    label_mat[y - 1, np.arange(n)] = 1
    return struct(data=data, y=y, y_mapped=y, label_enum=np.arange(1, model.nL + 1),
                  label_mat=label_mat, l=n)


def perturb_biases(model, seed=1, scale=0.1):
    """Nonzero biases (He init gives zeros), so that the bias paths are exercised."""
    g = np.random.default_rng(seed)
    for m in range(1, model.L + 1):
        b = model.bias[m]
        b[...] = scale * g.standard_normal(b.shape).astype(b.dtype)
    return model


# Small configurations covering what a config may hold (simplecnn_py/cnn/read_config.py).
CONFIGS = {
    # one conv layer, square, pool 2
    "one_conv": dict(ht=6, wd=6, ch=[1, 2], pad=[1], filt=[3], stride=[1], pool=[2], full=[3]),
    # non-square, 2 input channels, stride 2, no pooling then pool 2, two full layers
    "nonsquare_stride2": dict(ht=7, wd=5, ch=[2, 3, 4], pad=[1, 0], filt=[3, 2], stride=[2, 1],
                              pool=[1, 2], full=[5, 3]),
    # pool width 3, 3 input channels, non-square
    "pool3": dict(ht=9, wd=8, ch=[3, 2], pad=[1], filt=[3], stride=[1], pool=[3], full=[4]),
    # stride 2, pool 3 with leftover rows/columns, three full layers
    "stride2_pool3_leftover": dict(ht=11, wd=10, ch=[1, 2, 3], pad=[0, 1], filt=[3, 3],
                                   stride=[2, 1], pool=[1, 3], full=[4, 3, 2]),
    # filter 2 (even) with stride 3 and three conv layers
    "three_conv": dict(ht=10, wd=13, ch=[2, 2, 3, 2], pad=[2, 1, 0], filt=[2, 3, 2],
                       stride=[3, 1, 1], pool=[1, 2, 1], full=[3]),
}

MNIST_SHAPE = dict(ht=28, wd=28, ch=[1, 32, 64, 64], pad=[2, 1, 1], filt=[5, 3, 3],
                   stride=[1, 1, 1], pool=[2, 2, 2], full=[10])

# the configurations above, a 1x1 filter with pool 4, and a small MNIST shape:
# the shapes the fast paths are checked on (tests/test_fast_*.py)
FAST_PATH_SHAPES = dict(CONFIGS)
FAST_PATH_SHAPES.update({
    "filter1_pool4": dict(ht=10, wd=11, ch=[3, 4, 2], pad=[0, 2], filt=[1, 3], stride=[1, 2],
                          pool=[4, 1], full=[2]),
    "mnist_small": dict(MNIST_SHAPE, ch=[1, 4, 6, 5]),
})


def same_bytes(a, b):
    """Bit-identical values (so +0.0 != -0.0): same dtype, shape and raw
    bytes, whatever the memory order."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes(order="F") == b.tobytes(order="F")


def rel(got, ref):
    """Relative error of ``got`` against the reference ``ref`` (2-norm)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    return np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-300)


# --- init_model / init_net -------------------------------------------------

def test_init_model_sizes_mnist_shape():
    model = init_model(make_param(**MNIST_SHAPE), seed=3)
    assert model.ht_pad.tolist() == [32, 16, 9]
    assert model.wd_pad.tolist() == [32, 16, 9]
    assert model.ht_conv.tolist() == [28, 14, 7]
    assert model.ht_input.tolist() == [28, 14, 7, 3]
    assert model.wd_input.tolist() == [28, 14, 7, 3]
    assert [model.weight[m].shape for m in range(1, 5)] == [(32, 25), (64, 288), (64, 576), (10, 576)]
    assert [model.bias[m].shape for m in range(1, 5)] == [(32, 1), (64, 1), (64, 1), (10, 1)]
    assert (model.L, model.LC, model.LF, model.nL) == (4, 3, 1, 10)
    var_num = [32 * 25 + 32, 64 * 288 + 64, 64 * 576 + 64, 10 * 576 + 10]
    assert model.var_ptr.shape == (5, 1) and model.var_ptr.dtype == np.int64
    assert model.var_ptr[:, 0].tolist() == [1] + list(np.cumsum(var_num) + 1)


def test_init_model_nonsquare_stride_sizes():
    model = init_model(make_param(**CONFIGS["stride2_pool3_leftover"]))
    # 11x10 -> conv 3/2: floor(8/2)+1 = 5, floor(7/2)+1 = 4; pad 1 -> 7x6 -> conv 5x4 -> pool 3 -> 1x1
    assert model.ht_conv.tolist() == [5, 5] and model.wd_conv.tolist() == [4, 4]
    assert model.ht_input.tolist() == [11, 5, 1] and model.wd_input.tolist() == [10, 4, 1]
    assert model.weight[3].shape == (4, 3) and model.weight[5].shape == (2, 3)


def test_init_model_he_draws_in_layer_order():
    param = make_param(**CONFIGS["nonsquare_stride2"])
    model = init_model(param, seed=Stream(11))
    replay = Stream(11)
    for m in range(1, param.L + 1):
        W = model.weight[m]
        fan_in = W.shape[1]
        expected = replay.randn(*W.shape) * math.sqrt(2.0 / fan_in)
        np.testing.assert_array_equal(W, expected)
        assert W.flags.f_contiguous and W.dtype == np.float64
        assert not model.bias[m].any()
    # an int seed is Stream(seed); None is Stream(0)
    np.testing.assert_array_equal(init_model(param, 11).weight[2], model.weight[2])
    np.testing.assert_array_equal(init_model(param).weight[1], init_model(param, 0).weight[1])


def test_init_model_single_precision():
    model = init_model(make_param(**CONFIGS["pool3"], precision="single"), 0)
    for m in range(1, model.L + 1):
        assert model.weight[m].dtype == np.float32 and model.bias[m].dtype == np.float32


@pytest.mark.parametrize("change, words", [
    (dict(filt=[13, 3]), "conv layer 1: output height"),     # padded 12 < filter 13
    (dict(ht=1, wd=6), "conv layer 1: pooled height"),       # conv 1 < pool 2
    (dict(pool=[2, 5]), "conv layer 2"),                      # conv 4x4 < pool 5
    (dict(stride=[1, 0]), "strides(2)"),
    (dict(ch=[1, 0, 4]), "ch_input(2)"),
    (dict(full=[0, 3]), "full_neurons(1)"),
    (dict(pad=[1]), "wd_pad_added must have 2 entries"),
    (dict(filt=[3, 2.5]), "wd_filter must hold integers"),
    (dict(pad=[-1, 0]), "wd_pad_added(1)"),
])
def test_init_model_rejects_bad_sizes(change, words):
    cfg = dict(ht=8, wd=8, ch=[1, 3, 4], pad=[2, 0], filt=[5, 3], stride=[1, 1], pool=[2, 1], full=[6, 3])
    cfg.update(change)
    param = make_param(**cfg)
    if "pad" in change and len(change["pad"]) != 2:
        param.wd_pad_added = cell(change["pad"])
    with pytest.raises(InputError) as e:
        init_model(param)
    assert e.value.where == "config" and words in e.value.what, e.value.what


def test_init_model_rejects_inconsistent_counts():
    param = make_param(**CONFIGS["one_conv"])
    param.nL = 4
    with pytest.raises(InputError, match="nL = 4"):
        init_model(param)
    param = make_param(**CONFIGS["one_conv"])
    param.L = 3
    with pytest.raises(InputError, match="L = LC \\+ LF"):
        init_model(param)
    param = make_param(**CONFIGS["one_conv"], precision="half")
    with pytest.raises(InputError, match="precision"):
        init_model(param)


def test_init_net_index_maps_use_ht_then_wd():
    """Non-square padded input: idx_phiZ must be built with (ht_pad, wd_pad),
    not the seed original's swapped (wd_pad, ht_pad)."""
    from simplecnn_py.cnn.find_index_phiZ import find_index_phiZ
    param = make_param(**CONFIGS["nonsquare_stride2"])
    model = init_model(param)
    net = init_net(param, model)
    assert model.ht_pad[1] != model.wd_pad[1]
    right = find_index_phiZ(model.ht_pad[1], model.wd_pad[1], 2, 3, 2)
    wrong = find_index_phiZ(model.wd_pad[1], model.ht_pad[1], 2, 3, 2)
    np.testing.assert_array_equal(net.idx_phiZ[1], right)
    assert right.shape != wrong.shape or not np.array_equal(right, wrong)
    assert net.idx_phiZ_pool[1] is None and net.idx_phiZ_pool[2] is not None
    assert len(net.Z) == param.L + 1 and len(net.dlossdW) == param.L and len(net.phiZ) == param.LC
