"""parse_options: the defaults of facts section 7 and the errors of the
original (odd number of tokens, unknown name, not a number, out of range);
cnn_train's own option handling (C times l, GNsize default and cap,
-gpu_use refused)."""
import math

import numpy as np
import pytest

from simplecnn_py.cnn_train import cnn_train
from simplecnn_py.errors import InputError
from simplecnn_py.parse_options import parse_options

from test_port_common import CONFIGS, make_param


def test_defaults():
    p = parse_options("")
    assert (p.solver, p.C, p.bsize, p.GNsize, p.iter_max, p.xi, p.CGmax) == (1, 0.01, 1024, None, 100, 0.1, 250)
    assert getattr(p, "lambda") == 1 and p.drop == 2 / 3 and p.boost == 3 / 2 and p.eta == 1e-4
    assert (p.Jacobian, p.epoch_max, p.lr, p.decay, p.momentum, p.ftype, p.gpu_use, p.seed) == \
        (1, 500, 0.01, 0, 0, 1, 0, None)
    assert p.precision == "double"
    assert parse_options(None).bsize == 1024


def test_solver_dependent_defaults():
    assert parse_options("-s 2").bsize == 128 and parse_options("-s 2").lr == 0.01
    adam = parse_options("-s 3")
    assert adam.bsize == 128 and adam.lr == 0.001
    assert parse_options("-s 3 -lr 0.1").lr == 0.1
    assert parse_options("-s 1 -bsize 64").bsize == 64


def test_values_and_types():
    p = parse_options("  -C 0.5   -GNsize 30 -ftype 0 -lambda 0 -eta 1 -seed 7 -momentum 0.9 ")
    assert p.C == 0.5 and p.GNsize == 30 and isinstance(p.GNsize, int)
    assert p.precision == "single" and getattr(p, "lambda") == 0 and p.eta == 1 and p.seed == 7
    assert parse_options("-iter_max 1e1").iter_max == 10


@pytest.mark.parametrize("options, words", [
    ("-s", "pairs (got 1 tokens)"),
    ("-s 1 -C", "pairs (got 3 tokens)"),
    ("-foo 1", "unknown option -foo"),
    ("s 1", "unknown option s"),
    ("-C abc", "option -C needs a number, not 'abc'"),
    ("-C 2/3", "needs a number"),
    ("-s 4", "option -s must be an integer in [1, 3]"),
    ("-bsize 0", "-bsize must be an integer"),
    ("-bsize 2.5", "-bsize must be an integer"),
    ("-C 0", "-C must be a positive number"),
    ("-C -1", "-C must be a positive number"),
    ("-xi inf", "-xi must be a positive number"),
    ("-eta 1.5", "-eta must be a number in [0, 1]"),
    ("-Jacobian 2", "-Jacobian"),
    ("-ftype 2", "-ftype"),
    ("-momentum -0.1", "-momentum"),
    ("-seed -1", "-seed"),
    ("-GNsize nan", "needs a number"),
])
def test_errors(options, words):
    with pytest.raises(InputError) as e:
        parse_options(options)
    assert e.value.where == "options" and words in e.value.what, e.value.what


def test_not_a_string():
    with pytest.raises(InputError):
        parse_options(["-s", "1"])


def tiny(l):
    cfg = make_param(**CONFIGS["one_conv"])
    g = np.random.default_rng(0)
    return cfg, g.integers(1, 4, l), g.standard_normal((l, 36))


def test_cnn_train_multiplies_C_by_l_and_sets_GNsize(monkeypatch, capsys):
    import simplecnn_py.cnn_train as ct
    seen = {}

    def fake_newton(prob, param, model, net):
        seen.update(C=param.C, GNsize=param.GNsize, stream=param.stream)
        return model, None

    monkeypatch.setattr(ct, "newton", fake_newton)
    cfg, y, Z = tiny(41)
    cnn_train(y, Z, cfg, "-C 0.5", 0)
    assert seen["C"] == 0.5 * 41 and seen["GNsize"] == math.ceil(0.05 * 41) == 3
    cnn_train(y, Z, cfg, "-GNsize 100", 0)
    assert seen["GNsize"] == 41                          # at most l
    cnn_train(y, Z, cfg, "-seed 5", None)
    assert seen["stream"].seed == 5
    cnn_train(y, Z, cfg, "-seed 5", 6)                   # the argument wins
    assert seen["stream"].seed == 6


def test_cnn_train_refuses_gpu(capsys):
    cfg, y, Z = tiny(10)
    with pytest.raises(InputError, match="CPU only"):
        cnn_train(y, Z, cfg, "-gpu_use 1", 0)


def test_same_seed_same_model_different_seed_different_model(capsys):
    cfg, y, Z = tiny(20)
    a = cnn_train(y, Z, cfg, "-s 2 -epoch_max 1 -bsize 5", 1)[0]
    b = cnn_train(y, Z, cfg, "-s 2 -epoch_max 1 -bsize 5", 1)[0]
    c = cnn_train(y, Z, cfg, "-s 2 -epoch_max 1 -bsize 5", 2)[0]
    np.testing.assert_array_equal(a.weight[1], b.weight[1])
    assert not np.array_equal(a.weight[1], c.weight[1])
