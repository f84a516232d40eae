"""Traces of the real simpleNN code (extracted from ../shared/upstream):
judged offline, a trace gives exactly the verdict, the first divergence and
the stage table of the live run, for the current code (PASS), the seed
layout (ff2333d: FAIL at layer 1 forward on a non-square net, the known
(wd_pad, ht_pad) swap) and a copy of the current code with a fault injected
(FAIL at the fault's stage).  Skipped when ../shared is absent."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import needs_octave
from harness_bundle import TINY_CONFIG, clone, extract

pytestmark = needs_octave

CURRENT_REV = "bc40417"
SEED_REV = "ff2333d"
FAULT = ("MATLAB/cnn/JTv.m", "v = model.weight{m}'*v;", "v = 1.001*model.weight{m}'*v;", (4, "backward", "WtDelta"))


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("real")
    git_dir = clone(base)
    current = extract(git_dir, CURRENT_REV, base / CURRENT_REV)
    seed = extract(git_dir, SEED_REV, base / SEED_REV)
    fault = base / "fault"
    shutil.copytree(current, fault)
    rel, old, new, _ = FAULT
    f = fault / rel
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, new, 1))
    cfg = base / "tiny.config"
    cfg.write_text(TINY_CONFIG)
    return {"current": current, "seed": seed, "fault": fault, "config": cfg, "base": base}


@pytest.mark.parametrize("name,want", [
    ("current", None),
    ("seed", (1, "forward", None)),
    ("fault", FAULT[3]),
])
def test_trace_of_the_real_code_gives_the_live_verdict(trees, name, want):
    from simplecnn_harness.compare import Options, run_compare
    from simplecnn_harness.traces.file import read_trace
    from simplecnn_harness.traces.record import TraceRecords, record

    kw = dict(matlab_dir=str(trees[name]), config=str(trees["config"]), instances=9)
    trace = trees["base"] / f"{name}.mat"
    record(Options(**kw), trace)
    live = run_compare(Options(**kw))
    opts = Options(precision=None)
    off = run_compare(opts, TraceRecords(trace, opts))

    fd = live.first_divergence
    if want is None:
        assert live.ok and fd is None
    else:
        assert not live.ok
        assert (fd["layer"], fd["direction"]) == want[:2] and (want[2] is None or fd["stage"] == want[2])
    assert off.ok == live.ok and off.first_divergence == live.first_divergence
    assert [s.to_json() for s in off.stages] == [s.to_json() for s in live.stages]
    assert off.pooling == live.pooling and off.loss == live.loss and off.layout == live.layout
    meta = read_trace(trace)["meta"]
    assert str(trees[name]) in meta                # the tree's identity is recorded
