"""The network of a simpleNN model as an ONNX graph, built with ``onnx.helper``
(imports onnx, not torch).

Input ``images`` (N, C, H, W), output ``scores`` (N, nL), N free.  Opset 17.

* float32 (the default): ``Conv`` (pads, strides), ``Relu``, ``MaxPool``
  (kernel = strides = pool width; ONNX's default floor mode drops the rows
  and columns past the last whole window, as simpleNN does), ``Flatten``
  ((C, H, W) order), ``Gemm`` (transB) with ``Relu`` but after the last.
* float64: ONNX Runtime's CPU provider has no double ``Conv`` kernel
  ("Could not find an implementation for Conv(11)", checked with
  ONNX Runtime 1.32),
  while ``MaxPool``, ``Relu``, ``Gemm``, ``Pad``, ``Gather`` and ``MatMul``
  run in double.  So in double each convolution is written the way
  simpleNN computes it: ``Pad`` the maps, ``Gather`` every h x h x C patch
  (the im2col of ``padding_and_phiZ``, with indices in PyTorch's (c, i, j)
  order) and ``MatMul`` by the (C*h*h, out) weight; the rest is unchanged.

``normalisation = (scale, mean)``: the graph starts with ``Div`` and ``Sub``
(``mean`` (C, H, W)), so it takes raw pixels as ``simplecnn predict`` does.
``metadata``: a {key: text} dict stored in ``metadata_props``.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["build_onnx", "OPSET"]

OPSET = 17


class _Graph:
    def __init__(self, dtype):
        self.dtype = dtype
        self.nodes, self.inits = [], []
        self.count = 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem, array, dtype=None):
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(np.asarray(array, dtype=dtype or self.dtype)),
                                                  name))
        return name

    def op(self, kind, inputs, stem=None, **attrs):
        out = self.name(stem or kind.lower())
        self.nodes.append(helper.make_node(kind, list(inputs), [out], name=out, **attrs))
        return out


def _conv_float(g, x, layer):
    h = layer.weight.shape[2]
    p = layer.padding
    return g.op("Conv", [x, g.const(f"conv{layer.index}.weight", layer.weight),
                         g.const(f"conv{layer.index}.bias", layer.bias)],
                f"conv{layer.index}", kernel_shape=[h, h], strides=[layer.stride] * 2, pads=[p] * 4)


def _patch_indices(layer):
    """(Ho*Wo, C*h*h) positions in one padded (C, Hp, Wp) map, row r*Wo + q,
    column c*h*h + i*h + j: the input of output pixel (r, q) under weight [o, c, i, j]."""
    C, H, W = layer.in_shape
    h, s, p = layer.weight.shape[2], layer.stride, layer.padding
    Hp, Wp = H + 2 * p, W + 2 * p
    Ho, Wo = (Hp - h) // s + 1, (Wp - h) // s + 1
    r = np.arange(Ho).reshape(Ho, 1, 1, 1, 1)
    q = np.arange(Wo).reshape(1, Wo, 1, 1, 1)
    c = np.arange(C).reshape(1, 1, C, 1, 1)
    i = np.arange(h).reshape(1, 1, 1, h, 1)
    j = np.arange(h).reshape(1, 1, 1, 1, h)
    idx = c * Hp * Wp + (r * s + i) * Wp + (q * s + j)
    return idx.reshape(Ho * Wo, C * h * h).astype(np.int64), (Ho, Wo)


def _conv_double(g, x, layer):
    C, H, W = layer.in_shape
    out_c = layer.weight.shape[0]
    p = layer.padding
    m = layer.index
    if p:
        x = g.op("Pad", [x, g.const("pads", [0, 0, p, p, 0, 0, p, p], np.int64)], f"conv{m}_pad")
    flat = g.op("Reshape", [x, g.const("shape", [0, -1], np.int64)], f"conv{m}_flat")
    idx, (Ho, Wo) = _patch_indices(layer)
    patches = g.op("Gather", [flat, g.const(f"conv{m}.patches", idx, np.int64)], f"conv{m}_patches", axis=1)
    prod = g.op("MatMul", [patches, g.const(f"conv{m}.weight", layer.weight.reshape(out_c, -1).T)],
                f"conv{m}_matmul")
    prod = g.op("Add", [prod, g.const(f"conv{m}.bias", layer.bias)], f"conv{m}_bias")
    prod = g.op("Transpose", [prod], f"conv{m}_transpose", perm=[0, 2, 1])
    return g.op("Reshape", [prod, g.const("shape", [-1, out_c, Ho, Wo], np.int64)], f"conv{m}")


def build_onnx(layers, input_shape, precision="single", normalisation=None, metadata=None, name="simplecnn"):
    """An ``onnx.ModelProto`` of the network (see the module docstring)."""
    double = precision == "double"
    g = _Graph(np.float64 if double else np.float32)
    elem = TensorProto.DOUBLE if double else TensorProto.FLOAT
    x = "images"
    if normalisation is not None:
        scale, mean = normalisation
        x = g.op("Div", [x, g.const("input_scale", scale)], "scaled")
        x = g.op("Sub", [x, g.const("input_mean", np.asarray(mean)[None])], "normalised")
    for k, layer in enumerate(layers):
        if layer.kind == "conv":
            x = (_conv_double if double else _conv_float)(g, x, layer)
            if layer.relu:
                x = g.op("Relu", [x], f"conv{layer.index}_relu")
            if layer.pool > 1:
                x = g.op("MaxPool", [x], f"conv{layer.index}_pool", kernel_shape=[layer.pool] * 2,
                         strides=[layer.pool] * 2)
        else:
            if k == 0 or layers[k - 1].kind == "conv":
                x = g.op("Flatten", [x], "flatten", axis=1)
            x = g.op("Gemm", [x, g.const(f"full{layer.index}.weight", layer.weight),
                              g.const(f"full{layer.index}.bias", layer.bias)], f"full{layer.index}", transB=1)
            if layer.relu:
                x = g.op("Relu", [x], f"full{layer.index}_relu")
    g.nodes.append(helper.make_node("Identity", [x], ["scores"], name="scores"))
    C, H, W = input_shape
    graph = helper.make_graph(
        g.nodes, name, [helper.make_tensor_value_info("images", elem, ["N", C, H, W])],
        [helper.make_tensor_value_info("scores", elem, ["N", layers[-1].out_shape[0]])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="simplecnn", producer_version="1")
    model.ir_version = min(model.ir_version, 9)         # readable by ONNX Runtime releases of 2023 on
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=str(value)))
    onnx.checker.check_model(model, full_check=True)
    return model
