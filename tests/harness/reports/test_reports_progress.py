"""The progress observer (reports/progress.py): quiet draws nothing, a log
gets plain lines, a terminal a status line naming the Octave routine; each
observer keeps its own state (two at once do not mix)."""
import io
import time

from simplecnn_harness.reports.progress import QUIET, Lines, NullBar, Terminal, progress_for


class Tty(io.StringIO):
    def isatty(self):
        return True

    def fileno(self):
        raise OSError("no descriptor")


def test_the_observer_is_picked_by_quiet_and_the_stream():
    assert progress_for(quiet=True, stream=Tty()) is QUIET
    assert type(progress_for(stream=io.StringIO())) is Lines
    assert type(progress_for(stream=Tty())) is Terminal


def test_quiet_and_lines():
    with QUIET as q:
        q.phase("nothing")
        q.routine("vTP")
        assert q.bar([1, 2]) == [1, 2] and isinstance(q.bar(total=3), NullBar)
    log = io.StringIO()
    with Lines(log) as p:
        p.phase("compare: one")
        p("compare: two")                      # a plain say(text) callable too
        p.routine("vTP", 3.0)
        p.write("a line")
        assert p.bar([1, 2], total=2) == [1, 2] and not p.live
    assert log.getvalue() == "compare: one\ncompare: two\na line\n"


def test_terminal_status_names_the_routine_and_two_observers_do_not_mix():
    a, b = Tty(), Tty()
    with Terminal(a) as one, Terminal(b) as two:
        one.phase("compare: Octave")
        two.phase("sweep: other")
        one.routine("vTP", elapsed=2.0)
        assert one.text().endswith("[Octave in vTP 2 s, routine 1]  compare: Octave")
        assert two.text().endswith("sweep: other") and "Octave in" not in two.text()
        bar = one.bar(total=4, desc="stages", unit="stage")
        bar.update(4)
        bar.close()
        time.sleep(0.6)                        # one tick of the status line
        one.octave_done()
        assert "Octave in" not in one.text()
    assert "compare: Octave" in a.getvalue() and "sweep: other" not in a.getvalue()
    assert "stages:" in a.getvalue() and "/4 [" in a.getvalue()        # the bar, drawn on the same terminal
    assert "compare: Octave" not in b.getvalue()


def test_terminal_draws_nothing_while_paused():
    term = Tty()
    with Terminal(term) as t:
        t.phase("compare: Octave")
        with t.paused():
            before = len(term.getvalue())
            time.sleep(1.1)
            assert len(term.getvalue()) == before
