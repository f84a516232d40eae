"""CG: the conjugate gradient loop on explicit SPD systems, its stopping
rules, and CG on the subsampled Gauss-Newton system of Newton against a
dense solve of ((lambda + 1/C) I + J'BJ/GNsize) s = -g built from an
explicit Jacobian."""
import numpy as np
import pytest

from simplecnn_py.opt.CG import CG, GN_product, conjugate_gradient
from simplecnn_py.cnn.cells_to_vec import cells_to_vec
from simplecnn_py.support.conventions import cols, struct
from simplecnn_py.cnn.fungrad_minibatch import fungrad_minibatch
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.opt.newton import subset_nets

from test_port_common import CONFIGS, make_param, make_prob, perturb_biases
from test_train_products import explicit_J


def spd(n, cond, seed=0):
    g = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(g.standard_normal((n, n)))
    return (Q * np.geomspace(1, cond, n)) @ Q.T, g.standard_normal(n)


def test_cg_solves_an_spd_system_to_tolerance():
    A, g = spd(30, 1e3)
    for xi in (1e-2, 1e-6, 1e-10):
        s, CGiter, r = conjugate_gradient(lambda d: A @ d, g, xi, 1000)
        true_r = -g - A @ s
        assert np.linalg.norm(true_r) <= 1.01 * xi * np.linalg.norm(g)
        np.testing.assert_allclose(r, true_r, atol=1e-9 * np.linalg.norm(g))   # recurrence = true residual
        assert 1 <= CGiter <= 1000
    s, _, _ = conjugate_gradient(lambda d: A @ d, g, 1e-12, 1000)
    np.testing.assert_allclose(s, np.linalg.solve(A, -g), rtol=1e-8)


def test_cg_stops_at_CGmax_and_counts_products():
    A, g = spd(40, 1e4, seed=1)
    calls = []

    def M(d):
        calls.append(1)
        return A @ d

    s, CGiter, r = conjugate_gradient(M, g, 1e-12, 7)
    assert CGiter == 7 and len(calls) == 7
    assert np.linalg.norm(r) > 1e-12 * np.linalg.norm(g)
    # seven steps of CG minimise the A-norm error over the Krylov space K_7(A, g)
    K = np.column_stack([np.linalg.matrix_power(A, j) @ g for j in range(7)])
    Qk, _ = np.linalg.qr(K)
    s_best = Qk @ np.linalg.solve(Qk.T @ A @ Qk, -Qk.T @ g)
    np.testing.assert_allclose(s, s_best, rtol=1e-6, atol=1e-10)


def test_cg_takes_at_least_one_step():
    """The original tests the residual only after a step: one step even
    when -xi is huge (a zero gradient then gives NaN, as there)."""
    A, g = spd(5, 10)
    s, CGiter, r = conjugate_gradient(lambda d: A @ d, g, 1e6, 10)
    assert CGiter == 1 and s.any()


def test_first_cg_step_is_the_cauchy_step():
    A, g = spd(10, 50, seed=2)
    s, CGiter, _ = conjugate_gradient(lambda d: A @ d, g, 1e-12, 1)
    assert CGiter == 1
    np.testing.assert_allclose(s, -(g @ g) / (g @ A @ g) * g, rtol=1e-13)


@pytest.mark.parametrize("Jacobian", [1, 0])
def test_cg_on_the_gauss_newton_system(Jacobian):
    cfg = make_param(**CONFIGS["nonsquare_stride2"])
    model = perturb_biases(init_model(cfg, seed=4), seed=5)
    prob = make_prob(model, 12, seed=6)
    C = 0.01 * prob.l
    param = struct(precision="double", bsize=2, C=C, GNsize=5, Jacobian=Jacobian, xi=1e-12, CGmax=1000)
    setattr(param, "lambda", 0.3)
    net = init_net(cfg, model)
    net, f, grad = fungrad_minibatch(prob, param, model, net, "fungrad")
    g = cells_to_vec(grad.dfdW, grad.dfdb)
    subset = np.array([3, 11, 1, 7, 4])
    nets = subset_nets(prob, param, model, net, subset)
    # -Jacobian 1: one net of the whole subset (CG.m); 0: chunks of bsize = 2: 2, 2, 1 (R_JTBJv)
    assert len(nets) == (1 if Jacobian else 3)

    # explicit G from the Jacobian of the subset, all at once
    sub = struct(**vars(init_net(cfg, model)))
    from simplecnn_py.cnn.feedforward import feedforward
    sub = feedforward(cols(prob.data, subset), cfg, model, sub)
    J = explicit_J(model, sub)
    G = J.T @ (2 * J)
    v = np.random.default_rng(0).standard_normal(g.size)
    np.testing.assert_allclose(GN_product(param, model, nets, v), G @ v, rtol=1e-12, atol=1e-12 * np.abs(G @ v).max())

    M = (0.3 + 1 / C) * np.eye(g.size) + G / 5
    s, CGiter, gs, sGs = CG(param, model, nets, grad)
    np.testing.assert_allclose(s, np.linalg.solve(M, -g), rtol=1e-7, atol=1e-10)
    assert gs == pytest.approx(s @ g, rel=1e-12)
    assert sGs == pytest.approx(s @ (M @ s) - 0.3 * (s @ s), rel=1e-7)
    # CGmax caps the work
    param.CGmax = 2
    assert CG(param, model, nets, grad)[1] == 2
