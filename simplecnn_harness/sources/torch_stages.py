"""A PyTorch network run on the comparison's inputs, its values mapped to the
canonical stages (``judge/stages.py``) in MATLAB's shapes.

Hooks sit on the parametrised layers only: for layer k (the k-th ``Conv2d``
or ``Linear`` the module registers) its input x_k and output S_k (forward
hook), the gradients of the loss with respect to both (tensor hooks), and
the parameters' ``.grad``.  What happens between two such layers
(activations, pooling, flattening, written as modules or as functional
calls) is seen through what arrives at the next one.  Conversions of
layouts go through ``simplecnn_interop.layouts`` only.

forward, conv m
    ``phiZ``: phi(pad(x_m)), the columns the Conv2d multiplies (its input,
    padded as the layer pads it, unfolded; rows i + h*j + h*h*c);
    ``sigmaS``: max(S_m, 0) of the Conv2d's output; ``Z``: the input of the
    next parametrised layer (for m = LC the first Linear's input read in
    ``torch.flatten``'s (C, H, W) order).  ``idx_*``: not exposed.
forward, full m
    ``Z``: the next Linear's input; for m = L the module's output.
    ``loss`` (layer L): the harness's sum of squared errors, or FILE.py's ``loss``.
backward
    ``dXidS``: dloss/dS_m (the gradient arriving at the layer's output);
    for a pooled conv layer the delta at its pooled output as simpleNN has
    it, WtDelta of layer m+1 masked by Z > 0; ``pool_gradient``: dloss/dS_m;
    ``dlossdW``, ``dlossdb``: the parameters' ``.grad`` in simpleNN's
    layouts; ``WtDelta``: dloss/dx_m for a Linear, W'*dloss/dS_m in phiZ's
    layout for a Conv2d; ``phi_gradient``: that folded back onto the padded
    input; ``unpad``: dloss/dx_m; ``activation``: dloss/dS_{m-1} (masked
    WtDelta/unpad when layer m-1 is pooled).
"""
from __future__ import annotations

import numpy as np

from simplecnn_interop import layouts
from simplecnn_py.support.errors import InputError




# --- the network against the config ------------------------------------------------------

def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def match_layers(torch, net, model, who):
    """The network's Conv2d/Linear layers as the config's layers 1..L, or an
    ``InputError`` naming the first layer that cannot be the config's."""
    nn = torch.nn
    L, LC = int(model.L), int(model.LC)
    layers = [(name, mod) for name, mod in net.named_modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    others = [(name, mod) for name, mod in net.named_modules()
              if isinstance(mod, (nn.Conv1d, nn.Conv3d, nn.ConvTranspose2d, nn.Bilinear))]
    if others:
        raise InputError("--python", f"{who}: {others[0][0]} is a {type(others[0][1]).__name__}; simpleNN "
                                     "networks have Conv2d and Linear layers only")
    n_conv = sum(isinstance(m, nn.Conv2d) for _, m in layers)
    n_full = len(layers) - n_conv

    def refuse(m, text):
        name, mod = layers[m - 1]
        raise InputError("--python", f"{who}: layer {m} ({type(mod).__name__} {name or 'the module'!r}) {text}")

    for m in range(1, min(len(layers), L) + 1):
        name, mod = layers[m - 1]
        want_conv = m <= LC
        if want_conv != isinstance(mod, nn.Conv2d):
            refuse(m, f"is where the config has a {'convolutional' if want_conv else 'fully-connected'} "
                      f"layer (LC = {LC} conv, then {L - LC} full)")
        if mod.bias is None:
            refuse(m, "has no bias (bias=False); simpleNN's layers all have one")
        if want_conv:
            h, s = int(model.wd_filter[m]), int(model.strides[m])
            d_in, d_out = int(model.ch_input[m]), int(model.ch_input[m + 1])
            if mod.in_channels != d_in:
                refuse(m, f"takes {mod.in_channels} input channels, the config's layer {m} takes {d_in}")
            if mod.out_channels != d_out:
                refuse(m, f"has {mod.out_channels} output channels, the config's layer {m} has {d_out}")
            if _pair(mod.kernel_size) != (h, h):
                refuse(m, f"has kernel size {_pair(mod.kernel_size)}, the config's wd_filter is {h} ({h}, {h})")
            if _pair(mod.stride) != (s, s):
                refuse(m, f"has stride {_pair(mod.stride)}, the config's strides is {s} ({s}, {s})")
            if mod.groups != 1 or _pair(mod.dilation) != (1, 1):
                refuse(m, "is grouped or dilated; simpleNN's convolutions are neither")
        else:
            k = m - LC
            want = int(model.full_neurons[k])
            if mod.out_features != want:
                what = "the output width" if m == L else f"full_neurons({k})"
                refuse(m, f"has {mod.out_features} outputs, {what} of the config is {want}")
            if m > LC + 1 and mod.in_features != int(model.full_neurons[k - 1]):
                refuse(m, f"takes {mod.in_features} inputs, the layer before it gives "
                          f"{int(model.full_neurons[k - 1])}")
    if n_conv != LC or n_full != L - LC:
        raise InputError("--python", f"{who}: has {n_conv} Conv2d and {n_full} Linear layers, the config "
                                     f"{LC} convolutional (LC) and {L - LC} fully-connected (L - LC)")
    return layers


# --- one run -----------------------------------------------------------------------------

class Recorder:
    """Values and gradients of the parametrised layers during one run (the
    input is taken before the layer runs, so a layer that fails on it still
    shows what it was given)."""

    def __init__(self, torch, layers):
        self.torch = torch
        self.x, self.y, self.gx, self.gy = {}, {}, {}, {}
        self.calls = {}
        self.handles = []
        for k, (_, mod) in enumerate(layers, 1):
            self.handles.append(mod.register_forward_pre_hook(self.pre_hook(k)))
            self.handles.append(mod.register_forward_hook(self.hook(k)))

    def pre_hook(self, k):
        def forward_pre_hook(mod, args):
            self.calls[k] = self.calls.get(k, 0) + 1
            if self.calls[k] > 1:
                return
            x = args[0]
            self.x[k] = x.detach().clone()
            if x.requires_grad:
                x.register_hook(lambda g: self.gx.__setitem__(k, g.detach().clone()))
        return forward_pre_hook

    def hook(self, k):
        def forward_hook(mod, args, out):
            if self.calls.get(k, 0) > 1 or k in self.y:
                return
            self.y[k] = out.detach().clone()
            out.register_hook(lambda g: self.gy.__setitem__(k, g.detach().clone()))
        return forward_hook

    def remove(self):
        for h in self.handles:
            h.remove()


def run_network(torch, net, layers, param, model, prob, loss_fn, who):
    """Run ``net`` with the model's weights on ``prob``; (stages, loss, extra)."""
    notes = prepare_network(torch, net, layers, param, model)
    return run_prepared(torch, net, layers, param, model, prob, loss_fn, who, notes)


def prepare_network(torch, net, layers, param, model):
    """``net`` cast to the comparison's precision, in eval mode, the model's
    weights copied in (once for all the chunks of a streamed compare); the
    notes of ``copy_weights``."""
    net.to(torch.float64 if param.precision == "double" else torch.float32)
    net.eval()
    return copy_weights(torch, layers, model, np.float64 if param.precision == "double" else np.float32)


def run_prepared(torch, net, layers, param, model, prob, loss_fn, who, notes, instances=None):
    """``run_network`` on a ``net`` made ready by ``prepare_network``
    (``notes``: its notes, extended here).  ``instances``: the whole run's
    count, named in a failure's message when ``prob`` is one chunk of it."""
    L, LC = int(model.L), int(model.LC)
    n = int(prob.l)
    np_dtype = np.float64 if param.precision == "double" else np.float32
    notes = list(notes)
    d1, a1, b1 = int(model.ch_input[1]), int(model.ht_input[1]), int(model.wd_input[1])
    X = torch.from_numpy(layouts.feature_map_to_nchw(np.asarray(prob.data, dtype=np_dtype), d1, a1, b1))
    Y = torch.from_numpy(np.ascontiguousarray(np.asarray(prob.label_mat, dtype=np_dtype).T))
    for p in net.parameters():
        p.grad = None
    rec = Recorder(torch, layers)
    try:
        with torch.enable_grad():
            out = net(X)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (n, int(model.nL)):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise InputError("--python", f"{who} returned {shape} on {n} images; simpleNN's output is "
                                             f"({n}, {int(model.nL)}), one row of scores per instance")
            gout = {}
            out.register_hook(lambda g: gout.__setitem__("g", g.detach().clone()))
            if loss_fn is None:
                loss = ((out - Y) ** 2).sum()
            else:
                loss = loss_fn(out, Y)
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise InputError("--python", f"{who}: loss(output, target) returned "
                                                 f"{type(loss).__name__}, not a scalar tensor")
                loss = loss.reshape(())
            loss.backward()
    except InputError:
        raise
    except Exception as e:
        text = " ".join(str(e).split())
        failure = InputError("--python", f"{who} failed on the config's ({instances or n}, {d1}, {a1}, {b1}) "
                                         "images: "
                                         f"{type(e).__name__}: {text[:300]}")
        if not rec.x:
            raise failure from None
        # what the layers got before the failure is judged (a slip that changes a size shows there)
        from .torch_maps import partial

        rec.remove()
        return partial(torch, layers, rec, model, np_dtype, str(failure)), None, {
            "S": {k: v.numpy() for k, v in rec.y.items()}, "x": {k: v.numpy() for k, v in rec.x.items()},
            "layers": layers, "notes": notes, "output": None, "failed": failure}
    finally:
        rec.remove()
    twice = [k for k, c in rec.calls.items() if c > 1]
    if twice:
        notes.append(f"layer {twice[0]} ({layers[twice[0] - 1][0]}) is called more than once per forward; "
                     "its first call is compared")
    missing = [k for k in range(1, L + 1) if k not in rec.x]
    if missing:
        raise InputError("--python", f"{who}: layer {missing[0]} ({layers[missing[0] - 1][0]}) is never called "
                                     "by the module's forward")
    from .torch_maps import canonical

    stages = canonical(torch, layers, rec, model, out.detach(), loss.detach(), np_dtype, n)
    extra = {"S": {k: rec.y[k].numpy() for k in rec.y}, "x": {k: rec.x[k].numpy() for k in rec.x},
             "layers": layers, "notes": notes, "output": out.detach().numpy()}
    return stages, float(loss.detach()), extra


def copy_weights(torch, layers, model, np_dtype):
    """The model's weights into the layers (simpleNN's layouts converted);
    notes for a first full layer whose width is not the config's (left zero)."""
    LC = int(model.LC)
    notes = []
    with torch.no_grad():
        for m, (name, mod) in enumerate(layers, 1):
            W, b = np.asarray(model.weight[m]), np.asarray(model.bias[m])
            if m <= LC:
                Wt = layouts.conv_weight_to_torch(W, int(model.wd_filter[m]), int(model.ch_input[m]))
            elif m == LC + 1:
                d, a, bb = int(model.ch_input[LC + 1]), int(model.ht_input[LC + 1]), int(model.wd_input[LC + 1])
                if mod.in_features != d * a * bb:
                    notes.append(f"layer {m} ({name}) takes {mod.in_features} inputs, the config's layer {LC} "
                                 f"gives {d} x {a} x {bb} = {d * a * bb}: MATLAB's weights cannot go in, it "
                                 "ran with zeros")
                    mod.weight.zero_()
                    mod.bias.copy_(torch.from_numpy(layouts.bias_to_torch(b).astype(np_dtype)))
                    continue
                Wt = layouts.full_weight_to_torch(W, d, a, bb)
            else:
                Wt = W
            mod.weight.copy_(torch.from_numpy(np.ascontiguousarray(Wt, dtype=np_dtype)))
            mod.bias.copy_(torch.from_numpy(layouts.bias_to_torch(b).astype(np_dtype)))
    return notes
