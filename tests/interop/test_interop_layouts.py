"""The layout conversions of simplecnn_interop.layouts, proved
against the port's own forward pass.

* each conversion against its index definition (numpy only), both ways;
* the image conversion against the port's ``check_data`` (its
  ``prob.data``), the feature maps against the port's ``net.Z{m}`` and
  torch's activations layer by layer;
* whole networks: torch ops built by hand from the converted weights, the
  project's ``torch_net`` module, and the ONNX graph under ONNX Runtime give
  the port's ``feedforward`` scores in double to ~1e-12 (float32 graph:
  ~1e-6), on configs with padding, stride 2, pooling that does not tile the
  map, no pooling, several channels, two full layers, non-square images.
"""
from __future__ import annotations

import numpy as np
import pytest

from simplecnn_interop import layouts
from simplecnn_py.cnn.check_data import check_data
from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.cnn.feedforward import feedforward
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net

CONFIGS = {
    # name: (a, b, ch_input, pad, filter, stride, pool, full_neurons)
    "pad-stride2-nontiling": (11, 9, [3, 5, 4], [1, 0], [3, 2], [2, 1], [2, 1], [7, 3]),
    "three-conv-oddpool": (13, 16, [2, 3, 4, 2], [2, 1, 0], [5, 3, 2], [1, 1, 1], [3, 2, 1], [4]),
    "mnist-shape": (28, 28, [1, 4, 8], [1, 1], [3, 3], [1, 1], [2, 2], [10]),
    "nonsquare-demo": (20, 28, [1, 8, 16], [1, 1], [3, 3], [1, 1], [2, 2], [10]),
}


def _model(name, seed=0):
    a, b, ch, pad, filt, stride, pool, full = CONFIGS[name]
    LC, LF = len(ch) - 1, len(full)
    param = struct(L=LC + LF, LC=LC, LF=LF, ht_input=a, wd_input=b, ch_input=cell(ch), wd_pad_added=cell(pad),
                   wd_filter=cell(filt), strides=cell(stride), wd_subimage_pool=cell(pool),
                   full_neurons=cell(full), nL=full[-1], precision="double")
    model = init_model(param, seed)
    rng = np.random.default_rng(seed)
    for m in range(1, model.L + 1):                       # non-zero biases: their layout is checked too
        model.bias[m] = np.asfortranarray(rng.standard_normal(model.bias[m].shape))
    return model


def _data(model, l=12, seed=1):
    a, b, d = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    rng = np.random.default_rng(seed)
    return rng.standard_normal((l, a * b * d))


def _port(model, Z):
    """The port's prob.data, its net after feedforward (reference lines), and the nL x l scores."""
    from simplecnn_py import fast

    y = np.arange(Z.shape[0]) % model.nL + 1                  # every class occurs (check_data asks it)
    shape = struct(ht_input=model.ht_input[1], wd_input=model.wd_input[1], ch_input=model.ch_input,
                   nL=model.nL, precision="double")
    prob = check_data(struct(y=y, Z=Z), shape)
    param = struct(bsize=128, precision="double")
    with fast.use_reference():
        net = feedforward(prob.data, param, model, init_net(param, model))
    return prob, net, net.Z[model.L + 1]


# --- each conversion against its definition ------------------------------------------------

def test_conv_weight_follows_the_phi_row_order():
    d_out, d_in, h = 3, 2, 4
    W = np.zeros((d_out, h * h * d_in))
    for o in range(d_out):
        for c in range(d_in):
            for j in range(h):
                for i in range(h):
                    W[o, i + h * j + h * h * c] = 1000 * o + 100 * c + 10 * i + j
    Wt = layouts.conv_weight_to_torch(W, h, d_in)
    o, c, i, j = np.meshgrid(*map(np.arange, Wt.shape), indexing="ij")
    assert np.array_equal(Wt, 1000 * o + 100 * c + 10 * i + j)
    back = layouts.conv_weight_from_torch(Wt)
    assert np.array_equal(back, W) and back.flags.f_contiguous


def test_first_full_layer_columns_follow_the_vec_of_the_map():
    n, d, a, b = 2, 3, 4, 5
    W = np.zeros((n, d * a * b))
    for c in range(d):
        for r in range(a):
            for q in range(b):
                W[:, c + d * r + d * a * q] = [100 * c + 10 * r + q, -1]
    Wt = layouts.full_weight_to_torch(W, d, a, b)
    c, r, q = np.meshgrid(np.arange(d), np.arange(a), np.arange(b), indexing="ij")
    assert np.array_equal(Wt[0], (100 * c + 10 * r + q).reshape(-1))        # torch.flatten of (c, h, w)
    assert np.array_equal(layouts.full_weight_from_torch(Wt, d, a, b), W)


def test_images_and_maps_follow_their_definitions():
    l, d, a, b = 2, 3, 4, 5
    Z = np.zeros((l, a * b * d))
    for n in range(l):
        for c in range(d):
            for r in range(a):
                for q in range(b):
                    Z[n, c * a * b + r + a * q] = 1000 * n + 100 * c + 10 * r + q
    X = layouts.images_to_nchw(Z, a, b, d)
    n, c, r, q = np.meshgrid(*map(np.arange, X.shape), indexing="ij")
    assert np.array_equal(X, 1000 * n + 100 * c + 10 * r + q)
    assert np.array_equal(layouts.images_from_nchw(X), Z)
    rowmajor = np.ascontiguousarray(X.reshape(l, -1))               # each image stored row by row
    assert np.array_equal(layouts.rowmajor_images_to_nchw(rowmajor, a, b, d), X)
    Zm = layouts.feature_map_from_nchw(X)                            # d x (a*b*l), column r + a*q + a*b*n
    assert Zm.shape == (d, a * b * l) and Zm[2, 3 + a * 4 + a * b * 1] == 1000 + 200 + 30 + 4
    assert np.array_equal(layouts.feature_map_to_nchw(Zm, d, a, b), X)
    assert np.array_equal(layouts.bias_from_torch(layouts.bias_to_torch(np.ones((3, 1)))), np.ones((3, 1)))


def test_rowmajor_images_agree_with_the_port_reader():
    from simplecnn_py.support.datafile import rowmajor_to_colmajor

    a, b, d = 4, 6, 2
    Zr = np.random.default_rng(0).standard_normal((3, a * b * d))
    assert np.array_equal(layouts.rowmajor_images_to_nchw(Zr, a, b, d),
                          layouts.images_to_nchw(rowmajor_to_colmajor(Zr, a, b, d), a, b, d))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="18 columns, not 17"):
        layouts.conv_weight_to_torch(np.zeros((2, 17)), 3, 2)
    with pytest.raises(ValueError, match="first full layer"):
        layouts.full_weight_to_torch(np.zeros((2, 10)), 1, 3, 3)
    with pytest.raises(ValueError, match="images need 9"):
        layouts.images_to_nchw(np.zeros((2, 10)), 3, 3, 1)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_images_agree_with_check_data_and_layers_round_trip(name):
    model = _model(name)
    Z = _data(model)
    prob, _, _ = _port(model, Z)
    a, b, d = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    assert np.array_equal(layouts.feature_map_to_nchw(prob.data, d, a, b), layouts.images_to_nchw(Z, a, b, d))
    layers = layouts.torch_layers(model)
    assert [(lay.kind, lay.weight.shape, lay.bias.shape) for lay in layers] == layouts.torch_shapes(model)
    assert [lay.relu for lay in layers] == [True] * (model.L - 1) + [False]
    W, B = layouts.weights_from_torch(model, [(lay.weight, lay.bias) for lay in layers])
    for m in range(1, model.L + 1):
        assert np.array_equal(W[m - 1], model.weight[m]) and np.array_equal(B[m - 1], model.bias[m])


def test_weights_from_torch_names_the_first_layer_that_does_not_fit():
    model = _model("pad-stride2-nontiling")
    pairs = [(lay.weight, lay.bias) for lay in layouts.torch_layers(model)]
    pairs[1] = (np.zeros((4, 6, 2, 2)), pairs[1][1])
    pairs[2] = (np.zeros((1, 1)), pairs[2][1])
    with pytest.raises(ValueError, match=r"layer 2 \(conv\): weight is 4 x 6 x 2 x 2, the config needs 4 x 5 x 2 x 2"):
        layouts.weights_from_torch(model, pairs)
    with pytest.raises(ValueError, match="3 layers given, the config has L = 4"):
        layouts.weights_from_torch(model, pairs[:3])


# --- whole networks against the port's forward -----------------------------------------------

def _torch_by_hand(layers, X):
    """The network from the converted weights with torch.nn.functional only (not torch_net)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(X)
    maps = []
    for lay in layers:
        if lay.kind == "conv":
            x = F.relu(F.conv2d(x, torch.from_numpy(lay.weight), torch.from_numpy(lay.bias), stride=lay.stride,
                                padding=lay.padding))
            if lay.pool > 1:
                x = F.max_pool2d(x, lay.pool)                     # stride = kernel, floor mode
            maps.append(x.numpy())
        else:
            x = F.linear(x.flatten(1), torch.from_numpy(lay.weight), torch.from_numpy(lay.bias))
            x = F.relu(x) if lay.relu else x
    return x.numpy(), maps


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_torch_from_converted_weights_gives_the_port_forward(name):
    pytest.importorskip("torch", reason="the [torch] extra is not installed")
    import torch

    from simplecnn_interop.torch_net import build_module

    model = _model(name)
    Z = _data(model)
    _, net, scores = _port(model, Z)
    a, b, d = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    X = layouts.images_to_nchw(Z, a, b, d)
    layers = layouts.torch_layers(model)
    out, maps = _torch_by_hand(layers, X)
    assert _rel(out.T, scores) < 1e-12
    for m, x in enumerate(maps, start=1):                        # every conv layer's map, after pooling
        port_map = layouts.feature_map_to_nchw(net.Z[m + 1], *x.shape[1:])
        assert np.max(np.abs(port_map - x)) <= 1e-12 * np.max(np.abs(x)), m
    module = build_module(layers, (d, a, b), torch.float64)
    with torch.no_grad():
        assert _rel(module(torch.from_numpy(X)).numpy().T, scores) < 1e-12
        assert _rel(build_module(layers, (d, a, b)).eval()(torch.from_numpy(X).float()).double().numpy().T,
                    scores) < 1e-5


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_onnx_graph_gives_the_port_forward(name):
    pytest.importorskip("onnx", reason="the [onnx] extra is not installed")
    ort = pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")
    from simplecnn_interop.onnx_graph import build_onnx

    model = _model(name)
    Z = _data(model)
    _, _, scores = _port(model, Z)
    a, b, d = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    X = layouts.images_to_nchw(Z, a, b, d)
    layers = layouts.torch_layers(model)
    for precision, dtype, tol in (("double", np.float64, 1e-12), ("single", np.float32, 1e-5)):
        proto = build_onnx(layers, (d, a, b), precision)
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        out = session.run(None, {"images": X.astype(dtype)})[0]
        assert out.dtype == dtype and out.shape == (Z.shape[0], model.nL)
        assert _rel(out.T.astype(np.float64), scores) < tol, precision
