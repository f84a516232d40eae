"""``param = parse_options(options)``: the training options string of ``cnn_train``.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause): the
sub-functions ``parameter`` and ``parse_options`` of its ``MATLAB/cnn_train.m``
(current layout); this repository's MATLAB twin is
``matlab_ref/current/MATLAB/opt/parse_options.m``
(``parse_options(options, l)``).  No equation of the gradient-calculation
slides.  ``options`` is a string of ``-name value`` pairs, e.g.
``'-s 1 -C 0.01 -GNsize 100'``.  The original trims it, cuts it at spaces
(``strsplit``) and turns every value into a number with ``str2num`` (which
*evaluates* the text): ``-C 1/100`` and ``-C inf`` are numbers there, and so
they are here (a small arithmetic evaluator, never ``eval``).  Names and
defaults (what the original sets before reading the options):

=============  =======================================================
``-s``         solver: 1 Newton (default), 2 SGD with momentum, 3 Adam
``-C``         regularisation constant (0.01); ``cnn_train`` multiplies
               it by the number of instances l (``-C inf``: no
               regularisation, 1/C = 0)
``-bsize``     batch size: 1024 for Newton on the CPU, else 128 (chosen
               after the options are read, so it follows ``-s``)
``-GNsize``    Gauss-Newton subset size: ceil(0.05*l), set by ``cnn_train``
``-iter_max``  Newton iterations (100)
``-xi``        CG relative tolerance (0.1)
``-CGmax``     CG steps at most (250)
``-lambda``    initial Levenberg-Marquardt damping (1)
``-drop``      lambda factor when ratio >= 0.75 (2/3)
``-boost``     lambda factor when ratio < 0.25 (3/2)
``-eta``       line-search sufficient-decrease constant (1e-4)
``-Jacobian``  any non-zero value: stored Jacobian (``JTBJv``, the CPU
               default); 0: R-operator (``R_JTBJv``)
``-epoch_max`` SGD/Adam epochs (500)
``-lr``        learning rate: 0.01 for every solver.  QUIRK: the original
               sets 0.001 for Adam only while ``param.solver`` is still
               its default 1, i.e. never; Adam's default is 0.01 there too
``-decay``     SGD learning-rate decay, lr/(1 + decay*step) (0); Adam
               ignores it (QUIRK of the original)
``-momentum``  SGD momentum (0); not range-checked (1.5 is accepted)
``-ftype``     0 single, 1 double (default on the CPU); other values are
               refused as in the original
``-gpu_use``   0 accepted; 1 refused (the original under Octave: "we do
               not detect any gpuDevice")
=============  =======================================================

There is no ``-seed``: the original takes the seed as ``cnn_train``'s 7th
argument (``simplecnn train --seed``).  No value is range-checked, as in the
original, except where the original fails with a cryptic message or loops
on an index that is not a count: the counts ``-s`` (1, 2, 3), ``-bsize``,
``-GNsize``, ``-CGmax`` (integers >= 1), ``-iter_max``, ``-epoch_max``
(integers >= 0) are checked here, and a value ``str2num`` cannot read (the
original stores ``[]`` and fails later) is refused.  Every refusal is an
``InputError('options', ...)`` (one line, exit 2).

``param`` fields: ``solver``, ``C`` (as given; ``cnn_train`` multiplies),
``bsize``, ``GNsize`` (None until ``cnn_train`` sets it), ``iter_max``,
``xi``, ``CGmax``, ``lambda`` (``getattr(param, 'lambda')``), ``drop``,
``boost``, ``eta``, ``Jacobian`` (0/1), ``epoch_max``, ``lr``, ``decay``,
``momentum``, ``ftype`` (0/1), ``gpu_use`` (0), and ``precision``
(``'double'``/``'single'``, what the port's routines read).
"""
from __future__ import annotations

import ast
import math
import operator

from simplecnn_py.support.conventions import struct
from simplecnn_py.support.errors import InputError

__all__ = ["parse_options", "OPTION_NAMES", "str2num"]

OPTION_NAMES = ("s", "GNsize", "iter_max", "C", "xi", "CGmax", "lambda", "drop", "boost", "eta", "lr",
                "decay", "bsize", "momentum", "epoch_max", "Jacobian", "ftype", "gpu_use")

_CONSTANTS = {"inf": math.inf, "Inf": math.inf, "nan": math.nan, "NaN": math.nan, "NA": math.nan,
              "pi": math.pi, "e": math.e, "eps": 2.0 ** -52, "true": 1.0, "false": 0.0,
              "realmax": 1.7976931348623157e308, "realmin": 2.2250738585072014e-308}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}


def str2num(text):
    """The number MATLAB's ``str2num`` gives for a scalar arithmetic text
    (``1/100``, ``inf``, ``1e-3``, ``2^-3``, ``pi``, ``true``), or None."""
    src = text.strip().replace("^", "**")
    if not src or len(src) > 100:
        return None
    try:
        tree = ast.parse(src, mode="eval")
        return float(_eval(tree.body))
    except (SyntaxError, ValueError, TypeError, OverflowError, RecursionError):
        return None


def _eval(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        v = _eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        a, b = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Div) and b == 0:          # MATLAB: x/0 is +-Inf or NaN
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
        return float(_BINARY[type(node.op)](a, b))
    raise ValueError("not a number")


def parse_options(options=""):
    if options is None:
        options = ""
    if not isinstance(options, str):
        raise InputError("options", "options must be a string such as '-s 1 -C 0.01'")
    tokens = [t for t in options.strip().split(" ") if t != ""]
    if len(tokens) % 2 != 0:
        raise InputError("options", f"each option is a name and a value; got {len(tokens)} tokens in "
                                    f"'{options.strip()}'")
    given = {}
    for name, token in zip(tokens[0::2], tokens[1::2]):
        if name == "-seed":
            raise InputError("options", "-seed is not an option of cnn_train (the original takes the seed "
                                        "as its 7th argument); give it with --seed")
        if not (name.startswith("-") and name[1:] in OPTION_NAMES):
            raise InputError("options", f"{name} is not a supported option (supported: "
                                        + " ".join("-" + n for n in OPTION_NAMES) + ")")
        value = str2num(token)
        if value is None:
            raise InputError("options", f"option {name}: '{token}' is not a number")
        given[name[1:]] = value

    param = struct()
    param.solver = _count(given.get("s", 1), "-s", 1)
    if param.solver not in (1, 2, 3):
        raise InputError("options", f"option -s must be 1 (Newton), 2 (SGD) or 3 (Adam), not {param.solver}")
    param.C = given.get("C", 0.01)
    param.GNsize = _count(given["GNsize"], "-GNsize", 1) if "GNsize" in given else None
    param.iter_max = _count(given.get("iter_max", 100), "-iter_max", 0)
    param.xi = given.get("xi", 0.1)
    param.CGmax = _count(given.get("CGmax", 250), "-CGmax", 1)
    setattr(param, "lambda", given.get("lambda", 1.0))
    param.drop = given.get("drop", 2 / 3)
    param.boost = given.get("boost", 3 / 2)
    param.eta = given.get("eta", 1e-4)
    param.epoch_max = _count(given.get("epoch_max", 500), "-epoch_max", 0)
    param.lr = given.get("lr", 0.01)          # the original's Adam default: also 0.01 (see above)
    param.decay = given.get("decay", 0.0)
    param.momentum = given.get("momentum", 0.0)
    param.gpu_use = 0
    if "gpu_use" in given:
        v = given["gpu_use"]
        if math.isnan(v):
            raise InputError("options", "option -gpu_use: NaN is not a logical value")
        if v != 0:
            raise InputError("options", "-gpu_use 1: the port runs on the CPU (the original under Octave "
                                        "refuses it too: no GPU device)")
    param.ftype = 1
    if "ftype" in given:
        if given["ftype"] not in (0, 1):
            raise InputError("options", f"option -ftype must be 0 (single) or 1 (double), not {given['ftype']:g}")
        param.ftype = int(given["ftype"])
    param.precision = "double" if param.ftype == 1 else "single"
    param.Jacobian = 1
    if "Jacobian" in given:
        if math.isnan(given["Jacobian"]):
            raise InputError("options", "option -Jacobian: NaN is not a logical value")
        param.Jacobian = int(given["Jacobian"] != 0)
    param.bsize = _count(given["bsize"], "-bsize", 1) if "bsize" in given else (1024 if param.solver == 1 else 128)
    return param


def _count(v, name, lo):
    """An integer count >= lo (where the original would fail or loop oddly)."""
    if not (math.isfinite(v) and v == round(v) and v >= lo):
        raise InputError("options", f"option {name} must be an integer >= {lo}, not {v:g}")
    return int(v)
