"""``simplecnn compare-train`` and models moving between Python and MATLAB.

Oracles: the MATLAB side (matlab_ref/current under Octave, fed the Python
side's random draws) for the training trajectories; a deliberately changed
copy of the tree must be caught (exit 1); predictions of a model moved
across must equal the predictions on the side that trained it.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from conftest import TINY_CONFIG, needs_octave, octave_quote as _q
from simplecnn_cli.main import main
from simplecnn_harness.training.compare_train import (cnn_train_call, compare_rows, compare_text, instrument_progress,
                                             parse_progress, Side)

REPO = Path(__file__).resolve().parents[3]
CURRENT = REPO / "matlab_ref" / "current" / "MATLAB"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 7 x 6 x 2 problem, 60 instances, labels 4, 7, 9 (not 1..nL)."""
    d = tmp_path_factory.mktemp("tiny")
    (d / "tiny.config").write_text(TINY_CONFIG)
    g = np.random.default_rng(7)
    y = np.array([4.0, 7.0, 9.0])[g.permutation(np.arange(60) % 3)]
    Z = g.standard_normal((60, 7 * 6 * 2))
    cls = np.searchsorted([4.0, 7.0, 9.0], y)
    for c in range(3):                           # something to learn
        Z[cls == c, 14 * c:14 * c + 14] += 2.0
    scipy.io.savemat(d / "tiny.mat", {"y": y.reshape(-1, 1), "Z": Z})
    return d


def _run(tiny, options, *extra, seed="3", floor=False):
    """compare-train on the tiny problem; without the floor's second MATLAB
    run unless asked (it is checked in the Newton parity tests and in
    test_train_real.py), to keep Octave time short."""
    out = tiny / "out.json"
    if out.exists():
        out.unlink()
    rc = main(["compare-train", "--config", str(tiny / "tiny.config"), "--data", str(tiny / "tiny.mat"),
               f"--options={options}", "--seed", seed, "--json", str(out), *extra,
               *([] if floor else ["--no-floor"])])
    return rc, (json.loads(out.read_text()) if out.exists() else None)


# --- parsing and signatures (no Octave) ----------------------------------------------

def test_parse_newton_lines_tolerantly():
    lines = ["reading data", "1-iter f: 12.5 |g|: 3.25e+01 alpha: 1 ratio: 0.93 lambda: 0.6667 #CG: 7 "
             "actred: -1 prered: -1.1", "2-iter f: 1.234567890123456789 |g|: 1e-3 alpha: 0.5 ratio: NaN "
             "lambda: 1.5 #CG: 12 actred: -0.1 prered: -0.2 time: 3.2", "Line search fails.", "total_#CG: 19"]
    rows, extra = parse_progress(lines, "newton")
    assert [r["k"] for r in rows] == [1, 2]
    assert rows[0] == {"k": 1, "f": 12.5, "gnorm": 32.5, "alpha": 1.0, "ratio": 0.93, "lambda": 0.6667,
                       "cg": 7, "actred": -1.0, "prered": -1.1}
    assert np.isnan(rows[1]["ratio"]) and rows[1]["cg"] == 12
    assert extra["line_search_failed"] and extra["total_cg"] == 19 and extra["min_digits"] == 3


def test_parse_epoch_lines():
    rows, _ = parse_progress(["1-epoch loss/batch_size: 3.5 val_acc: 0.25", "Epoch 2, f = 2.25, time 1.5",
                              "3-iter f: 9"], "sgd")
    assert rows == [{"k": 1, "f": 3.5, "val_acc": 0.25}, {"k": 2, "f": 2.25}]
    rows, extra = parse_progress(["initial f: 2.5", "1-iter f: 1 |g|: 2 #CG: 3", "total_#CG: 3"], "newton")
    assert extra["f0"] == 2.5 and extra["total_cg"] == 3 and rows[0]["cg"] == 3


def test_instrument_progress_lines():
    """Each one-line progress fprintf gets a full-precision copy on the same
    line (the original line still prints; line numbers stay)."""
    src = ("fprintf('%d-iter f: %g |g|: %5.3e #CG: %d it''s 100%%\\n', k, f, g, c); % fprintf('%g iter')\n"
           "fprintf('%g other\\n', x); s = sprintf('epoch %d f = %.6f', k, f);\n"
           "fprintf('initial f: %g\\n', f);\n"
           "    fprintf('%d-epoch loss/batch_size: %g\\n', k, loss/bsize);\n")
    new, n = instrument_progress(src)
    assert n == 3 and new.count("\n") == src.count("\n")
    assert ("fprintf('%d-iter f: %g |g|: %5.3e #CG: %d it''s 100%%\\n', k, f, g, c); fprintf('simplecnn-full: "
            "%d-iter f: %.17g |g|: %.17g #CG: %d it''s 100%%\\n', k, f, g, c); % fprintf('%g iter')") in new
    assert "fprintf('%g other\\n', x); s = sprintf('epoch %d f = %.6f', k, f);\n" in new
    assert "fprintf('simplecnn-full: initial f: %.17g\\n', f);" in new
    assert "fprintf('simplecnn-full: %d-epoch loss/batch_size: %.17g\\n', k, loss/bsize);" in new


def test_compare_text_and_the_floor():
    t = compare_text(["initial f: 1.5", "1-iter f: 2 #CG: 3"], ["initial f: 1.5", "1-iter f: 2.00001 #CG: 3"])
    assert (t["equal"], t["digits"], t["structure"]) == (1, 1, 0)
    t = compare_text(["1-epoch f: 2"], ["1-epoch loss/batch_size: 2"])
    assert t["structure"] == 1 and t["first"]["line"] == 1
    py = Side("python", rows=[{"k": 1, "f": 1.0, "cg": 3}, {"k": 2, "f": 0.5 * (1 + 1e-6), "cg": 2}])
    ml = Side("matlab", rows=[{"k": 1, "f": 1.0, "cg": 3}, {"k": 2, "f": 0.5, "cg": 2}])
    twin = Side("matlab-perturbed", rows=[{"k": 1, "f": 1.0, "cg": 3}, {"k": 2, "f": 0.5 * (1 + 3e-7), "cg": 4}])
    rows, problems, first = compare_rows(py, ml, "newton", 1e-9, twin)
    assert rows[1]["floor"] == pytest.approx(3e-7) and rows[1]["ok"]      # within 10 x the original's floor
    assert rows[0]["allowed"] == 1e-9
    rows, problems, first = compare_rows(py, ml, "newton", 1e-9, twin, factor=1.0)
    assert not rows[1]["ok"] and "floor" in first["what"]
    # #CG one step apart: allowed only where the floor exceeds the tolerance
    py = Side("python", rows=[{"k": 1, "f": 1.0, "cg": 3}, {"k": 2, "f": 0.5, "cg": 3}])
    twin = Side("matlab-perturbed", rows=[{"k": 1, "f": 1.0 * (1 + 1e-8), "cg": 3}, {"k": 2, "f": 0.5, "cg": 2}])
    rows, problems, first = compare_rows(py, ml, "newton", 1e-9, twin)
    assert rows[1]["ok"] and "one step apart" in rows[1]["note"]
    calm = Side("matlab-perturbed", rows=[{"k": 1, "f": 1.0, "cg": 3}, {"k": 2, "f": 0.5, "cg": 2}])
    rows, problems, first = compare_rows(py, ml, "newton", 1e-9, calm)
    assert not rows[1]["ok"] and "#CG differs: 3 (Python) vs 2 (MATLAB)" in first["what"]


def test_cnn_train_call_from_the_function_line():
    from simplecnn_harness.octave.layouts import Signature
    from simplecnn_py.support.errors import InputError

    def sig(*args):
        return Signature("cnn_train", ["model"], list(args), Path("cnn_train.m"))

    assert cnn_train_call(sig("y", "Z", "varargin")) == "model = cnn_train(y, Z, config_file, options);"
    assert cnn_train_call(sig("y", "Z", "y_test", "Z_test", "config_file", "options")) == \
        "model = cnn_train(y, Z, [], [], config_file, options);"
    assert cnn_train_call(sig("y", "Z", "config", "options", "seed")) == \
        "model = cnn_train(y, Z, config_file, options, seed);"
    with pytest.raises(InputError, match="what to pass as 'gamma'"):
        cnn_train_call(sig("y", "Z", "config_file", "gamma"))


def test_compare_rows_verdicts():
    py = Side("python", rows=[{"k": 1, "f": 1.0, "cg": 3}, {"k": 2, "f": 0.5, "cg": 2}])
    same = Side("matlab", rows=[{"k": 1, "f": 1.0 + 1e-12, "cg": 3}, {"k": 2, "f": 0.5, "cg": 2}])
    rows, problems, first = compare_rows(py, same, "newton", 1e-9)
    assert all(r["ok"] for r in rows) and not problems and first is None
    off = Side("matlab", rows=[{"k": 1, "f": 1.0, "cg": 3}, {"k": 2, "f": 0.5 * (1 + 1e-8), "cg": 2}])
    rows, problems, first = compare_rows(py, off, "newton", 1e-9)
    assert first["k"] == 2 and "relative error" in first["what"]
    cg = Side("matlab", rows=[{"k": 1, "f": 1.0, "cg": 4}])
    rows, problems, first = compare_rows(py, cg, "newton", 1e-9)
    assert first["k"] == 1 and "#CG differs: 3 (Python) vs 4 (MATLAB)" in first["what"]
    assert problems == ["2 iterations on the Python side, 1 on the MATLAB side"]


# --- both sides ---------------------------------------------------------------------

@needs_octave
@pytest.mark.parametrize("options", [
    "-s 1 -iter_max 3 -Jacobian 1 -GNsize 20 -bsize 16",
    "-s 1 -iter_max 3 -Jacobian 0 -GNsize 20 -bsize 16",
])
def test_newton_parity(tiny, options, capsys, port_path):
    rc, out = _run(tiny, options, "--html", str(tiny / "report.html"), floor=True)
    text = capsys.readouterr()
    assert rc == 0, text.out + text.err
    assert out["pass"] is True and out["solver"] == "newton" and out["layout"] == "current"
    assert [it["k"] for it in out["iterations"]] == [1, 2, 3]
    for it in out["iterations"]:
        assert set(it["python"]) == set(it["matlab"]) == {"f", "cg", "alpha", "lambda", "gnorm", "val_acc"}
        assert it["rel_err"] <= 1e-9 and it["python"]["cg"] == it["matlab"]["cg"] >= 1
        assert it["floor"] < 1e-12 and it["allowed"] == 1e-9
    assert out["replay"]["randperm"]["python_draws"] == out["replay"]["randperm"]["matlab_draws"] == 1
    assert out["replay"]["randn"]["matlab_draws"] == 4
    assert re.search(r"\[matlab\] 3-iter f: ", text.err) and re.search(r"\[python\] 1-iter f: ", text.err)
    page = (tiny / "report.html").read_text()
    assert "<svg" in page and "<table>" in page and "PASS" in page
    if not port_path.reference:              # the Gauss-Newton products ran on their fast paths
        product = "JTBJv" if "-Jacobian 1" in options else "R_JTBJv"
        assert port_path.served.get(f"{product}.{product}"), port_path.served


@needs_octave
@pytest.mark.parametrize("solver", ["2", "3"])
def test_sgd_and_adam_parity(tiny, solver, capsys, port_path):
    rc, out = _run(tiny, f"-s {solver} -epoch_max 2 -bsize 16 -momentum 0.5" if solver == "2"
                   else f"-s {solver} -epoch_max 2 -bsize 16 -lr 0.01")
    assert rc == 0, capsys.readouterr().out
    assert out["solver"] == {"2": "sgd", "3": "adam"}[solver]
    assert [it["k"] for it in out["iterations"]] == [1, 2]
    assert all(it["rel_err"] <= 1e-9 and set(it["python"]) == {"f", "val_acc"} for it in out["iterations"])
    assert out["printed_lines"]["equal"] == out["printed_lines"]["lines"] == 2
    assert out["replay"]["randperm"]["matlab_draws"] == 2 * 4          # ceil(60/16) batches per epoch
    assert out["final_weights_rel_err"] < 1e-12


def _tree_copy(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(CURRENT, tree / "MATLAB")
    return tree


@needs_octave
def test_injected_line_search_change_is_caught(tiny, tmp_path, capsys):
    tree = _tree_copy(tmp_path)
    newton = tree / "MATLAB" / "opt" / "newton.m"
    src = newton.read_text()
    changed, n = re.subn(r"(?m)^(\s*)alpha\s*=\s*1\s*;", r"\1alpha = 0.5;", src)
    assert n == 1, "newton.m has no 'alpha = 1;' line to change"
    newton.write_text(changed)
    rc, out = _run(tiny, "-s 1 -iter_max 3 -GNsize 20", "--matlab-dir", str(tree))
    text = capsys.readouterr().out
    assert rc == 1
    assert out["pass"] is False and out["first_divergence"]["k"] == 1
    assert out["iterations"][0]["python"]["alpha"] == 1.0 and out["iterations"][0]["matlab"]["alpha"] == 0.5
    assert "first divergence at iteration 1" in text


@needs_octave
def test_drawing_differently_is_caught(tiny, tmp_path, capsys):
    """A tree whose init_model draws randn(fan_in, out)' instead of randn(out, fan_in)."""
    tree = _tree_copy(tmp_path)
    init = tree / "MATLAB" / "cnn" / "init_model.m"
    src = init.read_text()
    changed, n = re.subn(r"randn\(n_out, fan_in\)", "randn(fan_in, n_out)'", src)
    assert n == 1
    init.write_text(changed)
    rc, out = _run(tiny, "-s 2 -epoch_max 1 -bsize 16", "--matlab-dir", str(tree))
    assert rc == 1
    assert "replay divergence at randn draw #1: the MATLAB side asks randn(18, 3), " \
           "the Python side drew randn(3, 18)" in out["problems"][0]
    assert "init_model" in out["problems"][0]


@needs_octave
def test_bad_input_and_broken_environment(tiny, tmp_path, capsys):
    # a seed-layout tree takes the seed's options only (issue 22: no longer refused as a layout)
    rc, _ = _run(tiny, "-s 1 -iter_max 2 -GNsize 3", "--matlab-dir", str(REPO / "matlab_ref" / "seed"))
    assert rc == 2 and "-GNsize is not an option of this seed-layout cnn_train" in capsys.readouterr().err
    rc, _ = _run(tiny, "-s 1 -bogus 3")
    assert rc == 2 and "is not a supported option" in capsys.readouterr().err
    rc, _ = _run(tiny, "-s 1 -seed 4")
    assert rc == 2 and "--seed" in capsys.readouterr().err
    rc, _ = _run(tiny, "-s 1 -iter_max 2", "--instances", "1000")
    assert rc == 2 and "--instances" in capsys.readouterr().err
    # an Octave error in the tree: exit 2, one line naming the file
    tree = _tree_copy(tmp_path)
    sgd = tree / "MATLAB" / "opt" / "stochastic.m"
    sgd.write_text(sgd.read_text().replace("step = 1;", "step = 1; error('broken here');", 1))
    rc, _ = _run(tiny, "-s 2 -epoch_max 1 -bsize 16", "--matlab-dir", str(tree))
    err = capsys.readouterr().err
    assert rc == 2 and "broken here" in err and "opt/stochastic.m" in err and "Traceback" not in err
    # a hung Octave: stopped after --timeout, exit 2
    sgd.write_text(sgd.read_text().replace("error('broken here');", "pause(60);", 1))
    rc, _ = _run(tiny, "-s 2 -epoch_max 1 -bsize 16", "--matlab-dir", str(tree), "--timeout", "4")
    err = capsys.readouterr().err
    assert rc == 2 and "did not finish within 4 s" in err


# --- models both ways ----------------------------------------------------------------

@needs_octave
def test_python_model_predicts_the_same_in_octave(tiny, tmp_path, capsys, port_path):
    from simplecnn_harness.octave.session import OctaveSession
    from simplecnn_py.cnn_predict import cnn_predict
    from simplecnn_py.cnn_train import cnn_train
    from simplecnn_py.support.model_file import save_model

    v = scipy.io.loadmat(tiny / "tiny.mat")
    y, Z = v["y"].ravel(), v["Z"]
    model, _ = cnn_train(y, Z, None, None, str(tiny / "tiny.config"), "-s 1 -iter_max 3 -GNsize 20 -C 1", 5)
    labels, acc = cnn_predict(y, Z, model)
    assert len(set(labels.ravel().tolist())) > 1          # a non-trivial prediction
    save_model(tmp_path / "py-model.mat", model)
    got = tmp_path / "octave-pred.mat"
    with OctaveSession(timeout=120) as octave:
        octave.addpath(str(CURRENT))
        octave.eval(f"S = load('{_q(tiny / 'tiny.mat')}'); M = load('{_q(tmp_path / 'py-model.mat')}'); "
                    f"[labels, acc] = cnn_predict(S.y, S.Z, M.model); "
                    f"save('-v7', '{_q(got)}', 'labels', 'acc');")
    o = scipy.io.loadmat(got)
    assert np.array_equal(o["labels"].ravel(), np.asarray(labels).ravel())
    assert o["acc"].item() == float(acc)


@needs_octave
@pytest.mark.parametrize("how", ["variable", "struct"])
def test_matlab_model_loads_in_python_and_predicts_the_same(tiny, tmp_path, how, port_path):
    from simplecnn_harness.octave.session import OctaveSession
    from simplecnn_py.cnn_predict import cnn_predict
    from simplecnn_py.support.model_file import load_model

    f = tmp_path / "ml-model.mat"
    save = f"save('-v7', '{_q(f)}', 'model');" if how == "variable" else \
        f"save('-v7', '{_q(f)}', '-struct', 'model');"
    got = tmp_path / "octave-pred.mat"
    with OctaveSession(timeout=120) as octave:
        octave.addpath(str(CURRENT))
        octave.eval(f"S = load('{_q(tiny / 'tiny.mat')}'); rand('state', 1); randn('state', 1); "
                    f"model = cnn_train(S.y, S.Z, [], [], '{_q(tiny / 'tiny.config')}', '-s 1 -iter_max 3 -GNsize 20 -C 1'); "
                    f"{save} [labels, acc] = cnn_predict(S.y, S.Z, model); "
                    f"weight = model.weight; save('-v7', '{_q(got)}', 'labels', 'acc', 'weight');")
    o = scipy.io.loadmat(got)
    model = load_model(f)
    for m in range(1, model.L + 1):
        assert np.array_equal(model.weight[m], o["weight"].ravel()[m - 1])
    v = scipy.io.loadmat(tiny / "tiny.mat")
    labels, acc = cnn_predict(v["y"].ravel(), v["Z"], model)
    assert len(set(o["labels"].ravel().tolist())) > 1
    assert np.array_equal(np.asarray(labels).ravel(), o["labels"].ravel())
    assert float(acc) == o["acc"].item()


@needs_octave
def test_newton_parity_on_the_mnist_demo(shared_data, tmp_path, capsys, port_path):
    """Real images (many exact ReLU zeros, pooling ties) on the 1-32-64-64 shape."""
    out = tmp_path / "mnist.json"
    rc = main(["compare-train", "--config", str(CURRENT / "config" / "mnist-demo-layer4.config"),
               "--data", str(shared_data / "mnist-demo.mat"), "--instances", "64", "--rowmajor", "--normalize",
               "--options", "-s 1 -iter_max 2 -GNsize 16", "--seed", "2", "--json", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().out
    d = json.loads(out.read_text())
    assert d["instances"] == 64 and len(d["iterations"]) == 2
    assert all(it["rel_err"] <= 1e-9 and it["python"]["cg"] == it["matlab"]["cg"] for it in d["iterations"])


def test_no_octave_is_said_before_training(tiny, monkeypatch, capsys):
    monkeypatch.setenv("SIMPLECNN_OCTAVE", str(tiny / "no-such-octave-cli"))
    rc, out = _run(tiny, "-s 1 -iter_max 1")
    text = capsys.readouterr()
    assert rc == 2 and out is None
    assert "apt-get install octave" in text.err and "[python]" not in text.err
