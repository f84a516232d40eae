"""``simplecnn compare`` end to end under GNU Octave.

The oracle here is the MATLAB side run by Octave: our reference trees
(seed and current layout), and copies of them with known defects injected
(the seed layout's non-square find_index_phiZ bug, a sign error in the
backward pass, an Octave error, a hang), for which the verdict and the
first divergence are known in advance.
"""
from __future__ import annotations

import html.parser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simplecnn_cli.main import main
from tests.conftest import needs_octave

pytestmark = needs_octave

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "matlab_ref" / "seed"
CURRENT = REPO / "matlab_ref" / "current"
NONSQUARE = SEED / "config" / "small-nonsquare.config"
LAYER3 = SEED / "config" / "mnist-demo-layer3.config"
TINY_CURRENT = CURRENT / "MATLAB" / "config" / "tiny-nonsquare.config"


def run_cli(capsys, *args):
    rc = main(["compare", "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def tree_copy(tmp_path, name, edits, base=SEED):
    """A copy of ``base`` with ``edits``: {relative file: [(old, new), ...]}."""
    root = tmp_path / name
    shutil.copytree(base, root)
    for rel, pairs in edits.items():
        f = root / rel
        text = f.read_text()
        for old, new in pairs:
            assert old in text, f"{old!r} not in {rel}"
            text = text.replace(old, new)
        f.write_text(text)
    return root


def square_config(tmp_path):
    f = tmp_path / "square.config"
    f.write_text("L = 3;\nLC = 2;\nLF = 1;\nht_input = 8;\nwd_input = 8;\nch_input = [2,3,4];\n"
                 "wd_pad_added = [1,1];\nwd_filter = [3,3];\nstrides = [1,1];\n"
                 "wd_subimage_pool = [2,2];\nfull_neurons = [3];\n")
    return f


def test_default_compare(capsys, tmp_path, port_path):
    j, h = tmp_path / "c.json", tmp_path / "c.html"
    rc, out, err = run_cli(capsys, "--json", j, "--html", h)
    assert rc == 0, out + err
    assert "PASS" in out
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["pass"] is True and d["layout"] == "seed" and d["first_divergence"] is None
    L, LC = 4, 3
    compared = {(s["layer"], s["direction"]) for s in d["stages"] if s["ok"] is not None}
    assert {(m, "backward") for m in range(1, L + 1)} <= compared
    assert {(m, "forward") for m in range(1, LC + 1)} <= compared
    for s in d["stages"]:
        if s["ok"] is not None and s["stage"] not in ("idx_pad", "idx_phiZ", "idx_pool"):
            assert s["rel_err"] <= 1e-13
    page = h.read_text()
    html.parser.HTMLParser().feed(page)
    assert page.count("<svg") == 2 and "://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_current_layout_single_precision(capsys, tmp_path, port_path):
    j = tmp_path / "c.json"
    rc, out, err = run_cli(capsys, "--matlab-dir", CURRENT, "--config", TINY_CURRENT, "--instances", 12,
                           "--precision", "single", "--json", j)
    assert rc == 0, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["layout"] == "current" and d["precision"] == "single" and d["rtol"] == 1e-4
    idx_pad = [s for s in d["stages"] if s["stage"] == "idx_pad"]
    assert idx_pad and all(s["ok"] is None and "idx_pad" in s["note"] for s in idx_pad)
    assert any(s["stage"] == "unpad" and s["ok"] for s in d["stages"])   # found by size in JTv


def test_single_precision_mnist_shape(capsys, tmp_path, port_path):
    j = tmp_path / "c.json"
    rc, out, err = run_cli(capsys, "--instances", 16, "--precision", "single", "--json", j)
    assert rc == 0, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert all(s["rel_err"] <= 1e-4 for s in d["stages"] if s["ok"] and s["rel_err"] is not None)
    assert any(s["rel_err"] and s["rel_err"] > 0 for s in d["stages"])   # single really differs a little


def test_isolated_mode_localises_the_defect(capsys, tmp_path, port_path):
    rc, out, err = run_cli(capsys, "--config", NONSQUARE, "--instances", 5, "--mode", "isolated")
    assert rc == 0, out + err
    bad = tree_copy(tmp_path, "defect", {"cnn/init_net.m": [
        ("find_index_phiZ(model.ht_pad(m), model.wd_pad(m),", "find_index_phiZ(model.wd_pad(m), model.ht_pad(m),")]})
    j = tmp_path / "iso.json"
    rc, out, err = run_cli(capsys, "--matlab-dir", bad, "--config", NONSQUARE, "--instances", 5,
                           "--mode", "isolated", "--json", j)
    assert rc == 1
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    failing = {(s["layer"], s["direction"], s["stage"]) for s in d["stages"] if s["ok"] is False}
    # in isolation only the stages that use the wrong idx_phiZ differ
    assert failing == {(1, "forward", "idx_phiZ"), (1, "forward", "phiZ"), (2, "forward", "idx_phiZ"),
                       (2, "forward", "phiZ"), (2, "backward", "phi_gradient")}


def test_known_defect_non_square(capsys, tmp_path):
    """The seed original's init_net swaps (ht_pad, wd_pad) for find_index_phiZ."""
    bad = tree_copy(tmp_path, "defect", {"cnn/init_net.m": [
        ("find_index_phiZ(model.ht_pad(m), model.wd_pad(m),", "find_index_phiZ(model.wd_pad(m), model.ht_pad(m),")]})
    j = tmp_path / "d.json"
    rc, out, err = run_cli(capsys, "--matlab-dir", bad, "--config", NONSQUARE, "--instances", 6, "--json", j)
    assert rc == 1, out + err
    d = json.loads(j.read_text())
    assert d["pass"] is False
    assert d["first_divergence"] == {"layer": 1, "direction": "forward", "stage": "idx_phiZ"}
    assert "first divergence at layer 1, forward, idx_phiZ" in out
    # on a square configuration the same code is right
    rc, out, err = run_cli(capsys, "--matlab-dir", bad, "--config", square_config(tmp_path), "--instances", 6)
    assert rc == 0, out + err


def test_injected_sign_error_at_layer_2(capsys, tmp_path):
    bad = tree_copy(tmp_path, "sign", {"cnn/lossgrad_subset.m": [
        ("V = model.weight{m}'*dXidS;", "V = (1 - 2*(m == 2))*model.weight{m}'*dXidS;")]})
    j = tmp_path / "s.json"
    rc, out, err = run_cli(capsys, "--matlab-dir", bad, "--config", LAYER3, "--instances", 10, "--json", j)
    assert rc == 1, out + err
    d = json.loads(j.read_text())
    assert d["first_divergence"] == {"layer": 2, "direction": "backward", "stage": "WtDelta"}
    ok = {(s["layer"], s["direction"], s["stage"]): s["ok"] for s in d["stages"]}
    assert ok[(3, "backward", "WtDelta")] and ok[(2, "backward", "dlossdW")]   # before it: fine
    assert ok[(1, "backward", "dlossdW")] is False                              # after it: wrong


def test_tie_rule_pooling_flips_are_a_divergence(capsys, tmp_path, port_path):
    """A maxpooling that lets the last maximal entry win: in windows of ReLU
    zeros the values are exactly equal on both sides, so the other winner is
    a tie-rule difference: a divergence of idx_pool, not a near-tie (issue 12;
    near-ties by rounding: tests/test_harness_ties.py)."""
    flip = tree_copy(tmp_path, "lastmax", {"cnn/maxpooling.m": [
        ("[Zout, I] = max(reshape(Z, h*h, []), [], 1);",
         "[Zout, I] = max(flipud(reshape(Z, h*h, [])), [], 1);\nI = h*h + 1 - I;")]})
    j = tmp_path / "f.json"
    rc, out, err = run_cli(capsys, "--matlab-dir", flip, "--config", LAYER3, "--instances", 10, "--json", j)
    assert rc == 1, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["first_divergence"] == {"layer": 1, "direction": "forward", "stage": "idx_pool"}
    flips = d["pooling_flips"]
    assert flips["1"]["count"] > 0 and flips["1"]["tie_rule"] == flips["1"]["count"] and flips["1"]["near_ties"] == 0
    assert any("tie-rule" in s["note"] for s in d["stages"] if s["stage"] == "idx_pool")
    # a pooling that takes the minimum is a real divergence
    wrong = tree_copy(tmp_path, "min", {"cnn/maxpooling.m": [
        ("[Zout, I] = max(reshape(Z, h*h, []), [], 1);", "[Zout, I] = min(reshape(Z, h*h, []), [], 1);")]})
    rc, out, err = run_cli(capsys, "--matlab-dir", wrong, "--config", LAYER3, "--instances", 10, "--json", j)
    assert rc == 1
    assert json.loads(j.read_text())["first_divergence"] == {"layer": 1, "direction": "forward", "stage": "Z"}


def test_recording_changes_nothing(tmp_path):
    """Instrumented and plain copies give bit-identical loss and gradients."""
    from simplecnn_harness.layouts import detect_layout
    from simplecnn_harness.octave_run import run_matlab
    from simplecnn_harness.pipeline import Options, prepare
    from simplecnn_harness.session import OctaveSession

    with OctaveSession(timeout=300) as octave:
        for tree, cfg in ((SEED, NONSQUARE), (CURRENT, TINY_CURRENT), (SEED, LAYER3)):
            layout = detect_layout(tree)
            param, model, prob, _, _ = prepare(Options(config=str(cfg), instances=10))
            runs = {inst: run_matlab(octave, layout, param, model, prob, "double", tmp_path,
                                     instrument=inst, tag=f"{layout.name}{cfg.stem}{inst}")
                    for inst in (False, True)}
            assert runs[True].stmts and not runs[False].stmts
            assert len(runs[True].records) > len(runs[False].records)
            for name in ("loss", "dlossdW", "dlossdb", "Z"):
                layers = [k[1] for k in runs[False].outputs if k[0] == name]
                assert layers
                for m in layers:
                    a, b = runs[False].output(name, m), runs[True].output(name, m)
                    assert a.dtype == b.dtype and a.shape == b.shape
                    assert a.tobytes(order="F") == b.tobytes(order="F"), (name, m)      # bit for bit


def test_octave_error_is_one_line(capsys, tmp_path):
    bad = tree_copy(tmp_path, "err", {"cnn/lossgrad_subset.m": [
        ("Y = prob.label_mat(:, batch_idx);", "Y = no_such_function_xyz(batch_idx);")]})
    rc, out, err = run_cli(capsys, "--matlab-dir", bad, "--config", NONSQUARE, "--instances", 3)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "lossgrad_subset.m line 19" in lines[0] and "no_such_function_xyz" in lines[0]


def test_hang_is_stopped_by_the_timeout(capsys, tmp_path):
    bad = tree_copy(tmp_path, "hang", {"cnn/lossgrad_subset.m": [
        ("num_data = numel(batch_idx);", "num_data = numel(batch_idx); pause(1000);")]})
    rc, out, err = run_cli(capsys, "--matlab-dir", bad, "--config", NONSQUARE, "--instances", 3,
                           "--timeout", 3)
    assert rc == 2
    assert "did not finish within 3 s" in err and len(err.strip().splitlines()) == 1


def test_no_octave_says_how_to_install(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SIMPLECNN_OCTAVE", "OCTAVE_EXECUTABLE")}
    env["PATH"] = str(Path(sys.executable).parent)
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "compare", "--config", str(NONSQUARE)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 2
    assert "apt-get install octave" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_bad_input_exits_2(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "--config", tmp_path / "missing.config")
    assert rc == 2 and "missing.config" in err
    rc, out, err = run_cli(capsys, "--matlab-dir", tmp_path)
    assert rc == 2 and "not a simpleNN tree" in err
    rc, out, err = run_cli(capsys, "--config", NONSQUARE, "--instances", 2)
    assert rc == 2 and "--instances" in err


def test_mnist_demo_data(capsys, tmp_path, shared_data, port_path):
    j = tmp_path / "m.json"
    rc, out, err = run_cli(capsys, "--data", shared_data / "mnist-demo.mat", "--instances", 64, "--json", j)
    assert rc == 0, out + err
    d = json.loads(j.read_text())
    port_path.reported(d["port_path"])
    assert d["instances"] == 64 and d["pass"]


def test_overhead_tool_reports_its_figures():
    from simplecnn_harness.overhead import measure

    res = measure(config=NONSQUARE, instances=8, repeat=1)
    assert res["layout"] == "seed" and res["recorded_mib"] > 0
    assert len(res["plain_runs"]) == len(res["traced_runs"]) == 1
    assert res["octave_compute_s"] > 0 and np.isfinite(res["overhead_ratio"])
    # the traced run recorded more than the plain one, which only returns the outputs
    assert res["traced_runs"][0]["bytes"] > res["plain_runs"][0]["bytes"]
