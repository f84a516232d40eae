"""``simplecnn import``: PyTorch weights -> a simpleNN model struct.

``import_torch(path, config, out, labels=None, precision=None)`` reads
``path``, one of

* a ``state_dict`` saved with ``torch.save(module.state_dict(), path)``
  (read with ``torch.load(..., weights_only=True)``: no code runs);
* a saved module that torch loads without its Python class: a TorchScript
  file (``torch.jit.save``) or a ``torch.export`` program
  (``torch.export.save``, e.g. one of ``simplecnn export --format torch``,
  whose recorded labels are then taken);

takes its tensors in order, each weight (4-D: a ``Conv2d``, 2-D: a
``Linear``) followed by its bias, checks them against the network of the
simpleNN ``config`` (the first layer that does not fit is named), converts
them to simpleNN's layout (``layouts.weights_from_torch``) and writes the
struct that the real ``cnn_train`` returns (``save_model``: MAT v5, written
whole or not at all), so that MATLAB/Octave ``load(out)`` then
``cnn_predict(y, Z, model)`` predicts with it.

What the config says and the tensors cannot (stride, padding, pooling, the
ReLUs, the flatten order) is taken from the config: the PyTorch module must
compute simpleNN's network (``torch_net.SimpleNNNet`` does), with
``torch.flatten`` of (C, H, W) before the first ``Linear``.

``labels``: the class labels (nL numbers, or their text "0,1,..."; ``model.labels``); default the
program's recorded labels, else 1..nL.  ``precision``: ``'single'`` or
``'double'`` (``model.float_type``); default single for float32 (or
narrower) tensors, double for float64 ones.
"""
from __future__ import annotations

import json
import os
import re
import zipfile

import numpy as np

from simplecnn_interop import layouts
from simplecnn_interop.from_port import InputError, NoDraws, init_model, read_config, save_model, struct
from simplecnn_interop.extras import require

__all__ = ["import_torch", "load_torch_tensors"]


def _zip_names(path):
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def load_torch_tensors(path):
    """``([(name, numpy array)], metadata dict)`` of a state_dict, TorchScript or torch.export file."""
    torch = require("torch", "simplecnn import")
    where = str(path)
    if not os.path.isfile(where):
        raise InputError(where, "no such file")
    names = _zip_names(where)
    meta = {}
    try:
        if any(n.endswith("serialized_exported_program.json") or "/models/" in n for n in names):
            extra = {"simplecnn.json": ""}
            state = torch.export.load(where, extra_files=extra).state_dict
            meta = json.loads(extra["simplecnn.json"] or "{}")
        elif any("/code/" in n for n in names):
            state = torch.jit.load(where, map_location="cpu").state_dict()
        else:
            state = torch.load(where, map_location="cpu", weights_only=True)
    except Exception as e:                          # torch raises many kinds; one line says it
        text = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(str(e).split()))
        if "weights only load failed" in text.lower() and any(n.endswith("data.pkl") for n in names):
            raise InputError(where, "holds pickled Python objects, not just tensors (a module saved whole with "
                                    "torch.save(module)?): loading it would run code from the file; save "
                                    "module.state_dict(), or use torch.export.save / torch.jit.save") from None
        if not names:
            raise InputError(where, "not a PyTorch state_dict, TorchScript or torch.export file (torch.save, "
                                    "torch.jit.save and torch.export.save write zip archives)") from None
        raise InputError(where, "not a PyTorch state_dict, TorchScript or torch.export file: "
                                f"{text[:160]}{'...' if len(text) > 160 else ''}") from None
    if hasattr(state, "state_dict") and callable(state.state_dict):
        state = state.state_dict()
    if not isinstance(state, dict) or not state:
        raise InputError(where, f"holds {type(state).__name__}, not a state_dict (a dict of tensors)")
    out = []
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            raise InputError(where, f"entry '{name}' is {type(t).__name__}, not a tensor")
        if not t.is_floating_point():
            raise InputError(where, f"entry '{name}' holds {t.dtype} values: only Conv2d and Linear weights "
                                    "and biases map to simpleNN (no batch norm or embeddings)")
        out.append((str(name), t.detach().cpu().numpy()))
    return out, meta


def _pairs(where, tensors):
    """[(weight name, weight, bias)] in order; normalisation buffers of our own export set aside."""
    pairs, extra = [], {}
    for name, t in tensors:
        if name in ("input_scale", "input_mean"):
            extra[name] = t
        elif t.ndim in (2, 4):
            pairs.append([name, t, None])
        elif t.ndim == 1 and pairs and pairs[-1][2] is None:
            pairs[-1][2] = t
        else:
            what = "a bias with no weight before it" if t.ndim == 1 else f"a {t.ndim}-D tensor"
            raise InputError(where, f"entry '{name}' is {what}: expected each Conv2d/Linear weight followed by "
                                    "its bias")
    for name, W, b in pairs:
        if b is None:
            raise InputError(where, f"layer '{name}' has no bias (simpleNN's layers all have one)")
    return pairs, extra


def _labels(where, given, meta, nL):
    if isinstance(given, str):
        try:
            given = [float(v) for v in given.replace(" ", "").split(",") if v != ""]
        except ValueError:
            raise InputError("--labels", f"'{given}' is not a comma-separated list of numbers") from None
    if given is None:
        given = json.loads(meta["simplecnn.labels"]) if "simplecnn.labels" in meta else list(range(1, nL + 1))
    labels = np.asarray(given, dtype=np.float64).reshape(-1)
    if labels.size != nL or len(set(labels.tolist())) != nL or not np.all(np.isfinite(labels)):
        raise InputError(where, f"{labels.size} labels given; the config's last layer needs {nL} distinct ones")
    return labels


def import_torch(path, config, out, labels=None, precision=None):
    """Write the model struct; ``struct(lines, model)`` (see the module docstring)."""
    where = str(path)
    if precision not in (None, "single", "double"):
        raise InputError("--precision", f"'{precision}' is not single or double")
    param = read_config(config)
    model = init_model(param, NoDraws())
    tensors, meta = load_torch_tensors(where)
    pairs, extra = _pairs(where, tensors)
    shapes = layouts.torch_shapes(model)
    for m, ((kind, wshape, _), (name, W, b)) in enumerate(zip(shapes, pairs), start=1):
        if W.shape != wshape or b.shape != (wshape[0],):
            got = " x ".join(map(str, W.shape)) + (f" (bias {b.size})" if W.shape == wshape else "")
            raise InputError(where, f"layer {m} ('{name}') is {got}; the config's {kind} layer {m} needs "
                                    f"{' x '.join(map(str, wshape))} (bias {wshape[0]})")
    if len(pairs) != len(shapes):
        m = min(len(pairs), len(shapes)) + 1
        which = f"no layer {m} in the file" if len(pairs) < len(shapes) else f"an extra layer '{pairs[m - 1][0]}'"
        raise InputError(where, f"{len(pairs)} layers, the config has L = {len(shapes)}: {which}")
    for name, W, b in pairs:
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise InputError(where, f"layer '{name}' has NaN/Inf values")
    if precision is None:
        precision = "double" if all(W.dtype == np.float64 for _, W, _ in pairs) else "single"
    dtype = np.float64 if precision == "double" else np.float32
    weights, biases = layouts.weights_from_torch(model, [(W.astype(np.float64), b.astype(np.float64))
                                                         for _, W, b in pairs])
    for m in range(1, model.L + 1):
        model.weight[m] = np.asfortranarray(weights[m - 1], dtype=dtype)
        model.bias[m] = np.asfortranarray(biases[m - 1], dtype=dtype)
    model.labels = _labels(where, labels, meta, model.nL)
    model.float_type = precision
    lines = []
    if "input_mean" in extra:
        C, H, W = model.ch_input[1], model.ht_input[1], model.wd_input[1]
        model.input_scale = float(np.asarray(extra.get("input_scale", 1.0)).reshape(-1)[0])
        model.input_mean = layouts.images_from_nchw(np.asarray(extra["input_mean"], np.float64).reshape(1, C, H, W))
        model.input_rowmajor = "row-major" in meta.get("simplecnn.input_layout", "")
        lines.append("  the program normalises its input: input_scale and input_mean kept in the model (simplecnn "
                     "predict applies them; the real cnn_predict ignores them: normalise Z first)")
    save_model(out, model)
    shown = ", ".join(f"{v:g}" for v in model.labels[:10]) + (", ..." if model.nL > 10 else "")
    lines.insert(0, f"wrote {out}: {model.LC} conv + {model.L - model.LC} full layers from {where} "
                    f"({', '.join(name for name, _, _ in pairs)}), float_type {precision}, labels {shown}")
    lines.insert(1, "  MATLAB/Octave: load(FILE); [labels, acc] = cnn_predict(y, Z, model);")
    return struct(lines=lines, model=model)
