"""The judge over small committed traces, without Octave.

``tests/data/traces/`` holds two traces written by ``simplecnn record`` (3
instances each): ``matlab_ref/seed`` on ``small-nonsquare.config`` and
``matlab_ref/current`` on ``tiny-nonsquare.config``.  Against the port they
pass; a fault injected into one recorded stage (a relative change of 1e-6,
or one index moved) makes that stage, and only it, fail with the injected
error, and it is the first divergence.  The judge never assumes the other
side is the port: two MATLAB sides (the same trace twice) are judged alike.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simplecnn_harness.compare import Options, run_compare
from simplecnn_harness.judge.stages import canonical_stages, stage_sizes
from simplecnn_harness.judge.verdict import judge
from simplecnn_harness.sources.base import Stage
from simplecnn_harness.sources.port import PortSource
from simplecnn_harness.sources.trace import TraceSource
from simplecnn_py.support.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data" / "traces"
SEED_TRACE = DATA / "seed-small-nonsquare.mat"
CURRENT_TRACE = DATA / "current-tiny-nonsquare.mat"
JSON_FIELDS = ["pass", "layout", "first_divergence", "mode", "precision", "rtol", "matlab_dir", "config", "data",
               "instances", "loss", "stages", "not_compared", "pooling_flips", "notes", "timings", "port_path",
               "command"]


def sides(trace):
    """(inputs, the trace's run, the port's run): the runs as plain dicts of stages."""
    src = TraceSource(trace, Options(precision=None))
    ins = src.load_inputs()
    with PortSource().run(ins) as b, src.run(ins) as a:
        # copies: the trace's arrays are mapped from the file for the block only
        a.stages = {k: Stage(None if s.value is None else np.array(s.value, order="F"), s.source, s.origin, s.note)
                    for k, s in a.stages.items()}
        return ins, a, b


@pytest.fixture(scope="module", params=[SEED_TRACE, CURRENT_TRACE], ids=["seed", "current"])
def runs(request):
    return sides(request.param)


def test_the_port_passes_against_both_traces(runs):
    ins, a, b = runs
    v = judge(a, b, ins, ins.precision)
    assert v.ok and v.first_divergence is None
    compared = [s for s in v.stages if s.compared]
    assert len(compared) >= 30
    for s in compared:
        assert s.ok and (s.kind == "index" and s.n_diff == 0 or s.rel_err <= 1e-13), s
    assert v.instances == 3 and v.layout in ("seed", "current")
    assert abs(v.loss["python"] - v.loss["matlab"]) <= 1e-13 * abs(v.loss["matlab"])
    assert list(v.to_json()) == JSON_FIELDS


@pytest.mark.parametrize("key", [(1, "forward", "phiZ"), (2, "forward", "sigmaS"), (3, "forward", "Z"),
                                 (4, "forward", "loss"), (4, "backward", "dXidS"), (2, "backward", "WtDelta"),
                                 (1, "backward", "dlossdW"), (2, "backward", "dlossdb")])
def test_a_fault_in_one_stage_is_the_first_divergence_with_its_error(runs, key):
    ins, a, b = runs
    s = a.stages[key]
    if s.value is None:
        pytest.skip(f"{key} is not exposed by this tree")
    faulty = dict(a.stages)
    faulty[key] = Stage(s.value * (1 + 1e-6), s.source, s.origin, s.note)
    v = judge(type(a)(faulty, a.loss, a.timings, a.net, a.describe, a.meta), b, ins, ins.precision)
    assert not v.ok
    assert v.first_divergence == {"layer": key[0], "direction": key[1], "stage": key[2]}
    bad = [s for s in v.stages if s.compared and not s.ok]
    assert [x.key() for x in bad] == [key]
    # ||b - (1+e) m|| / ||(1+e) m|| = e / (1+e) when b = m (to the stage's own agreement, <= 1e-13)
    assert bad[0].rel_err == pytest.approx(1e-6 / (1 + 1e-6), rel=1e-6)
    assert v.heatmap is not None and (v.heatmap["layer"], v.heatmap["direction"], v.heatmap["stage"]) == key


def test_a_moved_index_fails_exactly(runs):
    ins, a, b = runs
    key = next(k for k in canonical_stages(ins.model) if k[2] == "idx_phiZ" and a.stages[k].value is not None)
    s = a.stages[key]
    moved = np.array(s.value, order="F")
    flat = moved.reshape(-1, order="F")
    flat[4] += 1
    faulty = dict(a.stages)
    faulty[key] = Stage(moved, s.source, s.origin, s.note)
    v = judge(type(a)(faulty, a.loss, a.timings, a.net, a.describe, a.meta), b, ins, ins.precision)
    r = next(x for x in v.stages if x.key() == key)
    assert not v.ok and v.first_divergence == {"layer": key[0], "direction": key[1], "stage": key[2]}
    assert r.kind == "index" and r.n_diff == 1 and "first at entry 5" in r.note


def test_compare_against_a_trace_file_with_a_fault(tmp_path):
    """The whole command path (``run_compare`` with a trace source) on a trace
    whose record of net.dlossdW{1} was changed in the file."""
    from simplecnn_harness.traces.file import read_trace, write_trace

    v = read_trace(SEED_TRACE)
    lines = v["rec_index"].split("\n")
    layers = np.asarray(v["rec_layer"]).reshape(-1)
    k = next(i for i, ln in enumerate(lines) if ln.startswith("net.dlossdW\t") and layers[i] == 1)
    var = lines[k].split("\t")[2]
    v[var] = np.asfortranarray(v[var] * (1 + 1e-6))
    write_trace(tmp_path / "fault.mat", v)
    ok = run_compare(Options(precision=None), TraceSource(SEED_TRACE, Options(precision=None)))
    assert ok.ok
    opts = Options(precision=None)
    bad = run_compare(opts, TraceSource(tmp_path / "fault.mat", opts))
    assert not bad.ok and bad.first_divergence == {"layer": 1, "direction": "backward", "stage": "dlossdW"}
    assert bad.to_json()["first_divergence"] == bad.first_divergence


def test_two_matlab_sides_are_judged_alike():
    """A trace as the candidate too (a second MATLAB run): every stage both
    expose is compared, and agrees exactly; isolated mode needs the port."""
    opts = Options(precision=None)
    v = run_compare(opts, reference=TraceSource(SEED_TRACE, opts), candidate=TraceSource(SEED_TRACE, opts))
    assert v.ok and v.loss["python"] == v.loss["matlab"]
    compared = [s for s in v.stages if s.compared]
    assert compared and all(s.rel_err == 0 for s in compared)
    with pytest.raises(InputError, match="isolated"):
        iso = Options(precision=None, mode="isolated")
        run_compare(iso, reference=TraceSource(SEED_TRACE, iso), candidate=TraceSource(SEED_TRACE, iso))


@pytest.mark.parametrize("config", ["matlab_ref/seed/config/small-nonsquare.config",
                                    "matlab_ref/seed/config/mnist-demo-layer3.config",
                                    "matlab_ref/current/MATLAB/config/tiny-nonsquare.config"])
def test_stage_sizes_are_what_the_port_records(config):
    """The sizes a MATLAB side's records are checked against, from the model
    alone, against the sizes of the port's traced values."""
    from simplecnn_harness.inputs import load

    repo = Path(__file__).resolve().parents[3]
    ins = load(config=str(repo / config), instances=11)
    with PortSource().run(ins) as b:
        sizes = stage_sizes(ins.model, 11)
        assert set(sizes) == set(canonical_stages(ins.model))
        assert {k: int(np.size(b.stages[k].value)) for k in sizes} == sizes


@pytest.mark.parametrize("precision", ["double", "single"])
def test_metrics_of_a_stream_of_instance_chunks_are_those_of_the_whole(precision):
    """Fed in uneven chunks (as a compare streamed over instances would), the
    accumulated metrics equal compare_arrays' on the whole arrays bit for
    bit, and the first differing entry is found where it was planted."""
    from simplecnn_harness.judge import metrics as C

    rng = np.random.default_rng(7)
    n = C.STEP * 2 + 12345
    b = rng.standard_normal(n)
    a = b * (1 + (1e-14 if precision == "double" else 1e-6) * rng.standard_normal(n))
    a[:1000] = b[:1000]
    a[1000:1500] = b[1000:1500]
    k0 = int(np.flatnonzero(a != b)[0])
    rtol = C.DEFAULT_RTOL[precision]
    whole = C.compare_arrays(a, b, precision, rtol)
    dtype = C.working_dtype(precision)
    A, B = a.astype(dtype), b.astype(dtype)
    acc = C.Accumulator()
    cuts = [0, 7, 999, 5000, C.STEP - 3, C.STEP + 10, 2 * C.STEP + 1, n]
    for s, e in zip(cuts, cuts[1:]):
        acc.feed(A[s:e], B[s:e])
    streamed = acc.result(rtol)
    for key in ("ok", "rel_err", "max_abs_err", "max_ulp", "n_diff", "note"):
        assert streamed[key] == whole[key], key
    first = int(np.flatnonzero(A != B)[0])
    assert acc.first == first == k0 and whole["n_diff"] > 0
