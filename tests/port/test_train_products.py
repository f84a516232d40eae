"""Jv, JTv, Jacobian, JTBJv and R_JTBJv against independent oracles.

* Jv against central finite differences of the network output z^{L+1}
  (feedforward at theta +- eps*v), inside a region where no ReLU sign and no
  pooling winner changes (checked);
* JTv as the adjoint of Jv: <u, J v> = <J' u, v> for random u, v;
* the explicit Jacobian J (nL*n x P) built column by column from Jv on the
  unit vectors e_j, and J' built row by row from JTv: they are transposes;
* the Gauss-Newton products JTBJv (stored Jacobian) and R_JTBJv (R-operator)
  against the explicit J' B J v with B = 2I, and against each other;
* JTv with v = 2*(Z{L+1} - Y) is lossgrad_subset's gradient, bit for bit
  on the reference path (the backward pass is one pass, used by both), to
  rounding on the fused fast path (simplecnn_py/fast/).
Shapes cover one conv layer, non-square inputs, stride 2, pool widths 1, 2
and 3, several full layers, several input channels.
"""
import numpy as np
import pytest

from simplecnn_py import fast
from simplecnn_py.cnn.cells_to_vec import cells_to_vec
from simplecnn_py.support.conventions import cols
from simplecnn_py.cnn.feedforward import feedforward
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.Jacobian import Jacobian
from simplecnn_py.opt.JTBJv import JTBJv
from simplecnn_py.cnn.JTv import JTv
from simplecnn_py.cnn.Jv import Jv
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.opt.R_JTBJv import R_JTBJv
from simplecnn_py.cnn.vec_to_cells import vec_to_cells

from test_port_common import CONFIGS, make_param, make_prob, perturb_biases

SHAPES = ["one_conv", "nonsquare_stride2", "pool3", "stride2_pool3_leftover", "three_conv"]


def setup(name, n=4, seed=0, precision="double"):
    param = make_param(**CONFIGS[name], precision=precision)
    model = perturb_biases(init_model(param, seed=seed), seed=seed + 1)
    prob = make_prob(model, n, seed=seed + 2, dtype=np.float32 if precision == "single" else np.float64)
    net = feedforward(prob.data, param, model, init_net(param, model))
    return param, model, prob, net


def with_theta(model, theta):
    out = type(model)(**vars(model))
    out.weight, out.bias = vec_to_cells(theta, model)
    return out


def output_and_pattern(param, model, data):
    net = feedforward(data, param, model, init_net(param, model))
    L = model.L
    pattern = [net.Z[m] > 0 for m in range(2, L + 1)]
    pattern += [net.idx_pool[m] for m in range(1, model.LC + 1) if model.wd_subimage_pool[m] > 1]
    return net.Z[L + 1].copy(), pattern


def explicit_J(model, net):
    """J (nL*n x P), column j = vec(Jv(e_j))."""
    P = int(model.var_ptr[-1, 0]) - 1
    J = np.zeros((model.nL * net.num_sampled_data, P))
    for j in range(P):
        e = np.zeros(P)
        e[j] = 1
        J[:, j] = Jv(model, net, e).reshape(-1, order="F")
    return J


@pytest.mark.parametrize("name", SHAPES)
def test_Jv_equals_finite_differences_of_the_output(name):
    param, model, prob, net = setup(name)
    theta = cells_to_vec(model.weight, model.bias)
    g = np.random.default_rng(5)
    checked = 0
    z0, base = output_and_pattern(param, model, prob.data)
    for trial in range(6):
        v = g.standard_normal(theta.size)
        eps = 1e-6
        zp, pp = output_and_pattern(param, with_theta(model, theta + eps * v), prob.data)
        zm, pm = output_and_pattern(param, with_theta(model, theta - eps * v), prob.data)
        if not all(np.array_equal(a, b) for a, b in zip(base + base, pp + pm)):
            continue                      # a ReLU sign or pooling winner changed: not differentiable here
        fd = (zp - zm) / (2 * eps)
        jv = Jv(model, net, v)
        assert jv.shape == z0.shape
        assert np.linalg.norm(jv - fd) <= 1e-7 * np.linalg.norm(fd), (name, trial)
        checked += 1
    assert checked >= 3, f"only {checked} directions stayed in one linear region"


@pytest.mark.parametrize("name", SHAPES)
def test_JTv_is_the_adjoint_of_Jv(name):
    _, model, _, net = setup(name)
    g = np.random.default_rng(7)
    P = int(model.var_ptr[-1, 0]) - 1
    for _ in range(3):
        v = g.standard_normal(P)
        u = np.asfortranarray(g.standard_normal((model.nL, net.num_sampled_data)))
        lhs = np.sum(u * Jv(model, net, v))
        dW, db = JTv(model, net, u)
        rhs = cells_to_vec(dW, db) @ v
        assert abs(lhs - rhs) <= 1e-12 * (abs(lhs) + np.linalg.norm(u) * np.linalg.norm(v))


@pytest.mark.parametrize("name", ["one_conv", "nonsquare_stride2", "three_conv"])
def test_explicit_J_and_Gauss_Newton_products(name):
    _, model, _, net = setup(name, n=3)
    n, nL = net.num_sampled_data, model.nL
    J = explicit_J(model, net)
    # J' from JTv on the unit vectors of the output space
    JT = np.zeros((J.shape[1], J.shape[0]))
    for c in range(J.shape[0]):
        u = np.zeros((nL, n), order="F")
        u[c % nL, c // nL] = 1
        dW, db = JTv(model, net, u)
        JT[:, c] = cells_to_vec(dW, db)
    np.testing.assert_allclose(JT, J.T, rtol=0, atol=1e-12 * np.abs(J).max())

    G = J.T @ (2 * J)                                          # J' B J, B = 2I
    net = Jacobian(model, net)
    g = np.random.default_rng(3)
    for _ in range(3):
        v = g.standard_normal(J.shape[1])
        Gv = G @ v
        for product in (JTBJv, R_JTBJv):
            out = product(model, net, v)
            assert out.shape == v.shape
            assert np.linalg.norm(out - Gv) <= 1e-12 * np.linalg.norm(Gv), product.__name__


@pytest.mark.parametrize("name", ["one_conv", "three_conv"])
def test_stored_Jacobian_dzdS_is_dz_dS(name):
    """net.dzdS{L} is the identity per instance; for the last layer's input
    the full layer's W'; and its shapes are those of the MATLAB side."""
    _, model, _, net = setup(name, n=2)
    net = Jacobian(model, net)
    L, LC, nL, n = model.L, model.LC, model.nL, 2
    np.testing.assert_array_equal(net.dzdS[L], np.tile(np.eye(nL), (1, n)))
    for m in range(1, LC + 1):
        assert net.dzdS[m].shape == (model.ch_input[m + 1], model.ht_conv[m] * model.wd_conv[m] * nL * n)
    for m in range(LC + 1, L + 1):
        assert net.dzdS[m].shape == (model.weight[m].shape[0], nL * n)


@pytest.mark.parametrize("name", SHAPES)
def test_JTBJv_equals_R_JTBJv(name):
    _, model, _, net = setup(name, n=5)
    net = Jacobian(model, net)
    v = np.random.default_rng(1).standard_normal(int(model.var_ptr[-1, 0]) - 1)
    a, b = JTBJv(model, net, v), R_JTBJv(model, net, v)
    assert np.linalg.norm(a - b) <= 1e-13 * np.linalg.norm(a)


def test_products_in_single_precision():
    _, model, _, net = setup("nonsquare_stride2", n=4, precision="single")
    net = Jacobian(model, net)
    v = np.random.default_rng(1).standard_normal(int(model.var_ptr[-1, 0]) - 1).astype(np.float32)
    a, b = JTBJv(model, net, v), R_JTBJv(model, net, v)
    assert a.dtype == np.float32 and b.dtype == np.float32
    assert np.linalg.norm(a - b) <= 1e-5 * np.linalg.norm(a)


@pytest.mark.parametrize("name", SHAPES)
def test_JTv_of_the_loss_residual_is_lossgrad_subset(name):
    param, model, prob, _ = setup(name, n=5)
    batch = np.arange(1, prob.l + 1)
    net, _ = lossgrad_subset(prob, param, model, init_net(param, model), batch, "fungrad")
    v = 2 * (net.Z[model.L + 1] - cols(prob.label_mat, batch))
    dW, db = JTv(model, net, v)
    for m in range(1, model.L + 1):
        if fast.enabled():     # the fused pass: its own product shapes and orders, equal to rounding
            for a, b in ((dW[m], net.dlossdW[m]), (db[m], net.dlossdb[m])):
                assert np.linalg.norm(a - b) <= 1e-13 * np.linalg.norm(b)
        else:
            np.testing.assert_array_equal(dW[m], net.dlossdW[m])
            np.testing.assert_array_equal(db[m], net.dlossdb[m])
