"""parse_options and cnn_train's option handling, against the real current
cnn_train.m read line by line (oracle: its sub-functions ``parameter`` and
``parse_options``): str2num values without range checks, Adam's default
learning rate 0.01, no -seed, the errors of the original, and the inputs
the port refuses where the original fails with an index error."""
import math

import numpy as np
import pytest

from simplecnn_py.cnn_train import cnn_train
from simplecnn_py.support.errors import InputError
from simplecnn_py.opt.parse_options import parse_options, str2num

from test_port_common import CONFIGS, make_param


def test_defaults():
    p = parse_options("")
    assert (p.solver, p.C, p.bsize, p.GNsize, p.iter_max, p.xi, p.CGmax) == (1, 0.01, 1024, None, 100, 0.1, 250)
    assert getattr(p, "lambda") == 1 and p.drop == 2 / 3 and p.boost == 3 / 2 and p.eta == 1e-4
    assert (p.Jacobian, p.epoch_max, p.lr, p.decay, p.momentum, p.ftype, p.gpu_use) == (1, 500, 0.01, 0, 0, 1, 0)
    assert p.precision == "double"
    assert parse_options(None).bsize == 1024
    assert not hasattr(p, "seed")


def test_adam_default_lr_is_0_01_as_the_original():
    """The original sets lr = 0.001 only when param.solver == 3 BEFORE the
    options are read (when it is still 1): Adam gets 0.01."""
    assert parse_options("-s 3").lr == 0.01
    assert parse_options("-s 3").bsize == 128 and parse_options("-s 2").bsize == 128
    assert parse_options("-s 1 -bsize 64").bsize == 64


def test_str2num_values_without_range_checks():
    p = parse_options("  -C 1/100   -GNsize 30 -ftype 0 -lambda 0 -eta 1.5 -momentum 1.5 -xi -1 ")
    assert p.C == 0.01 and p.GNsize == 30 and isinstance(p.GNsize, int)
    assert p.precision == "single" and getattr(p, "lambda") == 0 and p.eta == 1.5 and p.momentum == 1.5
    assert p.xi == -1
    assert parse_options("-C inf").C == math.inf
    assert parse_options("-iter_max 1e1").iter_max == 10
    assert parse_options("-Jacobian 2").Jacobian == 1 and parse_options("-Jacobian 0").Jacobian == 0
    assert str2num("2^-3") == 0.125 and str2num("pi") == math.pi and str2num("1/0") == math.inf
    assert str2num("abc") is None and str2num("system(1)") is None and str2num("__import__") is None


@pytest.mark.parametrize("options,msg", [
    ("-s", "each option is a name and a value"),
    ("-s 1 -C", "each option is a name and a value"),
    ("-foo 1", "-foo is not a supported option"),
    ("s 1", "s is not a supported option"),
    ("-seed 3", "-seed is not an option of cnn_train"),
    ("-C abc", "option -C: 'abc' is not a number"),
    ("-s 4", "option -s must be 1 (Newton), 2 (SGD) or 3 (Adam)"),
    ("-ftype 2", "option -ftype must be 0 (single) or 1 (double)"),
    ("-gpu_use 1", "-gpu_use 1"),
    ("-bsize 0", "option -bsize must be an integer >= 1"),
    ("-bsize 1.5", "option -bsize must be an integer >= 1"),
    ("-CGmax 0", "option -CGmax must be an integer >= 1"),
    ("-iter_max -1", "option -iter_max must be an integer >= 0"),
])
def test_errors(options, msg):
    with pytest.raises(InputError) as e:
        parse_options(options)
    assert e.value.where == "options" and msg in e.value.what


def tiny(l=20, seed=0):
    cfg = make_param(**CONFIGS["nonsquare_stride2"])
    g = np.random.default_rng(seed)
    Z = g.standard_normal((l, cfg.ht_input * cfg.wd_input * cfg.ch_input[1]))
    y = g.permutation(np.arange(l) % cfg.nL) + 1.0
    return cfg, y, Z


def test_cnn_train_refuses_what_the_original_fails_on(capsys):
    cfg, y, Z = tiny()
    with pytest.raises(InputError, match="-GNsize 21 is larger than the 20 instances"):
        cnn_train(y, Z, None, None, cfg, "-s 1 -GNsize 21 -iter_max 1", 1)
    with pytest.raises(InputError, match="-bsize 21 is larger than the 20 instances"):
        cnn_train(y, Z, None, None, cfg, "-s 2 -bsize 21 -epoch_max 1", 1)
    import scipy.sparse
    with pytest.raises(InputError, match="sparse"):
        cnn_train(y, scipy.sparse.csr_matrix(Z), None, None, cfg, "-s 2 -bsize 5 -epoch_max 1", 1)
    with pytest.raises(InputError, match="distinct labels"):
        cnn_train(np.ones(20), Z, None, None, cfg, "-s 2 -bsize 5 -epoch_max 1", 1)
    with pytest.raises(InputError, match="distinct labels"):      # the validation set is checked too
        cnn_train(y, Z, np.ones(20), Z, cfg, "-s 2 -bsize 5 -epoch_max 1", 1)
    # Newton's bsize may exceed l (the original's chunks stop at l)
    cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 1 -GNsize 20 -bsize 50", 1)


def test_C_inf_means_no_regularisation(capsys):
    cfg, y, Z = tiny()
    _, info = cnn_train(y, Z, None, None, cfg, "-s 1 -iter_max 1 -GNsize 10 -C inf", 1)
    assert math.isfinite(info.f[0])


def test_same_seed_same_model_different_seed_different_model(capsys):
    cfg, y, Z = tiny()
    a = cnn_train(y, Z, None, None, cfg, "-s 2 -epoch_max 1 -bsize 5", 4)[0]
    b = cnn_train(y, Z, None, None, cfg, "-s 2 -epoch_max 1 -bsize 5", 4)[0]
    c = cnn_train(y, Z, None, None, cfg, "-s 2 -epoch_max 1 -bsize 5", 5)[0]
    assert np.array_equal(a.weight[1], b.weight[1]) and not np.array_equal(a.weight[1], c.weight[1])
