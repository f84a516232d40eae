"""One GNU Octave session per run, started and shut down cleanly.

    with OctaveSession(timeout=600) as octave:
        octave.addpath(folder)
        octave.eval("simplecnn_drive__('in.mat', 'out')")

The session is one ``octave-cli`` process talking over pipes: each
:meth:`OctaveSession.eval` sends the code wrapped in ``try``/``catch`` and
waits for a sentinel line.  (We do not use oct2py's session: importing the
``oct2py`` package starts a default Octave process of its own, a second
Octave and about a second per run, and its pty wrapper prints noise at
exit.  Big arrays never travel through the session anyway: the driver reads
a .mat file written with scipy and the recorder writes raw binary files.)

* No Octave on the machine: ``EnvironmentProblem`` whose message says how to
  install it (``apt-get install octave`` or ``bash scripts/setup.sh``).
* A call running longer than ``timeout`` seconds: the Octave process (the one
  this session started, by its process-group id) is ended and
  ``OctaveTimeout`` (an ``EnvironmentProblem``) is raised, so a hung Octave
  never hangs us.
* An Octave error in a call: ``OctaveError`` with Octave's message on one line.
"""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import uuid

from simplecnn_py.errors import EnvironmentProblem

INSTALL_HINT = "install it with `apt-get install octave` (or run `bash scripts/setup.sh`)"
HERE = os.path.dirname(os.path.abspath(__file__))
OCTAVE_HELPERS = os.path.join(HERE, "octave")


class OctaveTimeout(EnvironmentProblem):
    """Octave did not finish in time."""


class OctaveError(EnvironmentProblem):
    """Octave raised an error: ``message`` (one line) and ``stack``, a list of
    ``[file, function, line]`` from the innermost call outwards."""

    def __init__(self, message, stack=()):
        self.message = message
        self.stack = [list(s) for s in stack]
        super().__init__(message)

    def __str__(self):
        return self.message


def find_octave() -> str:
    """Path of ``octave-cli`` (or ``octave``); ``EnvironmentProblem`` when absent."""
    exe = os.environ.get("SIMPLECNN_OCTAVE") or shutil.which("octave-cli") or shutil.which("octave")
    if not exe:
        raise EnvironmentProblem(f"GNU Octave is not installed (no octave-cli on PATH): {INSTALL_HINT}")
    return exe


class OctaveSession:
    """A context manager around one Octave process."""

    def __init__(self, timeout: float | None = 600, executable: str | None = None):
        self.timeout = timeout
        self.executable = executable or find_octave()
        self.proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self.output: list[str] = []          # what Octave printed (bounded)
        self.started_in = None               # seconds to start

    # -- life cycle -------------------------------------------------------------
    def start(self):
        t0 = time.perf_counter()
        cmd = [self.executable, "--no-gui", "--quiet", "--no-init-file", "--no-history",
               "--no-window-system"]
        if os.path.basename(self.executable) != "octave-cli":
            cmd.insert(1, "--no-line-editing")
        env = dict(os.environ, TERM="dumb")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
        except OSError as e:
            raise EnvironmentProblem(f"cannot start GNU Octave ({self.executable}): {e.strerror or e}; "
                                     f"{INSTALL_HINT}") from None
        threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True).start()
        try:
            self.eval("more off; page_screen_output(false); page_output_immediately(true);", timeout=120)
        except OctaveTimeout:
            raise EnvironmentProblem(f"GNU Octave ({self.executable}) did not start within 120 s") from None
        self.addpath(OCTAVE_HELPERS)
        self.started_in = time.perf_counter() - t0
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        """Quit Octave; if it does not go within 5 s, end the process we started."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.stdin.write(b"\nexit(0);\n")
                proc.stdin.flush()
                proc.stdin.close()
                proc.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        _end(proc)

    def _reader(self, stream):
        for raw in iter(stream.readline, b""):
            self._lines.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        self._lines.put(None)

    # -- calls ------------------------------------------------------------------
    def eval(self, code: str, timeout: float | None = None) -> list[str]:
        """Run Octave code; returns the lines it printed.

        Errors and timeouts become one-line exceptions (``OctaveError``,
        ``OctaveTimeout``).
        """
        if not self.alive():
            raise EnvironmentProblem("the Octave session is not running")
        limit = self.timeout if timeout is None else timeout
        tag = uuid.uuid4().hex[:12]
        block = (f"try\n eval('{_q(code)}');\n"
                 f"catch simplecnn_err__\n"
                 f" fprintf('\\n<<ERR{tag}>>%s\\n', strrep(simplecnn_err__.message, sprintf('\\n'), '<NL>'));\n"
                 f" for simplecnn_k__ = 1:numel(simplecnn_err__.stack)\n"
                 f"  fprintf('<<AT{tag}>>%s\\t%s\\t%d\\n', simplecnn_err__.stack(simplecnn_k__).file, "
                 f"simplecnn_err__.stack(simplecnn_k__).name, simplecnn_err__.stack(simplecnn_k__).line);\n"
                 f" end\n"
                 f"end\n"
                 f"fprintf('\\n<<DONE{tag}>>\\n'); fflush(stdout);\n")
        try:
            self.proc.stdin.write(block.encode("utf-8"))
            self.proc.stdin.flush()
        except OSError:
            raise EnvironmentProblem("Octave exited unexpectedly (its input pipe is closed)") from None
        deadline = None if limit is None else time.monotonic() + limit
        printed, error, where = [], None, []
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                line = self._lines.get(timeout=wait)
            except queue.Empty:
                self._kill()
                raise OctaveTimeout(f"Octave did not finish within {limit:g} s (--timeout); "
                                    "it was stopped") from None
            if line is None:
                rc = self.proc.poll() if self.proc else None
                self._kill()
                tail = " | ".join(x for x in printed[-3:] if x.strip())
                raise EnvironmentProblem(f"Octave exited unexpectedly (status {rc})"
                                         + (f": {tail}" if tail else ""))
            if line.startswith(f"<<DONE{tag}>>"):
                break
            if line.startswith(f"<<ERR{tag}>>"):
                error = "; ".join(p.strip() for p in line[len(tag) + 7:].split("<NL>") if p.strip())
                continue
            if line.startswith(f"<<AT{tag}>>"):
                where.append(line[len(tag) + 6:].split("\t"))
                continue
            printed.append(line)
            if len(self.output) < 5000:
                self.output.append(line)
        if printed and printed[-1] == "":
            printed.pop()
        if error is not None:
            raise OctaveError(error, where)
        return printed

    def addpath(self, *folders):
        for f in folders:
            self.eval(f"addpath('{_q(f)}');", timeout=60)

    def rmpath(self, *folders):
        for f in folders:
            self.eval(f"rmpath('{_q(f)}');", timeout=60)

    def _kill(self):
        proc, self.proc = self.proc, None
        if proc is not None:
            _end(proc)


def _end(proc: subprocess.Popen):
    """End the Octave process group this session started (by its id)."""
    if proc.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                proc.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                continue
    for s in (proc.stdin, proc.stdout):
        try:
            if s is not None:
                s.close()
        except OSError:
            pass


def _q(s) -> str:
    return str(s).replace("'", "''")
