"""The Octave session: errors, time-outs, an Octave that dies, live output.

A hung or dead Octave must never hang us, and every failure must come back
as one line naming what went wrong.
"""
import os
import threading
import time

import pytest

from conftest import needs_octave
from simplecnn_harness.session import OctaveError, OctaveSession, OctaveTimeout
from simplecnn_py.errors import EnvironmentProblem

pytestmark = needs_octave


def _gone(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return False


@pytest.fixture(scope="module")
def octave():
    with OctaveSession(timeout=60) as o:
        yield o


def test_eval_returns_printed_lines(octave):
    out = octave.eval("disp(6*7)")
    assert "42" in "\n".join(out if isinstance(out, list) else [str(out)])


def test_error_has_one_line_message_and_stack(octave, tmp_path):
    (tmp_path / "h_fail__.m").write_text(
        "function h_fail__(x)\n  y = x + 1;\n  error('h_fail__: bad value %d', y);\nend\n")
    octave.addpath(str(tmp_path))
    with pytest.raises(OctaveError) as e:
        octave.eval("h_fail__(2)")
    assert "bad value 3" in e.value.message
    assert "\n" not in e.value.message
    assert any("h_fail__" in "".join(map(str, frame)) for frame in e.value.stack)
    assert octave.alive()
    octave.rmpath(str(tmp_path))


def test_parse_error_is_an_octave_error(octave):
    with pytest.raises(OctaveError):
        octave.eval("x = (1 + ;")
    assert octave.alive()


@pytest.mark.parametrize("code", ["pause(1000)", "while true, x = rand(100); end"])
def test_timeout_ends_a_hung_octave(code):
    with OctaveSession(timeout=60) as o:
        pid = o.pid
        t0 = time.perf_counter()
        with pytest.raises(OctaveTimeout):
            o.eval(code, timeout=2)
        assert time.perf_counter() - t0 < 15
        deadline = time.time() + 10
        while not _gone(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert _gone(pid), "the Octave process outlived its time-out"
    assert issubclass(OctaveTimeout, EnvironmentProblem)


def test_octave_that_exits_is_reported():
    with OctaveSession(timeout=60) as o:
        with pytest.raises(EnvironmentProblem) as e:
            o.eval("exit(3)")
        assert "3" in str(e.value)
        assert "\n" not in str(e.value)


def test_output_arrives_while_octave_runs():
    with OctaveSession(timeout=60) as o:
        start = len(o.output)
        seen = []
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                seen.append(len(o.output) - start)
                time.sleep(0.05)

        th = threading.Thread(target=watch, daemon=True)
        th.start()
        try:
            o.eval("for k = 1:3, fprintf('iter %d\\n', k); pause(0.4); end")
        finally:
            stop.set()
            th.join()
        assert [line for line in o.output[start:] if line.startswith("iter")] == \
            ["iter 1", "iter 2", "iter 3"]
        # some line was visible before the call returned
        assert any(0 < k < 3 for k in seen)
