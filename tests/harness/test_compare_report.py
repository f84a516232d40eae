"""``simplecnn sweep CONFIG...`` (once scripts/compare_report.py): compare over
several configurations, one summary.

The end-to-end tests run it on two small non-square configurations, once
against the embedded matlab_ref/seed (both pass) and once against a copy of
it carrying the seed layout's (wd_pad, ht_pad) defect (both fail at layer 1,
forward); the rows are checked against each configuration's own compare JSON.
The summary logic (worst stage, result, exit status, escaping) is checked on
fabricated compare results without Octave.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from conftest import needs_octave

REPO = Path(__file__).resolve().parents[2]
CONFIGS = [REPO / "matlab_ref" / "seed" / "config" / "small-nonsquare.config",
           REPO / "simplecnn_cli" / "demo" / "demo-nonsquare.config"]


def load_script():
    from simplecnn_harness import sweep

    return sweep


def run_script(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "simplecnn_cli", "sweep", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def table_rows(md):
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[1:]]


def worst_of(result):
    errs = [(s["rel_err"], s) for s in result["stages"]
            if s["compared"] and s["kind"] != "index" and isinstance(s["rel_err"], (int, float))]
    return max(errs, key=lambda t: t[0])


@pytest.fixture(scope="module")
def defect_tree(tmp_path_factory):
    """matlab_ref/seed with the seed original's (wd_pad, ht_pad) swap in init_net."""
    tree = tmp_path_factory.mktemp("seed-defect") / "seed"
    shutil.copytree(REPO / "matlab_ref" / "seed", tree)
    init_net = tree / "cnn" / "init_net.m"
    text = init_net.read_text()
    good = "find_index_phiZ(model.ht_pad(m), model.wd_pad(m)"
    assert good in text
    init_net.write_text(text.replace(good, "find_index_phiZ(model.wd_pad(m), model.ht_pad(m)"))
    return tree


@needs_octave
def test_two_configs_pass_against_matlab_ref(tmp_path, port_path):
    port_path.subprocess()                   # compare runs in the script's subprocesses
    out = tmp_path / "report"
    proc = run_script(*CONFIGS, "--instances", 16, "--out", out)
    assert proc.returncode == 0, proc.stderr
    md = (out / "summary.md").read_text()
    assert proc.stdout == md
    rows = table_rows(md)
    assert len(rows) == 2
    for row, cfg in zip(rows, CONFIGS):
        result = json.loads((out / f"{cfg.stem}.json").read_text())
        assert result["pass"] and result["instances"] == 16
        port_path.reported(result["port_path"])
        err, stage = worst_of(result)
        assert row[0] == str(cfg) and row[1] == "seed" and row[2] == "PASS"
        assert row[3] == f"layer {stage['layer']}, {stage['direction']}, {stage['stage']}"
        assert row[4] == ("0" if err == 0 else f"{err:.3g}") and err <= 1e-13
        assert row[5] == "-" and float(row[6]) > 0
        assert (out / f"{cfg.stem}.html").stat().st_size > 1000
    html = (out / "summary.html").read_text()
    assert html.count("class='PASS'") == 2 and "href='small-nonsquare.html'" in html
    assert "2 of 2 configurations pass" in md


@needs_octave
def test_seed_defect_fails_at_layer_1_forward_and_bad_config_is_an_error(tmp_path, defect_tree):
    folder = tmp_path / "configs"
    folder.mkdir()
    for cfg in CONFIGS:
        shutil.copy(cfg, folder / cfg.name)
    (folder / "zz-broken.config").write_text("L = 3;\nLC = system('ls');\n")
    out = tmp_path / "report"
    proc = run_script(folder, "--matlab-dir", defect_tree, "--instances", 12, "--out", out)
    assert proc.returncode == 2, proc.stderr           # one configuration could not be compared
    rows = table_rows((out / "summary.md").read_text())
    assert [Path(r[0]).name for r in rows] == ["demo-nonsquare.config", "small-nonsquare.config",
                                                "zz-broken.config"]
    for row in rows[:2]:
        assert row[2] == "FAIL" and row[5] == "layer 1, forward, idx_phiZ"
        assert float(row[4]) > 0.1
    assert rows[2][2].startswith("ERROR (simplecnn: error: ") and "zz-broken.config" in rows[2][2]
    assert rows[2][1] == "-" and rows[2][3] == "-"
    html = (out / "summary.html").read_text()
    assert html.count("class='FAIL'") == 2 and html.count("class='ERROR'") == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary[0]["first_divergence"] == {"layer": 1, "direction": "forward", "stage": "idx_phiZ"}


@needs_octave
def test_parity_failure_alone_exits_1(tmp_path, defect_tree):
    proc = run_script(CONFIGS[0], "--matlab-dir", defect_tree, "--instances", 4, "--out", tmp_path / "r")
    assert proc.returncode == 1, proc.stderr
    assert "FAIL" in proc.stdout


def test_missing_config_is_refused_with_one_line(tmp_path):
    proc = run_script(tmp_path / "nope.config", "--out", tmp_path / "r")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"simplecnn: error: {tmp_path / 'nope.config'}: "
                                                "no such config file or folder"]
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_script(empty, "--out", tmp_path / "r")
    assert proc.returncode == 2 and "no *.config files" in proc.stderr


def test_bad_arguments_and_unwritable_out_refused_before_any_run(tmp_path):
    """One line, exit 2, and no configuration run (none would name it)."""
    proc = run_script(CONFIGS[0], "--seed", -1, "--out", tmp_path / "r")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["simplecnn: error: --seed: must be an integer in [0, 2^32), not -1"]
    assert not (tmp_path / "r").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = run_script(CONFIGS[0], "--out", blocker / "r")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"simplecnn: error: --out: cannot write {blocker / 'r'}.md: folder {blocker} does not exist"]


# --- the summary logic, on fabricated compare results ----------------------------

def stage(layer, direction, name, rel_err, kind="array", compared=True):
    return {"layer": layer, "direction": direction, "stage": name, "kind": kind, "rel_err": rel_err,
            "compared": compared}


def test_summarize_picks_the_worst_floating_point_stage():
    cr = load_script()
    result = {"pass": False, "layout": "current", "first_divergence": {"layer": 2, "direction": "backward",
                                                                       "stage": "phi_gradient"},
              "stages": [stage(1, "forward", "idx_phiZ", None, kind="index"),
                         stage(1, "forward", "phiZ", 0.0),
                         stage(2, "backward", "phi_gradient", 3e-9),
                         stage(2, "backward", "unpad", 5e-10),
                         stage(1, "backward", "dlossdW", 9.0, compared=False)]}
    row = cr.summarize("a.config", result, 1, 1.234)
    assert row["result"] == "FAIL" and row["layout"] == "current" and row["seconds"] == 1.23
    assert row["worst_stage"] == {"layer": 2, "direction": "backward", "stage": "phi_gradient"}
    assert row["worst_rel_err"] == 3e-9
    result["stages"].append(stage(3, "backward", "dlossdb", "inf"))
    assert cr.summarize("a.config", result, 1, 1.0)["worst_rel_err"] == math.inf
    result["stages"].append(stage(3, "backward", "activation", "nan"))
    assert cr.summarize("a.config", result, 1, 1.0)["worst_stage"]["stage"] == "dlossdb"   # first of the infinite
    assert cr.summarize("a.config", dict(result, **{"pass": True}), 0, 1.0)["result"] == "PASS"
    assert cr.summarize("a.config", None, 2, 0.5, "simplecnn: error: x")["result"] == "ERROR"


def test_markdown_and_html_escape_and_count():
    cr = load_script()
    args = Namespace(matlab_dir=None, data=None, instances=None, precision="double", mode="propagated")
    rows = [cr.summarize("we|ird<name>.config", None, 2, 0.1, "simplecnn: error: a | b <c>"),
            cr.summarize("ok.config", {"pass": True, "layout": "seed", "first_divergence": None,
                                       "stages": [stage(1, "forward", "Z", 1e-16)]}, 0, 2.0, report="ok.html")]
    md = cr.markdown_summary(rows, args)
    assert "we\\|ird<name>.config" in md and "a \\| b <c>" in md
    assert "1 of 2 configurations pass, 0 fail, 1 could not be compared" in md
    assert len(table_rows(md)) == 2 and table_rows(md)[1][4] == "1e-16"
    html = cr.html_summary(rows, args)
    assert "we|ird&lt;name&gt;.config" in html and "<c>" not in html and "href='ok.html'" in html


def test_compare_command_passes_the_options_through():
    cr = load_script()
    args = Namespace(matlab_dir="/m", data="d.mat", instances=8, precision="single", mode="isolated", seed=3,
                     rtol=None, timeout=60.0)
    cmd = cr.compare_command("c.config", "o.json", "o.html", args)
    assert cmd[:4] == [sys.executable, "-m", "simplecnn_cli", "compare"]
    text = " ".join(cmd)
    for part in ("--config c.config", "--json o.json", "--html o.html", "--matlab-dir /m", "--data d.mat",
                 "--instances 8", "--precision single", "--mode isolated", "--seed 3", "--timeout 60.0"):
        assert part in text
    assert "--rtol" not in text
