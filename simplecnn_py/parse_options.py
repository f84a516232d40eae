"""``parse_options``: the training options string of ``cnn_train``.

MATLAB original (current layout, inside ``cnn_train.m``)::

    param = parse_options(options)

``options`` is a string of ``-name value`` pairs, e.g.
``'-s 1 -C 0.01 -GNsize 100'``.  Names, defaults and meanings are those of
the facts page, section 7:

=============  =======================================================
``-s``         solver: 1 Newton (default), 2 SGD with momentum, 3 Adam
``-C``         regularisation constant (0.01); ``cnn_train`` multiplies
               it by the number of instances l
``-bsize``     batch size: 1024 for Newton on the CPU, else 128
``-GNsize``    Gauss-Newton subset size: ceil(5% of l)
``-iter_max``  Newton iterations (100)
``-xi``        CG relative tolerance (0.1)
``-CGmax``     CG iteration cap (250)
``-lambda``    initial Levenberg-Marquardt damping (1)
``-drop``      lambda factor when ratio >= 0.75 (2/3)
``-boost``     lambda factor when ratio < 0.25 (3/2)
``-eta``       line-search sufficient-decrease constant (1e-4)
``-Jacobian``  1: store the Jacobian (``net.dzdS``); 0: R-operator (1)
``-epoch_max`` SGD/Adam epochs (500)
``-lr``        learning rate (0.01; 0.001 for Adam)
``-decay``     learning-rate decay, lr/(1 + decay*step) (0)
``-momentum``  SGD momentum (0)
``-ftype``     0 single, 1 double (double: the CPU default)
``-gpu_use``   0 (this port runs on the CPU only)
=============  =======================================================

An odd number of tokens or an unknown name is an error, as in the original;
so is a value that is not a number or is out of its range (the original
would fail later, or silently train something else).
"""
from __future__ import annotations

import math

from simplecnn_py.conventions import struct
from simplecnn_py.errors import InputError

__all__ = ["parse_options", "OPTION_NAMES"]

# name -> (kind, check, message); kind 'int' values must be whole numbers
_SPEC = {
    "s": ("int", lambda x: x in (1, 2, 3), "must be 1 (Newton), 2 (SGD) or 3 (Adam)"),
    "C": ("real", lambda x: x > 0, "must be > 0"),
    "bsize": ("int", lambda x: x >= 1, "must be a positive integer"),
    "GNsize": ("int", lambda x: x >= 1, "must be a positive integer"),
    "iter_max": ("int", lambda x: x >= 0, "must be an integer >= 0"),
    "xi": ("real", lambda x: 0 < x < 1, "must be in (0, 1)"),
    "CGmax": ("int", lambda x: x >= 1, "must be a positive integer"),
    "lambda": ("real", lambda x: x >= 0, "must be >= 0"),
    "drop": ("real", lambda x: 0 < x < 1, "must be in (0, 1)"),
    "boost": ("real", lambda x: x > 1, "must be > 1"),
    "eta": ("real", lambda x: 0 < x < 1, "must be in (0, 1)"),
    "Jacobian": ("int", lambda x: x in (0, 1), "must be 0 or 1"),
    "epoch_max": ("int", lambda x: x >= 0, "must be an integer >= 0"),
    "lr": ("real", lambda x: x > 0, "must be > 0"),
    "decay": ("real", lambda x: x >= 0, "must be >= 0"),
    "momentum": ("real", lambda x: 0 <= x < 1, "must be in [0, 1)"),
    "ftype": ("int", lambda x: x in (0, 1), "must be 0 (single) or 1 (double)"),
    "gpu_use": ("int", lambda x: x == 0, "must be 0: the Python port runs on the CPU only"),
}

OPTION_NAMES = tuple(_SPEC)


def _value(name: str, token: str):
    """The numeric value of ``token`` for option ``-name``, checked."""
    kind, check, message = _SPEC[name]
    try:
        x = float(token)
    except ValueError:
        raise InputError("options", f"-{name} {token}: not a number") from None
    if not math.isfinite(x):
        raise InputError("options", f"-{name} {token}: not a finite number")
    if kind == "int":
        if x != int(x):
            raise InputError("options", f"-{name} {token}: must be an integer")
        x = int(x)
    if not check(x):
        raise InputError("options", f"-{name} {token}: {message}")
    return x


def parse_options(options: str = "", l: int | None = None) -> struct:
    """``param = parse_options(options)`` with the defaults of facts section 7.

    ``param.solver`` is 1, 2 or 3; ``param.precision`` is ``'double'`` or
    ``'single'`` (from ``-ftype``).  ``param.GNsize`` needs the number of
    instances: pass ``l`` (``cnn_train`` does), otherwise it stays ``None``
    until ``cnn_train`` sets ``ceil(0.05*l)``.  ``param.C`` is the user's
    value; ``cnn_train`` multiplies it by l.
    """
    if options is None:
        options = ""
    if not isinstance(options, str):
        raise InputError("options", "must be a string of '-name value' pairs")
    tokens = options.split()
    if len(tokens) % 2 == 1:
        raise InputError("options", f"odd number of tokens ({len(tokens)}) in '{options}': "
                                    "options come as '-name value' pairs")
    given = {}
    for flag, token in zip(tokens[0::2], tokens[1::2]):
        name = flag[1:] if flag.startswith("-") else None
        if name not in _SPEC:
            raise InputError("options", f"unknown option '{flag}' (known: "
                                        + " ".join("-" + n for n in _SPEC) + ")")
        given[name] = _value(name, token)

    solver = given.get("s", 1)
    param = struct()
    param.solver = solver
    param.C = given.get("C", 0.01)
    param.gpu_use = given.get("gpu_use", 0)
    # Newton on the CPU: 1024; SGD/Adam (and Newton on a GPU): 128
    param.bsize = given.get("bsize", 1024 if solver == 1 and not param.gpu_use else 128)
    param.GNsize = given.get("GNsize", None if l is None else math.ceil(0.05 * l))
    param.iter_max = given.get("iter_max", 100)
    param.xi = given.get("xi", 0.1)
    param.CGmax = given.get("CGmax", 250)
    param.__dict__["lambda"] = given.get("lambda", 1.0)   # 'lambda' is a Python keyword
    param.drop = given.get("drop", 2 / 3)
    param.boost = given.get("boost", 3 / 2)
    param.eta = given.get("eta", 1e-4)
    param.Jacobian = given.get("Jacobian", 0 if param.gpu_use else 1)
    param.epoch_max = given.get("epoch_max", 500)
    param.lr = given.get("lr", 0.001 if solver == 3 else 0.01)
    param.decay = given.get("decay", 0.0)
    param.momentum = given.get("momentum", 0.0)
    param.ftype = given.get("ftype", 0 if param.gpu_use else 1)
    param.precision = "double" if param.ftype == 1 else "single"
    param.given = tuple(given)
    return param
