"""Isolated mode for a PyTorch network: each layer fed MATLAB's values.

One forward and one backward pass of the network, with hooks on the
parametrised layers (the k-th ``Conv2d``/``Linear`` is layer k):

forward
    a pre-hook replaces layer m's input by MATLAB's ``Z{m}`` (converted
    through ``simplecnn_interop.layouts`` to NCHW, or to ``torch.flatten``'s
    order for the first Linear; zero-padded when the network pads it itself),
    after keeping the input the network computed from the layer before, fed
    MATLAB's input in turn.  So layer m's ``phiZ``, ``sigmaS`` and the
    ``Z`` the network makes of its output (activation, pooling, flatten up
    to the next layer) depend on MATLAB's ``Z{m}`` only.  The loss is taken
    at MATLAB's output (as the port's isolated mode does).
backward
    the gradient at layer m's output is replaced by MATLAB's (``dXidS``, or
    ``pool_gradient`` for a pooled conv layer): ``dlossdW``, ``dlossdb``,
    ``WtDelta`` and ``phi_gradient`` come from it; the gradient at layer m's
    input is replaced by MATLAB's (``WtDelta`` of a Linear, ``unpad`` of a
    Conv2d), so what the network's own operations make of it up to layer
    m-1's output (``activation``, the next ``dXidS``) depends on MATLAB's
    values only.  The values before each replacement are what is judged.

The replacement keeps the graph (``x + (x_MATLAB - x).detach()``), so the
gradient still flows through the network's operations between two layers.
When MATLAB's value is missing or has another size than the network's
(a slip that changes a size), the network's own value is kept there.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simplecnn_interop import layouts

#: stages read from the values the network computed (before each replacement);
#: the others from the values after it (MATLAB's inputs to the stage)
OWN = {("forward", "Z"), ("backward", "dXidS"), ("backward", "pool_gradient"), ("backward", "unpad"),
       ("backward", "activation")}


def computed_by_the_network(key, LC):
    """A full layer's ``WtDelta`` is the gradient torch gives at its input;
    a conv layer's is W' times the (fed) gradient at its output."""
    return key[1:] in OWN or (key[1:] == ("backward", "WtDelta") and key[0] > LC)


class Feeder:
    """Hooks replacing each layer's input and the gradients at its output and
    input by MATLAB's, keeping the values before (``own``) and after (``fed``)."""

    def __init__(self, torch, layers, model, M, np_dtype):
        self.torch, self.layers, self.model, self.M, self.np_dtype = torch, layers, model, M, np_dtype
        self.L, self.LC = int(model.L), int(model.LC)
        self.own = SimpleNamespace(x={}, y={}, gx={}, gy={})
        self.fed = SimpleNamespace(x={}, y=self.own.y, gx={}, gy={})
        self.unfit = []                        # MATLAB's values that do not fit the network's tensors
        self.handles = []
        for k, (_, mod) in enumerate(layers, 1):
            self.handles.append(mod.register_forward_pre_hook(self.pre_hook(k)))
            self.handles.append(mod.register_forward_hook(self.hook(k)))

    def remove(self):
        for h in self.handles:
            h.remove()

    # --- MATLAB's values as tensors of the network's shapes ----------------------------------
    def tensor(self, value, like):
        if value is None:
            return None
        t = self.torch.from_numpy(np.ascontiguousarray(value, dtype=self.np_dtype))
        return t if tuple(t.shape) == tuple(like.shape) else None

    def fed_or_own(self, key, t):
        """``t`` (MATLAB's value of ``key`` as a tensor), or None, noted, when it does not fit."""
        if t is None and self.M.get(key) is not None:
            self.unfit.append(key)
        return t

    def as_map(self, key, like, d, pad=0):
        """A d x (a*b*n) MATLAB map as (n, d, a, b) of ``like``'s size (padded
        with ``pad`` zeros when the network pads the layer's input itself)."""
        v = self.M.get(key)
        if v is None or like.dim() != 4:
            return None
        n, _, a, b = like.shape
        v = np.asarray(v)
        for p in sorted({0, int(pad)}):
            aa, bb = a - 2 * p, b - 2 * p
            if aa > 0 and bb > 0 and v.size == n * d * aa * bb:
                x = layouts.feature_map_to_nchw(v, d, aa, bb)
                if p:
                    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
                return self.tensor(x, like)
        return None

    def as_flat(self, key, like):
        """A (d*a*b) x n MATLAB column block (simpleNN's vec order) in
        ``torch.flatten``'s (C, H, W) order, (n, d*a*b)."""
        v = self.M.get(key)
        if v is None:
            return None
        LC = self.LC
        d, a, b = int(self.model.ch_input[LC + 1]), int(self.model.ht_input[LC + 1]), int(self.model.wd_input[LC + 1])
        v = np.asarray(v)
        if v.size != like.numel() or like.shape[-1] != d * a * b:
            return None
        x = layouts.feature_map_to_nchw(np.reshape(v, (d, -1), order="F"), d, a, b)
        return self.tensor(x.reshape(x.shape[0], -1), like)

    def matlab_input(self, k, x):
        return self.fed_or_own((k - 1, "forward", "Z"), self.input_of(k, x))

    def input_of(self, k, x):
        if k == 1:
            return None                         # the data: MATLAB's own already
        if k <= self.LC:
            return self.as_map((k - 1, "forward", "Z"), x, int(self.model.ch_input[k]), self.model.wd_pad_added[k])
        if k == self.LC + 1:
            return self.as_flat((k - 1, "forward", "Z"), x)
        v = self.M.get((k - 1, "forward", "Z"))
        return None if v is None else self.tensor(np.asarray(v).T, x)

    def matlab_grad_out(self, k, y):
        pooled = k <= self.LC and int(self.model.wd_subimage_pool[k]) > 1
        return self.fed_or_own((k, "backward", "pool_gradient" if pooled else "dXidS"), self.grad_out_of(k, y))

    def grad_out_of(self, k, y):
        if k > self.LC:
            v = self.M.get((k, "backward", "dXidS"))
            return None if v is None else self.tensor(np.asarray(v).T, y)
        stage = "pool_gradient" if int(self.model.wd_subimage_pool[k]) > 1 else "dXidS"
        return self.as_map((k, "backward", stage), y, int(self.model.ch_input[k + 1]))

    def matlab_grad_in(self, k, x):
        if k == 1:
            return None
        return self.fed_or_own((k, "backward", "unpad" if k <= self.LC else "WtDelta"), self.grad_in_of(k, x))

    def grad_in_of(self, k, x):
        if k == 1:
            return None
        if k <= self.LC:
            return self.as_map((k, "backward", "unpad"), x, int(self.model.ch_input[k]), self.model.wd_pad_added[k])
        if k == self.LC + 1:
            return self.as_flat((k, "backward", "WtDelta"), x)
        v = self.M.get((k, "backward", "WtDelta"))
        return None if v is None else self.tensor(np.asarray(v).T, x)

    # --- the hooks ------------------------------------------------------------------------
    def replace(self, t, fed, own, k, mine):
        """A hook keeping the gradient at ``t`` in ``own[k]`` and passing ``mine`` (or it) on."""
        def grad_hook(g):
            own[k] = g.detach().clone()
            fed[k] = mine if mine is not None else own[k]
            return mine if mine is not None else g
        t.register_hook(grad_hook)

    def pre_hook(self, k):
        def forward_pre_hook(mod, args):
            if k in self.own.x:
                return None                     # a layer called twice: its first call is fed
            x = args[0]
            self.own.x[k] = x.detach().clone()
            xm = self.matlab_input(k, x)
            if xm is not None:
                x = x + (xm - x).detach() if x.requires_grad else xm.clone().requires_grad_(True)
            self.fed.x[k] = x.detach().clone()
            if x.requires_grad:
                self.replace(x, self.fed.gx, self.own.gx, k, self.matlab_grad_in(k, x))
            return (x,) + tuple(args[1:])
        return forward_pre_hook

    def hook(self, k):
        def forward_hook(mod, args, out):
            if k in self.own.y:
                return
            self.own.y[k] = out.detach().clone()
            self.replace(out, self.fed.gy, self.own.gy, k, self.matlab_grad_out(k, out))
        return forward_hook


def isolated_network(torch, net, layers, param, model, prob, loss_fn, M, notes):
    """The network's stages, each computed from MATLAB's inputs ``M`` ({key: array or None});
    what could not be fed is said in ``notes`` (a list)."""
    from .torch_maps import canonical

    L, n = int(model.L), int(prob.l)
    np_dtype = np.float64 if param.precision == "double" else np.float32
    M = {k: (None if v is None else np.array(v, dtype=np_dtype)) for k, v in M.items()}
    d1, a1, b1 = int(model.ch_input[1]), int(model.ht_input[1]), int(model.wd_input[1])
    X = torch.from_numpy(layouts.feature_map_to_nchw(np.asarray(prob.data, dtype=np_dtype), d1, a1, b1))
    Y = torch.from_numpy(np.ascontiguousarray(np.asarray(prob.label_mat, dtype=np_dtype).T))
    for p in net.parameters():
        p.grad = None
    feeder = Feeder(torch, layers, model, M, np_dtype)
    try:
        with torch.enable_grad():
            out = net(X)
            out_m = feeder.tensor(None if M.get((L, "forward", "Z")) is None else M[(L, "forward", "Z")].T, out)
            used = out if out_m is None else out + (out_m - out).detach()
            loss = ((used - Y) ** 2).sum() if loss_fn is None else loss_fn(used, Y).reshape(())
            loss.backward()
    finally:
        feeder.remove()
    own = canonical(torch, layers, feeder.own, model, out.detach(), loss.detach(), np_dtype, n)
    fed = canonical(torch, layers, feeder.fed, model, out.detach(), loss.detach(), np_dtype, n)
    iso = {}
    if feeder.unfit:
        notes.append("isolated mode: MATLAB's " + ", ".join(f"{s} of layer {m}" for m, _, s in feeder.unfit)
                     + " do not fit the network's tensors (another size); the network's own values went on there")
    for key in own:
        s = own[key] if computed_by_the_network(key, int(model.LC)) else fed[key]
        if s.value is not None:
            iso[key] = s.value
    return iso
