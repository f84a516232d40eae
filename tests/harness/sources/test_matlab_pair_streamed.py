"""``compare --against matlab:B --chunk N`` and ``--python routines:FILE.py
--chunk N``: the other sides streamed give the unchunked verdict.

* matlab_ref/current against the real current simpleNN (../shared; skipped
  when absent): PASS, in two Octave sessions in all (the reference's and
  B's, each over all the chunks); an edited copy of the real code FAILs at
  the same stage as unchunked;
* your routines with a planted fault FAIL at the stage it acts on, as
  unchunked;
* a candidate that raises mid-stream (a routine of yours, tree B's Octave
  code) stops the run with its one line (exit 2), every Octave session
  closed and no file left in the scratch folder.
Chunk sizes do not divide the instances; the tiny non-square current-layout
config of matlab_ref/current."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import CURRENT, NONSQUARE, REPO, TINY_CURRENT, needs_octave
from harness_bundle import real_trees as extract_real_trees, planted
from streamed_same import assert_streamed_same

from simplecnn_harness.compare import Options, prepare, run_compare
from simplecnn_harness.octave.processes import pid_alive
from simplecnn_harness.octave.session import OctaveSession
from simplecnn_harness.sources.python_side import python_source
from simplecnn_py.support.errors import EnvironmentProblem, InputError

pytestmark = needs_octave

JTV = ("cnn/JTv.m", "v = model.weight{m}'*v;", "v = 1.001*model.weight{m}'*v;")
LAST_CHUNK_FAILS = ("cnn/feedforward.m", "num_data = size(data, 2);",
                    "if size(data, 2) < 5, error('planted: a short chunk'); end\nnum_data = size(data, 2);")
POOL_FAULT = '''
from simplecnn_py.cnn.maxpooling import maxpooling as port
def maxpooling(model, net, m):
    Z, idx = port(model, net, m)
    return Z * 0.999, idx
'''
LATE = '''
from simplecnn_py.cnn.maxpooling import maxpooling as port
calls = [0]
def maxpooling(model, net, m):
    calls[0] += 1
    if calls[0] > {per_chunk}:
        raise RuntimeError("planted: the second chunk")
    return port(model, net, m)
'''




@pytest.fixture(scope="module")
def real(tmp_path_factory):
    base = tmp_path_factory.mktemp("pair-streamed")
    trees = extract_real_trees(base)
    trees["edited"] = planted(trees["current"], base / "edited", JTV)
    return trees


@pytest.fixture
def sessions(monkeypatch, tmp_path):
    """The Octave sessions started (each closed after?), and the scratch folder (empty after?)."""
    started = []
    real_start = OctaveSession.start

    def start(self):
        out = real_start(self)
        started.append((self, self.pid))
        return out

    monkeypatch.setattr(OctaveSession, "start", start)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("SIMPLECNN_TMPDIR", str(scratch))
    return started, scratch


def all_closed(started):
    return all(s.oct2py is None and not pid_alive(pid) for s, pid in started)


def pair(a, b, config, n, chunk):
    opts = Options(matlab_dir=str(a), config=str(config), instances=n, chunk=chunk)
    return run_compare(opts, python=python_source(None, f"matlab:{b}", opts))


def test_our_current_against_the_real_current_streams_to_pass_in_two_sessions(real, sessions):
    started, scratch = sessions
    whole = pair(CURRENT, real["current"], TINY_CURRENT, 16, None)
    del started[:]
    streamed = pair(CURRENT, real["current"], TINY_CURRENT, 16, 6)
    assert whole.ok and streamed.ok
    assert_streamed_same(whole, streamed, 16, 6)
    assert len(started) == 2 and all_closed(started)       # the reference's and B's, over all 3 chunks
    assert not any(scratch.iterdir())


def test_an_edited_copy_of_the_real_code_fails_at_the_same_stage(real):
    whole = pair(real["current"], real["edited"], TINY_CURRENT, 16, None)
    streamed = pair(real["current"], real["edited"], TINY_CURRENT, 16, 7)
    assert not whole.ok
    assert_streamed_same(whole, streamed, 16, 7)
    fd = streamed.first_divergence
    assert (fd["direction"], fd["stage"], fd["instance"]) == ("backward", "WtDelta", 1)


def test_tree_b_failing_on_its_last_chunk_closes_both_sessions(sessions, tmp_path):
    started, scratch = sessions
    b = planted(CURRENT / "MATLAB", tmp_path / "late", LAST_CHUNK_FAILS)
    assert pair(CURRENT, b, TINY_CURRENT, 12, None).ok               # one run: nothing raised
    del started[:]
    with pytest.raises(EnvironmentProblem, match="planted: a short chunk"):
        pair(CURRENT, b, TINY_CURRENT, 12, 5)                       # chunks of 5, 5, 2 instances
    assert len(started) == 2 and all_closed(started)
    assert not any(scratch.iterdir())


def routines(path, n, chunk):
    opts = Options(config=str(NONSQUARE), instances=n, chunk=chunk)
    return run_compare(opts, python=python_source(f"routines:{path}", None, opts))


def test_routines_with_a_planted_fault_fail_at_the_same_stage(tmp_path):
    f = tmp_path / "pool.py"
    f.write_text(POOL_FAULT)
    whole, streamed = routines(f, 20, None), routines(f, 20, 6)
    assert not whole.ok and whole.first_divergence == {"layer": 2, "direction": "forward", "stage": "Z"}
    assert_streamed_same(whole, streamed, 20, 6)


def test_a_routine_raising_mid_stream_is_one_line_sessions_closed_no_files(sessions, tmp_path):
    started, scratch = sessions
    model = prepare(Options(config=str(NONSQUARE), instances=16))[1]
    per_chunk = sum(int(model.wd_subimage_pool[m]) > 1 for m in range(1, int(model.LC) + 1))
    f = tmp_path / "late.py"
    f.write_text(LATE.format(per_chunk=per_chunk))
    with pytest.raises(InputError, match="your maxpooling raised RuntimeError: planted: the second chunk"):
        routines(f, 20, 8)
    assert len(started) == 1 and all_closed(started)
    assert not any(scratch.iterdir())
    p = subprocess.run([sys.executable, "-m", "simplecnn_cli", "compare", "--quiet", "--config", str(NONSQUARE),
                        "--instances", "20", "--chunk", "8", "--python", f"routines:{f}"],
                       capture_output=True, text=True, cwd=REPO, timeout=300,
                       env={**os.environ, "SIMPLECNN_TMPDIR": str(scratch)})
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert lines[0].startswith("simplecnn: error: --python:") and "planted: the second chunk" in lines[0]
    assert not any(scratch.iterdir())
