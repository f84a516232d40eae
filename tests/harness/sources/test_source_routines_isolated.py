"""``compare --python routines:FILE.py --mode isolated``: the port's isolated
re-run (``sources/isolated.py``) with your routines in place.

A planted fault in a routine the re-run calls (``vTP``, ``maxpooling``) FAILs
at that stage and at no other in isolated mode (end to end, every stage
after it fails too); a right routine of one's own PASSes; a routine the
re-run does not call (``JTv``) keeps its stages judged end to end, and the
verdict says so.  Judged against matlab_ref's trace, recorded once (Octave).
"""
from __future__ import annotations

import pytest

from tests.conftest import NONSQUARE, needs_octave
from tests.harness.sources.test_source_routines import FAULTS, OWN_PHIZ

from simplecnn_harness.compare import Options, run_compare
from simplecnn_harness.sources.python_side import python_source


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    from simplecnn_harness.traces.record import record

    path = tmp_path_factory.mktemp("routines") / "seed.mat"
    record(Options(config=str(NONSQUARE), instances=16), path)
    return path


def _judge(trace, path, mode):
    from simplecnn_harness.traces.record import TraceRecords

    opts = Options(precision=None, mode=mode)
    return run_compare(opts, TraceRecords(trace, opts), python_source(f"routines:{path}", None, opts))


def _failing(result):
    return {s.key() for s in result.stages if s.compared and not s.ok}


@needs_octave
@pytest.mark.parametrize("fault", ["phi", "pool"])
def test_a_planted_fault_fails_at_its_stage_only(trace, tmp_path, fault):
    text, where = FAULTS[fault]
    f = tmp_path / "mine.py"
    f.write_text(text)
    iso, prop = _judge(trace, f, "isolated"), _judge(trace, f, "propagated")
    assert _failing(iso) == {where}
    assert iso.first_divergence == dict(zip(("layer", "direction", "stage"), where))
    assert {where} < _failing(prop)
    assert len([s for s in iso.stages if s.compared]) == 35


@needs_octave
def test_own_routine_passes_in_isolated_mode(trace, tmp_path):
    f = tmp_path / "mine.py"
    f.write_text(OWN_PHIZ)
    result = _judge(trace, f, "isolated")
    assert result.ok and result.mode == "isolated"
    assert len([s for s in result.stages if s.compared]) == 35
    assert not any(n.startswith("isolated mode:") for n in result.notes)


@needs_octave
def test_routines_the_rerun_does_not_call_are_judged_end_to_end(trace, tmp_path):
    text, where = FAULTS["jtv"]
    f = tmp_path / "mine.py"
    f.write_text(text)
    iso, prop = _judge(trace, f, "isolated"), _judge(trace, f, "propagated")
    assert _failing(iso) == _failing(prop) and where in _failing(iso)
    assert any(n.startswith("isolated mode: the stages your JTv computes are judged end to end")
               for n in iso.notes)
