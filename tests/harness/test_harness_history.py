"""The cross-checker on the real simpleNN history (../shared/upstream bundle):
every function-line layout the history holds, and an even sample of the
rest, driven unmodified.  The default config PASSes on each; the tiny
non-square config FAILs at layer 1 forward (idx_phiZ: the (wd_pad, ht_pad)
swap of init_net) before feca956, the commit that fixed the swap, and PASSes
from it on.  All 50 versions: ``simplecnn sweep --repo BUNDLE`` (about 5
minutes on 2 cores; docs/harness.md has the table).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import needs_octave, run_with_stderr_on_a_terminal
from harness_bundle import BUNDLE, TINY_CONFIG, clone, extract, matlab_commits

# oldest first: the commit after which the non-square verdict turns PASS
SWAP_FIX = "feca956"
# every commit where a function line the harness reads changes (checked
# below), the swap fix, the newest, and every fifth commit
SAMPLE = ["ff2333d", "941ba21", "645c628", "8ad06be", "cf1ca17", "983999b", "ae7dcdf", "e3fec18", "27a396d",
          "ebf9570", "feca956", "eb41e0f", "def9fee", "645a7cc", "2e81eb6", "17314f6", "1b6c744", "3c02929",
          "bc40417"]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    base = tmp_path_factory.mktemp("history")
    git_dir = clone(base)
    return base, git_dir, matlab_commits(git_dir)


def _fingerprint(tree):
    from simplecnn_harness.octave.layouts import BOUNDARY, detect_layout

    lay = detect_layout(tree)
    sigs = tuple(lay.signature(n).text() if lay.signature(n) else "" for n in BOUNDARY + ("init_net",))
    return (tuple(sorted(lay.calls.items())), tuple(lay.expose), tuple(lay.boundary), sigs,
            str(lay.root.relative_to(lay.given)))


def test_the_sample_holds_every_layout_change(history):
    base, git_dir, commits = history
    assert len(commits) == 50 and SWAP_FIX in commits
    prev, changes = None, []
    for h in commits:
        fp = _fingerprint(extract(git_dir, h, base / h))
        if fp != prev:
            changes.append(h)
        prev = fp
    assert len(changes) >= 8                      # seed, init_net(model), (model, bsize), JTv, ...
    assert set(changes) <= set(SAMPLE), set(changes) - set(SAMPLE)
    pos = [commits.index(h) for h in SAMPLE]
    assert max(b - a for a, b in zip(sorted(pos), sorted(pos)[1:])) <= 5


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    f = tmp_path_factory.mktemp("cfg") / "tiny.config"
    f.write_text(TINY_CONFIG)
    return f


@needs_octave
@pytest.mark.parametrize("rev", SAMPLE)
def test_each_version_gets_the_right_verdict(rev, history, tiny):
    from simplecnn_harness.compare import Options, run_compare

    base, git_dir, commits = history
    tree = extract(git_dir, rev, base / rev)
    default = run_compare(Options(matlab_dir=str(tree), instances=12))
    assert default.ok, default.first_divergence
    assert not any(s.compared is False and s.stage not in ("idx_pad",) for s in default.stages), \
        [(s.key(), s.note) for s in default.stages if not s.compared]
    square = run_compare(Options(matlab_dir=str(tree), config=str(tiny), instances=12))
    if commits.index(rev) < commits.index(SWAP_FIX):
        assert not square.ok
        assert square.first_divergence == {"layer": 1, "direction": "forward", "stage": "idx_phiZ"}
    else:
        assert square.ok, square.first_divergence


@needs_octave
def test_sweep_names_the_commit_where_the_verdict_changes(tmp_path, tiny):
    pytest.importorskip("simplecnn_harness.sweep")
    if not BUNDLE.is_file():
        pytest.skip(f"{BUNDLE} absent")
    out = tmp_path / "sw"
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "sweep", "--repo", str(BUNDLE), "--config",
                        str(tiny), "--commits", "47ca777,ebf9570,feca956,faa17e3", "--jobs", "2",
                        "--instances", "12", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 1, p.stderr                 # parity failures before the fix
    data = json.loads((out.parent / "sw.json").read_text())
    assert [c["short"] for c in data["changes"]] == ["feca956"]
    assert [c["verdicts"][0]["verdict"] for c in data["commits"]] == ["fail", "fail", "pass", "pass"]
    assert "feca956" in (out.parent / "sw.md").read_text() and (out.parent / "sw.html").read_text().startswith(
        "<!DOCTYPE html>")
    assert "**feca956**" in p.stdout


@needs_octave
def test_sweep_progress_bar_on_a_terminal_lines_in_a_log(tmp_path, tiny):
    """stderr a terminal: a tqdm bar counting the compares (count, rate, time
    left); stderr a file: one plain line per compare; --quiet: nothing."""
    if not BUNDLE.is_file():
        pytest.skip(f"{BUNDLE} absent")
    args = [sys.executable, "-m", "simplecnn_cli", "sweep", "--repo", str(BUNDLE), "--config", str(tiny),
            "--commits", "feca956,faa17e3", "--jobs", "1", "--instances", "12"]
    rc, shown, _ = run_with_stderr_on_a_terminal(args)
    assert rc == 0, shown
    assert "compares:" in shown and "1/2" in shown and "compare/s" in shown
    log = subprocess.run(args, capture_output=True, text=True, timeout=600)
    lines = log.stderr.strip().splitlines()
    assert log.returncode == 0 and "\r" not in log.stderr
    assert [ln.split()[:2] for ln in lines] == [["sweep:", "feca956"], ["sweep:", "faa17e3"]]
    quiet = subprocess.run(args + ["--quiet"], capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_sweep_refuses_a_negative_seed_before_any_work(tmp_path):
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "sweep", "--repo", str(tmp_path), "--seed", "-1"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip() == "simplecnn: error: --seed: must be an integer in [0, 2^32), not -1"


def test_sweep_refuses_what_is_not_a_repository(tmp_path):
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "sweep", "--repo", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "not a git repository" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@needs_octave
def test_isolated_mode_reads_indices_stored_with_offsets(history, tiny):
    """1b6c744 stores idx_pool with per-instance offsets: isolated mode and the
    pooling analysis read the normalised indices (no IndexError)."""
    from simplecnn_harness.compare import Options, run_compare

    base, git_dir, commits = history
    tree = extract(git_dir, "1b6c744", base / "1b6c744")
    res = run_compare(Options(matlab_dir=str(tree), config=str(tiny), instances=12, mode="isolated"))
    assert res.ok, res.first_divergence
    r = next(s for s in res.stages if s.key() == (1, "forward", "idx_pool"))
    assert r.compared and "offset" in r.note
