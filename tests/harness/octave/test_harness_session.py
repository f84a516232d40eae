"""The Octave session: errors, time-outs, an Octave that dies, live output.

A hung or dead Octave must never hang us, and every failure must come back
as one line naming what went wrong.
"""
import os
import threading
import time

import pytest

from conftest import needs_octave
from simplecnn_harness.octave.session import OctaveError, OctaveSession, OctaveTimeout
from simplecnn_py.support.errors import EnvironmentProblem

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


def test_ctrl_c_during_octave_is_a_keyboard_interrupt():
    """octave_kernel swallows the KeyboardInterrupt of a Ctrl-C while Octave
    runs (it interrupts Octave and returns): the session must still raise
    KeyboardInterrupt (the command exits 130, not 2) and leave no Octave."""
    import signal

    for code in ("pause(30)", "x = 0; for k = 1:1e10, x = x + k; end"):
        with OctaveSession(timeout=60) as o:
            pid = o.pid
            timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
            timer.start()
            t0 = time.perf_counter()
            with pytest.raises(KeyboardInterrupt):
                o.eval(code)
            assert time.perf_counter() - t0 < 20
            deadline = time.time() + 10
            while not _gone(pid) and time.time() < deadline:
                time.sleep(0.1)
            assert _gone(pid), "Octave outlived the Ctrl-C"
            assert o.oct2py is None


class _FakeTerminal:
    """A stderr that says it is a terminal; keeps what is written."""

    def __init__(self):
        self.parts = []

    def isatty(self):
        return True

    def write(self, s):
        self.parts.append(s)
        return len(s)

    def flush(self):
        pass

    @property
    def text(self):
        return "".join(self.parts)


def test_routine_marks_drive_the_live_status_and_stay_out_of_the_output():
    """``@@simplecnn-routine NAME`` lines (printed by the instrumented MATLAB
    tree) name the routine in the status line, whose clock keeps ticking
    while the routine hangs; they never reach the output."""
    from simplecnn_harness.reports.progress import progress_for

    term = _FakeTerminal()
    with progress_for(stream=term) as observer, OctaveSession(timeout=60, progress=observer) as o:
        observer("compare: Octave")
        start = len(o.output)
        out = o.eval("disp('before'); disp('@@simplecnn-routine vTP'); pause(2.2); "
                     "disp('@@simplecnn-routine maxpooling'); pause(0.9); disp('after')")
        assert out == ["before", "after"]
        assert [x for x in o.output[start:] if x] == ["before", "after"]
        assert o.routine == "maxpooling"
    text = term.text
    assert "compare: Octave" in text
    assert "[Octave in vTP 1 s, routine 1]  compare: Octave" in text
    assert "[Octave in vTP 2 s, routine 1]  compare: Octave" in text
    assert "maxpooling" in text


def test_timeout_names_the_routine():
    with OctaveSession(timeout=60) as o:
        with pytest.raises(OctaveTimeout, match=r"within 2 s \(--timeout\) \(in cnn_hang\)"):
            o.eval("disp('@@simplecnn-routine cnn_hang'); pause(30)", timeout=2)


def test_no_live_output_when_stderr_is_not_a_terminal(capsys):
    """CI logs: phase lines as plain lines, no status line, no bar; --quiet: nothing."""
    import io

    from simplecnn_harness.reports.progress import QUIET, progress_for

    log = io.StringIO()
    with progress_for(stream=log) as observer:
        observer("compare: phase one")
        assert not observer.live
        assert observer.bar([1, 2], total=2) == [1, 2]
        observer.routine("vTP")
    assert log.getvalue() == "compare: phase one\n"
    term = _FakeTerminal()
    with progress_for(quiet=True, stream=term) as observer:
        observer("compare: phase one")
        assert observer is QUIET and not observer.live
    assert term.text == ""


def test_status_line_paused_while_stderr_is_lent_out():
    """While Octave starts, fd 2 goes to a file (its noise is captured there):
    the status line must not be drawn into it."""
    from simplecnn_harness.reports.progress import progress_for

    term = _FakeTerminal()
    with progress_for(stream=term) as observer:
        observer("compare: Octave")
        time.sleep(0.7)
        with observer.paused():
            before = len(term.parts)
            time.sleep(1.3)
            assert len(term.parts) == before
    assert len(term.parts) > before
