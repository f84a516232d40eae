"""Newton (subsampled Gauss-Newton, CG, line search, Levenberg-Marquardt) on
tiny problems, against the rules of the real current newton.m (read line by
line; the trajectories themselves are checked against the real code in
test_train_real.py): the printed lines (``initial f``, ``%g``, val_acc),
|g| at the new point, the subsets draw for draw, the stored-Jacobian and
R-operator paths, the best-validation model, no line-search floor, and a
NaN f stopping training with one line."""
import math
import re

import numpy as np
import pytest

import simplecnn_py.opt.newton as newton_module
from simplecnn_py.cnn_train import cnn_train
from simplecnn_py.support.conventions import struct
from simplecnn_py.support.errors import InputError
from simplecnn_py.opt.newton import assign_inst_idx, update_lambda
from simplecnn_py.support.rng import Stream

from test_port_common import CONFIGS, make_param

NUM = r"(-?[0-9.e+-]+|NaN|-?Inf)"
LINE = re.compile(rf"^(\d+)-iter f: {NUM} \|g\|: {NUM} alpha: {NUM} ratio: {NUM} lambda: {NUM} "
                  rf"#CG: (\d+) actred: {NUM} prered: {NUM}( val_acc: {NUM})?$")


def tiny(l=24, name="nonsquare_stride2", seed=0):
    cfg = make_param(**CONFIGS[name])
    g = np.random.default_rng(seed)
    Z = g.standard_normal((l, cfg.ht_input * cfg.wd_input * cfg.ch_input[1]))
    y = 10 * (g.permutation(np.arange(l) % cfg.nL)) + 7.0          # any label values
    return cfg, y, Z


def parse(out):
    lines = out.strip().splitlines()
    assert re.fullmatch(rf"initial f: {NUM}", lines[0]), lines[0]
    its = [LINE.match(x) for x in lines[1:-1]]
    assert all(its), lines
    assert re.fullmatch(r"total_#CG: \d+", lines[-1]), lines[-1]
    return float(lines[0].split()[-1]), [m.groups() for m in its], int(lines[-1].split()[-1])


def test_newton_decreases_f_and_prints_the_lines_with_g(capsys):
    cfg, y, Z = tiny()
    model, info = cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 6 -GNsize 8 -C 0.1", 3)
    f0, rows, total = parse(capsys.readouterr().out)
    assert f0 == float("%g" % info.f0)
    assert len(rows) == 6 and [int(r[0]) for r in rows] == list(range(1, 7))
    assert [r[1] for r in rows] == ["%g" % f for f in info.f]           # %g, as the original
    assert info.f0 > info.f[0] and all(b < a for a, b in zip(info.f, info.f[1:]))
    assert total == sum(int(r[6]) for r in rows) == info.total_CG
    lam, f_prev = 1.0, info.f0
    for k in range(6):
        alpha, ratio = info.alpha[k], info.ratio[k]
        assert math.log2(alpha) == round(math.log2(alpha)) and alpha <= 1          # halvings from 1
        assert info.actred[k] == pytest.approx(info.f[k] - f_prev, rel=1e-9, abs=1e-14)
        assert ratio == info.actred[k] / info.prered[k]
        lam = lam * 1.5 if ratio < 0.25 else (lam * 2 / 3 if ratio >= 0.75 else lam)
        assert getattr(info, "lambda")[k] == pytest.approx(lam, rel=1e-14)
        assert info.cg[k] >= 1
        f_prev = info.f[k]


def test_gnorm_is_the_gradient_norm_at_the_new_point(capsys):
    from simplecnn_py.cnn.cells_to_vec import cells_to_vec
    from simplecnn_py.cnn.check_data import check_data
    from simplecnn_py.cnn.fungrad_minibatch import fungrad_minibatch
    from simplecnn_py.cnn.init_net import init_net
    from simplecnn_py.opt.parse_options import parse_options

    cfg, y, Z = tiny()
    model1, info1 = cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 1 -GNsize 8", 3)
    param = parse_options("")
    param.C = 0.01 * len(y)
    prob = check_data(struct(y=y, Z=Z), cfg)
    _, f1, grad = fungrad_minibatch(prob, param, model1, init_net(cfg, model1), "fungrad")
    assert f1 == info1.f[0]
    assert info1.gnorm[0] == pytest.approx(np.linalg.norm(cells_to_vec(grad.dfdW, grad.dfdb)), rel=1e-12)


def test_subsets_follow_assign_inst_idx():
    l, GNsize = 10, 4
    stream, replay = Stream(8), Stream(8)
    chunks = assign_inst_idx(stream, GNsize, l)
    p = replay.randperm(l)
    e = np.concatenate([p, p[:GNsize]])
    assert [c.tolist() for c in chunks] == [e[0:4].tolist(), e[4:8].tolist(), e[8:12].tolist()]
    assert chunks[2][2:].tolist() == p[:2].tolist()          # the extension by the first entries


def test_random_draws_are_weights_then_one_randperm_per_cycle(capsys):
    cfg, y, Z = tiny(l=20)
    stream = Stream(5)
    stream.log = []
    cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 5 -GNsize 8", stream)   # 3 subsets per cycle
    kinds = [(kind, values.size) for kind, values in stream.log]
    L = cfg.L
    assert all(k == "randn" for k, _ in kinds[:L])
    assert kinds[L:] == [("randperm", 20), ("randperm", 20)]     # k = 1 and k = 4 (mod(k, 3) == 1)


def test_gnsize_equal_to_l_draws_every_iteration(capsys):
    cfg, y, Z = tiny(l=20)
    stream = Stream(5)
    stream.log = []
    cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 3 -GNsize 20", stream)
    assert [k for k, _ in stream.log].count("randperm") == 3


def test_stored_jacobian_and_R_operator_walk_the_same_trajectory(capsys):
    cfg, y, Z = tiny(l=30, name="three_conv", seed=2)
    _, a = cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 4 -GNsize 7 -bsize 4 -Jacobian 1", 9)
    _, b = cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 4 -GNsize 7 -bsize 4 -Jacobian 0", 9)
    assert a.cg == b.cg
    np.testing.assert_allclose(a.f, b.f, rtol=1e-10)


def test_single_precision_newton_stays_single(capsys):
    cfg, y, Z = tiny()
    model, info = cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 3 -GNsize 8 -ftype 0", 3)
    assert all(model.weight[m].dtype == np.float32 for m in range(1, model.L + 1))
    assert model.float_type == "single"
    assert info.f[-1] < info.f0


def test_validation_returns_the_strictly_best_model(capsys, monkeypatch):
    """val_acc per iteration; the model returned is the first one reaching
    the best accuracy (strictly better than all before, start 0)."""
    accs = iter([0.5, 0.7, 0.7, 0.6])
    seen = []
    monkeypatch.setattr(newton_module, "cal_accuracy", lambda r, y: next(accs))
    real_predict = newton_module.predict

    def spy(prob, param, model, net):
        seen.append(model)
        return real_predict(prob, param, model, net)

    monkeypatch.setattr(newton_module, "predict", spy)
    cfg, y, Z = tiny()
    best, info = cnn_train(y, Z, y, Z, cfg, "-s 1 -iter_max 4 -GNsize 8", 3)
    _, rows, _ = parse(capsys.readouterr().out)
    assert [float(r[10]) for r in rows] == info.val_acc == [0.5, 0.7, 0.7, 0.6]
    assert best is seen[1]


def test_no_line_search_floor(capsys, monkeypatch):
    """The original halves alpha without a floor; a decrease at alpha =
    2^-40 is accepted (the earlier port stopped at 1e-10)."""
    real = newton_module.fungrad_minibatch
    calls = {"n": 0}

    def late_decrease(prob, param, model, net, task):
        net, f, grad = real(prob, param, model, net, task)
        if task == "funonly":
            calls["n"] += 1
            if calls["n"] <= 40:
                f = f + 1e6
        return net, f, grad

    monkeypatch.setattr(newton_module, "fungrad_minibatch", late_decrease)
    cfg, y, Z = tiny()
    _, info = cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 1 -GNsize 8", 3)
    assert info.alpha == [2.0 ** -40]


def test_line_search_down_to_zero_and_nan_f_stop_with_one_line(capsys, monkeypatch):
    real = newton_module.fungrad_minibatch

    def never(prob, param, model, net, task):
        net, f, grad = real(prob, param, model, net, task)
        return net, (f + 1e6 if task == "funonly" else f), grad

    monkeypatch.setattr(newton_module, "fungrad_minibatch", never)
    cfg, y, Z = tiny()
    with pytest.raises(InputError, match="halved the step to 0"):
        cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 1 -GNsize 8", 3)
    monkeypatch.setattr(newton_module, "fungrad_minibatch", real)
    with pytest.raises(InputError, match=r"initial f is nan.*--normalize"):
        cnn_train(y, Z * np.nan, None, None, cfg, "-s 1 -iter_max 1 -GNsize 8", 3)


def test_update_lambda_rule():
    P = struct(boost=1.5, drop=2 / 3)
    setattr(P, "lambda", 2.0)
    assert update_lambda(P, -0.1, -1.0) == 3.0
    assert update_lambda(P, -0.8, -1.0) == pytest.approx(4 / 3)
    assert update_lambda(P, -0.5, -1.0) == 2.0
    assert update_lambda(P, float("nan"), -1.0) == 2.0
