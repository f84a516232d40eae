"""compare-train on SEED-layout trees: the real simpleNN code of 2019.

Oracle: the real simpleNN history (../shared/upstream/simpleNN.bundle),
commits ff2333d (the first), 941ba21 (SGD with momentum, the
``loss/batch_size`` label) and the current HEAD, extracted with ``git
archive`` and run unmodified under GNU Octave, fed the Python side's random
draws (``randi`` for Newton's splits, ``randsample`` for SGD/Adam batches,
``randn`` for the weights).  The Python side is the seed's training
assembled from the port's routines (``training/seed_layout.py``); a PASS
means both trained alike to 1e-9 at every iteration/epoch with identical
printed lines, and a fault injected into the real training code must be a
FAIL at the iteration where it acts.  Skipped, with the reason, without
../shared or Octave.  Small: 128-256 instances of the shipped demo data, a
1-4-8 net, 2 iterations/epochs, no floor run.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import needs_octave
from harness_bundle import SMALL_28x28 as SMALL   # the small 1-4-8 net for 28 x 28 images (the shipped demo data)
from simplecnn_cli.main import main
from simplecnn_harness.octave.layouts import detect_layout
from simplecnn_harness.training.compare_train import compare_train, summary
from simplecnn_harness.training.seed_layout import labels_as_ranks, read_profile, seed_training

REPO = Path(__file__).resolve().parents[3]
BUNDLE = REPO.parent / "shared" / "upstream" / "simpleNN.bundle"
DEMO = REPO / "simplecnn_cli" / "demo" / "demo-data.mat"


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """``{rev: extracted tree}`` for the commits used here, and the config."""
    if not BUNDLE.exists():
        pytest.skip(f"{BUNDLE} not present (the real simpleNN history lives in ../shared/upstream)")
    d = tmp_path_factory.mktemp("seed")
    repo = d / "repo"
    subprocess.run(["git", "clone", "--quiet", str(BUNDLE), str(repo)], check=True)
    out = {"dir": d, "repo": repo}
    for rev in ("ff2333d", "941ba21", "645c628", "HEAD"):
        tree = d / rev
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(repo), "archive", rev], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        out[rev] = tree
    (d / "small.config").write_text(SMALL)
    return out


def _compare(trees, tree, options, instances):
    return compare_train(tree, trees["dir"] / "small.config", DEMO, options, seed=5, instances=instances,
                         perturbation=None)


# --- what is read from the trees (no Octave) -------------------------------------------

def test_training_layout_read_from_the_real_trees(trees):
    first = seed_training(detect_layout(trees["ff2333d"]))
    assert first is not None and not first.momentum
    assert "SR" in first.options and "epoch_max" not in first.options and "GNsize" not in first.options
    assert first.epoch_label("sgd") == first.epoch_label("adam") == "loss"
    later = read_profile(detect_layout(trees["941ba21"]))
    assert later.momentum and {"decay", "epoch_max"} <= set(later.options)
    assert later.epoch_label("sgd") == "loss/batch_size" and later.epoch_label("adam") == "loss"
    middle = detect_layout(trees["645c628"])          # current-layout gradient, seed training
    assert middle.name == "current" and seed_training(middle) is not None
    head = detect_layout(trees["HEAD"])
    assert seed_training(head) is None
    assert labels_as_ranks(detect_layout(trees["ff2333d"])) and not labels_as_ranks(head)


# --- PASS on the real code -----------------------------------------------------------------

@needs_octave
@pytest.mark.parametrize("rev,options,instances,line", [
    ("ff2333d", "-s 1 -iter_max 2", 256, r"^1-iter f: \S+ \|g\|: \S+ alpha: 1 ratio: \S+ lambda: \S+ #CG: \d+ "
                                         r"actred: \S+ prered: \S+$"),
    ("ff2333d", "-s 2 -iter_max 2 -bsize 64", 128, r"^1-epoch loss: \S+$"),
    ("941ba21", "-s 2 -epoch_max 2 -bsize 64 -momentum 0.9 -decay 0.1", 128, r"^1-epoch loss/batch_size: \S+$"),
    ("ff2333d", "-s 3 -iter_max 2 -bsize 64", 128, r"^1-epoch loss: \S+$"),
])
def test_seed_compare_train_passes_on_the_real_code(trees, rev, options, instances, line):
    r = _compare(trees, trees[rev], options, instances)
    assert r.passed, summary(r)
    assert r.layout == "seed" and len(r.rows) == 2
    assert all(row["rel_err"] <= 1e-9 for row in r.rows)
    assert r.text["equal"] == r.text["lines"] == 2                       # printed as the original
    assert re.match(line, r.python.lines[0]) and r.python.lines == r.matlab.lines
    assert r.weights_rel_err < 1e-12
    assert any("as 1..10" in n for n in r.notes)                         # demo labels 0..9, ranked
    if "-s 1" in options:
        assert r.replay["randi"]["python_draws"] == r.replay["randi"]["matlab_draws"] == 1
        assert r.replay["randi"]["matlab_values"] == instances            # one split per instance
        assert all(row["python"]["cg"] == row["matlab"]["cg"] >= 1 for row in r.rows)
    else:
        steps = 2 * (instances // 64)                                     # 2 epochs of ceil(l/bsize) steps
        assert r.replay["randperm"]["python_draws"] == r.replay["randperm"]["matlab_draws"] == steps


# --- faults injected into the real training code -----------------------------------------

def _faulty(trees, rev, name, file, pattern, repl):
    import shutil

    tree = trees["dir"] / name
    if not tree.exists():
        shutil.copytree(trees[rev], tree)
        f = tree / file
        src, n = re.subn(pattern, repl, f.read_text())
        assert n == 1, f"{file}: the line to change is not there"
        f.write_text(src)
    return tree


@needs_octave
def test_fault_in_the_damping_rule_is_caught_where_it_acts(trees):
    """lambda times boost where the original drops it: iteration 1 keeps
    lambda (ratio between 0.25 and 0.75 on this run), iteration 2 drops it,
    so the first divergence is at iteration 2."""
    tree = _faulty(trees, "ff2333d", "fault-lambda", "opt/newton.m",
                   r"param\.lambda = param\.lambda \* param\.drop;", "param.lambda = param.lambda * param.boost;")
    r = _compare(trees, tree, "-s 1 -iter_max 2", 256)
    assert not r.passed
    assert r.rows[0]["ok"] and not r.rows[1]["ok"]
    assert r.first_divergence["k"] == 2 and "lambda differs" in r.first_divergence["what"]
    assert r.first_divergence["stage"] == "lambda"            # the judge's shape: which quantity
    assert r.rows[1]["python"]["lambda"] == pytest.approx(2 / 3) and r.rows[1]["matlab"]["lambda"] == 1.5


@needs_octave
def test_fault_in_the_sgd_step_is_caught_at_epoch_1(trees):
    tree = _faulty(trees, "ff2333d", "fault-sgd", "opt/sgd.m", r"\]/param\.C;", "]/(2*param.C);")
    r = _compare(trees, tree, "-s 2 -iter_max 2 -bsize 64", 128)
    assert not r.passed
    assert r.first_divergence["k"] == 1 and "relative error" in r.first_divergence["what"]
    assert r.rows[0]["rel_err"] > 1e-9


# --- sweep --train --------------------------------------------------------------------------

@needs_octave
def test_sweep_train_names_where_the_options_became_valid(trees, tmp_path, capsys):
    """-epoch_max exists from 3a90f6a on: the first trees refuse the options
    (ERROR, no Octave run), the later ones train (PASS)."""
    out = tmp_path / "sw"
    rc = main(["sweep", "--repo", str(BUNDLE), "--commits", "cdc22c0,3a90f6a,941ba21",
               "--train=-s 2 -epoch_max 1 -bsize 64", "--config", str(trees["dir"] / "small.config"),
               "--data", str(DEMO), "--instances", "64", "--jobs", "1", "--quiet", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 2                                    # a commit could not be driven with these options
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| (\w{7}) \|[^|]*\|[^|]*\| ([^|(]+)", text, re.M)}
    assert rows["cdc22c0"].strip() == "ERROR" and rows["3a90f6a"].strip() == "PASS" == rows["941ba21"].strip()
    assert "-epoch_max is not an option of this seed-layout cnn_train" in text
    assert re.search(r"\*\*3a90f6a\*\* .*ERROR -> PASS", text)
    assert (tmp_path / "sw.json").exists() and (tmp_path / "sw.html").exists()


# --- the embedded seed-layout reference trains as the real seed does ---------------------------

@needs_octave
@pytest.mark.parametrize("options", ["-s 1 -iter_max 3 -SR 0.25", "-s 2 -epoch_max 2 -bsize 16 -momentum 0.5",
                                     "-s 3 -iter_max 2 -bsize 16"])
def test_embedded_seed_reference_trains_as_the_seed(tmp_path, options):
    """matlab_ref/seed (our own seed-layout tree, labels 4/7/9 mapped by it
    and by the port alike) against the seed training of the Python side;
    its Newton prints its line over two source lines (the full-precision
    copy goes on the last one)."""
    import numpy as np
    import scipy.io

    from conftest import TINY_CONFIG

    (tmp_path / "tiny.config").write_text(TINY_CONFIG)
    g = np.random.default_rng(7)
    y = np.array([4.0, 7.0, 9.0])[g.permutation(np.arange(60) % 3)]
    Z = g.standard_normal((60, 7 * 6 * 2))
    for c in range(3):
        Z[np.searchsorted([4.0, 7.0, 9.0], y) == c, 14 * c:14 * c + 14] += 2.0
    scipy.io.savemat(tmp_path / "tiny.mat", {"y": y.reshape(-1, 1), "Z": Z})
    r = compare_train(REPO / "matlab_ref" / "seed", tmp_path / "tiny.config", tmp_path / "tiny.mat", options,
                      seed=3, perturbation=None)
    assert r.passed, summary(r)
    assert r.layout == "seed" and len(r.rows) in (2, 3) and not r.notes
    assert all(row["rel_err"] <= 1e-9 for row in r.rows)
    assert r.matlab.min_digits >= 15                          # the full-precision copies were read
    assert r.text["equal"] == r.text["lines"] == len(r.rows)


# --- bad input: one line, exit 2, before any run ------------------------------------------------

def test_bad_input_for_seed_trees_and_sweep_train(tmp_path, capsys):
    (tmp_path / "small.config").write_text(SMALL)
    seed_tree = str(REPO / "matlab_ref" / "seed")
    base = ["compare-train", "--matlab-dir", seed_tree, "--config", str(tmp_path / "small.config"),
            "--data", str(DEMO), "--seed", "1", "--quiet"]
    assert main(base + ["--options=-s 1 -Jacobian 0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-Jacobian is not an option of this seed-layout cnn_train" in err
    assert main(base + ["--options=-s 2 -iter_max 1", "--validation", str(DEMO)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "takes no validation set" in err
    assert main(["sweep", "--repo", str(tmp_path), "--train=-s 1 -iter_max 1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sweep --train takes exactly one --config" in err
