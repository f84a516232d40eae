"""Progress on stderr for long runs: a live status line and tqdm bars.

    with progress.live(quiet=args.quiet) as say:     # say(text): a phase line
        say("compare: Octave, seed layout")          # the status line now counts its seconds
        for item in progress.bar(items, desc="stages"):   # count, rate, time left
            ...

Live output is drawn only when standard error is a terminal and ``--quiet``
was not given: logs of CI runs (stderr a file or a pipe) get the phase lines
as plain lines and no bars.  While a phase runs, one status line (a tqdm
bar without a total) shows its text and the seconds elapsed, redrawn twice
a second by a thread, so a routine that hangs still shows the clock ticking.

The Octave session (``session.py``) reports here which recorded MATLAB
routine the code is in: the instrumented MATLAB tree prints
``@@simplecnn-routine NAME`` on entering a recorded routine; the session
keeps such lines out of the output and calls :func:`routine` with NAME,
which the status line shows with the seconds spent in it.

tqdm is imported only when something is drawn (``simplecnn --help`` stays fast).
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time

ROUTINE_MARK = "@@simplecnn-routine "     # what the Octave side prints on entering a recorded routine
TICK = 0.5                                # seconds between redraws of the status line

_active = None                            # the _Live of the running command, if drawing


def stderr_is_terminal(stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class _Live:
    """The status line (see :meth:`text`)."""

    def __init__(self, stream):
        from tqdm import tqdm

        self.stream = stream
        self.phase, self.t_phase = "", time.monotonic()
        self.routine_name, self.t_routine = None, None
        self.routines = 0
        self.paused = 0                   # > 0 while standard error is lent out (see paused())
        self._lock = threading.Lock()
        # tqdm writes through a plain wrapper: handed sys.stderr itself, tqdm 4.67-4.70 drew
        # nothing on a fresh pty here (seen under `script`), while the wrapper draws
        self._bar = tqdm(total=None, file=_Stream(stream), leave=False, ncols=_width(stream),
                         bar_format="{desc}", desc="")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    def text(self) -> str:
        """``  12 s  [Octave in vTP 3 s, routine 4]  PHASE``: the clock first, so that a
        narrow terminal cuts the phase's text, not the time."""
        now = time.monotonic()
        out = f"{now - self.t_phase:5.0f} s  "
        if self.routine_name:
            out += f"[Octave in {self.routine_name} {now - self.t_routine:.0f} s, routine {self.routines}]  "
        return out + self.phase

    def redraw(self):
        with self._lock:
            if self._bar is not None and not self.paused:
                self._bar.ncols = _width(self.stream)
                self._bar.set_description_str(self.text(), refresh=True)

    def _tick(self):
        while not self._stop.wait(TICK):
            self.redraw()

    def say(self, text):
        """A new phase: its line printed above the status line, the clock restarted."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            self.phase, self.t_phase = text, time.monotonic()
            self.routine_name = None
        self.redraw()

    def routine(self, name):
        """Noted only; the next tick draws it (a routine entered thousands of
        times costs no terminal output each time)."""
        with self._lock:
            self.routine_name, self.t_routine = name, time.monotonic()
            self.routines += 1

    def octave_done(self):
        with self._lock:
            self.routine_name = None

    def write(self, text):
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:
            bar, self._bar = self._bar, None
        if bar is not None:
            bar.close()


class _Stream:
    """``stream`` behind a minimal file interface (write, flush, isatty, fileno)."""

    def __init__(self, stream):
        self._s = stream

    def write(self, text):
        return self._s.write(text)

    def flush(self):
        self._s.flush()

    def isatty(self):
        return True

    def fileno(self):
        return self._s.fileno()


def _width(stream) -> int:
    """The terminal's columns (80 when it reports none, as a fresh pty does)."""
    import os

    try:
        cols = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        cols = 0
    return cols if cols > 0 else 80


@contextlib.contextmanager
def live(quiet=False, stream=None):
    """Progress for one command; yields ``say(text)`` (``None`` when quiet).

    Drawn live when ``stream`` (standard error) is a terminal; else ``say``
    prints its text as a plain line and nothing else is drawn."""
    global _active
    stream = sys.stderr if stream is None else stream
    if quiet:
        yield None
        return
    if not stderr_is_terminal(stream):
        yield lambda text: print(text, file=stream, flush=True)
        return
    status = _Live(stream)
    previous, _active = _active, status
    try:
        yield status.say
    finally:
        _active = previous
        status.close()


def active() -> bool:
    """True while a live status line is drawn."""
    return _active is not None


def routine(name):
    """The Octave side entered the recorded routine ``name``."""
    if _active is not None:
        _active.routine(name)


def octave_done():
    """An Octave call returned (no routine is running any more)."""
    if _active is not None:
        _active.octave_done()


def write(text, stream=None):
    """A line of output above the status line (plain, when none is drawn)."""
    if _active is not None:
        _active.write(text)
    else:
        print(text, file=sys.stderr if stream is None else stream, flush=True)


@contextlib.contextmanager
def paused():
    """No redraw meanwhile: the session sends fd 2 to a file while Octave
    starts, and the status line must not land there (nor in a message
    made from it)."""
    live_now = _active
    if live_now is None:
        yield
        return
    with live_now._lock:
        live_now.paused += 1
    try:
        yield
    finally:
        with live_now._lock:
            live_now.paused -= 1
        live_now.redraw()


def bar(iterable=None, total=None, desc="", unit="it"):
    """``tqdm(iterable)`` (count, rate, time left) while a live status is
    drawn, else ``iterable`` itself (with no iterable: a bar to ``update`` by
    hand, or None)."""
    if _active is None:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=_Stream(_active.stream), leave=False,
                ncols=_width(_active.stream))
