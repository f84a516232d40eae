"""A user's PyTorch network as one side of a comparison (``compare --python torch:FILE.py:NAME``).

``NAME`` in ``FILE.py`` is an ``nn.Module`` or a callable returning one when
called with no arguments.  Its ``Conv2d`` and ``Linear`` layers, in the order
the module registers them, are the config's LC convolutional and LF full
layers; the very weights the MATLAB side gets are copied into them through
``simplecnn_interop.layouts`` (the one place simpleNN's layouts are
converted).  The images go in as (N, C, H, W) in the comparison's precision
(the module is cast), the module's output is the last layer's Z, and the
loss is simpleNN's sum of squared errors against the one-hot labels,
computed here, unless ``FILE.py`` defines ``loss`` (a callable taking the
output and the one-hot targets, both (N, nL)), or the network has a callable
``loss`` or ``criterion`` attribute: then that one is used, so a port's own
loss is judged too.

Stages come from hooks on the parametrised layers only (``torch_stages``),
so a ``forward`` written with functional calls works as well as an
``nn.Sequential``.  torch is imported only when such a source is made; without
it, one line says how to install the extra.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import EnvironmentProblem, InputError

from .base import SideRun

OPTION = "--python"


def require_torch():
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise EnvironmentProblem("--python torch: needs PyTorch, which is not installed: "
                                 "pip install 'simplecnn_py[torch]'") from None


def parts(inputs):
    """``(param, model, prob)`` of the loader's inputs (an object with those
    fields, or today's ``prepare`` tuple)."""
    if hasattr(inputs, "model"):
        return inputs.param, inputs.model, inputs.prob
    return inputs[0], inputs[1], inputs[2]


def load_file(path, what=OPTION):
    """Import ``path`` as a fresh module; every problem is one line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(what, f"{path}: no such file")
    name = f"simplecnn_user_{abs(hash(str(path.resolve())))}_{time.monotonic_ns()}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(what, f"{path}: not a Python file")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except SyntaxError as e:
        raise InputError(what, f"{path} line {e.lineno}: {e.msg}") from None
    except Exception as e:          # the user's file failed at import: one line, no traceback
        raise InputError(what, f"{path}: importing it raised {type(e).__name__}: {_one_line(e)}") from None
    finally:
        sys.modules.pop(name, None)
    return mod


def _one_line(e):
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:197] + "..."


def parse_spec(spec):
    """``FILE.py:NAME`` (the part after ``torch:``) -> (file, name)."""
    file, sep, name = spec.rpartition(":")
    if not sep or not file or not name.isidentifier():
        raise InputError(OPTION, f"torch:{spec}: give torch:FILE.py:NAME (NAME an nn.Module or a function "
                                 "returning one)")
    return file, name


class TorchSource:
    """The Source protocol (``base.py``) for a PyTorch network."""

    origin = "PyTorch"
    isolated = True                   # isolated mode: each layer fed MATLAB's values (torch_isolated.py)

    def __init__(self, spec):
        self.file, self.name = parse_spec(spec)
        self.describe = f"PyTorch network {self.file}:{self.name}"
        self.torch = require_torch()
        mod = load_file(self.file)
        if not hasattr(mod, self.name):
            raise InputError(OPTION, f"{self.file} defines no {self.name}")
        obj = getattr(mod, self.name)
        nn = self.torch.nn
        if not isinstance(obj, nn.Module):
            if not callable(obj):
                raise InputError(OPTION, f"{self.file}:{self.name} is a {type(obj).__name__}, not an nn.Module "
                                         "or a function returning one")
            try:
                obj = obj()
            except Exception as e:
                raise InputError(OPTION, f"{self.file}:{self.name}() raised {type(e).__name__}: "
                                         f"{_one_line(e)}") from None
            if not isinstance(obj, nn.Module):
                raise InputError(OPTION, f"{self.file}:{self.name}() returned a {type(obj).__name__}, "
                                         "not an nn.Module")
        self.net = obj
        self.loss_fn = getattr(mod, "loss", None)
        for attr in ("loss", "criterion"):             # else a loss the network carries
            if self.loss_fn is None and callable(getattr(obj, attr, None)):
                self.loss_fn = getattr(obj, attr)
        if self.loss_fn is not None and not callable(self.loss_fn):
            raise InputError(OPTION, f"{self.file}: loss is a {type(self.loss_fn).__name__}, not a callable "
                                     "(output, target) -> scalar")
        self.layers = None

    # --- the protocol ------------------------------------------------------------------
    def check(self, inputs):
        from .torch_stages import match_layers

        _, model, _ = parts(inputs)
        self.layers = match_layers(self.torch, self.net, model, f"{self.file}:{self.name}")

    @contextlib.contextmanager
    def run(self, inputs, progress=None):
        from .torch_stages import run_network

        param, model, prob = parts(inputs)
        if self.layers is None:
            self.check(inputs)
        t0 = time.perf_counter()
        stages, loss, extra = run_network(self.torch, self.net, self.layers, param, model, prob,
                                          self.loss_fn, f"{self.file}:{self.name}")
        yield SideRun(stages=stages, loss=loss, timings={"python_s": time.perf_counter() - t0},
                      net=extra, describe=self.describe, isolate=self.isolator(param, model, prob))

    @contextlib.contextmanager
    def chunks(self, progress=None, instances=None):
        """A streamed compare's chunks (``streamed.run_streamed``): yields
        ``run(inputs, k)``, a context manager per chunk yielding its
        ``SideRun``.  The network is cast and the weights copied once; torch
        runs on one thread meanwhile (the Octave side computes beside it on
        the other core), its setting restored after.  ``instances``: the
        whole run's count, for a failure's message."""
        from .torch_stages import prepare_network, run_prepared

        torch, ready = self.torch, []
        threads = torch.get_num_threads()
        torch.set_num_threads(1)

        @contextlib.contextmanager
        def one(inputs, k):
            param, model, prob = parts(inputs)
            if self.layers is None:
                self.check(inputs)
            if not ready:
                ready.append(prepare_network(torch, self.net, self.layers, param, model))
            t0 = time.perf_counter()
            stages, loss, extra = run_prepared(torch, self.net, self.layers, param, model, prob, self.loss_fn,
                                               f"{self.file}:{self.name}", ready[0], instances)
            yield SideRun(stages=stages, loss=loss, timings={"python_s": time.perf_counter() - t0},
                          net=extra, describe=self.describe)

        try:
            yield one
        finally:
            torch.set_num_threads(threads)

    def whole_loss(self, outputs, targets, precision):
        """The loss of the module's outputs of all the instances (``outputs``,
        ``targets``: (N, nL) arrays), as one run computes it: a streamed
        compare's chunks each computed theirs."""
        torch = self.torch
        dtype = torch.float64 if precision == "double" else torch.float32
        out, y = torch.from_numpy(np.ascontiguousarray(outputs)).to(dtype), \
            torch.from_numpy(np.ascontiguousarray(targets)).to(dtype)
        with torch.no_grad():
            loss = ((out - y) ** 2).sum() if self.loss_fn is None else self.loss_fn(out, y)
        return float(np.asarray(loss.detach().numpy() if hasattr(loss, "detach") else loss).reshape(-1)[0])

    def isolator(self, param, model, prob):
        """Isolated mode (``torch_isolated.py``); a network that fails on
        MATLAB's values keeps its end-to-end stages, with a note saying so."""
        def isolate(M, dtype):
            from .torch_isolated import isolated_network

            try:
                return isolated_network(self.torch, self.net, self.layers, param, model, prob, self.loss_fn, M,
                                        isolate.notes)
            except Exception as e:
                isolate.notes.append(f"isolated mode: the network failed on MATLAB's values "
                                     f"({type(e).__name__}: {_one_line(e)}); its stages are judged end to end")
                return {}
        isolate.notes = []
        return isolate

