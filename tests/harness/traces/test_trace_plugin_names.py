"""The pytest plugin finds traces by their content, whatever their names, and
says in one line when it has nothing to do (issue 23, item 5): ``simplecnn
record --out traces/cur.trace`` then ``pytest --simplecnn-traces=traces``
checks that trace; a folder holding no trace is a usage error naming it; a
suite with no test taking the ``simplecnn_trace`` fixture is told so.

Oracles: the files' own bytes (HDF5 signature and the ``simplecnn_trace``
variable, written here with h5py independently of the recorder), pytest's
outcome counts and exit codes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from tests.conftest import needs_octave

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "simplecnn_cli" / "demo"
USER_TEST = """
def test_parity(simplecnn_trace):
    simplecnn_trace.check()
"""
OTHER_TEST = """
def test_something_else():
    assert 1 + 1 == 2
"""


def _fake_trace(path, user_block=512):
    """An HDF5 file with a top-level ``simplecnn_trace`` (not a complete
    trace: enough for collection, which is what is tested with it)."""
    import h5py

    with h5py.File(path, "w", userblock_size=user_block) as f:
        f["simplecnn_trace"] = np.frombuffer(b"simplecnn-trace/1", dtype=np.uint8).astype(np.uint16)
    if user_block:
        with open(path, "r+b") as f:
            f.write(b"MATLAB 7.3 MAT-file".ljust(116, b" "))


def test_a_trace_is_recognised_by_its_content(tmp_path):
    from simplecnn_harness.traces.pytest_plugin import is_trace

    _fake_trace(tmp_path / "matlab_style", 512)                     # v7.3: user block of 512 bytes
    _fake_trace(tmp_path / "octave_style.h5", 0)                    # Octave's save -hdf5: signature at 0
    import h5py

    with h5py.File(tmp_path / "other.mat", "w", userblock_size=512) as f:    # a v7.3 data file
        f["Z"] = np.zeros((3, 2))
    scipy.io.savemat(tmp_path / "data.mat", {"y": np.ones((2, 1)), "Z": np.zeros((2, 4))})
    (tmp_path / "text.trace").write_text("simplecnn_trace = 1\n")
    (tmp_path / "empty.trace").write_bytes(b"")
    found = {p.name: is_trace(p) for p in tmp_path.iterdir()}
    assert found == {"matlab_style": True, "octave_style.h5": True, "other.mat": False, "data.mat": False,
                     "text.trace": False, "empty.trace": False}


def test_a_folder_without_traces_is_one_line(pytester):
    pytester.makepyfile(test_user=USER_TEST)
    empty = pytester.path / "traces"
    empty.mkdir()
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={empty}", "-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = [line for line in res.stderr.lines if line.strip()]
    assert len(err) == 1, res.stderr.str()
    assert "holds no simplecnn trace (0 files looked at" in err[0] and str(empty) in err[0]
    # data files only: still no trace
    scipy.io.savemat(empty / "data.mat", {"y": np.ones((2, 1)), "Z": np.zeros((2, 4))})
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={empty}", "-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "holds no simplecnn trace (1 file looked at" in res.stderr.str()


def test_a_suite_without_the_fixture_is_told_so(pytester, tmp_path):
    traces = tmp_path / "traces"
    traces.mkdir()
    _fake_trace(traces / "a.trace")
    _fake_trace(traces / "b")
    pytester.makepyfile(test_other=OTHER_TEST)
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={traces}", "-q", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    said = [line for line in res.stdout.lines if line.startswith("simplecnn: ")]
    assert said == ["simplecnn: 2 traces given but no collected test takes the simplecnn_trace fixture, so none "
                    "is checked; add one, e.g. a file test_parity.py holding "
                    "`def test_parity(simplecnn_trace): ...`"]
    # the same under pytest-xdist (the workers collect; the controller says it at the end)
    pytest.importorskip("xdist")
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={traces}", "-q", "-n", "2", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    assert [line for line in res.stdout.lines if line.startswith("simplecnn: ")] == said
    # with a test that takes it, nothing is said (and the two traces are collected, by content)
    pytester.makepyfile(test_user=USER_TEST)
    res = pytester.runpytest_subprocess(f"--simplecnn-traces={traces}", "--collect-only", "-q",
                                        "-p", "no:cacheprovider")
    assert not [line for line in res.stdout.lines if line.startswith("simplecnn: ")]
    res.stdout.fnmatch_lines(["*test_parity?a?", "*test_parity?b?"])


@needs_octave
def test_record_then_the_plugin_finds_every_trace_whatever_its_name(pytester):
    traces = pytester.path / "traces"
    traces.mkdir()
    env = dict(os.environ)
    base = [sys.executable, "-m", "simplecnn_cli", "record", "--quiet", "--config", str(DEMO / "demo.config"),
            "--data", str(DEMO / "demo-data.mat"), "--instances", "4"]
    run = subprocess.run(base + ["--out", "traces/cur.trace"], capture_output=True, text=True,
                         cwd=pytester.path, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    # the same trace under other names (one Octave run is enough: names are what is tested)
    (traces / "sub").mkdir()
    shutil.copy(traces / "cur.trace", traces / "sub" / "plain")
    shutil.copy(traces / "cur.trace", traces / "old.mat")
    scipy.io.savemat(traces / "demo-data-copy.mat", {"y": np.ones((2, 1)), "Z": np.zeros((2, 4))})
    pytester.makepyfile(test_parity=USER_TEST)
    res = pytester.runpytest_subprocess("--simplecnn-traces=traces", "-v", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=3)
    for name in ("cur", "plain", "old"):
        res.stdout.fnmatch_lines([f"*test_parity?{name}? PASSED*"])
