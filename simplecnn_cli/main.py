"""simplecnn: the simpleNN CNN routines in Python, and a cross-checker against the MATLAB original under Octave.

Each sub-command is a module of this package with ``add_parser(sub)``
(built from the shared argument groups of ``args.py``) and ``run(args) ->
int``, which makes one library call (``simplecnn_harness.workflows``, or the
command's own library entry point).  The shared flags are checked here, once,
before ``run`` (``args.check``).  Errors become one line and an exit code:
bad input or a broken environment exit 2, a parity failure exits 1,
Ctrl-C exits 130 (Octave's phase included), and anything unexpected exits 3
with one line naming a log file that holds the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from simplecnn_py.support.errors import EnvironmentProblem, InputError, ParityFailure

# sub-command name -> module of this package
COMMANDS = {
    "gradient": "gradient",
    "compare": "compare",
    "train": "train",
    "predict": "predict",
    "compare-train": "compare_train",
    "bench": "bench",
    "check-gradient": "check_gradient",
    "sweep": "sweep",
    "record": "record",
    "export": "export",
    "import": "import_torch",
}


# sub-commands that start no Octave session and leave nothing behind: the
# console command ends their process without the interpreter's teardown
# (freeing every array, joining the thread pool, about 30 ms of a ~0.9 s
# `simplecnn gradient`); their output files are closed by then
QUICK_EXIT = {"gradient", "predict", "train"}


def _columns():
    """The terminal's width as ``shutil.get_terminal_size`` gives it: COLUMNS,
    else standard output's terminal, else 80."""
    try:
        if int(os.environ["COLUMNS"]) > 0:
            return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, sized to the terminal without importing
    ``shutil`` (argparse makes one for every ``add_argument``; ``shutil`` and
    what it imports are ~3 ms of every process)."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"simplecnn: error: {message}\n")


def _load(name):
    try:
        return importlib.import_module(f"simplecnn_cli.{COMMANDS[name]}")
    except ModuleNotFoundError as e:
        if e.name == f"simplecnn_cli.{COMMANDS[name]}":
            return None
        raise


def build_parser(only=None):
    """The parser; with ``only`` (a sub-command name) just that sub-command's
    module is imported, which keeps start-up short."""
    parser = _Parser(prog="simplecnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in ([only] if only in COMMANDS else COMMANDS):
        mod = _load(name)
        if mod is not None:
            mod.add_parser(sub)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(only=argv[0] if argv else None)
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        from simplecnn_cli import args as shared

        shared.check(args)                   # the shared flags' checks, one set for every command
        return int(_load(args.command).run(args) or 0)
    except InputError as e:
        print(f"simplecnn: error: {e.where}: {e.what}", file=sys.stderr)
        return 2
    except EnvironmentProblem as e:
        print(f"simplecnn: error: {e}", file=sys.stderr)
        return 2
    except ParityFailure as e:
        print(f"simplecnn: parity failure: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # on a terminal, a new line first: the ^C echo or a status line may be on the current one
        print(("\n" if _isatty(sys.stderr) else "") + "simplecnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                  # `simplecnn compare | head`: the reader left
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 2
    except MemoryError:
        print("simplecnn: error: out of memory (try fewer instances, --bsize, or single precision)",
              file=sys.stderr)
        return 2
    except Exception as e:                   # a defect of ours: one line, the traceback in a log
        print(f"simplecnn: internal error: {_one_line(e)}; traceback in {_log_traceback(argv)}",
              file=sys.stderr)
        return 3


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _one_line(e) -> str:
    text = " ".join(str(e).split())
    text = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _log_traceback(argv) -> str:
    """Write the current exception's traceback to a new log file; its path.

    The file goes to ``$XDG_STATE_HOME/simplecnn/`` when that variable names a
    folder we can write, else to the system's temporary folder
    (``simplecnn-XXXXXXXX.log``)."""
    import tempfile
    import time
    import traceback

    text = (f"simplecnn {' '.join(argv)}\n{time.strftime('%Y-%m-%d %H:%M:%S %z')}; Python {sys.version.split()[0]}"
            f"; cwd {os.getcwd()}\n\n{traceback.format_exc()}")
    folders = []
    if os.environ.get("XDG_STATE_HOME"):
        folders.append(os.path.join(os.environ["XDG_STATE_HOME"], "simplecnn"))
    folders.append(None)                     # tempfile's own choice
    for folder in folders:
        try:
            if folder:
                os.makedirs(folder, exist_ok=True)
            fd, path = tempfile.mkstemp(prefix="simplecnn-", suffix=".log", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return path
        except OSError:
            continue
    return "(no writable folder for the log)"


def cli():
    """The console command ``simplecnn``: ``main()``, then the process ends
    (at once, after flushing, for the ``QUICK_EXIT`` sub-commands)."""
    argv = sys.argv[1:]
    rc = main(argv)
    if argv and argv[0] in QUICK_EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


if __name__ == "__main__":
    sys.exit(cli())
