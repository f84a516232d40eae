"""The judge over instance chunks (judge/stream.py), without Octave.

The port is run on the whole batch and on chunks of it; a "reference" side
is the same run with a fault planted in one stage at one instance (a
relative change of 1e-6 of that instance's columns).  The streamed judge
names the same first divergence as the judge of the whole batch, with the
instance where the fault was planted, and the same error; with no fault
every stage agrees and the summed loss is the whole batch's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simplecnn_harness import inputs
from simplecnn_harness.judge.stream import StreamJudge
from simplecnn_harness.judge.verdict import judge
from simplecnn_harness.sources.base import SideRun, Stage
from simplecnn_harness.sources.port import PortSource

REPO = Path(__file__).resolve().parents[3]
SMALL = REPO / "matlab_ref" / "seed" / "config" / "small-nonsquare.config"
N, CUTS = 9, [0, 4, 7, 9]


def port_run(ins):
    with PortSource().run(ins) as run:
        return run


def with_fault(run, key, instance, n):
    """``run`` with the columns of ``instance`` (0-based, of ``n``) in stage ``key`` scaled by 1 + 1e-6."""
    stages = dict(run.stages)
    if key is not None and instance is not None:
        v = np.array(stages[key].value, dtype=np.float64, order="F")
        cols = v.shape[-1] // n
        v[..., instance * cols:(instance + 1) * cols] *= 1 + 1e-6
        stages[key] = Stage(v, "planted")
    return SideRun(stages, run.loss, {}, None, "", {"layout": "seed", "tree": "planted"})


@pytest.fixture(scope="module")
def whole():
    ins = inputs.load(config=str(SMALL), instances=N, seed=5)
    return ins, port_run(ins)


def chunks(ins):
    for s, e in zip(CUTS, CUTS[1:]):
        part = inputs.Inputs(ins.param, ins.model, inputs.subset(ins.prob, e - s, s), ins.config,
                             ins.config_desc, ins.data_desc, ins.precision)
        yield s, e, port_run(part)


@pytest.mark.parametrize("key,instance", [(None, None), ((1, "forward", "phiZ"), 5), ((2, "forward", "Z"), 8),
                                          ((3, "backward", "dXidS"), 0), ((2, "backward", "phi_gradient"), 6)])
def test_streamed_verdict_is_the_whole_batch_verdict(whole, key, instance):
    ins, run = whole
    v = judge(with_fault(run, key, instance, N), run, ins, "double")
    sj = StreamJudge(ins.model, "double")
    for s, e, part in chunks(ins):
        local = instance - s if instance is not None and s <= instance < e else None
        sj.add(with_fault(part, key if local is not None else None, local, e - s), part, e - s)
    rows, first, loss = sj.results()
    assert sj.n == N and sj.chunks == 3
    if key is None:
        assert v.ok and first is None and all(r.ok for r in rows if r.compared)
        assert loss["python"] == pytest.approx(run.loss, rel=1e-13) and loss["python"] == loss["matlab"]
    else:
        assert v.first_divergence == {"layer": key[0], "direction": key[1], "stage": key[2]}
        assert first == dict(v.first_divergence, instance=instance + 1)
        bad_whole = {r.key(): r for r in v.stages if r.compared and not r.ok}
        bad_stream = {r.key(): r for r in rows if r.compared and not r.ok}
        assert set(bad_stream) == set(bad_whole) == {key}
        assert bad_stream[key].rel_err == pytest.approx(bad_whole[key].rel_err, rel=1e-9)
        assert bad_stream[key].n_diff == bad_whole[key].n_diff
    by_key = {r.key(): r for r in v.stages}
    for r in rows:                                   # the same stages compared, of the same sizes and shapes
        w = by_key[r.key()]
        assert (r.compared, r.numel, r.shape_python, r.shape_matlab) == (w.compared, w.numel, w.shape_python,
                                                                          w.shape_matlab), r.key()
