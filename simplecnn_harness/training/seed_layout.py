"""The Python side of compare-train for a SEED-layout tree (2019: the code
of the slides, ``cnn_train(y, Z, config_file, options, seed)``).

The port's ``cnn_train`` follows the current layout.  The seed code trains
differently, so for a seed tree the Python side is assembled here from the
port's routines (``lossgrad_subset``, ``feedforward``, ``Jacobian``,
``CG``, ``init_model``) in the seed's order.  What differs from the current
layout (read from the real code's first commits, ff2333d .. 8ad06be):

* options and defaults (the ``parameter`` sub-function of ``cnn_train.m``):
  ``-s`` (1), ``-SR`` (0.05: the Gauss-Newton share), ``-iter_max`` (100),
  ``-C`` (0.01, then times l), ``-xi`` (0.1), ``-CGmax`` (250), ``-lambda``
  (1), ``-drop`` (2/3), ``-boost`` (3/2), ``-eta`` (1e-4), ``-lr`` (0.01),
  ``-bsize`` (128); from April 2019 also ``-decay`` (0), ``-momentum`` (0)
  and ``-epoch_max`` (500).  No ``-GNsize``, ``-Jacobian``, ``-ftype``, no
  validation set.  Which options a tree takes is read from the ``case
  '-name'`` lines of its ``parse_options`` (an option it does not take is
  refused here, as the tree would refuse it); the defaults are the seed's.
* Newton: ``num_splits = floor(1/SR)``; every instance is assigned a split
  once, ``randi(num_splits, l, 1)``; f and the gradient are summed over the
  splits in the order 1..num_splits with the current subsampled split
  swapped to the end; the Gauss-Newton matrix is the Jacobian of the split
  handled last (1 at the start, then ``mod(k, num_splits) + 1`` from the
  line search of iteration k on); no ``initial f`` and no ``total_#CG``
  lines: only ``%d-iter f: ... prered: %g``.
* SGD: each step draws ``randsample(l, bsize)``; epochs counted by
  ``-iter_max`` (plain steps) in the first trees, by ``-epoch_max`` (with
  momentum and decay) once the tree takes ``-momentum``; the epoch line
  prints the last batch's loss/bsize as ``%d-epoch loss: %g`` (until
  April 2019), ``%d-epoch avg. loss: %g`` (3a90f6a) or ``%d-epoch
  loss/batch_size: %g`` (May 2019 on): the label is read from the tree
  and kept when it is one of these three (:data:`EPOCH_LABELS`).
* Adam: step size fixed at 1e-3 (``-lr`` is not read), epochs counted by
  ``-iter_max``, the bias correction by the epoch counter (as later), and
  ``%d-epoch loss: %g`` in every seed tree.

SGD and Adam then run on the port's own ``sgd``/``adam`` with these
settings (:func:`_port_solver`); Newton is written out here (its splits,
order of summation and Jacobian batch are the seed's own).  The same
training is found in 645c628 and 8ad06be, whose gradient routines already
have the current layout's arguments: :func:`seed_training` tells by the
training code, not by the gradient layout.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field

import numpy as np

from simplecnn_py.cnn.check_data import check_data
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.cnn.lossgrad_subset import lossgrad_subset
from simplecnn_py.cnn.read_config import read_config
from simplecnn_py.opt.CG import CG
from simplecnn_py.opt.newton import calc_gnorm, copy_model, subset_nets, update_lambda, update_weights
from simplecnn_py.opt.parse_options import str2num
from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.support.errors import InputError
from simplecnn_py.support.fprintf import fprintf

from ..octave.instrument import scan

DEFAULTS = {"s": 1, "SR": 0.05, "iter_max": 100, "C": 0.01, "xi": 0.1, "CGmax": 250, "lambda": 1.0,
            "drop": 2 / 3, "boost": 3 / 2, "eta": 1e-4, "lr": 0.01, "bsize": 128,
            "decay": 0.0, "momentum": 0.0, "epoch_max": 500}
FIRST_OPTIONS = ("s", "SR", "iter_max", "C", "xi", "CGmax", "lambda", "drop", "boost", "eta", "lr", "bsize")
ADAM_STEP = 1e-3
# the labels the seed trees' epoch lines have used (SGD: 'loss' until April 2019, 'avg. loss' in
# 3a90f6a, then 'loss/batch_size'; Adam: 'loss'); another label is the tree's own change, not followed
EPOCH_LABELS = ("loss", "avg. loss", "loss/batch_size")
NEWTON_LINE = "%d-iter f: %g |g|: %g alpha: %g ratio: %g lambda: %g #CG: %d actred: %g prered: %g\n"


@dataclass
class SeedProfile:
    """What a seed tree's training code takes and prints (read from it)."""
    options: tuple = FIRST_OPTIONS          # names its parse_options accepts
    labels: dict = field(default_factory=dict)   # solver -> the label of its epoch line

    @property
    def momentum(self) -> bool:
        """SGD with momentum, decay and -epoch_max (April 2019 on)."""
        return "momentum" in self.options

    def epoch_label(self, solver) -> str:
        return self.labels.get(solver, "loss/batch_size" if solver == "sgd" and self.momentum else "loss")


def _code(path) -> str:
    """The statements of a MATLAB file, comments dropped (the shared lexer)."""
    try:
        src = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(sp.code for sp in scan(src))


def read_profile(layout) -> SeedProfile:
    """The options of the tree's ``parse_options`` and its epoch label."""
    prof = SeedProfile()
    host = layout.signature("parse_options") or layout.functions.get("cnn_train")
    if host is not None:
        names = re.findall(r"case\s*'-(\w+)'", _code(host.file))
        if names:
            prof.options = tuple(dict.fromkeys(names))
    for solver in ("sgd", "adam"):
        sig = layout.functions.get(solver)
        m = re.search(r"fprintf\s*\(\s*'%d-epoch\s+([^:']+):", _code(sig.file)) if sig else None
        if m and m.group(1).strip() in EPOCH_LABELS:
            prof.labels[solver] = m.group(1).strip()
    return prof


def check_options(options, profile: SeedProfile):
    """The options as the seed's ``parse_options`` reads them, over its
    defaults (``param`` before ``C*l``); an option the tree does not take,
    a value that is not a number, a count that is not one: ``InputError``."""
    tokens = [t for t in (options or "").strip().split(" ") if t != ""]
    if len(tokens) % 2:
        raise InputError("options", f"each option is a name and a value; got {len(tokens)} tokens in "
                                    f"'{(options or '').strip()}'")
    given = {}
    for name, token in zip(tokens[0::2], tokens[1::2]):
        if not (name.startswith("-") and name[1:] in profile.options):
            raise InputError("options", f"{name} is not an option of this seed-layout cnn_train (it takes "
                                        + " ".join("-" + n for n in profile.options) + ")")
        value = str2num(token)
        if value is None:
            raise InputError("options", f"option {name}: '{token}' is not a number")
        given[name[1:]] = value
    v = {**DEFAULTS, **given}
    param = struct()
    param.solver = _count(v["s"], "-s", 1)
    if param.solver not in (1, 2, 3):
        raise InputError("options", f"option -s must be 1 (Newton), 2 (SGD) or 3 (Adam), not {param.solver}")
    for key in ("SR", "C", "xi", "drop", "boost", "eta", "lr", "decay", "momentum"):
        setattr(param, key, float(v[key]))
    setattr(param, "lambda", float(v["lambda"]))
    param.iter_max = _count(v["iter_max"], "-iter_max", 0)
    param.epoch_max = _count(v["epoch_max"], "-epoch_max", 0)
    param.CGmax = _count(v["CGmax"], "-CGmax", 1)
    param.bsize = _count(v["bsize"], "-bsize", 1)
    if not (param.SR > 0 and math.isfinite(1 / param.SR)) or math.floor(1 / param.SR) < 1:
        raise InputError("options", f"option -SR must be in (0, 1], not {param.SR:g}")
    param.num_splits = int(math.floor(1 / param.SR))
    param.precision = "double"
    param.Jacobian = 1
    return param


def seed_training(layout) -> SeedProfile | None:
    """The tree's profile when its training code is the seed's (a
    ``cnn_train`` without a validation set whose options include ``-SR``:
    the 2019 trees up to October, including the first ones whose gradient
    routines already have the current layout), else None."""
    sig = layout.functions.get("cnn_train")
    if sig is None or any(re.search(r"^[yz]_?v$|valid|test", a.lower()) for a in sig.args):
        return None
    prof = read_profile(layout)
    return prof if "SR" in prof.options else None


def labels_as_ranks(layout) -> bool:
    """Whether the tree's ``check_data`` takes labels 1..nL only."""
    sig = layout.signature("check_data")
    return bool(sig) and re.search(r"==\s*1\s*:\s*[\w.]*nL\b", _code(sig.file)) is not None


def parameter(Z, options, profile: SeedProfile):
    """``param`` of the seed ``cnn_train``: defaults, options, C*l, num_splits."""
    param = check_options(options, profile)
    l = Z.shape[0]
    param.C = param.C * l
    if param.solver in (2, 3) and param.bsize > l:
        raise InputError("options", f"-bsize {param.bsize} is larger than the {l} instances "
                                    "(the original fails in randsample(l, bsize))")
    return param


def steps(options, profile: SeedProfile) -> tuple[int, str]:
    """How many iterations (Newton) or epochs the seed tree will run."""
    param = check_options(options, profile)
    if param.solver == 1:
        return param.iter_max, "iter"
    return (param.epoch_max if param.solver == 2 and profile.momentum else param.iter_max), "epoch"


def _count(v, name, lo):
    if not (math.isfinite(v) and v == round(v) and v >= lo):
        raise InputError("options", f"option {name} must be an integer >= {lo}, not {v:g}")
    return int(v)


def cnn_train_seed(y, Z, config_file, options, stream, profile: SeedProfile, progress=None):
    """``model = cnn_train(y, Z, config_file, options, seed)`` of a seed tree
    (``y`` already 1..nL); returns ``(model, info)`` as the port's."""
    param = parameter(Z, options, profile)
    param.stream = stream
    param.progress = progress
    config = read_config(config_file)
    config.precision = "double"
    prob = check_data(struct(y=y, Z=Z), config)
    model = init_model(config, stream)
    net = init_net(config, model)
    solver = {1: newton, 2: sgd, 3: adam}[param.solver]
    return solver(prob, param, model, net, profile)


# --- the three solvers ------------------------------------------------------------

def _splits(stream, num_splits, l):
    assign = stream.randi(num_splits, l, 1).reshape(-1)
    return [np.flatnonzero(assign == i) + 1 for i in range(1, num_splits + 1)]


def fungrad(prob, param, model, net, batches, sub, task):
    """The seed ``fungrad_minibatch``: the splits in order, ``sub`` last."""
    order = list(range(1, len(batches) + 1))
    order[-1], order[sub - 1] = order[sub - 1], order[-1]
    L = model.L
    f = 0.0
    dW = db = None
    for b in order:
        if batches[b - 1].size == 0:         # an empty split adds nothing (its loss and sums are zero)
            continue
        net, loss = lossgrad_subset(prob, param, model, net, batches[b - 1], task)
        f = f + loss
        if task == "fungrad":
            if dW is None:
                dW = cell([np.array(net.dlossdW[m]) for m in range(1, L + 1)])
                db = cell([np.array(net.dlossdb[m]) for m in range(1, L + 1)])
            else:
                for m in range(1, L + 1):
                    dW[m] = dW[m] + net.dlossdW[m]
                    db[m] = db[m] + net.dlossdb[m]
    reg = 0.0
    grad = None
    if task == "fungrad":
        grad = struct(dfdW=cell(L), dfdb=cell(L))
    for m in range(1, L + 1):
        reg = reg + np.linalg.norm(model.weight[m], "fro") ** 2 + np.linalg.norm(model.bias[m]) ** 2
        if grad is not None:
            grad.dfdW[m] = model.weight[m] / param.C + dW[m] / prob.l
            grad.dfdb[m] = model.bias[m] / param.C + db[m] / prob.l
    return net, (1.0 / (2 * param.C)) * reg + f / prob.l, grad


def _info():
    info = struct(f0=None, f=[], gnorm=[], alpha=[], ratio=[], cg=[], actred=[], prered=[], val_acc=[],
                  loss=[], total_CG=None)
    setattr(info, "lambda", [])
    return info


def newton(prob, param, model, net, profile):
    model = copy_model(model)
    info = _info()
    batches = _splits(param.stream, param.num_splits, prob.l)
    sub = 1
    net, f, grad = fungrad(prob, param, model, net, batches, sub, "fungrad")
    for k in range(1, param.iter_max + 1):
        # the Jacobian of the split handled last by the previous fungrad
        if batches[sub - 1].size == 0:
            raise InputError("options", f"Newton iteration {k}: split {sub} of the {param.num_splits} "
                                        "(randi's assignment) holds no instance; the original divides by its "
                                        "size: use more instances or a larger -SR")
        nets = subset_nets(prob, param, model, net, batches[sub - 1])
        x, CGiter, gs, sGs = CG(param, model, nets, grad)
        fold = f
        sub = k % param.num_splits + 1
        alpha = 1.0
        while True:
            model = update_weights(model, alpha, x)
            prered = alpha * gs + 0.5 * (alpha ** 2) * sGs
            _, f, _ = fungrad(prob, param, model, net, batches, sub, "funonly")
            actred = f - fold
            if actred <= param.eta * alpha * gs:
                break
            if alpha == 0.0:
                raise InputError("training", f"Newton iteration {k}: the line search halved the step to 0 "
                                             "without a decrease (the original loops for ever here)")
            alpha = alpha * 0.5
        lam = update_lambda(param, actred, prered)
        setattr(param, "lambda", lam)
        net, f, grad = fungrad(prob, param, model, net, batches, sub, "fungrad")
        gnorm = calc_gnorm(grad, model.L)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.float64(actred) / np.float64(prered)
        fprintf(NEWTON_LINE, k, f, gnorm, alpha, ratio, lam, CGiter, actred, prered)
        for key, val in (("f", f), ("gnorm", gnorm), ("alpha", alpha), ("ratio", ratio), ("lambda", lam),
                         ("actred", actred), ("prered", prered)):
            getattr(info, key).append(float(val))
        info.cg.append(int(CGiter))
        _tell(param, k, f)
    return model, info


def _tell(param, k, value):
    if getattr(param, "progress", None) is not None:
        param.progress(k, float(value))


def _port_solver(solver, prob, param, model, net, profile):
    """SGD and Adam: the port's own solvers with the seed's settings.  The
    seed's SGD without momentum (before 3a90f6a) is the port's with
    momentum 0 and decay 0 (``0*v - lr*G`` is ``-lr*G`` exactly), over
    ``-iter_max`` epochs; the seed's Adam is the port's with the step size
    1e-3 over ``-iter_max`` epochs.  The seed's ``randsample(l, bsize)``
    is the port's ``randperm(l, bsize)`` draw (served as such by
    ``shadows/randsample.m``); the epoch line's label is the tree's."""
    from simplecnn_py.opt.adam import adam as port_adam
    from simplecnn_py.opt.sgd import sgd as port_sgd

    run = copy.copy(param)
    run.epoch_label = profile.epoch_label(solver)
    if solver == "adam":
        run.lr = ADAM_STEP
        run.epoch_max = param.iter_max
        return port_adam(prob, None, run, model, net)
    if not profile.momentum:
        run.momentum, run.decay, run.epoch_max = 0.0, 0.0, param.iter_max
    return port_sgd(prob, None, run, model, net)


def sgd(prob, param, model, net, profile):
    return _port_solver("sgd", prob, param, model, net, profile)


def adam(prob, param, model, net, profile):
    return _port_solver("adam", prob, param, model, net, profile)
