"""SGD with momentum and Adam: they print the real code's epoch line
(``%d-epoch loss/batch_size: %g``, the last mini-batch's loss over bsize);
their updates equal the rules of opt/sgd.m and opt/adam.m written out here step by step
(batches replayed from the same stream); and Adam's bias correction uses the
epoch counter k, the original's quirk, which the textbook step counter
would not reproduce."""
import re

import numpy as np
import pytest

from simplecnn_py.cnn.check_data import check_data
from simplecnn_py.cnn_train import cnn_train
from simplecnn_py.support.conventions import struct
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.support.rng import Stream

from test_port_common import CONFIGS, make_param


def tiny(l=20, seed=0):
    cfg = make_param(**CONFIGS["one_conv"])
    g = np.random.default_rng(seed)
    Z = g.standard_normal((l, cfg.ht_input * cfg.wd_input * cfg.ch_input[1]))
    y = g.permutation(np.arange(l) % cfg.nL) + 1.0
    return cfg, y, Z


def by_hand(cfg, y, Z, seed, epochs, bsize, C, lr0, rule, decay=0.0, momentum=0.0, adam_counter="epoch"):
    """The update rules of sgd.m and adam.m (matlab_ref/current/MATLAB/opt/), written out for this test."""
    stream = Stream(seed)
    model = init_model(cfg, stream)
    prob = check_data(struct(y=y, Z=Z), cfg)
    l, L = prob.l, model.L
    C = C * l
    param = struct(precision="double")
    net = init_net(cfg, model)
    theta = [np.hstack([model.weight[m], model.bias[m]]) for m in range(1, L + 1)]
    mom = [np.zeros_like(t) for t in theta]
    m1 = [np.zeros_like(t) for t in theta]
    m2 = [np.zeros_like(t) for t in theta]
    lr, step = lr0, 0
    for k in range(1, epochs + 1):
        for _ in range(-(-l // bsize)):
            batch = stream.randperm(l, bsize)
            for m in range(1, L + 1):
                model.weight[m], model.bias[m] = theta[m - 1][:, :-1], theta[m - 1][:, -1:]
            net, _ = lossgrad_subset(prob, param, model, net, batch, "fungrad")
            for m in range(L):
                g = np.hstack([net.dlossdW[m + 1], net.dlossdb[m + 1]]) / bsize + theta[m] / C
                if rule == "sgd":
                    mom[m] = momentum * mom[m] - lr * g
                    theta[m] = theta[m] + mom[m]
                else:
                    t = k if adam_counter == "epoch" else step + 1
                    m1[m] = 0.9 * m1[m] + 0.1 * g
                    m2[m] = 0.999 * m2[m] + 0.001 * g * g
                    theta[m] = theta[m] - lr * (m1[m] / (1 - 0.9 ** t)) / (np.sqrt(m2[m] / (1 - 0.999 ** t)) + 1e-8)
            step += 1
            lr = lr0 / (1 + decay * step)
    return theta


def flat(model):
    return [np.hstack([model.weight[m], model.bias[m]]) for m in range(1, model.L + 1)]


def assert_close(a, b, rtol):
    for x, z in zip(a, b):
        assert np.linalg.norm(x - z) <= rtol * np.linalg.norm(z)


def test_sgd_reduces_f_and_prints_epochs(capsys):
    cfg, y, Z = tiny()
    model, info = cnn_train(y, Z, None, None, cfg, "-s 2 -epoch_max 4 -bsize 5 -lr 0.01 -momentum 0.5", 1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [re.fullmatch(r"(\d+)-epoch loss/batch_size: (\S+)", x).group(1) for x in lines] == ["1", "2", "3", "4"]
    assert [x.split()[-1] for x in lines] == ["%g" % v for v in info.loss]
    assert info.loss[-1] < info.loss[0]


def test_sgd_update_rule_with_momentum_and_decay(capsys):
    cfg, y, Z = tiny()
    model, _ = cnn_train(y, Z, None, None, cfg, "-s 2 -epoch_max 2 -bsize 6 -lr 0.02 -momentum 0.9 -decay 0.3 -C 0.5", 4)
    expected = by_hand(cfg, y, Z, 4, 2, 6, 0.5, 0.02, "sgd", decay=0.3, momentum=0.9)
    assert_close(flat(model), expected, 1e-13)


def test_adam_reduces_f(capsys):
    cfg, y, Z = tiny()
    _, info = cnn_train(y, Z, None, None, cfg, "-s 3 -epoch_max 3 -bsize 5", 1)
    assert len(info.loss) == 3 and info.loss[-1] < info.loss[0]


def test_adam_ignores_decay_and_defaults_to_lr_0_01(capsys):
    cfg, y, Z = tiny()
    a, _ = cnn_train(y, Z, None, None, cfg, "-s 3 -epoch_max 2 -bsize 5", 6)
    b, _ = cnn_train(y, Z, None, None, cfg, "-s 3 -epoch_max 2 -bsize 5 -decay 0.5 -lr 0.01", 6)
    c, _ = cnn_train(y, Z, None, None, cfg, "-s 3 -epoch_max 2 -bsize 5 -lr 0.001", 6)
    assert all(np.array_equal(x, z) for x, z in zip(flat(a), flat(b)))
    assert not np.array_equal(flat(a)[0], flat(c)[0])


def test_adam_bias_correction_uses_the_epoch_counter(capsys):
    """Four steps per epoch: the quirk (k) and the textbook (step) differ from
    the second step on; the port follows the quirk."""
    cfg, y, Z = tiny()
    model, _ = cnn_train(y, Z, None, None, cfg, "-s 3 -epoch_max 2 -bsize 5 -lr 0.01", 6)
    quirk = by_hand(cfg, y, Z, 6, 2, 5, 0.01, 0.01, "adam", adam_counter="epoch")
    textbook = by_hand(cfg, y, Z, 6, 2, 5, 0.01, 0.01, "adam", adam_counter="step")
    assert_close(flat(model), quirk, 1e-12)
    gap = max(np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(flat(model), textbook))
    assert gap > 1e-3


def test_adam_one_step_per_epoch_is_textbook_adam(capsys):
    """With bsize >= l an epoch is one step, and k = step + 1: both agree."""
    cfg, y, Z = tiny(l=8)
    model, _ = cnn_train(y, Z, None, None, cfg, "-s 3 -epoch_max 3 -bsize 8", 2)
    textbook = by_hand(cfg, y, Z, 2, 3, 8, 0.01, 0.01, "adam", adam_counter="step")
    assert_close(flat(model), textbook, 1e-12)


def test_bsize_larger_than_l_is_refused(capsys):
    """The original fails in randperm(l, bsize); the port says why."""
    from simplecnn_py.support.errors import InputError

    cfg, y, Z = tiny(l=8)
    with pytest.raises(InputError, match="-bsize 100 is larger than the 8 instances"):
        cnn_train(y, Z, None, None, cfg, "-s 2 -epoch_max 1 -bsize 100", 2)


def test_momentum_above_one_runs_and_validation_picks_the_best(capsys):
    cfg, y, Z = tiny()
    model, info = cnn_train(y, Z, y, Z, cfg, "-s 2 -epoch_max 3 -bsize 5 -momentum 1.5", 2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(re.fullmatch(r"\d+-epoch loss/batch_size: \S+ val_acc: \S+", x) for x in lines)
    assert len(info.val_acc) == 3
