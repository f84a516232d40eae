"""``[model, info] = cnn_train(y, Z, config_file, options, seed)``: train a CNN.

MATLAB original (current layout, ``cnn_train.m``)::

    model = cnn_train(y, Z, config_file, options)
    model = cnn_train(y, Z, y_valid, Z_valid, config_file, options)

``y`` (l labels, any values) and ``Z`` (l x a*b*d, one instance a row,
channel images vec'ed column-major; dense or scipy.sparse) as ``check_data``
takes them; ``options`` the ``'-name value'`` string of ``parse_options``.
Order of work, and of random draws (facts page, section 7; the same as
``matlab_ref/current/MATLAB/cnn_train.m``):

1. ``param = parse_options(options)``; precision from ``-ftype``;
   ``-gpu_use 1`` is refused (the port runs on the CPU).
2. One ``simplecnn_py.rng.Stream`` serves every draw: ``seed`` (an int or a
   ``Stream``, e.g. the harness's replayed one), else ``-seed``, else 0.
3. ``read_config``, ``init_model`` (He weights, ``randn`` per layer m = 1..L).
4. ``check_data``; ``model.label_enum`` (the sorted label set),
   ``model.gpu_use`` (False), ``model.float_type`` (``'double'``/``'single'``);
   ``C = C*l``; ``GNsize = ceil(0.05*l)`` unless given, at most l.
5. ``init_net``; then ``newton`` (-s 1, ``randperm(l)`` per subset cycle),
   ``sgd`` (-s 2) or ``adam`` (-s 3) (``randperm(l, bsize)`` per step).
6. With a validation set (``y_valid``, ``Z_valid``):
   ``validation accuracy: %.15g`` from ``cnn_predict``.

Returns the model struct (fields of facts section 4 plus ``label_enum``,
``gpu_use``, ``float_type``; save it with ``model_file.save_model``) and the
solver's ``info`` (per-iteration or per-epoch values).
"""
from __future__ import annotations

import math

from simplecnn_py.adam import adam
from simplecnn_py.check_data import check_data
from simplecnn_py.cnn_predict import cnn_predict
from simplecnn_py.conventions import struct
from simplecnn_py.errors import InputError
from simplecnn_py.fprintf import fprintf
from simplecnn_py.init_model import init_model
from simplecnn_py.init_net import init_net
from simplecnn_py.newton import newton
from simplecnn_py.parse_options import parse_options
from simplecnn_py.read_config import read_config
from simplecnn_py.rng import Stream
from simplecnn_py.sgd import sgd

__all__ = ["cnn_train"]


def cnn_train(y, Z, config_file, options="", seed=None, *, y_valid=None, Z_valid=None,
              where="data", where_valid="validation data"):
    param = parse_options(options)
    if param.gpu_use:
        raise InputError("options", "-gpu_use 1 needs MATLAB with a GPU; the Python port runs on the CPU only")
    if seed is None:
        seed = param.seed
    stream = seed if isinstance(seed, Stream) else Stream(0 if seed is None else seed)
    param.stream = stream

    config = read_config(config_file) if not isinstance(config_file, struct) else config_file
    config.precision = param.precision
    model = init_model(config, stream)
    prob = check_data(struct(y=y, Z=Z), config, where=where)
    model.label_enum = prob.label_enum
    model.gpu_use = False
    model.float_type = param.precision
    param.C = param.C * prob.l
    if param.GNsize is None:
        param.GNsize = math.ceil(0.05 * prob.l)
    param.GNsize = min(param.GNsize, prob.l)
    net = init_net(config, model)

    if param.solver == 1:
        model, info = newton(prob, param, model, net)
    elif param.solver == 2:
        model, info = sgd(prob, param, model, net)
    else:
        model, info = adam(prob, param, model, net)

    if y_valid is not None:
        _, accuracy = cnn_predict(y_valid, Z_valid, model, where=where_valid)
        fprintf("validation accuracy: %.15g\n", accuracy)
        info.validation_accuracy = accuracy
    return model, info
