"""``simplecnn compare --chunk N`` (harness/streamed.py): the streamed verdict
is the unchunked one.

Each case runs a live MATLAB tree under Octave against the port twice: whole
(today's compare) and streamed in chunks (one Octave session, chunk after
chunk), with chunk sizes that divide the instance count and that do not.
The two verdicts agree on PASS/FAIL, on the first divergence, and stage by
stage on ok and on sizes; the summed stages (dlossdW, dlossdb, loss: sums over
the instances, added up per chunk as fungrad_minibatch does) agree within
the tolerance.  (Per-instance metrics are accumulated bit for bit, but each
side computes a chunk on its own and may round a product differently than
on the whole batch: failing stages' errors agree to 1e-9, not to the bit.)
Trees: matlab_ref/seed as it is and with a fault planted
(backward; forward, where pooling winners then differ downstream), and the
real current code (../shared; skipped when absent) as it is and with a
fault.  Combinations not streamed yet are refused in one line (exit 2).
(Pooling flips, isolated mode and the heatmap streamed: judge/test_stream_verdicts.py.)
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO, needs_octave
from harness_bundle import TINY_CONFIG, clone, extract, planted

from simplecnn_harness.compare import Options, run_compare
from simplecnn_py.support.errors import InputError

pytestmark = needs_octave

SEED = REPO / "matlab_ref" / "seed"
SMALL = SEED / "config" / "small-nonsquare.config"
SUMMED = {"dlossdW", "dlossdb", "loss"}
SEED_FAULTS = {
    "backward": ("cnn/lossgrad_subset.m", "V = model.weight{m}'*dXidS;", "V = 1.001*model.weight{m}'*dXidS;",
                 (2, "backward", None)),
    "forward": ("cnn/feedforward.m", "model.weight{m}*phiZ + model.bias{m}, 0);",
                "model.weight{m}*phiZ + model.bias{m} + 1e-2*cos(37*(model.weight{m}*phiZ)), 0);", (1, "forward", None)),
}
REAL_REV = "bc40417"
REAL_FAULT = ("MATLAB/cnn/JTv.m", "v = model.weight{m}'*v;", "v = 1.001*model.weight{m}'*v;",
              (4, "backward", "WtDelta"))




def verdict(tree, config, n, chunk=None):
    return run_compare(Options(matlab_dir=str(tree), config=str(config), instances=n, chunk=chunk))


def assert_same(whole, streamed, n, chunk):
    assert streamed.chunks == -(-n // chunk)
    assert whole.chunks == 0 and "chunks" not in whole.to_json() and streamed.to_json()["chunks"] == streamed.chunks
    assert streamed.ok == whole.ok
    from simplecnn_harness.reports.report import terminal_table

    assert f"; streamed in {streamed.chunks} chunks of instances" in terminal_table(streamed)
    assert "chunks of instances" not in terminal_table(whole)
    f_whole, f_streamed = whole.first_divergence, streamed.first_divergence
    assert (f_whole is None) == (f_streamed is None)
    if f_whole is not None:
        assert {k: f_streamed[k] for k in ("layer", "direction", "stage")} == f_whole
        assert 1 <= f_streamed["instance"] <= n
    assert [r.key() for r in whole.stages] == [r.key() for r in streamed.stages]
    for a, b in zip(whole.stages, streamed.stages):
        assert (a.compared, a.ok, a.explained) == (b.compared, b.ok, b.explained), a.key()
        if not a.compared:
            continue
        if a.kind == "index":
            assert (a.n_diff, a.numel) == (b.n_diff, b.numel), a.key()
        elif a.ok:
            assert b.rel_err <= whole.rtol, a.key()
        else:           # both sides compute each chunk on their own: the same error up to rounding
            assert b.rel_err == pytest.approx(a.rel_err, rel=1e-9), a.key()
            assert b.max_abs_err == pytest.approx(a.max_abs_err, rel=1e-9), a.key()
        if a.stage not in SUMMED:
            for name in ("numel", "shape_python", "shape_matlab"):
                assert getattr(a, name, None) == getattr(b, name, None), (a.key(), name)


@pytest.fixture(scope="module")
def seed_trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("streamed-seed")
    return {name: planted(SEED, base / name, fault) for name, fault in SEED_FAULTS.items()}


@pytest.mark.parametrize("name,n,chunk", [(None, 20, 8), (None, 20, 5), ("backward", 18, 7), ("forward", 16, 4)])
def test_streamed_seed_verdict_is_the_unchunked_one(seed_trees, name, n, chunk):
    tree = SEED if name is None else seed_trees[name]
    whole = verdict(tree, SMALL, n)
    streamed = verdict(tree, SMALL, n, chunk)
    assert_same(whole, streamed, n, chunk)
    if name is None:
        assert whole.ok
    else:
        want = SEED_FAULTS[name][3]
        assert not whole.ok and (whole.first_divergence["layer"], whole.first_divergence["direction"]) == want[:2]
        assert streamed.first_divergence["instance"] == 1       # the fault shows on every instance
    if name == "forward":        # pooling winners differ after the divergence: noted, not refused
        assert any(info.get("downstream_of") for info in whole.pooling.values())
        assert any("downstream of the divergence" in r.note for r in streamed.stages if r.stage == "idx_pool")


@pytest.fixture(scope="module")
def real_trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("streamed-real")
    git_dir = clone(base)
    current = extract(git_dir, REAL_REV, base / REAL_REV)
    cfg = base / "tiny.config"
    cfg.write_text(TINY_CONFIG)
    return {"current": current, "fault": planted(current, base / "fault", REAL_FAULT), "config": cfg}


@pytest.mark.parametrize("name,n,chunk", [("current", 24, 9), ("current", 24, 8), ("fault", 17, 6)])
def test_streamed_real_code_verdict_is_the_unchunked_one(real_trees, name, n, chunk):
    whole = verdict(real_trees[name], real_trees["config"], n)
    streamed = verdict(real_trees[name], real_trees["config"], n, chunk)
    assert_same(whole, streamed, n, chunk)
    assert whole.ok == (name == "current")
    if name == "fault":
        f = whole.first_divergence
        assert (f["layer"], f["direction"], f["stage"]) == REAL_FAULT[3]


@pytest.mark.parametrize("extra,words", [
    (["--chunk", "0"], "must be a positive number"),
    (["--mode", "isolated", "--against", f"matlab:{SEED}"], "isolated mode is streamed with the port only"),
])
def test_what_is_not_streamed_is_refused_in_one_line(extra, words):
    args = ["--chunk", "4"] + extra if extra[0] != "--chunk" else extra
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "compare", "--instances", "16", *args],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simplecnn: error:") and words in lines[0], p.stderr


def test_a_trace_is_refused_with_chunk_before_any_run():
    class Trace:                                  # a reference without chunks (what a trace is)
        def load_inputs(self):
            raise AssertionError("refused before loading")

    with pytest.raises(InputError, match="not streamed yet"):
        run_compare(Options(chunk=4, instances=16), reference=Trace())


def test_past_the_streaming_budget_the_default_streams_and_says_so(monkeypatch):
    from simplecnn_harness import inputs, streamed

    model = inputs.load(str(SMALL), None, None, 16).model
    per = inputs.bytes_per_instance(model, "double")
    monkeypatch.setattr(streamed, "STREAM_BUDGET", 6 * per)        # 6 instances fit
    said = []
    whole = verdict(SEED, SMALL, 6)                                  # within the budget: unchunked
    auto = run_compare(Options(matlab_dir=str(SEED), config=str(SMALL), instances=16, progress=said.append))
    assert whole.chunks == 0 and auto.chunks == 3 and auto.ok
    assert any("streaming them in chunks of 6" in line for line in said)


def test_bench_compare_row_passes_the_chunk_and_records_the_chunks(tmp_path):
    import json

    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "bench", "--config", str(SMALL), "--instances", "16",
                        "--precision", "double", "--repeats", "1", "--compare-chunk", "6", "--quiet",
                        "--skip", "reference,minibatch,memory,gradient,newton,torch,gemm", "--json", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr
    (block,) = json.loads(out.read_text())["blocks"]
    (row,) = [r for r in block["rows"] if r["item"] == "compare"]
    assert row["chunks"] == 3 and row["verdict"] == "PASS" and row["peak"] > 0
