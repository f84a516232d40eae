"""Progress on stderr for long runs, as an observer handed to the work.

The command line makes one observer and passes it to the library call; the
parts that report progress (the Octave session, the sources, the sweep, the
training runs) call its methods and never look at the terminal themselves::

    progress = progress_for(quiet=args.quiet)     # QUIET, Lines or Terminal
    with progress:
        run_compare(opts, progress=progress)

The observer's methods:

* ``phase(text)`` -- a new phase of the run: its line is printed, and on a
  terminal a status line counts the phase's seconds (``observer(text)`` is
  the same call, for code that takes a plain ``say(text)`` callable);
* ``write(text)`` -- a line of output above the status line;
* ``bar(iterable=None, total=None, desc="", unit="it")`` -- count, rate and
  time left (tqdm) on a terminal; elsewhere the iterable itself, or with no
  iterable a handle whose ``update``/``set_postfix_str``/``close`` do nothing;
* ``routine(name, elapsed=None)`` -- the Octave side entered the recorded
  MATLAB routine ``name`` (the instrumented tree prints
  ``@@simplecnn-routine NAME``; the session strips such lines from the
  output); the status line shows it with the seconds spent in it;
* ``octave_done()`` -- an Octave call returned (no routine runs any more);
* ``paused()`` -- a context in which nothing is drawn (the session lends
  fd 2 to a file while Octave starts);
* ``live`` -- True when a status line is drawn.

Three observers: :data:`QUIET` (``--quiet``: nothing at all), :class:`Lines`
(standard error is a file or a pipe, as in CI logs: the phase lines as plain
lines, no status line and no bars) and :class:`Terminal` (standard error is a
terminal: a status line redrawn twice a second by a thread, so a routine that
hangs still shows the clock ticking, and tqdm bars).  :func:`progress_for`
picks one.  tqdm is imported only when something is drawn (``simplecnn
--help`` stays fast).
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time

TICK = 0.5                                # seconds between redraws of the status line


def stderr_is_terminal(stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class NullBar:
    """A bar that draws nothing (off a terminal, or quiet)."""
    n = 0
    total = None

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, text="", refresh=True):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Progress:
    """The observer that reports nothing: the base of the others, and
    :data:`QUIET`.  A context manager (entering starts nothing; leaving
    stops whatever a subclass drew)."""
    live = False

    def phase(self, text: str) -> None:
        pass

    def __call__(self, text: str) -> None:
        self.phase(text)

    def write(self, text: str) -> None:
        pass

    def bar(self, iterable=None, total=None, desc="", unit="it"):
        return NullBar() if iterable is None else iterable

    def routine(self, name: str, elapsed: float | None = None) -> None:
        pass

    def octave_done(self) -> None:
        pass

    @contextlib.contextmanager
    def paused(self):
        yield

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


QUIET = Progress()


class Lines(Progress):
    """Standard error is not a terminal: phases and lines as plain lines."""

    def __init__(self, stream=None):
        self.stream = sys.stderr if stream is None else stream

    def phase(self, text):
        print(text, file=self.stream, flush=True)

    def write(self, text):
        print(text, file=self.stream, flush=True)


class Terminal(Lines):
    """Standard error is a terminal: a status line (see :meth:`text`) from the
    first phase on, redrawn by a thread; tqdm bars for counted work."""
    live = True

    def __init__(self, stream=None):
        super().__init__(stream)
        self.phase_text, self.t_phase = "", time.monotonic()
        self.routine_name, self.t_routine = None, None
        self.routines = 0
        self.held = 0                     # > 0 while standard error is lent out (see paused())
        self._lock = threading.Lock()
        self._status = None               # the status line's tqdm, made by the first phase
        self._stop = threading.Event()
        self._thread = None

    # -- the status line --------------------------------------------------------
    def text(self) -> str:
        """``  12 s  [Octave in vTP 3 s, routine 4]  PHASE``: the clock first, so that a
        narrow terminal cuts the phase's text, not the time."""
        now = time.monotonic()
        out = f"{now - self.t_phase:5.0f} s  "
        if self.routine_name:
            out += f"[Octave in {self.routine_name} {now - self.t_routine:.0f} s, routine {self.routines}]  "
        return out + self.phase_text

    def _start(self):
        from tqdm import tqdm

        # tqdm writes through a plain wrapper: handed sys.stderr itself, tqdm 4.67-4.70 drew
        # nothing on a fresh pty here (seen under `script`), while the wrapper draws
        self._status = tqdm(total=None, file=TerminalStream(self.stream), leave=False,
                            ncols=terminal_width(self.stream), bar_format="{desc}", desc="")
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    def redraw(self):
        with self._lock:
            if self._status is not None and not self.held:
                self._status.ncols = terminal_width(self.stream)
                self._status.set_description_str(self.text(), refresh=True)

    def _tick(self):
        while not self._stop.wait(TICK):
            self.redraw()

    # -- the observer -----------------------------------------------------------
    def phase(self, text):
        """A new phase: its line printed above the status line, the clock restarted."""
        with self._lock:
            if self._status is None and not self._stop.is_set():
                self._start()
            if self._status is not None:
                self._status.write(text, file=self.stream)
            else:                         # closed: a plain line
                print(text, file=self.stream, flush=True)
            self.phase_text, self.t_phase = text, time.monotonic()
            self.routine_name = None
        self.redraw()

    def write(self, text):
        """A line above the status line and the bars (tqdm clears and redraws them)."""
        from tqdm import tqdm

        with self._lock:
            tqdm.write(text, file=self.stream)

    def routine(self, name, elapsed=None):
        """Noted only; the next tick draws it (a routine entered thousands of
        times costs no terminal output each time)."""
        with self._lock:
            self.routine_name = name
            self.t_routine = time.monotonic() - (elapsed or 0.0)
            self.routines += 1

    def octave_done(self):
        with self._lock:
            self.routine_name = None

    @contextlib.contextmanager
    def paused(self):
        with self._lock:
            self.held += 1
        try:
            yield
        finally:
            with self._lock:
                self.held -= 1
            self.redraw()

    def bar(self, iterable=None, total=None, desc="", unit="it"):
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, file=TerminalStream(self.stream), leave=False,
                    ncols=terminal_width(self.stream))

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            status, self._status = self._status, None
        if status is not None:
            status.close()


class TerminalStream:
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


def terminal_width(stream) -> int:
    """The terminal's columns (80 when it reports none, as a fresh pty does)."""
    import os

    try:
        cols = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        cols = 0
    return cols if cols > 0 else 80


def progress_for(quiet=False, stream=None) -> Progress:
    """The observer of one command: :data:`QUIET` with ``--quiet``, a
    :class:`Terminal` when ``stream`` (standard error) is a terminal, else
    :class:`Lines`."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        return QUIET
    return Terminal(stream) if stderr_is_terminal(stream) else Lines(stream)
