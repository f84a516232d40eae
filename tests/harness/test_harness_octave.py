"""``simplecnn compare`` end to end under GNU Octave.

(The parity cases whose MATLAB side never changes are judged against traces
recorded once per session, on both port paths: tests/harness/traces/test_trace_parity.py.)

The oracle here is the MATLAB side run by Octave: our reference trees
(seed and current layout), and copies of them with known defects injected
(the seed layout's non-square find_index_phiZ bug, a sign error in the
backward pass, an Octave error, a hang), for which the verdict and the
first divergence are known in advance.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from simplecnn_cli.main import main
from tests.conftest import CURRENT, LAYER3, NONSQUARE, SEED, TINY_CURRENT, needs_octave

pytestmark = needs_octave



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


def test_recording_changes_nothing(tmp_path):
    """Instrumented and plain copies give bit-identical loss and gradients."""
    from simplecnn_harness.octave.layouts import detect_layout
    from simplecnn_harness.octave.run import run_matlab
    from simplecnn_harness.inputs import load
    from simplecnn_harness.octave.session import OctaveSession

    with OctaveSession(timeout=300) as octave:
        for tree, cfg in ((SEED, NONSQUARE), (CURRENT, TINY_CURRENT), (SEED, LAYER3)):
            layout = detect_layout(tree)
            ins = load(config=str(cfg), instances=10)
            param, model, prob = ins.param, ins.model, ins.prob
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


def test_overhead_tool_reports_its_figures():
    from simplecnn_bench.overhead import measure

    res = measure(config=NONSQUARE, instances=8, repeat=1)
    assert res["layout"] == "seed" and res["recorded_mib"] > 0
    assert len(res["plain_runs"]) == len(res["traced_runs"]) == 1
    assert res["octave_compute_s"] > 0 and np.isfinite(res["overhead_ratio"])
    # the traced run recorded more than the plain one, which only returns the outputs
    assert res["traced_runs"][0]["bytes"] > res["plain_runs"][0]["bytes"]
