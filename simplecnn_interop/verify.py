"""Run an exported file, and check it against the port's forward pass.

* ``run_onnx(path, images)`` / ``run_torch(path, images)``: the (N, nL)
  scores of an exported file on (N, C, H, W) images, with ONNX Runtime's
  CPU provider / torch alone (``torch.export.load``);
* ``read_metadata(path, fmt)``: the ``simplecnn.*`` metadata as a dict;
* ``port_scores(model, Z)``: nL x l scores of the port's ``feedforward``
  over batches of 128, as ``cnn_predict`` runs it (Z: l x (a*b*d) in
  cnn_predict's layout, already normalised);
* ``verify_export(model, path, fmt, precision, data)``: both on the
  images of a data file (``load_verify_data``: read with the model's
  recorded layout, as ``simplecnn predict`` reads it; the port is
  fed the normalised images, the exported file the raw ones when the
  normalisation is built in); the largest score difference, absolute and
  relative to the largest port score, and the label agreement.

A seed-layout model is compared on every instance: its own ``cnn_predict``
leaves the instances past its last whole batch unpredicted (class 1), which
is no property of the network and is not in the exported file.
"""
from __future__ import annotations

import json
import math

import numpy as np

from simplecnn_interop import layouts
from simplecnn_interop.from_port import cols, feedforward, init_net, load_data, struct

__all__ = ["run_onnx", "run_torch", "read_metadata", "port_scores", "load_verify_data", "verify_export"]


def _dtype(precision):
    return np.float64 if precision in ("double", "float64") else np.float32


def run_onnx(path, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    elem = session.get_inputs()[0].type
    return session.run(None, {"images": np.asarray(images, dtype=np.float64 if "double" in elem else np.float32)})[0]


def run_torch(path, images):
    import torch

    program = torch.export.load(str(path))
    dtype = next(iter(program.state_dict.values())).dtype
    with torch.no_grad():
        return program.module()(torch.as_tensor(np.asarray(images)).to(dtype)).numpy()


def read_metadata(path, fmt):
    if fmt == "onnx":
        import onnx

        return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    import torch

    extra = {"simplecnn.json": ""}
    torch.export.load(str(path), extra_files=extra)
    return json.loads(extra["simplecnn.json"] or "{}")


def port_scores(model, Z, bsize=128):
    precision = getattr(model, "float_type", None) or "double"
    a, b, d = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    X = layouts.images_to_nchw(Z, a, b, d)
    data = layouts.feature_map_from_nchw(X).reshape(d * a * b, -1, order="F").astype(_dtype(precision))
    param = struct(bsize=bsize, precision=precision)
    net = init_net(param, model)
    l = data.shape[1]
    out = np.zeros((model.nL, l), dtype=data.dtype)
    for i in range(math.ceil(l / bsize)):
        batch = np.arange(i * bsize + 1, min(l, (i + 1) * bsize) + 1)
        net = feedforward(cols(data, batch), param, model, net)
        out[:, batch - 1] = net.Z[model.L + 1]
    return out


def load_verify_data(model, data_path):
    """The data file's images read as ``simplecnn predict`` reads them for
    ``model`` (its recorded layout; checked against its sizes):
    ``struct(path, y, Z)``, Z raw (not normalised), dense."""
    shape = struct(ht_input=model.ht_input[1], wd_input=model.wd_input[1], ch_input=model.ch_input)
    prob = load_data(data_path, shape, rowmajor=bool(getattr(model, "input_rowmajor", False)))
    Z = prob.Z.toarray() if hasattr(prob.Z, "toarray") else np.asarray(prob.Z)
    return struct(path=str(data_path), y=prob.y, Z=Z)


def verify_export(model, path, fmt, precision, data):
    """``struct(lines, differ, max_abs, max_rel, l)`` for ``data`` of
    ``load_verify_data`` (see the module docstring)."""
    a, b, d = model.ht_input[1], model.wd_input[1], model.ch_input[1]
    Z, data_path = data.Z, data.path
    Zport = Z
    if getattr(model, "input_mean", None) is not None:
        Zport = Z / model.input_scale - np.asarray(model.input_mean).reshape(1, -1)
    ref = port_scores(model, Zport).T.astype(np.float64)                 # l x nL
    images = layouts.images_to_nchw(Z, a, b, d).astype(_dtype(precision))
    got = (run_onnx if fmt == "onnx" else run_torch)(path, images).astype(np.float64)
    labels = np.asarray(model.labels, dtype=np.float64).reshape(-1)
    want_labels, got_labels = labels[np.argmax(ref, axis=1)], labels[np.argmax(got, axis=1)]
    differ = int(np.sum(want_labels != got_labels))
    max_abs = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    max_rel = max_abs / scale if scale > 0 else max_abs
    l = ref.shape[0]
    acc_port, acc_exp = np.mean(want_labels == data.y), np.mean(got_labels == data.y)
    lines = [f"verify on {data_path} ({l} images): largest score difference {max_abs:.3g} "
             f"({max_rel:.3g} of the largest score) between the port's cnn_predict forward and {path}",
             f"  labels agree on {l - differ}/{l}; accuracy {acc_port:.4f} (port), {acc_exp:.4f} (exported)"]
    if getattr(model, "seed_SR", None) is not None:
        lines.append("  (a seed-layout model: every instance compared; its own cnn_predict leaves those past "
                     "its last whole batch at class 1)")
    if differ:
        first = np.flatnonzero(want_labels != got_labels)[:5] + 1
        lines.append(f"  FAIL: {differ} labels differ (instances {', '.join(map(str, first))}"
                     f"{', ...' if differ > 5 else ''})")
    return struct(lines=lines, differ=differ, max_abs=max_abs, max_rel=max_rel, l=l)
