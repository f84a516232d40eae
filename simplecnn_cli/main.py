"""simplecnn: the simpleNN CNN routines in Python, and a cross-checker against the MATLAB original under Octave.

Each sub-command is a module of this package with ``add_parser(sub)`` and
``run(args) -> int``.  Errors become one line and an exit code:
bad input or a broken environment exit 2, a parity failure exits 1.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from simplecnn_py.errors import EnvironmentProblem, InputError, ParityFailure

# sub-command name -> module of this package
COMMANDS = {
    "gradient": "gradient",
    "compare": "compare",
    "train": "train",
    "predict": "predict",
    "compare-train": "compare_train",
    "bench": "bench",
    "sweep": "sweep",
    "record": "record",
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
    parser = build_parser(only=argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
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
        print("simplecnn: interrupted", file=sys.stderr)
        return 130


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
