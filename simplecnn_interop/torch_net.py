"""The network of a simpleNN model as a ``torch.nn.Module`` (imports torch).

``build_module(layers, input_shape, dtype, normalisation)`` makes a plain
module from ``layouts.torch_layers(model)``: ``Conv2d`` (padding, stride),
ReLU, ``MaxPool2d`` (kernel = stride = pool width, floor mode), flatten in
(C, H, W) order, ``Linear`` layers with ReLU but the last.  The module's
parameters are named ``conv{m}.weight``/``.bias`` and ``full{m}.weight``/
``.bias`` (m: simpleNN's 1-based layer), so its ``state_dict`` lists the
layers in order.  With ``normalisation = (scale, mean)`` (``mean`` a
(C, H, W) array) the module first computes ``x / scale - mean``, as
``simplecnn predict`` does for a model trained with ``--normalize``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["SimpleNNNet", "build_module"]


class SimpleNNNet(nn.Module):
    def __init__(self, layers, input_shape, normalisation=None):
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        self.convs, self.fulls = [], []
        for layer in layers:
            if layer.kind == "conv":
                out_c, in_c, h, _ = layer.weight.shape
                mod = nn.Conv2d(in_c, out_c, h, stride=layer.stride, padding=layer.padding, dtype=torch.float64)
                name = f"conv{layer.index}"
                self.convs.append((name, layer.pool, layer.relu))
            else:
                out_n, in_n = layer.weight.shape
                mod = nn.Linear(in_n, out_n, dtype=torch.float64)
                name = f"full{layer.index}"
                self.fulls.append((name, layer.relu))
            with torch.no_grad():
                mod.weight.copy_(torch.from_numpy(np.asarray(layer.weight, dtype=np.float64)))
                mod.bias.copy_(torch.from_numpy(np.asarray(layer.bias, dtype=np.float64)))
            self.add_module(name, mod)
        self.normalise = normalisation is not None
        if self.normalise:
            scale, mean = normalisation
            self.register_buffer("input_scale", torch.tensor(float(scale), dtype=torch.float64))
            self.register_buffer("input_mean", torch.from_numpy(np.asarray(mean, dtype=np.float64).copy()))

    def forward(self, x):
        if self.normalise:
            x = x / self.input_scale - self.input_mean
        for name, pool, relu in self.convs:
            x = getattr(self, name)(x)
            if relu:
                x = torch.relu(x)
            if pool > 1:
                x = nn.functional.max_pool2d(x, pool, pool)
        x = torch.flatten(x, 1)
        for name, relu in self.fulls:
            x = getattr(self, name)(x)
            if relu:
                x = torch.relu(x)
        return x


def build_module(layers, input_shape, dtype=torch.float32, normalisation=None):
    """A ``SimpleNNNet`` in ``dtype``, in eval mode (see the module docstring)."""
    return SimpleNNNet(layers, input_shape, normalisation).to(dtype).eval()
