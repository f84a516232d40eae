"""fungrad_minibatch: the batch chunking equals one big batch, f and grad
follow eqs. (1)-(2); single precision stays float32 end to end and is
within 1e-4 of double."""
import math

import numpy as np
import pytest

from simplecnn_py.support import trace
from simplecnn_py.support.conventions import ftype
from simplecnn_py.cnn.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset

from test_port_common import CONFIGS, make_param, make_prob, perturb_biases, port_path  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("port_path")


def relerr(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.linalg.norm(x - y) / np.linalg.norm(y)


@pytest.mark.parametrize("name", ["nonsquare_stride2", "pool3"])
def test_chunks_equal_one_batch_and_eqs_1_2(name):
    l, C = 7, 0.3
    param = make_param(**CONFIGS[name], C=C)
    model = perturb_biases(init_model(param, seed=2))
    prob = make_prob(model, l, seed=3)

    # one batch of all l instances, by hand: f = reg/(2C) + loss/l, grad = W/C + dlossdW/l
    net = init_net(param, model)
    net, loss = lossgrad_subset(prob, param, model, net, np.arange(1, l + 1), "fungrad")
    reg = sum(np.sum(model.weight[m] ** 2) + np.sum(model.bias[m] ** 2) for m in range(1, model.L + 1))
    f_expected = reg / (2 * C) + loss / l

    results = {}
    for bsize in (None, l, 3, 1):
        param.bsize = bsize
        net = init_net(param, model)
        net, f, grad = fungrad_minibatch(prob, param, model, net, "fungrad")
        results[bsize] = (f, grad)
        assert math.isclose(f, f_expected, rel_tol=1e-13)
        for m in range(1, model.L + 1):
            W_expected = model.weight[m] / C + net_full_grad(prob, param, model, l)[0][m] / l
            assert relerr(grad.dfdW[m], W_expected) < 1e-13
            b_expected = model.bias[m] / C + net_full_grad(prob, param, model, l)[1][m] / l
            assert relerr(grad.dfdb[m], b_expected) < 1e-13
            assert grad.dfdW[m].shape == model.weight[m].shape
            assert grad.dfdb[m].shape == model.bias[m].shape

    param.bsize = 3
    net, f_only, g_only = fungrad_minibatch(prob, param, model, init_net(param, model), "funonly")
    assert g_only is None and math.isclose(f_only, f_expected, rel_tol=1e-13)


def net_full_grad(prob, param, model, l):
    net = init_net(param, model)
    net, _ = lossgrad_subset(prob, param, model, net, np.arange(1, l + 1), "fungrad")
    return net.dlossdW, net.dlossdb


def test_chunk_sums_differ_from_a_wrong_normalisation():
    """Sanity of the test above: dividing by bsize instead of l is caught."""
    l = 6
    param = make_param(**CONFIGS["one_conv"], C=1.0, bsize=2)
    model = init_model(param, 1)
    prob = make_prob(model, l)
    net, f, grad = fungrad_minibatch(prob, param, model, init_net(param, model), "fungrad")
    dW, _ = net_full_grad(prob, param, model, l)
    assert relerr(grad.dfdW[1], model.weight[1] + dW[1] / l) < 1e-13
    assert relerr(grad.dfdW[1], model.weight[1] + dW[1] / 2) > 1e-3


@pytest.mark.parametrize("name", ["three_conv", "stride2_pool3_leftover"])
def test_single_precision_end_to_end(name):
    l = 5
    results = {}
    for precision, dtype in (("double", np.float64), ("single", np.float32)):
        param = make_param(**CONFIGS[name], precision=precision, C=0.5, bsize=2)
        model = perturb_biases(init_model(param, seed=6))
        prob = make_prob(model, l, seed=8, dtype=dtype)
        net = init_net(param, model)
        with trace.tracing() as tr:
            net, f, grad = fungrad_minibatch(prob, param, model, net, "fungrad")
        results[precision] = (f, grad)
        for key, value in tr.records.items():
            if np.asarray(value).dtype.kind == "f":
                assert value.dtype == dtype, (key, value.dtype)
        for m in range(1, model.L + 1):
            assert grad.dfdW[m].dtype == dtype and grad.dfdb[m].dtype == dtype
        for m in range(1, model.LC + 1):
            assert net.phiZ[m].dtype == dtype
        assert np.asarray(f).dtype == dtype
    f64, g64 = results["double"]
    f32, g32 = results["single"]
    assert abs(f32 - f64) / abs(f64) < 1e-4
    for m in range(1, len(g64.dfdW) + 1):
        assert relerr(g32.dfdW[m], g64.dfdW[m]) < 1e-4
        assert relerr(g32.dfdb[m], g64.dfdb[m]) < 1e-4


def test_single_precision_even_with_double_data():
    """Data or weights handed over in double are used in single when asked."""
    param = make_param(**CONFIGS["pool3"], precision="single")
    model = init_model(param, 0)
    for m in range(1, model.L + 1):
        model.weight[m] = ftype(model.weight[m], np.float64)
    prob = make_prob(model, 3, dtype=np.float64)
    net, loss = lossgrad_subset(prob, param, model, init_net(param, model), [1, 2, 3], "fungrad")
    assert np.asarray(loss).dtype == np.float32
    assert all(net.dlossdW[m].dtype == np.float32 for m in range(1, model.L + 1))
