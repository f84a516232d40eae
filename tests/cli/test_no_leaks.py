"""Nothing from Python leaks to a user of the command line (issue 23, item 4).

Floating-point trouble is handled where it arises: numpy's RuntimeWarnings
never reach standard error (the fast path's helper threads run under the
caller's ``np.errstate``), a training that diverges ends with its one-line
error, and a gradient that is not finite is one line naming the first stage
that stopped being finite, with no output file.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from conftest import REPO, SHARED_DATA, needs_octave

DEMO = REPO / "simplecnn_cli" / "demo"


def _cli(*args, reference=False, threads="2"):
    env = dict(os.environ, SIMPLECNN_REFERENCE="1" if reference else "0", SIMPLECNN_THREADS=threads)
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", *map(str, args)], capture_output=True, text=True,
                          cwd=str(REPO), env=env, timeout=300)


def _one_error_line(r):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("simplecnn: error: "), r.stderr
    assert "Warning" not in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def huge_weights(tmp_path_factory):
    """The check-gradient demo's weights with every value 1e300 (finite, far too large)."""
    w = scipy.io.loadmat(DEMO / "check-gradient-weights.mat")
    for c in (w["weight"], w["bias"]):
        for i in range(c.shape[0]):
            c[i, 0] = np.full(np.shape(c[i, 0]), 1e300)
    path = tmp_path_factory.mktemp("huge") / "huge.mat"
    scipy.io.savemat(path, {"weight": w["weight"], "bias": w["bias"]})
    return path


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
def test_gradient_on_huge_weights_is_one_line_and_no_file(reference, huge_weights, tmp_path):
    out = tmp_path / "g.mat"
    r = _cli("gradient", "--config", DEMO / "check-gradient.config", "--data", DEMO / "check-gradient-data.mat",
             "--weights", huge_weights, "--out", out, reference=reference)
    _one_error_line(r)
    assert not out.exists()
    assert r.stderr.startswith(f"simplecnn: error: {huge_weights}: the values stop being finite at layer 2, "
                               "forward: the layer's output Z")
    assert r.stdout == ""


def test_train_with_a_huge_step_is_one_line(shared_data, tmp_path):
    model = tmp_path / "m.mat"
    r = _cli("train", "--config", REPO / "matlab_ref" / "seed" / "config" / "mnist-demo-layer3.config",
             "--data", shared_data / "mnist-demo.mat", "--rowmajor", "--options=-s 2 -lr 1e8", "--seed", "1",
             "--quiet", "--model", model)
    _one_error_line(r)
    assert "training stopped, no model written" in r.stderr
    assert not model.exists()


def test_helper_threads_take_the_callers_errstate(monkeypatch):
    from simplecnn_py.fast import workspace

    monkeypatch.setenv("SIMPLECNN_THREADS", "4")
    big = np.full(4, 1e300)

    def overflow(group, work):
        return float(np.dot(big, big))

    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            workspace.run_parts(overflow, list(range(16)))
    with np.errstate(over="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert workspace.run_parts(overflow, list(range(16))) == [np.inf] * 16


@needs_octave
def test_compare_on_huge_weights_warns_nothing(huge_weights):
    r = _cli("compare", "--config", DEMO / "check-gradient.config", "--data", DEMO / "check-gradient-data.mat",
             "--weights", huge_weights, "--instances", "4", "--quiet")
    assert r.returncode in (0, 1) and r.stderr == "", r.stderr


def test_check_gradient_on_huge_values(huge_weights, tmp_path):
    from simplecnn_harness.student.check_gradient import save_mine

    args = ["check-gradient", "--config", DEMO / "check-gradient.config", "--data", DEMO / "check-gradient-data.mat"]
    mine = tmp_path / "mine.mat"
    g = _cli("gradient", *args[1:], "--weights", DEMO / "check-gradient-weights.mat", "--out", mine)
    assert g.returncode == 0, g.stderr
    # the port's own reference overflows: nothing to check against, one line
    r = _cli(*args, "--weights", huge_weights, "--mine", mine)
    _one_error_line(r)
    assert "stop being finite at layer 2, forward" in r.stderr
    # a student's gradient of 1e300 everywhere simply differs, without numpy's words
    S = scipy.io.loadmat(mine)
    L = S["dlossdW"].shape[0]
    huge = tmp_path / "mine-huge.mat"
    save_mine(huge, [np.full(np.shape(S["dlossdW"][m, 0]), 1e300) for m in range(L)],
              [np.full(np.shape(S["dlossdb"][m, 0]), 1e300) for m in range(L)])
    d = _cli(*args, "--weights", DEMO / "check-gradient-weights.mat", "--mine", huge)
    assert d.returncode == 1 and d.stderr == "", d.stderr
    assert "differs" in d.stdout


def test_predict_with_huge_weights_is_one_line(tmp_path):
    model = tmp_path / "m.mat"
    data = DEMO / "check-gradient-data.mat"
    t = _cli("train", "--config", DEMO / "check-gradient.config", "--data", data,
             "--options=-s 2 -epoch_max 1 -bsize 4", "--seed", "1", "--quiet", "--model", model)
    assert t.returncode == 0, t.stderr
    M = scipy.io.loadmat(model)
    weight = M["model"]["weight"][0, 0]
    for i in range(weight.shape[0]):
        weight[i, 0] = np.full(np.shape(weight[i, 0]), 1e300)
    huge = tmp_path / "m-huge.mat"
    scipy.io.savemat(huge, {"model": M["model"]})
    for reference in (False, True):
        r = _cli("predict", "--model", huge, "--data", data, reference=reference)
        _one_error_line(r)
        assert r.stdout == "" and "stop being finite at layer 2, forward" in r.stderr
    ok = _cli("predict", "--model", model, "--data", data)
    assert ok.returncode == 0 and ok.stderr == "" and ok.stdout.startswith("accuracy: ")


def test_a_config_too_large_for_any_machine_is_one_line(tmp_path):
    """(numpy's 'Maximum allowed dimension exceeded' was an internal error)"""
    text = (DEMO / "check-gradient.config").read_text()
    lines = ["wd_pad_added = 1e9;" if ln.startswith("wd_pad_added =") else ln for ln in text.splitlines()]
    said = "layer 1: its padded input would hold 4e+18 values per instance"
    cfg = tmp_path / "big.config"
    cfg.write_text("\n".join(lines) + "\n")
    r = _cli("gradient", "--config", cfg, "--data", DEMO / "check-gradient-data.mat", "--out", tmp_path / "g.mat")
    _one_error_line(r)
    assert said in r.stderr and "more than any machine holds" in r.stderr
