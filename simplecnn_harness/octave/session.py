"""One GNU Octave session per run, started and shut down cleanly.

    with OctaveSession(timeout=600) as octave:
        octave.addpath(folder)
        octave.eval("simplecnn_drive__('in.mat', 'out')")

The session is an oct2py ``Oct2Py`` instance (``octave.oct2py``): one
``octave-cli`` process behind a pty, driven by oct2py.  Each
:meth:`OctaveSession.eval` hands the code, wrapped in ``try``/``catch``, to
``Oct2Py.eval`` (which runs it with ``evalin('base', ...)``); the lines
Octave prints arrive one by one through oct2py's ``stream_handler`` and are
appended to :attr:`OctaveSession.output` as they come (``simplecnn
compare-train`` shows them live from another thread).  Big arrays never
travel through the session: the driver reads a .mat file written with scipy
and the recorder writes raw binary files.

What this module adds to oct2py:

* No Octave on the machine: ``EnvironmentProblem`` whose message says how to
  install it (``apt-get install octave`` or ``bash scripts/setup.sh``), one
  line.  ``find_octave()`` is asked first, so ``oct2py`` is not even imported
  then (importing it starts a default Octave session, and without Octave it
  prints a traceback).
* The import (once per Python process, at the first start):
  ``OCTAVE_EXECUTABLE`` is set to the ``octave-cli`` found, so the default
  session oct2py starts at import is a plain ``octave-cli`` (no X11/GUI
  warnings), and our settings are passed to it as ``OCT2PY_*`` variables.
  That fresh session becomes the first ``OctaveSession``'s Octave
  (``ADOPT_DEFAULT_SESSION``; else it is shut down at once with
  ``oct2py.octave.exit()``): one Octave start per run, one Octave running.
  Octave 7.3's ``octave-cli --eval`` prints ``error: ignoring const
  execution_exception& while preparing to exit`` on stderr each time oct2py
  checks the executable: stderr (fd 2) is captured around the import and each
  start, and only used for the message when the start fails.
* A call running longer than ``timeout`` seconds: a watchdog interrupts
  Octave (SIGINT, what oct2py's own timeout does); if Octave has not returned
  3 s later, the process group of the Octave this session started is killed
  (by its id).  Either way the session is ended and ``OctaveTimeout`` (an
  ``EnvironmentProblem``) is raised, so a hung Octave never hangs us.
  oct2py's own ``timeout`` is only a backstop: it counts from the last line
  Octave printed (a loop that keeps printing never reaches it), and a call it
  interrupts returns as if it had succeeded.
* Ctrl-C while Octave runs: oct2py's engine answers the KeyboardInterrupt by
  interrupting Octave and returns as if the call had ended; :meth:`eval`
  notices the SIGINT itself, ends the session and raises ``KeyboardInterrupt``
  (the command exits 130, as anywhere else).
* Progress: a line ``@@simplecnn-routine NAME`` (printed by the instrumented
  MATLAB tree on entering a recorded routine) is kept out of the output; the
  session remembers it (:attr:`OctaveSession.routine`, named in a time-out's
  message) and passes it to ``progress.routine`` for the live status line.
* An Octave error in a call: ``OctaveError`` with Octave's message on one
  line and the stack as ``[file, function, line]`` (our ``try``/``catch``
  prints them as marker lines, which are kept out of the output).
* Octave dying in a call: ``EnvironmentProblem`` (oct2py would silently start
  a new Octave: switched off on our instances).
* Octave asking for input: oct2py would answer from Python's stdin.  The
  Jupyter overrides octave_kernel puts on Octave's path (``input``,
  ``pause``, ``doc``, ...: ``pause(10)`` prints a notice there) are taken off
  it, so the code runs with Octave's own functions as in a plain Octave:
  ``input``/``keyboard``/``pause()`` wait on the pty until the timeout; a
  ``debug>`` prompt (a breakpoint) is answered with ``dbquit`` and raises
  ``OctaveError``.

Cost against the plain ``octave-cli`` pipe session this replaced (figures in
docs/harness.md): starting takes 0.4-0.5 s instead of 0.1-0.2 s (oct2py
checks the executable with a separate ``octave-cli --eval`` first), the first
start in a Python process about 1 s (importing oct2py, pydantic, metakernel
and starting its default session); a call costs 10-20 ms instead of 0.1 ms
(oct2py writes a small .mat request and reads a .mat response per call, and
sets the figure visibility); closing takes 0.1 s.
"""
from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
import uuid

from simplecnn_py.support.errors import EnvironmentProblem

from .processes import GRACE, StartWatch, Watchdog, kill_group, pid_alive, sigint_noted
from .quoting import quote

octave_quote = quote                      # the name training/replay.py imports

ROUTINE_MARK = "@@simplecnn-routine "     # what the instrumented tree prints on entering a recorded routine

INSTALL_HINT = "install it with `apt-get install octave` (or run `bash scripts/setup.sh`)"
HERE = os.path.dirname(os.path.abspath(__file__))
OCTAVE_HELPERS = HERE                      # the simplecnn_*__.m helpers sit beside this module
START_LIMIT = 120.0          # seconds for Octave to start
MAX_OUTPUT = 5000            # lines kept in OctaveSession.output
# stderr lines known to be harmless noise while oct2py starts or checks Octave
NOISE = ("ignoring const execution_exception", "X11 DISPLAY", "disabling GUI features")


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
    """A context manager around one Octave process, an oct2py ``Oct2Py``.

    The ``Oct2Py`` instance is ``self.oct2py`` (``None`` until :meth:`start`
    and after :meth:`close`); its ``push``/``pull``/``feval`` may be used for
    small values.  It is held, not subclassed: ``oct2py`` must not be
    imported before we know Octave is there, and ``Oct2Py`` turns any unknown
    attribute into an Octave function call.
    """

    def __init__(self, timeout: float | None = 600, executable: str | None = None, progress=None):
        self.timeout = timeout
        self.executable = executable or find_octave()
        # the progress observer (routine, octave_done, paused); None: today's
        # module-level status line of reports.progress (a transitional bridge)
        if progress is None or not hasattr(progress, "routine"):
            from ..reports.progress import QUIET     # no observer handed: no progress shown

            progress = QUIET
        self.progress = progress
        self.trees = 0                       # MATLAB trees run in this session (see tree_started)
        self.oct2py = None                   # the oct2py.Oct2Py instance
        self.output: list[str] = []          # what Octave printed (bounded)
        self.started_in = None               # seconds to start (the oct2py import included)
        self.routine = None                  # the recorded routine Octave last entered (progress marks)
        self._stdin_asked = None

    # -- life cycle -------------------------------------------------------------
    def start(self):
        t0 = time.perf_counter()
        exe = shutil.which(self.executable)
        if exe is None:
            raise EnvironmentProblem(f"cannot start GNU Octave ({self.executable}): no such program; "
                                     f"{INSTALL_HINT}")
        captured, failure, oc = [], None, None
        with StartWatch(exe, START_LIMIT) as watch, self.progress.paused(), _stderr_to(captured), _term_kept():
            try:
                oc = _new_oct2py(exe)
            except EnvironmentProblem:           # the oct2py package is missing
                raise
            except Exception as e:               # Oct2PyError, OSError, pexpect's EOF/TIMEOUT
                failure = e
        if failure is not None:
            if watch.fired:
                raise EnvironmentProblem(f"GNU Octave ({exe}) did not start within {START_LIMIT:g} s")
            # Octave's own last words on stderr if any (not noise, not a traceback), else oct2py's
            said = [x.strip() for x in "".join(captured).splitlines()
                    if x.strip() and x[0] not in " \t" and not x.startswith("Traceback")
                    and "Error:" not in x and not any(n in x for n in NOISE)]
            said = said or [x.strip() for x in str(failure).splitlines() if x.strip()] or ["it exited"]
            raise EnvironmentProblem(f"cannot start GNU Octave ({exe}): {said[-1]}; {INSTALL_HINT}")
        self.oct2py = oc
        oc.restart = _no_restart             # a dead Octave is an error, not restarted silently
        oc._handle_stdin = self._stdin       # oct2py would read Python's stdin
        try:
            kernel = quote(os.path.dirname(os.path.realpath(__import__("octave_kernel").__file__)))
            self.eval("more off; page_screen_output(false); page_output_immediately(true); "
                      f"if any(strcmp(strsplit(path, pathsep), '{kernel}')), rmpath('{kernel}'); end; "
                      f"addpath('{quote(OCTAVE_HELPERS)}');", timeout=START_LIMIT)
        except OctaveTimeout:
            raise EnvironmentProblem(f"GNU Octave ({exe}) did not start within {START_LIMIT:g} s") from None
        except BaseException:
            self.close()
            raise
        self.started_in = time.perf_counter() - t0
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def pid(self) -> int | None:
        """Process id of the Octave this session started (a process-group leader)."""
        return _pid(self.oct2py)

    def alive(self) -> bool:
        return _running(self.oct2py)

    def close(self):
        """Quit Octave (``Oct2Py.exit``); if it is still there after that,
        its process group is killed, by its id."""
        oc, self.oct2py = self.oct2py, None
        if oc is None:
            return
        pid, running = _pid(oc), _running(oc)
        try:
            oc.exit()
        except Exception:
            pass
        if pid is not None and running and pid_alive(pid):
            kill_group(pid)

    def _stdin(self, prompt):
        """Octave asked for keyboard input: never wait for it."""
        self._stdin_asked = str(prompt).strip()
        return "dbquit" if "debug>" in str(prompt) else ""

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
        # the code as one Octave string, its lines joined by char(10): eval runs it all
        text = " char(10) ".join(f"'{quote(x)}'" for x in str(code).replace("\r\n", "\n").split("\n"))
        block = (f"try\n eval([{text}]);\n"
                 f"catch simplecnn_err__\n"
                 f" fprintf('\\n<<ERR{tag}>>%s\\n', strrep(simplecnn_err__.message, sprintf('\\n'), '<NL>'));\n"
                 f" for simplecnn_k__ = 1:numel(simplecnn_err__.stack)\n"
                 f"  fprintf('<<AT{tag}>>%s\\t%s\\t%d\\n', simplecnn_err__.stack(simplecnn_k__).file, "
                 f"simplecnn_err__.stack(simplecnn_k__).name, simplecnn_err__.stack(simplecnn_k__).line);\n"
                 f" end\n"
                 f"end\n"
                 f"fprintf('\\n<<DONE{tag}>>\\n');\n")
        call = _Call(tag, self.output, self)
        self._stdin_asked = None
        self.routine = None
        watch = Watchdog(self.pid, limit)
        failure = None
        try:
            with sigint_noted() as sigint:
                # oct2py's timeout (per line of output) only as a backstop to the watchdog
                self.oct2py.eval(block, quiet=True, verbose=False, stream_handler=call.line,
                                 timeout=None if limit is None else limit + GRACE + 30)
        except Exception as e:                   # Oct2PyError, pexpect's EOF/TIMEOUT
            failure = e
        except BaseException:                    # KeyboardInterrupt: oct2py interrupted Octave
            watch.stop()
            self.progress.octave_done()
            self.close()
            raise
        watch.stop()
        self.progress.octave_done()
        if sigint.seen and not watch.fired:
            # Ctrl-C: octave_kernel interrupted Octave and swallowed the KeyboardInterrupt
            self.close()
            raise KeyboardInterrupt
        if watch.fired:
            self.close()
            where = f" (in {self.routine})" if self.routine else ""
            raise OctaveTimeout(f"Octave did not finish within {limit:g} s (--timeout){where}; it was stopped")
        if not self.alive():
            rc = self._exit_status()
            self.close()
            tail = " | ".join(x for x in call.printed[-3:] if x.strip())
            raise EnvironmentProblem("Octave exited unexpectedly" + (f" (status {rc})" if rc is not None else "")
                                     + (f": {tail}" if tail else ""))
        if failure is not None:
            # an error oct2py's own _pyeval caught (Octave is back at its prompt), else the
            # session is in an unknown state: end it
            if not isinstance(failure, _OCT2PY.Oct2PyError):
                self.close()
            raise OctaveError(_one_line(failure) or "the Octave call failed", call.where)
        if self._stdin_asked is not None:
            raise OctaveError(f"Octave stopped for keyboard input ({self._stdin_asked!r}, e.g. at a "
                              "breakpoint); the harness answered dbquit", call.where)
        if call.error is not None:
            raise OctaveError(call.error, call.where)
        if not call.done:
            raise OctaveError("Octave abandoned the call (interrupted)", call.where)
        printed = call.printed
        if printed and printed[-1] == "":
            printed.pop()
        return printed

    def tree_started(self) -> bool:
        """Count a MATLAB tree about to run here; True when another ran
        before it in this session (its functions must then be cleared)."""
        self.trees += 1
        return self.trees > 1

    def addpath(self, *folders):
        for f in folders:
            self.eval(f"addpath('{quote(f)}');", timeout=60)

    def rmpath(self, *folders):
        for f in folders:
            self.eval(f"rmpath('{quote(f)}');", timeout=60)

    def _exit_status(self):
        try:
            child = self.oct2py._engine.repl.child
            if child.isalive():
                return None
            return child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 0)
        except Exception:
            return None


class _Call:
    """The lines of one call, sorted out as they arrive (oct2py's stream_handler)."""

    def __init__(self, tag, output, session=None):
        self.err, self.at, self.end = f"<<ERR{tag}>>", f"<<AT{tag}>>", f"<<DONE{tag}>>"
        self.output = output
        self.session = session
        self.printed: list[str] = []
        self.error = None
        self.where: list[list[str]] = []
        self.done = False

    def line(self, text):
        for line in str(text).replace("\r\n", "\n").split("\n"):
            self._one(line.rstrip("\r"))

    def _one(self, line):
        if self.done:
            return
        if line.startswith(self.end):
            self.done = True
        elif line.startswith(self.err):
            self.error = "; ".join(p.strip() for p in line[len(self.err):].split("<NL>") if p.strip())
        elif line.startswith(self.at):
            frame = line[len(self.at):].split("\t")
            if not _is_oct2py_frame(frame):
                self.where.append(frame)
        elif line.startswith(ROUTINE_MARK):
            name = line[len(ROUTINE_MARK):].strip()
            if self.session is not None:
                self.session.routine = name
                self.session.progress.routine(name)
        else:
            self.printed.append(line)
            if len(self.output) < MAX_OUTPUT:
                self.output.append(line)


_OCT2PY = None
_OCT2PY_LOCK = threading.Lock()
# how every session's Oct2Py is set up (also given, as OCT2PY_* variables, to
# the default session oct2py starts at import, so that one can be the first)
SETTINGS = {"load_octaverc": False, "backend": "disable", "extra_cli_options": "--no-history --no-window-system"}
ADOPT_DEFAULT_SESSION = True


def _new_oct2py(exe):
    """A fresh ``Oct2Py`` running ``exe``.

    The first call imports oct2py, with ``OCTAVE_EXECUTABLE`` set to ``exe``
    (and our settings as ``OCT2PY_*`` variables) so the default session it
    starts at import is a plain ``octave-cli`` set up as ours.  That fresh
    session is the first one returned (``ADOPT_DEFAULT_SESSION``: one Octave
    start per run, not two); otherwise it is shut down at once
    (``oct2py.octave.exit()``).  Only one Octave stays up either way.
    """
    global _OCT2PY
    with _OCT2PY_LOCK:
        if _OCT2PY is None:
            os.environ["OCTAVE_EXECUTABLE"] = shlex.quote(exe)
            saved = {k: os.environ.get(k) for k in (f"OCT2PY_{n.upper()}" for n in SETTINGS)}
            os.environ.update({f"OCT2PY_{n.upper()}": str(v).lower() if isinstance(v, bool) else v
                               for n, v in SETTINGS.items()})
            fresh = "oct2py" not in sys.modules      # else its default session is someone else's
            try:
                with contextlib.redirect_stdout(io.StringIO()):   # "failed to create default session"
                    import oct2py
            except ImportError as e:
                raise EnvironmentProblem(f"the Python package oct2py is missing ({e}): "
                                         "run `.venv/bin/pip install oct2py`") from None
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            _OCT2PY = oct2py
            default = getattr(oct2py, "octave", None) if fresh else None   # absent when it failed
            if default is not None:
                if ADOPT_DEFAULT_SESSION and _set_up_as_ours(default, exe):
                    return default
                default.exit()
    return _OCT2PY.Oct2Py(executable=shlex.quote(exe), **SETTINGS)


def _set_up_as_ours(oc, exe) -> bool:
    try:
        s = oc.settings
        running = shlex.split(oc._engine.executable)[0]
        return (oc._engine.repl.child.isalive() and os.path.realpath(running) == os.path.realpath(exe)
                and all(getattr(s, n) == v for n, v in SETTINGS.items()))
    except Exception:
        return False


@contextlib.contextmanager
def _term_kept():
    """octave_kernel sets TERM=dumb in our own environment for its child."""
    term = os.environ.get("TERM")
    try:
        yield
    finally:
        if term is None:
            os.environ.pop("TERM", None)
        else:
            os.environ["TERM"] = term


@contextlib.contextmanager
def _stderr_to(captured: list):
    """Send fd 2 (Octave's and oct2py's stderr noise) to a temporary file;
    its text is appended to ``captured``."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:                      # no stderr at all: nothing to keep clean
        yield captured
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", errors="replace"))


def _no_restart(*args, **kwargs):
    """Replaces ``Oct2Py.restart`` on our instance: oct2py restarts a dead
    Octave by itself; we report it instead."""


def _running(oc) -> bool:
    try:
        return oc is not None and oc._engine is not None and bool(oc._engine.repl.child.isalive())
    except Exception:
        return False


def _pid(oc):
    try:
        return int(oc._engine.repl.child.pid)
    except Exception:
        return None


def _is_oct2py_frame(frame) -> bool:
    """The ``_pyeval`` frame oct2py's call adds at the bottom of every stack."""
    return bool(frame) and (frame[0].replace("\\", "/").rsplit("/", 1)[-1] == "_pyeval.m"
                            or (len(frame) > 1 and frame[1] == "_pyeval"))


def _one_line(text) -> str:
    lines = [x.strip() for x in str(text).splitlines() if x.strip()]
    lines = [x for x in lines if not x.startswith("Octave evaluation error")] or lines
    return "; ".join(lines[:2])
