"""``[results, acc] = cnn_predict(y, Z, model, options)``: predictions of a trained model.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``MATLAB/cnn_predict.m`` (current layout); this repository's MATLAB twins are
``matlab_ref/current/MATLAB/cnn_predict.m`` and, for the seed layout's
``[predict, acc] = cnn_predict(y, Z, model)``,
``matlab_ref/seed/cnn_predict.m``. No equation of the gradient-calculation
slides beyond the forward pass (eq. (3)).  ``options`` may only be
``'-bsize N'`` (default 128; read with ``strsplit`` + ``str2num`` as
``cnn_train``'s); the precision is ``model.float_type``.
``check_data(y, Z, model.net_config)`` runs as in training, so -- QUIRK of the
original -- the labels of the data must take exactly nL distinct values (a test
set missing a class is refused). ``predict`` feeds the data forward in batches
of bsize and maps the winning rows through ``model.labels``;
``acc = sum(results == y)/length(y)`` (``cal_accuracy``).

A model of the seed layout (simpleNN commit ff2333d: the settings in ``model.param``, no
``net_config``) is predicted as that version's ``cnn_predict`` does: the
labels must be exactly 1..nL, ``options`` are not taken, and the batches
are those of ``predict.predict_seed`` (its quirk included).

The port's keyword ``where`` names the data in error messages.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.cnn.cal_accuracy import cal_accuracy
from simplecnn_py.cnn.check_data import check_data
from simplecnn_py.support.conventions import struct
from simplecnn_py.support.errors import InputError
from simplecnn_py.cnn.init_net import init_net
from simplecnn_py.opt.parse_options import str2num
from simplecnn_py.cnn.predict import predict, predict_seed

__all__ = ["cnn_predict", "parameter"]


def cnn_predict(y, Z, model, options="", *, where="data"):
    precision = getattr(model, "float_type", None) or "double"
    seed_model = getattr(model, "seed_SR", None) is not None
    if seed_model and options:
        raise InputError("options", "a seed-layout model's cnn_predict takes no options")
    param = parameter(options)
    param.precision = precision
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    shape = struct(ht_input=model.ht_input[1], wd_input=model.wd_input[1], ch_input=model.ch_input,
                   nL=model.nL, precision=precision)
    if hasattr(Z, "toarray"):
        raise InputError(where, "Z is a sparse matrix; the original's check_data refuses it "
                                "(the feature matrix must be dense)")
    try:
        # seed-layout check_data(prob, param); current layout: check_data(y, Z, model)
        prob = check_data(struct(y=y, Z=Z), shape, where=where)
    except InputError as e:
        if "distinct labels" in e.what:
            raise InputError(where, e.what + " (the original cnn_predict checks the test labels as "
                                             "cnn_train does: every class must occur)") from None
        raise
    # seed-layout init_net(param, model); current layout: init_net(model, param)
    net = init_net(param, model)
    if seed_model and not np.array_equal(prob.label_enum, np.arange(1, model.nL + 1)):
        raise InputError(where, f"a seed-layout model needs the labels 1..{model.nL} (its "
                                "check_data refuses others)")
    # with finite weights and inputs, an overflow is the only way to a value
    # that is not finite: it stops the prediction, and one line names the stage
    try:
        with np.errstate(over="raise", invalid="raise"):
            if seed_model:
                results = predict_seed(prob, param, model, net, model.seed_SR)
            else:
                results = predict(prob, param, model, net)
    except FloatingPointError:
        from simplecnn_py.support.finite import where_forward_overflows

        raise InputError(where, f"the network's values stop being finite at "
                                f"{where_forward_overflows(prob, param, model)} (overflow: are the model's "
                                f"weights or the inputs far too large?); no prediction made") from None
    acc = cal_accuracy(results, y)
    return results, acc


def parameter(options):
    """The sub-functions ``parameter``/``parse_options`` of ``cnn_predict.m``."""
    param = struct(bsize=128)
    if options is None or not str(options).strip():
        return param
    tokens = [t for t in str(options).strip().split(" ") if t != ""]
    if len(tokens) % 2 != 0:
        raise InputError("options", f"each option is a name and a value; got {len(tokens)} tokens")
    for name, token in zip(tokens[0::2], tokens[1::2]):
        if name != "-bsize":
            raise InputError("options", f"{name} is not a supported option of cnn_predict (only -bsize)")
        value = str2num(token)
        if value is None or not (np.isfinite(value) and value == round(value) and value >= 1):
            raise InputError("options", f"option -bsize must be an integer >= 1, not '{token}'")
        param.bsize = int(value)
    return param
