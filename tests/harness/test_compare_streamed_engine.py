"""The engine of a streamed compare (harness/streamed.py, sources/matlab.py
``chunks``, judge/metrics.py ``Accumulator.feed``): what makes it cheap
must not change what it says.

* ``feed`` in pieces of any length gives the whole array's metrics bit for
  bit, and holds no piece after the call (a judged chunk is released);
* from chunk 1 on Octave writes only the values the mapping read on chunk
  0, fewer bytes for the same verdict; a chunk that takes another path
  through the code (a data-dependent branch) is run again whole, so no
  stage goes uncompared on some instances;
* the two sides overlap in two threads: an Octave error on a later chunk
  and a Python side that raises mid-stream end the run with one line,
  Octave stopped and no scratch file left.
"""
from __future__ import annotations

import shutil
import weakref

import numpy as np
import pytest

from tests.conftest import REPO, needs_octave

from simplecnn_harness.compare import Options, run_compare
from simplecnn_harness.judge import metrics as C

SEED = REPO / "matlab_ref" / "seed"
SMALL = SEED / "config" / "small-nonsquare.config"


def test_feed_in_pieces_is_the_whole_arrays_metrics_and_keeps_no_piece():
    rng = np.random.default_rng(7)
    n = 3 * C.STEP + 12345
    b = rng.standard_normal(n)
    a = b.copy()
    a[[5, C.STEP - 1, C.STEP + 2, 2 * C.STEP + 77]] += [1e-9, -3e-12, 2e-15, 5e-7]
    a[C.STEP + 10] = np.nan                       # NaN on one side only
    a[3 * C.STEP + 5], b[3 * C.STEP + 5] = 1e-170, 0.0   # a difference whose square underflows
    whole = C.compare_arrays(a, b, "double", 1e-13)
    cuts = np.unique(np.concatenate([[0, n], rng.integers(0, n, 40), [C.STEP, C.STEP + 1, 2 * C.STEP - 3]]))
    acc, refs = C.Accumulator(), []
    for s, e in zip(cuts[:-1], cuts[1:]):
        x, y = a[s:e].copy(), b[s:e].copy()       # fresh pieces, as a chunk's records are
        acc.feed(x, y)
        refs += [weakref.ref(x), weakref.ref(y)]
        del x, y
    assert all(r() is None for r in refs), "the accumulator keeps a fed piece alive"
    got = acc.result(1e-13)
    for k in ("ok", "rel_err", "max_abs_err", "max_ulp", "n_diff", "note"):
        assert got[k] == whole[k] or (np.isnan(got[k]) and np.isnan(whole[k])), k
    assert acc.seen == n and acc.first == 5
    assert whole["n_diff"] == 6                   # the underflowing difference is counted too


def _recorded(monkeypatch):
    """Per Octave call of a streamed run: (instances, bytes with values, records with values)."""
    from simplecnn_harness.sources import matlab

    calls, real = [], matlab.execute

    def spy(octave, prepared, timeout=None, only=None, again=False):
        run = real(octave, prepared, timeout, only=only, again=again)
        calls.append((prepared.instances, sum(r.nbytes for r in run.records if r.has_values),
                      sum(r.has_values for r in run.records), only is not None))
        return run

    monkeypatch.setattr(matlab, "execute", spy)
    return calls


def _same_verdict(whole, streamed):
    assert streamed.ok == whole.ok and streamed.first_divergence == whole.first_divergence
    for w, s in zip(whole.stages, streamed.stages):
        assert (w.key(), w.compared, w.ok, w.numel) == (s.key(), s.compared, s.ok, s.numel)


@needs_octave
def test_later_chunks_record_only_what_the_judge_reads(monkeypatch):
    whole = run_compare(Options(matlab_dir=str(SEED), config=str(SMALL), instances=12))
    calls = _recorded(monkeypatch)
    streamed = run_compare(Options(matlab_dir=str(SEED), config=str(SMALL), instances=12, chunk=4))
    _same_verdict(whole, streamed)
    assert streamed.ok and len(calls) == 3
    (n0, bytes0, kept0, only0), rest = calls[0], calls[1:]
    assert not only0 and all(only for *_, only in rest)
    for n, nbytes, kept, _ in rest:
        assert n == n0 and kept < kept0 and nbytes < 0.9 * bytes0


@needs_octave
def test_a_chunk_taking_another_path_through_the_code_is_recorded_whole(tmp_path, monkeypatch):
    tree = tmp_path / "seed"
    shutil.copytree(SEED, tree)
    f = tree / "cnn" / "lossgrad_subset.m"
    old = "\t\tdXidS = model.weight{m}'*dXidS;\n"
    new = ("\t\tif size(dXidS, 2) < 4\n\t\t\tsmall__ = model.weight{m}'*dXidS;\n\t\t\tdXidS = small__;\n"
           "\t\telse\n\t\t\tdXidS = model.weight{m}'*dXidS;\n\t\tend\n")
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, new, 1))
    whole = run_compare(Options(matlab_dir=str(tree), config=str(SMALL), instances=10))
    calls = _recorded(monkeypatch)
    streamed = run_compare(Options(matlab_dir=str(tree), config=str(SMALL), instances=10, chunk=4))
    assert [c[0] for c in calls] == [4, 4, 2, 2]          # the last chunk (2 instances) ran twice
    assert [c[3] for c in calls] == [False, True, True, False]
    _same_verdict(whole, streamed)
    assert streamed.ok


@needs_octave
def test_an_octave_error_on_a_later_chunk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    from simplecnn_harness.octave.run import MatlabCodeError

    tree = tmp_path / "seed"
    shutil.copytree(SEED, tree)
    f = tree / "cnn" / "lossgrad_subset.m"
    old = "\tdXidS = 2*(net.Z{L+1} - Y);\n"
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, old + "\tif size(Y, 2) < 4, error('planted: a small chunk'); end\n", 1))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("SIMPLECNN_TMPDIR", str(scratch))
    with pytest.raises(MatlabCodeError, match=r"lossgrad_subset\.m line \d+ .*planted: a small chunk") as e:
        run_compare(Options(matlab_dir=str(tree), config=str(SMALL), instances=10, chunk=4))
    assert "\n" not in str(e.value)
    assert list(scratch.iterdir()) == []


@needs_octave
def test_a_python_side_raising_mid_stream_stops_octave_and_leaves_nothing(tmp_path, monkeypatch):
    import contextlib

    from simplecnn_harness.sources.port import PortSource
    from simplecnn_harness.octave import session as S

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("SIMPLECNN_TMPDIR", str(scratch))
    real, seen, pids = PortSource.run, [], []

    @contextlib.contextmanager
    def failing(self, inputs, progress=None):
        seen.append(int(inputs.prob.l))
        if len(seen) == 2:
            raise RuntimeError("planted: the Python side fails on chunk 2")
        with real(self, inputs, progress) as run:
            yield run

    start = S.OctaveSession.start

    def noting(self):
        out = start(self)
        pids.append(self.pid)
        return out

    monkeypatch.setattr(PortSource, "run", failing)
    monkeypatch.setattr(S.OctaveSession, "start", noting)
    with pytest.raises(RuntimeError, match="planted"):
        run_compare(Options(matlab_dir=str(SEED), config=str(SMALL), instances=12, chunk=4))
    assert seen == [4, 4]
    assert list(scratch.iterdir()) == []
    from simplecnn_harness.octave.processes import pid_alive

    assert pids and not any(pid_alive(p) for p in pids)


def test_chunk_progress_is_a_bar_on_a_terminal_and_a_tenth_of_the_lines_in_a_log():
    from simplecnn_harness.streamed import chunk_progress

    class Log(list):
        live = False

        def __call__(self, text):
            self.append(text)

        def bar(self, **kw):
            raise AssertionError("no bar off a terminal")

    class Bar:
        n, closed = 0, False

        def update(self, k=1):
            self.n += k

        def close(self):
            self.closed = True

    class Terminal(Log):
        live = True

        def bar(self, **kw):
            self.made = Bar()
            assert kw == {"total": 45, "desc": "compare: chunks", "unit": "chunk"}
            return self.made

    log, term = Log(), Terminal()
    for say in (log, term):
        with chunk_progress(say, 45) as tick:
            for k in range(45):
                tick(k, 8 * k, 8)
    assert [x.split(" (")[0] for x in log] == [f"compare: chunk {k} of 45 computed on both sides"
                                               for k in (4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 45)]
    assert term == [] and term.made.n == 45 and term.made.closed


def test_spilled_columns_read_the_instances_bit_for_bit(tmp_path):
    from simplecnn_harness import inputs
    from simplecnn_py.support.conventions import struct

    rng = np.random.default_rng(3)
    data = np.asfortranarray(rng.standard_normal((12, 10)))
    spilled = inputs.SpilledColumns(data, tmp_path)
    assert spilled.shape == (12, 10) and spilled.dtype == np.float64
    assert np.array_equal(np.asarray(spilled), data)
    prob = struct(data=spilled, label_mat=np.eye(10)[:3], y=np.arange(10.0), y_mapped=np.arange(10.0), l=10)
    part = inputs.subset(prob, 4, 6)                     # instances 7..10, as a chunk takes them
    assert type(part.data) is np.ndarray and part.data.flags.f_contiguous
    assert np.array_equal(part.data, data[:, 6:10]) and part.l == 4
