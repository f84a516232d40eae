"""Training, prediction and model files against the REAL simpleNN code.

Oracle: the real simpleNN repository (../shared/upstream/simpleNN.bundle),
its newest commit (``MATLAB/``, current layout) and ff2333d (the seed
layout), extracted into a temporary folder and run unmodified under GNU
Octave.  Skipped, with the reason, when ../shared or Octave is absent.

* compare-train (the real ``cnn_train``, its own printed lines, replayed
  draws): Newton with ``-Jacobian 1`` and ``0``, SGD with momentum, Adam
  with default options, with and without validation data; f or
  loss/batch_size within 1e-9 (and within 10 x the original's own floor),
  #CG equal, printed lines identical;
* an injected port difference far below 1e-6 but above the floor fails;
* models both ways: the real ``cnn_train``'s model predicts the same labels
  in the port as in the real ``cnn_predict``, and the port's model the same
  labels in the real ``cnn_predict`` as in the port -- for both layouts.

Octave time is kept small: 128-256 instances of the shipped 28 x 28 demo
data, a 2-conv-layer net, 2-3 iterations/epochs.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from conftest import needs_octave
from harness_bundle import real_trees
from simplecnn_cli.main import main
from simplecnn_harness.training.compare_train import compare_train, summary

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "simplecnn_cli" / "demo"

pytestmark = [needs_octave]


def _octave():
    import shutil

    return shutil.which("octave-cli") or shutil.which("octave")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """``{'current': MATLAB dir of the newest commit, 'seed': the ff2333d tree, 'dir': tmp, 'config'}``."""
    return real_trees(tmp_path_factory.mktemp("real"))


def _run_octave(cwd, code, timeout=300):
    r = subprocess.run([_octave(), "--no-gui", "--quiet", "--no-init-file", "--eval", code], cwd=str(cwd),
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def _compare(real, options, validation=False, instances=128, **kw):
    r = compare_train(real["current"], real["dir"] / "small.config", DEMO / "demo-data.mat", options, seed=5,
                      instances=instances, validation=DEMO / "demo-data.t.mat" if validation else None,
                      validation_instances=100, **kw)
    return r


# --- compare-train against the real current cnn_train ---------------------------------------

@pytest.mark.parametrize("options,validation", [
    ("-s 1 -iter_max 3 -GNsize 32 -Jacobian 1", True),
    ("-s 1 -iter_max 3 -GNsize 32 -Jacobian 0 -bsize 50", False),
    ("-s 2 -epoch_max 2 -momentum 0.9 -bsize 64", True),
    ("-s 3 -epoch_max 2", False),
])
def test_compare_train_real_current(real, options, validation):
    r = _compare(real, options, validation)
    assert r.passed, summary(r)
    assert len(r.rows) in (2, 3)
    for row in r.rows:
        assert row["rel_err"] <= 1e-9
        assert row["floor"] is not None and row["floor"] < 1e-12      # normalised-size data: tiny floor
        if r.solver == "newton":
            assert row["python"]["cg"] == row["matlab"]["cg"]
        if validation:
            assert row["python"]["val_acc"] == row["matlab"]["val_acc"]
    assert r.text["structure"] == 0 and r.text["equal"] >= r.text["lines"] - 1     # printed as the original
    assert r.python.lines[0].startswith("initial f: ") == (r.solver == "newton")
    assert r.weights_rel_err < 1e-12


def test_injected_port_difference_above_the_floor_fails(real, monkeypatch):
    """A relative change of 1e-7 in the port's f (far below the printed
    digits' resolution) is a FAIL: above 1e-9 and above 10 x the floor."""
    import simplecnn_py.opt.newton as N

    real_fungrad = N.fungrad_minibatch

    def shifted(prob, param, model, net, task):
        net, f, grad = real_fungrad(prob, param, model, net, task)
        return net, f * (1 + 1e-7), grad

    monkeypatch.setattr(N, "fungrad_minibatch", shifted)
    r = _compare(real, "-s 1 -iter_max 2 -GNsize 32")
    assert not r.passed
    assert r.first_divergence["k"] == 1
    assert "relative error" in r.first_divergence["what"]
    floor = max(row["floor"] for row in r.rows)
    assert floor < 1e-12 and all(row["rel_err"] > 10 * floor for row in r.rows)


def test_cli_compare_train_real_exit_codes(real, tmp_path, capsys):
    args = ["compare-train", "--matlab-dir", str(real["current"]), "--config", str(real["dir"] / "small.config"),
            "--data", str(DEMO / "demo-data.mat"), "--instances", "64", "--options=-s 2 -epoch_max 1 -bsize 32",
            "--seed", "1", "--quiet", "--json", str(tmp_path / "r.json")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "floor" in out
    assert (tmp_path / "r.json").exists()


# --- models both ways -----------------------------------------------------------------------

def _data(real, n=240, t=200, plus=0.0):
    """Training and test files (the first n / t demo instances, labels + plus)."""
    d = real["dir"]
    tr = scipy.io.loadmat(DEMO / "demo-data.mat")
    te = scipy.io.loadmat(DEMO / "demo-data.t.mat")
    mean = tr["Z"][:n].mean(axis=0)
    scipy.io.savemat(d / "train.mat", {"y": tr["y"][:n] + plus, "Z": tr["Z"][:n] - mean})
    scipy.io.savemat(d / "test.mat", {"y": te["y"][:t] + plus, "Z": te["Z"][:t] - mean})
    return d / "train.mat", d / "test.mat"


def _port_predict(model_file, data_file, options=""):
    from simplecnn_py.cnn_predict import cnn_predict
    from simplecnn_py.support.model_file import load_model

    model = load_model(model_file)
    S = scipy.io.loadmat(data_file)
    return cnn_predict(S["y"].reshape(-1), S["Z"], model, options)


def _port_model_in_real_predict(tree, cfg, train, test, options, tmp_path):
    """A model written by ``simplecnn train`` loads in the real ``cnn_predict``
    of ``tree`` and gives the labels and accuracy of ``simplecnn predict``."""
    port_model, port_pred = tmp_path / "port-model.mat", tmp_path / "port-pred.mat"
    assert main(["train", "--config", str(cfg), "--data", str(train), f"--options={options}",
                 "--seed", "4", "--model", str(port_model), "--quiet"]) == 0
    labels, acc = _port_predict(port_model, test)
    _run_octave(tree, f"""
        load('{port_model}'); T = load('{test}');
        [r, a] = cnn_predict(T.y, T.Z, model);
        save('-v7', '{port_pred}', 'r', 'a');""")
    P = scipy.io.loadmat(port_pred)
    assert np.array_equal(labels, P["r"].reshape(-1))
    assert acc == pytest.approx(P["a"].item(), abs=0)


def test_models_both_ways_current(real, tmp_path):
    train, test = _data(real)
    cfg = real["dir"] / "small.config"
    real_model, real_pred = tmp_path / "real-model.mat", tmp_path / "real-pred.mat"
    _run_octave(real["current"], f"""
        S = load('{train}'); T = load('{test}');
        model = cnn_train(S.y, S.Z, [], [], '{cfg}', '-s 1 -iter_max 4 -GNsize 24', 3);
        save('-v7', '{real_model}', 'model');
        [r, a] = cnn_predict(T.y, T.Z, model, '-bsize 64');
        save('-v7', '{real_pred}', 'r', 'a');""")
    labels, acc = _port_predict(real_model, test, "-bsize 64")
    P = scipy.io.loadmat(real_pred)
    assert np.array_equal(labels, P["r"].reshape(-1))
    assert acc == pytest.approx(P["a"].item(), abs=0)
    assert len(set(labels)) > 1

    _port_model_in_real_predict(real["current"], cfg, train, test, "-s 2 -epoch_max 2 -bsize 40", tmp_path)


def test_models_both_ways_seed_layout(real, tmp_path):
    """ff2333d: labels must be 1..nL; its predict leaves the instances
    past 20*floor(0.05*l) at class 1 (200 test instances: none left; 210:
    ten left), and the port's predict of such a model does the same."""
    train, test = _data(real, n=200, t=210, plus=1.0)
    cfg = real["dir"] / "small.config"
    real_model, real_pred = tmp_path / "seed-model.mat", tmp_path / "seed-pred.mat"
    _run_octave(real["seed"], f"""
        S = load('{train}'); T = load('{test}');
        model = cnn_train(S.y, S.Z, '{cfg}', '-s 1 -iter_max 1', 3);
        save('-v7', '{real_model}', 'model');
        [r, a] = cnn_predict(T.y, T.Z, model);
        save('-v7', '{real_pred}', 'r', 'a');""", timeout=600)
    labels, acc = _port_predict(real_model, test)
    P = scipy.io.loadmat(real_pred)
    assert np.array_equal(labels, P["r"].reshape(-1))
    assert np.all(labels[200:] == 1)                # the seed predict's tail quirk
    assert acc == pytest.approx(P["a"].item(), abs=0)

    _port_model_in_real_predict(real["seed"], cfg, train, test, "-s 3 -epoch_max 1 -bsize 50", tmp_path)
