"""``param = parse_options(options)``: the training options string of ``cnn_train``.

MATLAB original (current layout, ``opt/parse_options.m``).  ``options`` is
a string of ``-name value`` pairs, e.g. ``'-s 1 -C 0.01 -GNsize 100'``;
names and defaults are those of the facts page, section 7:

=============  =======================================================
``-s``         solver: 1 Newton (default), 2 SGD with momentum, 3 Adam
``-C``         regularisation constant (0.01); ``cnn_train`` multiplies
               it by the number of instances l
``-bsize``     batch size: 1024 for Newton on the CPU, else 128
``-GNsize``    Gauss-Newton subset size: ceil(5% of l), set by ``cnn_train``
``-iter_max``  Newton iterations (100)
``-xi``        CG relative tolerance (0.1)
``-CGmax``     CG steps at most (250)
``-lambda``    initial Levenberg-Marquardt damping (1)
``-drop``      lambda factor when ratio >= 0.75 (2/3)
``-boost``     lambda factor when ratio < 0.25 (3/2)
``-eta``       line-search sufficient-decrease constant (1e-4)
``-Jacobian``  1: stored Jacobian (``JTBJv``); 0: R-operator (``R_JTBJv``);
               1 on the CPU, 0 on a GPU
``-epoch_max`` SGD/Adam epochs (500)
``-lr``        learning rate (0.01; 0.001 for Adam)
``-decay``     learning-rate decay, lr/(1 + decay*step) (0)
``-momentum``  SGD momentum (0)
``-ftype``     0 single, 1 double (double on the CPU, single on a GPU)
``-gpu_use``   0 CPU (default), 1 GPU (refused by ``cnn_train`` here)
``-seed``      ours (matlab_ref): seeds the random draws (none)
=============  =======================================================

An odd number of tokens, an unknown name or a value that is not a number is
an ``InputError('options', ...)``, as the original's errors; so is a value
out of its range (the same ranges as ``matlab_ref``'s ``parse_options.m``).

``param`` fields: ``solver``, ``C``, ``bsize``, ``GNsize`` (None until
``cnn_train`` sets it), ``iter_max``, ``xi``, ``CGmax``, ``lambda`` (a
Python keyword: ``getattr(param, 'lambda')``), ``drop``, ``boost``, ``eta``,
``Jacobian``, ``epoch_max``, ``lr``, ``decay``, ``momentum``, ``ftype``,
``gpu_use``, ``seed`` (None when not given), and ``precision``
(``'double'`` or ``'single'`` from ``-ftype``, what the port's routines read).
"""
from __future__ import annotations

import math

from simplecnn_py.conventions import struct
from simplecnn_py.errors import InputError

__all__ = ["parse_options", "OPTION_NAMES"]

OPTION_NAMES = ("s", "C", "bsize", "GNsize", "iter_max", "xi", "CGmax", "lambda", "drop", "boost",
                "eta", "Jacobian", "epoch_max", "lr", "decay", "momentum", "ftype", "gpu_use", "seed")


def parse_options(options=""):
    if options is None:
        options = ""
    if not isinstance(options, str):
        raise InputError("options", "options must be a string such as '-s 1 -C 0.01'")
    tokens = options.split()
    if len(tokens) % 2 != 0:
        raise InputError("options", f"options must come in '-name value' pairs (got {len(tokens)} tokens)")
    given = {}
    for name, token in zip(tokens[0::2], tokens[1::2]):
        if not (name.startswith("-") and name[1:] in OPTION_NAMES):
            raise InputError("options", f"unknown option {name} (known: "
                                        + " ".join("-" + n for n in OPTION_NAMES) + ")")
        try:
            value = float(token)
        except ValueError:
            value = math.nan
        if math.isnan(value):
            raise InputError("options", f"option {name} needs a number, not '{token}'")
        given[name[1:]] = value

    def pick(name, default):
        return given.get(name, default)

    param = struct()
    param.solver = _check(pick("s", 1), "integer", 1, 3, "-s")
    param.gpu_use = _check(pick("gpu_use", 0), "integer", 0, 1, "-gpu_use")
    on_cpu = param.gpu_use == 0
    param.C = _check(pick("C", 0.01), "positive", 0, math.inf, "-C")
    param.bsize = _check(pick("bsize", 1024 if param.solver == 1 and on_cpu else 128), "integer", 1, math.inf, "-bsize")
    param.GNsize = pick("GNsize", None)
    if param.GNsize is not None:
        param.GNsize = _check(param.GNsize, "integer", 1, math.inf, "-GNsize")
    param.iter_max = _check(pick("iter_max", 100), "integer", 0, math.inf, "-iter_max")
    param.xi = _check(pick("xi", 0.1), "positive", 0, math.inf, "-xi")
    param.CGmax = _check(pick("CGmax", 250), "integer", 1, math.inf, "-CGmax")
    setattr(param, "lambda", _check(pick("lambda", 1), "real", 0, math.inf, "-lambda"))
    param.drop = _check(pick("drop", 2 / 3), "positive", 0, math.inf, "-drop")
    param.boost = _check(pick("boost", 3 / 2), "positive", 0, math.inf, "-boost")
    param.eta = _check(pick("eta", 1e-4), "real", 0, 1, "-eta")
    param.Jacobian = _check(pick("Jacobian", int(on_cpu)), "integer", 0, 1, "-Jacobian")
    param.epoch_max = _check(pick("epoch_max", 500), "integer", 0, math.inf, "-epoch_max")
    param.lr = _check(pick("lr", 0.001 if param.solver == 3 else 0.01), "positive", 0, math.inf, "-lr")
    param.decay = _check(pick("decay", 0), "real", 0, math.inf, "-decay")
    param.momentum = _check(pick("momentum", 0), "real", 0, 1, "-momentum")
    param.ftype = _check(pick("ftype", int(on_cpu)), "integer", 0, 1, "-ftype")
    param.seed = pick("seed", None)
    if param.seed is not None:
        param.seed = _check(param.seed, "integer", 0, math.inf, "-seed")
    param.precision = "double" if param.ftype == 1 else "single"
    return param


def _check(v, kind, lo, hi, name):
    """kind 'integer': an integer in [lo, hi] (returned as int); 'positive':
    > 0 and finite; 'real': a finite number in [lo, hi]."""
    if kind == "integer":
        ok = math.isfinite(v) and v == round(v) and lo <= v <= hi
        what = f"an integer in [{lo:g}, {hi:g}]"
    elif kind == "positive":
        ok = v > 0 and math.isfinite(v)
        what = "a positive number"
    else:
        ok = math.isfinite(v) and lo <= v <= hi
        what = f"a number in [{lo:g}, {hi:g}]"
    if not ok:
        raise InputError("options", f"option {name} must be {what} (got {v:g})")
    return int(v) if kind == "integer" else float(v)
