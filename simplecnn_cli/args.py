"""The argument groups every sub-command is built from, and their one set of checks.

A sub-command adds the groups it takes (``inputs``, ``output``/``json``/
``html``, ``tolerance``, ``seed``, ``timeout``, ``precision``, ``quiet``);
``main`` calls :func:`check` on the parsed arguments before the command's
``run``, so a flag means the same thing, and is refused with the same one
line, in every command that has it:

* ``--seed S``: an integer in [0, 2^32), the seeds MATLAB's ``rng`` takes
  (the original's ``cnn_train`` seeds its draws with it; a trace or an
  emitted script hands it to MATLAB);
* ``--rtol TOL`` (``--tol``, its older spelling, still read): a positive
  relative tolerance;
* ``--timeout SEC`` (``--octave-timeout``, its older spelling, still read):
  a positive number of seconds;
* ``--instances N``: a positive number (each of them, where several are given);
* every output file (``--json``, ``--html``, ``--out``, ``--model``, ...):
  writable before any work starts -- the folder exists and takes a new
  file, an existing file may be replaced, no two outputs name one file;
* ``--quiet``: no progress on stderr.

A new flag shared by several commands is one function here and one line in
each command's ``add_parser``.
"""
from __future__ import annotations

import argparse

OUTPUTS = "shared_outputs"        # the Namespace attribute listing a command's output flags

SEED_LIMIT = 2**32


# -- inputs ----------------------------------------------------------------------------
def config(p, required=False, help="simpleNN config file"):
    p.add_argument("--config", required=required, metavar="CFG", help=help)


def data(p, required=False, help="MAT file with y (l x 1) and Z (l x a*b*d)", metavar="DATA.mat"):
    p.add_argument("--data", required=required, metavar=metavar, help=help)


def weights(p, required=False, help="MAT file with weight and bias, L x 1 cells (default: He init from --seed)"):
    p.add_argument("--weights", required=required, metavar="W.mat", help=help)


def rowmajor(p, help="images in Z are stored row-major (the shipped MNIST demo files)"):
    p.add_argument("--rowmajor", action="store_true", help=help)


def instances(p, help="use the first N instances", **kw):
    p.add_argument("--instances", type=int, metavar="N", help=help, **kw)


def matlab_dir(p, help="simpleNN MATLAB tree (DIR or DIR/MATLAB; default: the embedded matlab_ref/seed)"):
    p.add_argument("--matlab-dir", metavar="DIR", default=None, help=help)


def inputs(p, *, trace_defaults=False):
    """The inputs of one run of a MATLAB tree beside the port (``compare``,
    ``record``): ``--matlab-dir``, ``--config``, ``--data``, ``--weights``,
    ``--instances``, ``--precision``, ``--seed``, ``--timeout``.
    ``trace_defaults``: precision and seed default to None, for a trace's
    values to fill them."""
    or_trace = ", or the trace's" if trace_defaults else ""
    matlab_dir(p)
    config(p, help="simpleNN config file (default: the bundled 4-layer MNIST demo config)")
    data(p, help="simpleNN data file, used as it is (y, Z); default: seeded random images")
    weights(p, help="weight and bias, L x 1 cells (default: He init from --seed)")
    instances(p, help="use the first N instances (default: all of --data, or 64 generated)")
    precision(p, default=None if trace_defaults else "double",
              help=f"working precision of both sides (default double{or_trace})")
    seed(p, default=None if trace_defaults else 0,
         help=f"seed of the He init and of generated data (default 0{or_trace})")
    timeout(p)


# -- outputs ---------------------------------------------------------------------------
def output(p, flag, metavar, help, required=False, prefix_of=None, group=None):
    """An output file: ``flag`` is checked writable before the run.  With
    ``prefix_of`` (suffixes), the value is a prefix and each PREFIX+suffix is
    checked."""
    (group or p).add_argument(flag, metavar=metavar, required=required, help=help)
    listed = list(p.get_default(OUTPUTS) or [])
    p.set_defaults(**{OUTPUTS: listed + [(flag, tuple(prefix_of or ("",)))]})


def json(p, help="write the result as JSON"):
    output(p, "--json", "FILE", help)


def html(p, help="write a self-contained HTML report"):
    output(p, "--html", "FILE", help)


# -- the shared settings ---------------------------------------------------------------
def tolerance(p, default, help):
    """``--rtol`` (and ``--tol``, hidden, the older spelling of compare-train)."""
    p.add_argument("--rtol", type=float, default=default, metavar="TOL", help=help)
    p.add_argument("--tol", type=float, dest="rtol", help=argparse.SUPPRESS)


def seed(p, default=0, help="seed of the He initialisation without --weights (default 0)", required=False):
    p.add_argument("--seed", type=int, default=default, required=required, metavar="S", help=help)


def timeout(p, default=600.0, help="stop Octave after SEC seconds (default 600)"):
    """``--timeout`` (and ``--octave-timeout``, hidden, the older spelling of bench)."""
    p.add_argument("--timeout", type=float, default=default, metavar="SEC", help=help)
    p.add_argument("--octave-timeout", type=float, dest="timeout", help=argparse.SUPPRESS)


def precision(p, default="double", help="floating-point precision, end to end (default double)", nargs=None):
    p.add_argument("--precision", choices=("double", "single"), default=default, nargs=nargs, help=help)


def quiet(p, help="no progress on stderr"):
    p.add_argument("--quiet", action="store_true", help=help)


def strict(p, what="run"):
    """``--strict``: a network the original simpleNN cannot ``what`` (run,
    train) refused instead of a warning."""
    p.add_argument("--strict", action="store_true",
                   help=f"refuse (exit 2) a network the original simpleNN cannot {what}, instead of a warning "
                        f"(docs/migration-guide.md, quirks)")


# -- the checks ------------------------------------------------------------------------
def check(args):
    """InputError (one line, exit 2) for a value no run can take; every
    output checked writable.  Called by ``main`` before the command runs."""
    from simplecnn_py.support.errors import InputError

    seed_ = getattr(args, "seed", None)
    if seed_ is not None and not 0 <= seed_ < SEED_LIMIT:
        raise InputError("--seed", f"must be an integer in [0, 2^32), not {seed_}")
    timeout_ = getattr(args, "timeout", None)
    if timeout_ is not None and not timeout_ > 0:
        raise InputError("--timeout", f"must be a positive number of seconds, not {timeout_:g}")
    counts = getattr(args, "instances", None)
    for n in counts if isinstance(counts, list) else [counts]:
        if n is not None and n < 1:
            raise InputError("--instances", f"must be a positive number, not {n}")
    rtol = getattr(args, "rtol", None)
    if rtol is not None and not rtol > 0:
        raise InputError("--rtol", f"must be a positive tolerance, not {rtol:g}")
    seen = {}
    for flag, suffixes in getattr(args, OUTPUTS, None) or ():
        value = getattr(args, flag[2:].replace("-", "_"), None)
        for path in ([value + s for s in suffixes] if value else []):
            writable(flag, path)
            key = _absolute(path)
            if key in seen:
                raise InputError(flag, f"{path} is also the {seen[key]} file; name two different files")
            seen[key] = flag


def writable(flag, path):
    """The file can be written: not a folder, its folder exists and takes a
    new file (one is made and removed), an existing file may be replaced."""
    import os
    import tempfile

    from simplecnn_py.support.errors import InputError

    if os.path.isdir(path):
        raise InputError(flag, f"{path} is a directory; name the file to write")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(flag, f"cannot write {path}: folder {folder} does not exist")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise InputError(flag, f"cannot write {path}: the file is read-only")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".simplecnn-check-", suffix=".tmp"):
            pass
    except OSError as e:
        raise InputError(flag, f"cannot write {path}: folder {folder} takes no new file "
                               f"({e.strerror or e})") from None


def _absolute(path):
    import os

    return os.path.abspath(path)


# -- the reproduce line ----------------------------------------------------------------
def reproduce(command, args, names, *, paths=(), defaults=None) -> str:
    """The one shell command (quoted) that gives this report again: the
    options ``names`` (in that order) as given, those left at ``defaults``
    omitted, the ``paths`` made absolute.  A flag (True) stands alone; a list
    repeats its option; a value starting with '-' is joined with '='."""
    import os
    import shlex

    defaults = defaults or {}
    words = ["simplecnn", command]
    for name in names:
        value = getattr(args, name, None)
        if value is None or value is False or (name in defaults and value == defaults[name]):
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            words.append(flag)
            continue
        for v in value if isinstance(value, list) else [value]:
            v = os.path.abspath(v) if name in paths else (repr(v) if isinstance(v, float) else str(v))
            words += [f"{flag}={v}"] if v.startswith("-") else [flag, v]
    return shlex.join(words)
