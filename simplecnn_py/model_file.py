"""Trained models as MAT files, both ways between Python and MATLAB/Octave.

``save_model(path, model)`` writes the variable ``model``, a MATLAB struct
that ``load(path)`` in MATLAB or Octave gives back as the original's model
(current layout, as ``matlab_ref/current/MATLAB/init_model.m`` and
``cnn_train.m`` build it), ready for ``cnn_predict(y, Z, model)``:

* ``L``, ``LC``, ``LF``, ``nL`` (doubles);
* the config's per-layer vectors as 1 x n rows: ``ch_input``,
  ``wd_pad_added``, ``wd_filter``, ``strides``, ``wd_subimage_pool``,
  ``full_neurons``, and the sizes ``ht_input``, ``wd_input`` (1 x LC+1),
  ``ht_pad``, ``wd_pad``, ``ht_conv``, ``wd_conv`` (1 x LC);
* ``weight``, ``bias``: L x 1 cells (conv ``ch_input(m+1) x
  wd_filter(m)^2*ch_input(m)``, full ``n_m x n_{m-1}``, biases columns), in
  the model's class (single or double);
* ``var_ptr`` ((L+1) x 1), ``label_enum`` (column, the sorted label set),
  ``gpu_use`` (logical false), ``float_type`` (``'double'``/``'single'``);
* when the CLI trained on preprocessed pixels, ``input_scale`` and
  ``input_mean`` (1 x a*b*d): predict on ``Z/input_scale - input_mean``.

``load_model(path)`` reads such a file, or one written in MATLAB by
``save('m.mat', 'model')`` or ``save('m.mat', '-struct', 'model')`` (MAT v5
to v7.3).  The sizes are recomputed from the config fields by
``init_model`` and every weight shape is checked against them; a missing
field or a wrong shape is an ``InputError(path, ...)``.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.conventions import cell, struct
from simplecnn_py.errors import InputError

__all__ = ["save_model", "load_model", "MODEL_FIELDS"]

_VECTORS = ("ch_input", "wd_pad_added", "wd_filter", "strides", "wd_subimage_pool", "full_neurons")
_SIZES = ("ht_input", "wd_input", "ht_pad", "wd_pad", "ht_conv", "wd_conv")
_REQUIRED = ("L", "LC", "ht_input", "wd_input") + _VECTORS + ("weight", "bias")
MODEL_FIELDS = ("L", "LC", "LF", "nL") + _VECTORS + _SIZES + (
    "weight", "bias", "var_ptr", "label_enum", "gpu_use", "float_type", "input_scale", "input_mean")


# --- saving --------------------------------------------------------------------

def _row(values):
    return np.asarray(list(values), dtype=np.float64).reshape(1, -1)


def _cell_column(values):
    out = np.empty((len(values), 1), dtype=object)
    for k, A in enumerate(values):
        out[k, 0] = np.asarray(A)
    return out


def save_model(path, model):
    """``save(path, 'model')`` in MAT v5 (see the module docstring)."""
    import scipy.io

    L = model.L
    label_enum = getattr(model, "label_enum", None)
    if label_enum is None:
        label_enum = np.arange(1, model.nL + 1)
    fields = {
        "L": float(L), "LC": float(model.LC), "LF": float(L - model.LC), "nL": float(model.nL),
        **{name: _row(getattr(model, name)) for name in _VECTORS + _SIZES},
        "weight": _cell_column([model.weight[m] for m in range(1, L + 1)]),
        "bias": _cell_column([np.reshape(model.bias[m], (-1, 1)) for m in range(1, L + 1)]),
        "var_ptr": np.asarray(model.var_ptr, dtype=np.float64).reshape(-1, 1),
        "label_enum": np.asarray(label_enum, dtype=np.float64).reshape(-1, 1),
        "gpu_use": np.array([[bool(getattr(model, "gpu_use", False))]]),
        "float_type": getattr(model, "float_type", None) or ("single" if model.weight[1].dtype == np.float32 else "double"),
    }
    for name in ("input_scale", "input_mean"):
        if getattr(model, name, None) is not None:
            fields[name] = np.atleast_2d(np.asarray(getattr(model, name), dtype=np.float64))
    try:
        scipy.io.savemat(str(path), {"model": fields}, format="5", oned_as="column", do_compression=True)
    except OSError as e:
        raise InputError(path, f"cannot write: {e.strerror or e}") from None


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
    from simplecnn_py.datafile import loadmat
    from simplecnn_py.init_model import init_model
    from simplecnn_py.rng import Stream

    where = str(path)
    v = loadmat(where, ("model",) + MODEL_FIELDS)
    fields = v["model"] if isinstance(v.get("model"), dict) else v
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise InputError(where, "not a simpleNN model: no field " + ", ".join(missing)
                         + " (save('m.mat', 'model') in MATLAB writes one)")
    L, LC = _ints(where, "L", fields["L"])[0], _ints(where, "LC", fields["LC"])[0]
    float_type = _text(fields.get("float_type", "")) or "double"
    if float_type not in ("double", "single"):
        raise InputError(where, f"model field float_type is '{float_type}', not 'double' or 'single'")
    config = struct(L=L, LC=LC, LF=L - LC, precision=float_type,
                    ht_input=_ints(where, "ht_input", fields["ht_input"])[0],
                    wd_input=_ints(where, "wd_input", fields["wd_input"])[0],
                    **{name: cell(_ints(where, name, fields[name])) for name in _VECTORS})
    config.config_file = where
    model = init_model(config, Stream(0))            # sizes, checked; weights replaced below

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

    label_enum = _numbers(where, "label_enum", fields["label_enum"]) if "label_enum" in fields else np.zeros(0)
    if label_enum.size == 0:
        label_enum = np.arange(1, model.nL + 1, dtype=np.float64)
    if label_enum.size > model.nL:
        raise InputError(where, f"model field label_enum has {label_enum.size} labels for nL = {model.nL} outputs")
    model.label_enum = label_enum
    model.gpu_use = False
    model.float_type = float_type
    if "input_mean" in fields:
        model.input_mean = _numbers(where, "input_mean", fields["input_mean"]).reshape(1, -1)
        model.input_scale = float(_numbers(where, "input_scale", fields.get("input_scale", 1.0))[0])
    return model
