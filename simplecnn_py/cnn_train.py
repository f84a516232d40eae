"""``[model, info] = cnn_train(y, Z, y_v, Z_v, config_file, options, seed)``: train a CNN.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn_train.m`` and ``MATLAB/cnn/train.m`` (current layout); this
repository's MATLAB twins are ``matlab_ref/current/MATLAB/cnn_train.m`` and,
for the seed layout's ``cnn_train(y, Z, config_file, options)``,
``matlab_ref/seed/cnn_train.m``. It minimises the f of the gradient-calculation
slides (eqs. (1), (2))::

    model = cnn_train(y, Z, y_v, Z_v, config_file)
    model = cnn_train(y, Z, y_v, Z_v, config_file, options)
    model = cnn_train(y, Z, y_v, Z_v, config_file, options, seed)

``y`` (l labels, any values) and ``Z`` (l x a*b*d, one instance a row,
channel images vec'ed column-major, dense) as ``check_data`` takes them;
``y_v``, ``Z_v`` a validation set (``[]``/None for none); ``options`` the
``'-name value'`` string of ``parse_options``; ``seed`` seeds every draw
(the original: ``rand('state', seed); randn('state', seed)``; without it
the original draws from an unseeded state, and so does the port).  The
port's draws come from one ``simplecnn_py.support.rng.Stream`` (``seed`` may be
one, e.g. the harness's recording stream) in the original's order:

1. ``parse_options``; ``GNsize = ceil(0.05*l)`` unless given;
   ``C = C*l``; ``read_config``; ``check_data`` (the label count must
   equal nL), and for the validation set too (its label count as well).
2. ``init_model`` (He weights, one ``randn`` per layer m = 1..L), the model
   struct of ``train.m``: ``net_config`` (the config as read),
   ``gpu_use`` (false), ``float_type``, ``labels`` (``unique(y)``).
3. ``newton`` (-s 1), ``sgd`` (-s 2) or ``adam`` (-s 3); with a validation
   set each iteration/epoch predicts it and the solver returns the model of
   the strictly best validation accuracy.

Where the original fails on an input with an index error, the port refuses
it first with one line (``InputError``, exit 2): ``-GNsize`` larger than l
(Newton), ``-bsize`` larger than l (SGD, Adam: ``randperm(l, bsize)``), a
sparse ``Z`` (the original's own message: the matrix must be dense).

``progress(k, value)`` (keyword, the port's addition) is called after each
iteration/epoch (the CLI's progress bar).  The seed layout's call form ``cnn_train(y, Z, config_file, options, seed)``
(simpleNN commit ff2333d) is read too (no validation set).  Returns the model and the solver's ``info`` (full-precision values of every
printed line; the port's addition, for the harness and ``--json``).
"""
from __future__ import annotations

import math
import os

import numpy as np

from simplecnn_py.opt.adam import adam
from simplecnn_py.cnn.check_data import check_data
from simplecnn_py.support.conventions import struct
from simplecnn_py.support.errors import InputError
from simplecnn_py.cnn.init_model import init_model
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.opt.newton import newton
from simplecnn_py.opt.parse_options import parse_options
from simplecnn_py.cnn.read_config import read_config
from simplecnn_py.support.rng import Stream
from simplecnn_py.opt.sgd import sgd

__all__ = ["cnn_train", "net_config_of"]


def cnn_train(y, Z, y_v, Z_v=None, config_file=None, options="", seed=None, *, where="data",
              where_valid="validation data", progress=None):
    if isinstance(y_v, (str, os.PathLike, struct)):
        # the seed layout's form cnn_train(y, Z, config_file, options, seed): no validation set
        y_v, Z_v, config_file, options, seed = None, None, y_v, ("" if Z_v is None else Z_v), config_file
    param = parameter(Z, options, where)
    stream = seed if isinstance(seed, Stream) else Stream(seed)
    param.stream = stream
    param.progress = progress

    net_config = read_config(config_file) if not isinstance(config_file, struct) else config_file
    net_config.precision = param.precision
    # seed-layout check_data(prob, param); current layout: check_data(y, Z, model)
    prob = check_data(struct(y=y, Z=_dense(Z, where)), net_config, where=where)
    prob_v = None
    if not _isempty(y_v) and not _isempty(Z_v):
        prob_v = check_data(struct(y=y_v, Z=_dense(Z_v, where_valid)), net_config, where=where_valid)
    _check_sizes(param, prob.l, where)

    model = init_model(net_config, stream)
    model.net_config = net_config_of(net_config)
    model.gpu_use = False
    model.float_type = param.precision
    model.labels = prob.label_enum
    # seed-layout init_net(param, model); current layout: init_net(model, param)
    net = init_net(net_config, model)

    if param.solver == 1:
        return newton(prob, prob_v, param, model, net)
    if param.solver == 2:
        return sgd(prob, prob_v, param, model, net)
    return adam(prob, prob_v, param, model, net)


def parameter(Z, options, where):
    """The sub-function ``parameter`` of ``cnn_train.m``: defaults, the
    options, then ``C = C*l`` (GNsize's default ``ceil(0.05*l)``)."""
    param = parse_options(options)
    l = Z.shape[0]
    if param.GNsize is None:
        param.GNsize = math.ceil(0.05 * l)
    param.C = param.C * l
    return param


def _check_sizes(param, l, where):
    if param.solver == 1 and param.GNsize > l:
        raise InputError("options", f"-GNsize {param.GNsize} is larger than the {l} instances of {where} "
                                    "(the original fails indexing its subset)")
    if param.solver in (2, 3) and param.bsize > l:
        raise InputError("options", f"-bsize {param.bsize} is larger than the {l} instances of {where} "
                                    "(the original fails in randperm(l, bsize))")


def _dense(Z, where):
    if hasattr(Z, "toarray"):
        raise InputError(where, "Z is a sparse matrix; the original's check_data refuses it "
                                "(the feature matrix must be dense): store it full")
    return Z


def _isempty(A):
    return A is None or np.size(A) == 0


def net_config_of(config):
    """The struct ``read_config`` gives in MATLAB: the config's keys with
    their values (scalars as numbers, per-layer vectors as row vectors) and
    ``nL = full_neurons(LF)``."""
    out = struct()
    for key in ("L", "LC", "LF", "wd_input", "ht_input", "ch_input", "wd_pad_added", "wd_filter", "strides",
                "wd_subimage_pool", "full_neurons"):
        v = getattr(config, key, None)
        if v is None:
            continue
        setattr(out, key, float(v) if np.isscalar(v) else np.asarray(list(v), dtype=np.float64).reshape(1, -1))
    out.nL = float(config.full_neurons[int(config.LF)])
    return out
