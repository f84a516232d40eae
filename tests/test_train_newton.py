"""Newton (subsampled Gauss-Newton, CG, line search, Levenberg-Marquardt)
on tiny problems: f decreases, the printed lines follow the original's
format and rules, the subsets follow the facts page's rule draw for draw,
the stored-Jacobian and R-operator paths walk the same trajectory, and a
failed line search stops training as the original does."""
import math
import re

import numpy as np
import pytest

import simplecnn_py.newton as newton_module
from simplecnn_py.cnn_train import cnn_train
from simplecnn_py.newton import assign_subset, update_lambda
from simplecnn_py.rng import Stream

from test_port_common import CONFIGS, make_param

NUM = r"(-?[0-9.e+-]+|NaN|-?Inf)"
LINE = re.compile(rf"^(\d+)-iter f: {NUM} \|g\|: {NUM} alpha: {NUM} ratio: {NUM} lambda: {NUM} "
                  rf"#CG: (\d+) actred: {NUM} prered: {NUM}$")


def tiny(l=24, name="nonsquare_stride2", seed=0):
    cfg = make_param(**CONFIGS[name])
    g = np.random.default_rng(seed)
    Z = g.standard_normal((l, cfg.ht_input * cfg.wd_input * cfg.ch_input[1]))
    y = 10 * g.integers(0, cfg.nL, l) + 7                 # any label values
    return cfg, y, Z


def parse(out):
    lines = out.strip().splitlines()
    its = [LINE.match(x) for x in lines[:-1]]
    assert all(its), lines
    assert re.fullmatch(r"total_#CG: \d+", lines[-1]), lines[-1]
    return [m.groups() for m in its], int(lines[-1].split()[-1])


def test_newton_decreases_f_and_prints_the_lines(capsys):
    cfg, y, Z = tiny()
    model, info = cnn_train(y, Z, cfg, "-s 1 -iter_max 6 -GNsize 8 -C 0.1", 3)
    rows, total = parse(capsys.readouterr().out)
    assert len(rows) == 6 and [int(r[0]) for r in rows] == list(range(1, 7))
    f = [float(r[1]) for r in rows]
    assert f == pytest.approx(info.f, rel=1e-14)
    assert info.f0 > f[0] and all(b < a for a, b in zip(f, f[1:]))
    assert total == sum(int(r[6]) for r in rows) == info.total_CG
    lam = 1.0
    f_prev = info.f0
    for k, r in enumerate(rows):
        alpha, ratio, lam_k = float(r[3]), float(r[4]), float(r[5])
        actred, prered = float(r[7]), float(r[8])
        assert math.log2(alpha) == round(math.log2(alpha)) and alpha <= 1          # halvings from 1
        assert actred == pytest.approx(f[k] - f_prev, rel=1e-9, abs=1e-14)
        assert ratio == pytest.approx(actred / prered, rel=1e-12)
        lam = lam * 1.5 if ratio < 0.25 else (lam * 2 / 3 if ratio >= 0.75 else lam)
        assert lam_k == pytest.approx(lam, rel=1e-14)
        assert int(r[6]) >= 1
        f_prev = f[k]


def test_newton_gnorm_is_the_gradient_norm_at_the_start_of_each_iteration(capsys):
    from simplecnn_py.cells_to_vec import cells_to_vec
    from simplecnn_py.fungrad_minibatch import fungrad_minibatch
    from simplecnn_py.init_net import init_net
    from simplecnn_py.parse_options import parse_options
    from simplecnn_py.check_data import check_data
    from simplecnn_py.conventions import struct

    cfg, y, Z = tiny()
    model1, info1 = cnn_train(y, Z, cfg, "-s 1 -iter_max 1 -GNsize 8", 3)
    model2, info2 = cnn_train(y, Z, cfg, "-s 1 -iter_max 2 -GNsize 8", 3)
    assert info2.f[0] == info1.f[0]
    param = parse_options("")
    param.C = 0.01 * len(y)
    prob = check_data(struct(y=y, Z=Z), cfg)
    _, f1, grad = fungrad_minibatch(prob, param, model1, init_net(cfg, model1), "fungrad")
    assert f1 == pytest.approx(info1.f[0], rel=1e-13)
    assert info2.gnorm[1] == pytest.approx(np.linalg.norm(cells_to_vec(grad.dfdW, grad.dfdb)), rel=1e-12)


def test_subsets_follow_the_permutation_rule():
    l, GNsize = 10, 4
    n_subsets = math.ceil(l / GNsize)                    # 3 chunks: the last wraps around
    stream, replay = Stream(8), Stream(8)
    perm = None
    subsets = []
    for k in range(1, 7):
        subset, perm = assign_subset(stream, k, l, GNsize, n_subsets, perm)
        subsets.append(subset.tolist())
    p1, p2 = replay.randperm(l), replay.randperm(l)      # new permutations at k = 1 and k = 4
    e1, e2 = np.concatenate([p1, p1[:GNsize]]), np.concatenate([p2, p2[:GNsize]])
    assert subsets == [e1[0:4].tolist(), e1[4:8].tolist(), e1[8:12].tolist(),
                       e2[0:4].tolist(), e2[4:8].tolist(), e2[8:12].tolist()]
    assert sorted(sum(subsets[:3], [])[:l]) == list(range(1, l + 1))
    assert subsets[2][2:] == p1[:2].tolist()             # the extension by the first entries


def test_random_draws_are_weights_then_one_randperm_per_cycle():
    cfg, y, Z = tiny(l=20)
    stream = Stream(5)
    stream.log = []
    cnn_train(y, Z, cfg, "-s 1 -iter_max 5 -GNsize 8", stream)   # ceil(20/8) = 3 subsets per cycle
    kinds = [(kind, values.size) for kind, values in stream.log]
    L = cfg.L
    assert kinds[:L] == [("randn", cfg.ch_input[2] * 9 * cfg.ch_input[1])] + kinds[1:L]
    assert all(k == "randn" for k, _ in kinds[:L])
    assert kinds[L:] == [("randperm", 20), ("randperm", 20)]     # k = 1 and k = 4


def test_stored_jacobian_and_R_operator_walk_the_same_trajectory(capsys):
    cfg, y, Z = tiny(l=30, name="three_conv", seed=2)
    _, a = cnn_train(y, Z, cfg, "-s 1 -iter_max 4 -GNsize 7 -bsize 4 -Jacobian 1", 9)
    _, b = cnn_train(y, Z, cfg, "-s 1 -iter_max 4 -GNsize 7 -bsize 4 -Jacobian 0", 9)
    assert a.cg == b.cg
    np.testing.assert_allclose(a.f, b.f, rtol=1e-10)
    np.testing.assert_allclose(getattr(a, "lambda"), getattr(b, "lambda"), rtol=0)


def test_single_precision_newton_stays_single(capsys):
    cfg, y, Z = tiny()
    model, info = cnn_train(y, Z, cfg, "-s 1 -iter_max 3 -GNsize 8 -ftype 0", 3)
    assert all(model.weight[m].dtype == np.float32 for m in range(1, model.L + 1))
    assert model.float_type == "single"
    assert info.f[-1] < info.f0


def test_failed_line_search_stops_training(capsys, monkeypatch):
    real = newton_module.fungrad_minibatch

    def never_decreasing(prob, param, model, net, task):
        net, f, grad = real(prob, param, model, net, task)
        return net, (f + 1e6 if task == "funonly" else f), grad

    monkeypatch.setattr(newton_module, "fungrad_minibatch", never_decreasing)
    cfg, y, Z = tiny()
    start = cnn_train(y, Z, cfg, "-s 1 -iter_max 0", 3)[0]
    model, info = cnn_train(y, Z, cfg, "-s 1 -iter_max 5 -GNsize 8", 3)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-2:] == ["Line search fails.", f"total_#CG: {info.total_CG}"]
    assert info.f == [] and info.total_CG >= 1
    for m in range(1, model.L + 1):
        np.testing.assert_array_equal(model.weight[m], start.weight[m])


def test_update_lambda_rule():
    class P:
        boost, drop = 1.5, 2 / 3
    assert update_lambda(2.0, 0.1, P) == 3.0
    assert update_lambda(2.0, 0.25, P) == 2.0
    assert update_lambda(2.0, 0.7499, P) == 2.0
    assert update_lambda(2.0, 0.75, P) == 2.0 * 2 / 3
    assert update_lambda(2.0, float("nan"), P) == 2.0


def test_first_iteration_against_a_dense_solve(capsys):
    """One iteration with an exact CG (-xi 1e-12): the step is the solution of
    ((lambda + 1/C) I + J'BJ/GNsize) s = -g with J built explicitly on the
    subset the stream selects, and prered = alpha*g's + 0.5*alpha^2*s'(G/GNsize + I/C)s."""
    from simplecnn_py.cells_to_vec import cells_to_vec
    from simplecnn_py.check_data import check_data
    from simplecnn_py.conventions import cols, struct
    from simplecnn_py.feedforward import feedforward
    from simplecnn_py.fungrad_minibatch import fungrad_minibatch
    from simplecnn_py.init_model import init_model
    from simplecnn_py.init_net import init_net
    from test_train_products import explicit_J

    cfg, y, Z = tiny(l=16)
    l, GNsize, lam = 16, 6, 0.7
    model1, info = cnn_train(y, Z, cfg, f"-s 1 -iter_max 1 -GNsize {GNsize} -xi 1e-12 -CGmax 1000 -lambda {lam}", 11)

    replay = Stream(11)
    model0 = init_model(cfg, replay)
    subset = replay.randperm(l)[:GNsize]
    prob = check_data(struct(y=y, Z=Z), cfg)
    C = 0.01 * l
    _, f0, grad = fungrad_minibatch(prob, struct(precision="double", bsize=l, C=C), model0, init_net(cfg, model0), "fungrad")
    g = cells_to_vec(grad.dfdW, grad.dfdb)
    J = explicit_J(model0, feedforward(cols(prob.data, subset), cfg, model0, init_net(cfg, model0)))
    G = J.T @ (2 * J)
    s = np.linalg.solve((lam + 1 / C) * np.eye(g.size) + G / GNsize, -g)
    alpha = info.alpha[0]
    theta1 = cells_to_vec(model0.weight, model0.bias) + alpha * s
    np.testing.assert_allclose(cells_to_vec(model1.weight, model1.bias), theta1, rtol=1e-9, atol=1e-12)
    prered = alpha * (g @ s) + 0.5 * alpha ** 2 * (s @ (G / GNsize + np.eye(g.size) / C) @ s)
    assert info.prered[0] == pytest.approx(prered, rel=1e-9)
    assert info.f0 == pytest.approx(f0, rel=1e-14)
