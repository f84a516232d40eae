"""Watchers of the Octave session (``session.py``) and the process helpers they use.

* :class:`_Watchdog`: a call's deadline; at it Octave is interrupted (SIGINT),
  ``GRACE`` seconds later its process group killed (by the leader's id).
* :class:`_StartWatch`: ``Oct2Py()`` has no time limit; past it, the Octave
  processes this Python process started meanwhile are ended (by their ids).
* :func:`_sigint_noted`: notes a Ctrl-C arriving during a call, which
  octave_kernel would otherwise swallow.
* ``_kill_group``, ``_pid_alive``, ``_children``, ``_descendants``: Linux
  ``/proc`` and signals, never a process chosen by its name.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading

GRACE = 3.0                  # seconds between the interrupt and the kill on a timeout


class _SigintSeen:
    seen = False


@contextlib.contextmanager
def _sigint_noted():
    """Note a SIGINT (Ctrl-C) arriving meanwhile, then let Python's handler
    raise ``KeyboardInterrupt`` as usual.  Only in the main thread (where
    signal handlers live); elsewhere nothing is noted."""
    seen = _SigintSeen()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if previous == signal.SIG_IGN:
            return
        seen.seen = True
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except (ValueError, OSError):
        yield seen
        return
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)



class _Watchdog:
    """At the deadline: interrupt Octave; ``GRACE`` seconds later, kill its group."""

    def __init__(self, pid, limit):
        self.fired = False
        self._done = threading.Event()
        if pid is not None and limit is not None:
            self._pid, self._limit = pid, max(0.0, float(limit))
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        if self._done.wait(self._limit):
            return
        self.fired = True
        with contextlib.suppress(OSError):
            os.kill(self._pid, signal.SIGINT)
        if self._done.wait(GRACE):
            return
        _kill_group(self._pid)

    def stop(self):
        self._done.set()


class _StartWatch:
    """Oct2Py() has no time limit of its own: past ``limit`` seconds, end the
    Octave processes this Python process started meanwhile (by their ids)."""

    def __init__(self, exe, limit):
        self.exe, self.limit, self.fired = os.path.realpath(exe), limit, False
        self._done = threading.Event()
        self._before = set(_children())

    def __enter__(self):
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._done.set()

    def _run(self):
        if self._done.wait(self.limit):
            return
        self.fired = True
        while True:                          # oct2py may try again: until the start gives up
            self._end_new_children()
            if self._done.wait(0.5):
                return

    def _end_new_children(self):
        for pid in set(_children()) - self._before:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().decode(errors="replace").split("\0")[:2]   # [interpreter,] program
            except OSError:
                continue
            if any(a and os.path.realpath(shutil.which(a) or a) == self.exe for a in args):
                for p in _descendants(pid)[::-1] + [pid]:     # a wrapper script's children too
                    _kill_group(p)



def _pid_alive(pid) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _kill_group(pid):
    """End the process group of the Octave we started (its leader's id)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            continue


def _parents():
    """{pid: parent pid} of every process (Linux /proc; empty elsewhere)."""
    out = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    out[int(name)] = int(f.read().decode(errors="replace").rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return out


def _children():
    """Ids of this process's children."""
    me = os.getpid()
    return [p for p, parent in _parents().items() if parent == me]


def _descendants(pid):
    """Ids of the processes descending from ``pid``, parents before children."""
    parents, out, todo = _parents(), [], [pid]
    while todo:
        kids = [p for p, parent in parents.items() if parent == todo[0]]
        out += kids
        todo = todo[1:] + kids
    return out


