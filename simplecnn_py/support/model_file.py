"""Trained models as MAT files, both ways between Python and MATLAB/Octave.

``save_model(path, model)`` writes the variable ``model``, the struct the
real ``cnn_train`` (current layout, ``cnn/train.m``; simpleNN, BSD-3,
C.-C. Wang, K. L. Tan, C.-J. Lin) returns, so that ``load(path)`` then
``cnn_predict(y, Z, model)`` works in MATLAB/Octave with the real code:

* ``net_config``: the config as ``read_config`` gives it (scalars, per-layer
  row vectors, ``nL``); ``gpu_use`` (logical false); ``float_type``
  (``'double'``/``'single'``);
* ``LC``, ``L``, ``nL``; the sizes as columns: ``ht_input``, ``wd_input``,
  ``ch_input`` ((LC+1) x 1), ``wd_pad_added``, ``ht_pad``, ``wd_pad``,
  ``ht_conv``, ``wd_conv``, ``wd_filter``, ``strides``, ``wd_subimage_pool``
  (LC x 1), ``full_neurons`` (LF x 1);
* ``weight``, ``bias``: L x 1 cells; ``var_ptr`` ((L+1) x 1); ``labels``
  (column, the sorted training label set);
* ``param``: the settings the seed layout's ``cnn_predict`` (ff2333d) reads
  (``L``, ``LC``, ``LF``, ``nL``, the config vectors, ``SR = 1``: that
  version then predicts all instances in one batch, so its tail quirk --
  see ``predict.predict_seed`` -- never drops any);
* the port's additions, which the real code ignores: ``input_rowmajor``
  (how the training images were laid out: ``simplecnn train --rowmajor``),
  ``input_scale`` and ``input_mean`` (``--normalize``: predict on
  ``Z/input_scale - input_mean``).

``load_model(path)`` reads such a file, one saved in MATLAB/Octave by the
real current ``cnn_train`` (``save('m.mat', 'model')``, MAT v5 to v7.3, or
``'-struct'``), one of the seed layout (the settings in ``model.param``; it
is then predicted as that version does: ``model.seed_SR``), or one written
by earlier versions of the port (the fields at top level, ``label_enum``).
The sizes are recomputed from the config fields by ``init_model`` and every
weight shape is checked against them; a missing field or a wrong shape is an
``InputError(path, ...)``.  Files are written atomically (temp + rename).
"""
from __future__ import annotations

import os

import numpy as np

from simplecnn_py.support.conventions import cell, struct
from simplecnn_py.support.errors import InputError

__all__ = ["save_model", "load_model", "MODEL_FIELDS", "atomic_write"]

_VECTORS = ("ch_input", "wd_pad_added", "wd_filter", "strides", "wd_subimage_pool", "full_neurons")
_SIZES = ("ht_input", "wd_input", "ht_pad", "wd_pad", "ht_conv", "wd_conv")
_CONFIG = ("L", "LC", "ht_input", "wd_input") + _VECTORS
MODEL_FIELDS = ("net_config", "param", "L", "LC", "LF", "nL") + _VECTORS + _SIZES + (
    "weight", "bias", "var_ptr", "labels", "label_enum", "gpu_use", "float_type", "input_scale",
    "input_mean", "input_rowmajor")


# --- saving --------------------------------------------------------------------

def _col(values):
    return np.asarray(list(values), dtype=np.float64).reshape(-1, 1)


def _row(values):
    return np.asarray(list(values), dtype=np.float64).reshape(1, -1)


def _cell_column(values):
    out = np.empty((len(values), 1), dtype=object)
    for k, A in enumerate(values):
        out[k, 0] = np.asarray(A)
    return out


def _config_fields(model):
    L, LC = model.L, model.LC
    return {"L": float(L), "LC": float(LC), "LF": float(L - LC),
            "wd_input": float(model.wd_input[1]), "ht_input": float(model.ht_input[1]),
            **{name: _row(getattr(model, name)) for name in _VECTORS},
            "nL": float(model.nL)}


def atomic_write(path, write):
    """``write(tmp)`` to a temporary file beside ``path``, then renamed over it
    (``support/atomic.py``); a failure is one ``InputError`` naming the file."""
    from .atomic import replacing

    path = str(path)
    try:
        with replacing(path, suffix=os.path.splitext(path)[1]) as tmp:
            write(tmp)
    except OSError as e:
        raise InputError(path, f"cannot write: {e.strerror or e}") from None


def save_model(path, model):
    """``save(path, 'model')`` in MAT v5 (see the module docstring)."""
    import scipy.io

    L = model.L
    labels = getattr(model, "labels", None)
    if labels is None:
        labels = getattr(model, "label_enum", None)
    if labels is None:
        labels = np.arange(1, model.nL + 1)
    config = _config_fields(model)
    float_type = getattr(model, "float_type", None) or (
        "single" if model.weight[1].dtype == np.float32 else "double")
    fields = {
        "net_config": config,
        "gpu_use": np.array([[False]]),
        "float_type": float_type,
        "LC": float(model.LC), "L": float(L), "nL": float(model.nL),
        **{name: _col(getattr(model, name)) for name in ("ht_input", "wd_input", "ch_input", "wd_pad_added",
                                                          "ht_pad", "wd_pad", "ht_conv", "wd_conv",
                                                          "wd_filter", "strides", "wd_subimage_pool",
                                                          "full_neurons")},
        "weight": _cell_column([model.weight[m] for m in range(1, L + 1)]),
        "bias": _cell_column([np.reshape(model.bias[m], (-1, 1)) for m in range(1, L + 1)]),
        "var_ptr": np.asarray(model.var_ptr, dtype=np.float64).reshape(-1, 1),
        "labels": np.asarray(labels, dtype=np.float64).reshape(-1, 1),
        "param": {**config, "SR": 1.0, "solver": 1.0},
    }
    if getattr(model, "input_rowmajor", None) is not None:
        fields["input_rowmajor"] = np.array([[bool(model.input_rowmajor)]])
    for name in ("input_scale", "input_mean"):
        if getattr(model, name, None) is not None:
            fields[name] = np.atleast_2d(np.asarray(getattr(model, name), dtype=np.float64))
    atomic_write(path, lambda tmp: scipy.io.savemat(tmp, {"model": fields}, format="5", oned_as="column",
                                                    do_compression=True))


# --- loading -------------------------------------------------------------------

def _numbers(where, name, v):
    if hasattr(v, "toarray"):
        v = v.toarray()
    try:
        a = np.asarray(v, dtype=np.float64).reshape(-1, order="F")
    except (TypeError, ValueError):
        raise InputError(where, f"model field {name} is not numeric") from None
    if not np.all(np.isfinite(a)):
        raise InputError(where, f"model field {name} has NaN/Inf entries")
    return a


def _ints(where, name, v):
    a = _numbers(where, name, v)
    if np.any(a != np.round(a)):
        raise InputError(where, f"model field {name} must hold integers")
    return [int(x) for x in a]


def _text(v):
    a = np.asarray(v)
    if a.dtype.kind in "US":
        return "".join(str(x) for x in a.reshape(-1))
    return ""


def _cells(where, name, v, L):
    if not (isinstance(v, np.ndarray) and v.dtype == object) or v.ndim != 2 or min(v.shape) > 1:
        raise InputError(where, f"model field {name} must be an L x 1 cell array")
    if v.size != L:
        raise InputError(where, f"model field {name} has {v.size} cells but L = {L}")
    return list(v.reshape(-1, order="F"))


def load_model(path):
    """The model struct saved in ``path`` (see the module docstring)."""
    from simplecnn_py.support.datafile import loadmat
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.support.rng import NoDraws

    where = str(path)
    v = loadmat(where, ("model",) + MODEL_FIELDS)
    fields = v["model"] if isinstance(v.get("model"), dict) else v
    seed_SR = None
    if isinstance(fields.get("net_config"), dict):
        source = fields["net_config"]                       # the real current cnn_train's model
    elif isinstance(fields.get("param"), dict):
        source = fields["param"]                            # the seed layout's (ff2333d) model
        seed_SR = float(_numbers(where, "param.SR", source.get("SR", 0.05))[0])
        if not 0 < seed_SR <= 1:
            raise InputError(where, f"model field param.SR is {seed_SR:g}, not in (0, 1]")
    else:
        source = fields                                     # earlier port files: fields at top level
    missing = [k for k in _CONFIG if k not in source] + [k for k in ("weight", "bias") if k not in fields]
    if missing:
        raise InputError(where, "not a simpleNN model: no field " + ", ".join(missing)
                         + " (save('m.mat', 'model') in MATLAB writes one)")
    L, LC = _ints(where, "L", source["L"])[0], _ints(where, "LC", source["LC"])[0]
    float_type = _text(fields.get("float_type", "")) or "double"
    if float_type not in ("double", "single"):
        raise InputError(where, f"model field float_type is '{float_type}', not 'double' or 'single'")
    config = struct(L=L, LC=LC, LF=L - LC, precision=float_type,
                    ht_input=_ints(where, "ht_input", source["ht_input"])[0],
                    wd_input=_ints(where, "wd_input", source["wd_input"])[0],
                    **{name: cell(_ints(where, name, source[name])) for name in _VECTORS})
    config.config_file = where
    model = init_model(config, NoDraws())              # sizes, checked; weights replaced below

    for name in _SIZES[2:]:
        if name in fields and _ints(where, name, fields[name]) != list(getattr(model, name)):
            raise InputError(where, f"model field {name} = {_ints(where, name, fields[name])} disagrees with "
                                    f"the sizes computed from its config fields {list(getattr(model, name))}")
    dtype = np.float32 if float_type == "single" else np.float64
    Ws = _cells(where, "weight", fields["weight"], L)
    bs = _cells(where, "bias", fields["bias"], L)
    for m in range(1, L + 1):
        W = _numbers(where, f"weight{{{m}}}", Ws[m - 1])
        b = _numbers(where, f"bias{{{m}}}", bs[m - 1])
        want = model.weight[m].shape
        if np.shape(Ws[m - 1]) != want:
            raise InputError(where, f"weight{{{m}}} is {' x '.join(map(str, np.shape(Ws[m - 1])))}; "
                                    f"the model's sizes need {want[0]} x {want[1]}")
        if b.size != want[0]:
            raise InputError(where, f"bias{{{m}}} has {b.size} entries; the model's sizes need {want[0]}")
        model.weight[m] = np.asfortranarray(W.reshape(want, order="F"), dtype=dtype)
        model.bias[m] = np.asfortranarray(b.reshape(-1, 1), dtype=dtype)
    if "var_ptr" in fields and _ints(where, "var_ptr", fields["var_ptr"]) != list(np.asarray(model.var_ptr).reshape(-1)):
        raise InputError(where, "model field var_ptr disagrees with the weight sizes")

    name = "labels" if "labels" in fields else "label_enum"
    labels = _numbers(where, name, fields[name]) if name in fields else np.zeros(0)
    if labels.size == 0:
        labels = np.arange(1, model.nL + 1, dtype=np.float64)
    if labels.size != model.nL and seed_SR is None:
        raise InputError(where, f"model field {name} has {labels.size} labels for nL = {model.nL} outputs")
    model.labels = labels
    model.seed_SR = seed_SR
    model.net_config = source
    model.gpu_use = False
    model.float_type = float_type
    if "input_rowmajor" in fields:
        model.input_rowmajor = bool(_numbers(where, "input_rowmajor", fields["input_rowmajor"])[0])
    if "input_mean" in fields:
        model.input_mean = _numbers(where, "input_mean", fields["input_mean"]).reshape(1, -1)
        model.input_scale = float(_numbers(where, "input_scale", fields.get("input_scale", 1.0))[0])
    return model
