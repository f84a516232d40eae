"""The one input loader (simplecnn_harness/inputs.py), without Octave: the
checks and messages every command shares, and what it loads."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from simplecnn_harness import inputs
from simplecnn_py.support.errors import InputError

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "matlab_ref" / "seed" / "config" / "small-nonsquare.config"


@pytest.mark.parametrize("kwargs,where,what", [
    ({"precision": "half"}, "--precision", "must be double or single, not half"),
    ({"instances": 0}, "--instances", "must be a positive number, not 0"),
    ({"seed": -1}, "--seed", "must be >= 0, not -1"),
    ({"instances": 2}, "--instances", "generated data needs at least nL = 3 instances (one per class), not 2"),
])
def test_bad_options_are_one_line(kwargs, where, what):
    with pytest.raises(InputError) as e:
        inputs.load(config=str(SMALL), **kwargs)
    assert (e.value.where, e.value.what) == (where, what)


def test_generated_inputs_and_their_descriptions():
    ins = inputs.load(config=str(SMALL), instances=7, seed=3)
    assert ins.prob.l == 7 and ins.prob.data.shape == (12 * 9 * 2, 7)
    assert ins.data_desc == "generated (seed 3)" and ins.config == ins.config_desc == str(SMALL)
    assert sorted(set(np.asarray(ins.prob.y).tolist())) == [1.0, 2.0, 3.0]     # every class present
    again = inputs.load(config=str(SMALL), instances=7, seed=3)
    assert np.array_equal(again.prob.data, ins.prob.data)
    assert all(np.array_equal(again.model.weight[m], ins.model.weight[m]) for m in range(1, 5))
    other = inputs.load(config=str(SMALL), instances=7, seed=4)
    assert not np.array_equal(other.model.weight[1], ins.model.weight[1])


def test_a_data_file_its_first_instances_and_the_weights_file(tmp_path):
    rng = np.random.default_rng(0)
    Z = rng.random((9, 12 * 9 * 2))
    y = np.array([1, 2, 3, 1, 2, 3, 1, 2, 3], dtype=float)
    scipy.io.savemat(tmp_path / "d.mat", {"Z": Z, "y": y.reshape(-1, 1)})
    ins = inputs.load(config=str(SMALL), data=str(tmp_path / "d.mat"), instances=4)
    assert ins.prob.l == 4 and ins.data_desc == str(tmp_path / "d.mat") and ins.data == str(tmp_path / "d.mat")
    assert np.array_equal(np.asarray(ins.prob.y), y[:4])
    with pytest.raises(InputError) as e:
        inputs.load(config=str(SMALL), data=str(tmp_path / "d.mat"), instances=10)
    assert e.value.what == f"asks for 10 instances but {tmp_path / 'd.mat'} has 9"
    # the weights file replaces He's initialisation, cast to the working precision
    model = ins.model
    W = np.empty((4, 1), dtype=object)
    b = np.empty((4, 1), dtype=object)
    for m in range(1, 5):
        W[m - 1, 0] = np.full(model.weight[m].shape, 0.5 * m)
        b[m - 1, 0] = np.full(model.bias[m].shape, -0.25 * m)
    scipy.io.savemat(tmp_path / "w.mat", {"weight": W, "bias": b})
    single = inputs.load(config=str(SMALL), instances=3, weights=str(tmp_path / "w.mat"), precision="single")
    for m in range(1, 5):
        assert single.model.weight[m].dtype == np.float32
        assert np.all(single.model.weight[m] == np.float32(0.5 * m))
        assert np.all(single.model.bias[m] == np.float32(-0.25 * m))


def test_without_instances_the_budget_cuts_and_says_so():
    said = []
    ins = inputs.load(config=str(SMALL), budget=3.5 * inputs.bytes_per_instance(
        inputs.load(config=str(SMALL), instances=3).model, "double"), progress=said.append)
    assert ins.prob.l == 3
    assert said == ["compare: using the first 3 of the 64 instances (the traced intermediates of all would pass "
                    "0 GiB); --instances N chooses"]


def test_config_warnings_are_printed_once_each(tmp_path, capsys):
    """The one policy: each warning of the config reader, one line on stderr."""
    cfg = tmp_path / "w.config"
    cfg.write_text(SMALL.read_text() + "no_such_key = 3;\n")
    param = inputs.read_param(cfg, "single")
    assert param.precision == "single" and param.no_such_key == 3
    n = len(SMALL.read_text().splitlines()) + 1
    assert capsys.readouterr().err == (f"simplecnn: warning: {cfg}: line {n}: unknown key no_such_key kept as "
                                       "param.no_such_key\n")
