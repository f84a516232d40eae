"""``simplecnn export``: a trained simpleNN model as an ONNX graph or a torch.export program.

``export_model(model_path, fmt, out, precision, verify)`` reads a model
file (the real current ``cnn_train``'s struct, the seed layout's, or one of
``simplecnn train``: ``simplecnn_py``'s ``load_model``), converts its
weights (``layouts.torch_layers``) and writes

* ``fmt="onnx"``: an ONNX graph (``onnx_graph.build_onnx``; needs the
  ``[onnx]`` extra), the metadata in ``metadata_props``;
* ``fmt="torch"``: a ``torch.export`` ``ExportedProgram`` saved with
  ``torch.export.save`` (needs ``[torch]``); torch alone loads and runs it
  (``torch.export.load(path).module()(images)``), the metadata in its extra
  file ``simplecnn.json`` (``torch.export.load(path, extra_files=...)``).

Both take ``images`` (N, C, H, W) and give ``scores`` (N, nL); the predicted
label of an image is ``labels[argmax(scores)]``.  The file is written whole
or not at all (temporary file + rename).  With ``verify`` (a data file),
the port's forward and the exported file are run on its images and
compared (``verify.verify_export``).

The metadata (keys ``simplecnn.*``): ``labels`` (JSON list), ``config`` (the
simpleNN config text of the network), ``input`` (how to make the images
from ``cnn_predict``'s Z), ``input_layout`` and ``normalisation`` (what a
model of ``simplecnn train`` recorded, and what the graph then expects),
``output``, ``precision``, ``source``; a float64 ONNX graph also ``graph``
(why its convolutions are Gather + MatMul).
"""
from __future__ import annotations

import json
import os

import numpy as np

from simplecnn_interop import layouts
from simplecnn_interop.from_port import InputError, atomic_write, load_model, struct
from simplecnn_interop.extras import require

__all__ = ["export_model", "config_text", "model_metadata", "input_notes", "FORMATS"]

FORMATS = ("onnx", "torch")
_VECTORS = ("ch_input", "wd_pad_added", "wd_filter", "strides", "wd_subimage_pool", "full_neurons")


def config_text(model):
    """The simpleNN config file of ``model``'s network."""
    lines = [f"L = {model.L};", f"LC = {model.LC};", f"LF = {model.L - model.LC};",
             f"ht_input = {model.ht_input[1]};", f"wd_input = {model.wd_input[1]};"]
    for name in _VECTORS:
        vec = getattr(model, name)
        lines.append(f"{name} = [{','.join(str(int(vec[k])) for k in range(1, len(vec) + 1))}];")
    return "\n".join(lines) + "\n"


def _source(model):
    if getattr(model, "seed_SR", None) is not None:
        return "a seed-layout (ff2333d) cnn_train model"
    if getattr(model, "input_rowmajor", None) is not None:
        return "a simplecnn train model"
    return "a cnn_train model (current layout)"


def input_notes(model):
    """{'input', 'input_layout', 'normalisation'}: what the exported graph expects."""
    C, H, W = model.ch_input[1], model.ht_input[1], model.wd_input[1]
    shape = f"(N, {C}, {H}, {W})"
    if getattr(model, "input_rowmajor", False):
        layout = ("row-major: the model was trained on a file whose images are stored row-major "
                  f"(simplecnn train --rowmajor); the graph takes them upright, {shape}: from such a "
                  f"file's Z (l x {H * W * C}), Z.reshape(N, {C}, {H}, {W})")
    else:
        layout = (f"column-major (simpleNN's own): from cnn_predict's Z (l x {H * W * C}, each channel's "
                  f"image vec'ed column-major), Z.reshape(N, {C}, {W}, {H}).transpose(0, 1, 3, 2)")
    if getattr(model, "input_mean", None) is not None:
        norm = (f"built in: the graph computes images/{model.input_scale:g} - input_mean (the training "
                "mean that simplecnn train --normalize recorded) itself; feed the raw pixel values")
    else:
        norm = "none: feed the values cnn_predict is fed"
    return {"input": f"images {shape}, the instances cnn_predict is fed, only reshaped",
            "input_layout": layout, "normalisation": norm}


def model_metadata(model, precision, source_path):
    labels = [float(v) if float(v) != int(v) else int(v) for v in np.asarray(model.labels).reshape(-1)]
    return {"simplecnn.labels": json.dumps(labels),
            "simplecnn.config": config_text(model),
            **{f"simplecnn.{k}": v for k, v in input_notes(model).items()},
            "simplecnn.output": f"scores (N, {model.nL}) of the last layer (no ReLU); "
                                "label = labels[argmax(scores)]",
            "simplecnn.precision": "float64" if precision == "double" else "float32",
            "simplecnn.source": f"{_source(model)}: {os.path.basename(str(source_path))}"}


def _normalisation(model):
    if getattr(model, "input_mean", None) is None:
        return None
    C, H, W = model.ch_input[1], model.ht_input[1], model.wd_input[1]
    mean = layouts.images_to_nchw(np.asarray(model.input_mean).reshape(1, -1), H, W, C)[0]
    return float(model.input_scale), mean


def _check_out(out):
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        raise InputError(out, "is a directory; --out names the file to write")
    if not os.path.isdir(folder):
        raise InputError(out, f"cannot write: no folder {folder}")
    if not os.access(folder, os.W_OK):
        raise InputError(out, f"cannot write: folder {folder} is not writable")


def _write_onnx(model, layers, precision, meta, out):
    require("onnx", "simplecnn export --format onnx")
    import onnx

    from simplecnn_interop.onnx_graph import OPSET, build_onnx

    shape = (model.ch_input[1], model.ht_input[1], model.wd_input[1])
    if precision == "double":
        meta = {**meta, "simplecnn.graph": "float64: each convolution is Pad + Gather + MatMul (im2col), as "
                                           "ONNX Runtime's CPU provider has no float64 Conv kernel"}
    proto = build_onnx(layers, shape, precision, _normalisation(model), meta)
    atomic_write(out, lambda tmp: onnx.save(proto, tmp))
    if precision == "double":
        return (f"ONNX opset {OPSET}, each conv as Pad + Gather + MatMul (ONNX Runtime's CPU provider has no "
                "float64 Conv)")
    return f"ONNX opset {OPSET}"


def _write_torch(model, layers, precision, meta, out):
    torch = require("torch", "simplecnn export --format torch")
    from simplecnn_interop.torch_net import build_module

    dtype = torch.float64 if precision == "double" else torch.float32
    shape = (model.ch_input[1], model.ht_input[1], model.wd_input[1])
    module = build_module(layers, shape, dtype, _normalisation(model))
    example = torch.zeros((2,) + shape, dtype=dtype)
    program = torch.export.export(module, (example,), dynamic_shapes={"x": {0: torch.export.Dim("N", min=1)}})
    extra = {"simplecnn.json": json.dumps(meta, indent=1)}
    atomic_write(out, lambda tmp: torch.export.save(program, tmp, extra_files=extra))
    return f"torch.export program (torch {torch.__version__.split('+')[0]}; torch.export.load(FILE).module())"


def export_model(model_path, fmt, out, precision="single", verify=None):
    """Export; ``struct(lines, labels_differ)`` (see the module docstring)."""
    if fmt not in FORMATS:
        raise InputError("--format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
    if precision not in ("single", "double"):
        raise InputError("--precision", f"'{precision}' is not single or double")
    require("onnx" if fmt == "onnx" else "torch", f"simplecnn export --format {fmt}")
    if verify is not None:
        require("onnxruntime" if fmt == "onnx" else "torch", f"simplecnn export --format {fmt} --verify")
        if not os.path.isfile(verify):
            raise InputError(verify, "no such file")
    out = str(out)
    _check_out(out)
    model = load_model(model_path)
    data = None
    if verify is not None:                       # checked before anything is written
        from simplecnn_interop.verify import load_verify_data

        data = load_verify_data(model, verify)
    layers = layouts.torch_layers(model)
    meta = model_metadata(model, precision, model_path)
    what = (_write_onnx if fmt == "onnx" else _write_torch)(model, layers, precision, meta, out)
    C, H, W = model.ch_input[1], model.ht_input[1], model.wd_input[1]
    notes = input_notes(model)
    lines = [f"wrote {out}: {what}, {meta['simplecnn.precision']}",
             f"  from {meta['simplecnn.source']}: {model.LC} conv + {model.L - model.LC} full layers",
             f"  input: images (N, {C}, {H}, {W}); layout {notes['input_layout']}",
             f"  normalisation: {notes['normalisation']}",
             f"  output: scores (N, {model.nL}); labels {_short(meta['simplecnn.labels'])} in the metadata"]
    report = struct(lines=lines, labels_differ=False)
    if data is not None:
        from simplecnn_interop.verify import verify_export

        check = verify_export(model, out, fmt, precision, data)
        report.lines += check.lines
        report.labels_differ = check.differ > 0
    return report


def _short(text, width=60):
    return text if len(text) <= width else text[:width - 4] + " ...]"
