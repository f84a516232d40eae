"""PyTorch networks for the comparison tests: the config's network, right
(as an ``nn.Sequential`` and as a class with functional calls) and with one
classic porting slip each.  ``network_file(config, folder)`` writes a
FILE.py whose names are the zero-argument callables ``--python
torch:FILE.py:NAME`` takes; ``SLIPS`` says where each slip must be found
first and a word the likely-slip note must hold."""
from __future__ import annotations

from pathlib import Path

# slip -> (where it acts: 'pooled' conv layer, conv 1, first full layer, L, LC; the stage; a word of the note)
SLIPS = {
    "avg_pool": ("pooled", "Z", "average instead of max pooling"),
    "no_relu_conv": (1, "Z", "missing activation"),
    "no_relu_full": ("full1", "Z", "missing activation"),
    "relu_on_output": ("L", "Z", "after the output layer"),
    "flatten_hwc": ("LC", "Z", "flatten order"),
    "padding_amount": (1, "phiZ", "padding"),
    "padding_reflect": (1, "phiZ", "padding_mode='reflect'"),
    "ceil_mode": ("pooled", "Z", "ceil_mode"),
    "pool_stride": ("pooled", "Z", "pooling stride"),
    "loss_mean": ("L", "loss", "loss reduction"),
}

TEMPLATE = '''
import torch
from torch import nn
import torch.nn.functional as F

CONVS = {convs!r}     # (d_in, d_out, h, stride, pad, pool)
FULLS = {fulls!r}     # (n_in, n_out)
SHAPE = {shape!r}     # (C, H, W) of the images


def _pool(x, k, slip, first_pooled):
    if k <= 1:
        return x
    if first_pooled and slip == "avg_pool":
        return F.avg_pool2d(x, k)
    if first_pooled and slip == "ceil_mode":
        return F.max_pool2d(x, k, ceil_mode=True)
    if first_pooled and slip == "pool_stride":
        return F.max_pool2d(x, k, stride=1)
    return F.max_pool2d(x, k)


class Functional(nn.Module):
    """The network written with functional calls; ``slip`` plants one slip."""

    def __init__(self, slip=None):
        super().__init__()
        self.slip = slip
        self.convs = nn.ModuleList()
        for m, (d_in, d_out, h, s, p, k) in enumerate(CONVS, 1):
            if m == 1 and slip == "padding_amount":
                p += 1
            mode = "reflect" if (m == 1 and slip == "padding_reflect") else "zeros"
            self.convs.append(nn.Conv2d(d_in, d_out, h, stride=s, padding=p, padding_mode=mode))
        n_in = self.features(torch.zeros(1, *SHAPE)).shape[1]
        self.fulls = nn.ModuleList()
        for k, (_, n_out) in enumerate(FULLS):
            self.fulls.append(nn.Linear(n_in, n_out))
            n_in = n_out

    def features(self, x):
        first = True
        for m, (conv, (_, _, _, _, _, k)) in enumerate(zip(self.convs, CONVS), 1):
            x = conv(x)
            if not (m == 1 and self.slip == "no_relu_conv"):
                x = F.relu(x)
            x = _pool(x, k, self.slip, first and k > 1)
            first = first and k <= 1
        if self.slip == "flatten_hwc":
            x = x.permute(0, 2, 3, 1)
        return torch.flatten(x, 1)

    def forward(self, x):
        x = self.features(x)
        for k, full in enumerate(self.fulls):
            x = full(x)
            last = k == len(self.fulls) - 1
            if (not last and not (k == 0 and self.slip == "no_relu_full")) or (last and self.slip == "relu_on_output"):
                x = F.relu(x)
        return x


def sequential():
    layers = []
    for d_in, d_out, h, s, p, k in CONVS:
        layers += [nn.Conv2d(d_in, d_out, h, stride=s, padding=p), nn.ReLU(inplace=True)]
        if k > 1:
            layers.append(nn.MaxPool2d(k))
    layers.append(nn.Flatten())
    for k, (n_in, n_out) in enumerate(FULLS):
        layers.append(nn.Linear(n_in, n_out))
        if k < len(FULLS) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class PadsItself(Functional):
    """Right, but each conv pads with F.pad and has padding 0 (cropped back by the harness)."""

    def __init__(self):
        super().__init__()
        for conv, (_, _, _, _, p, _) in zip(self.convs, CONVS):
            conv.padding = (0, 0)
            conv._reversed_padding_repeated_twice = (0, 0, 0, 0)
        self.pads = [c[4] for c in CONVS]

    def features(self, x):
        if not hasattr(self, "pads"):               # while Functional.__init__ sizes the first Linear
            return super().features(x)
        for conv, p, (_, _, _, _, _, k) in zip(self.convs, self.pads, CONVS):
            x = F.max_pool2d(F.relu(conv(F.pad(x, (p, p, p, p)))), k) if k > 1 else F.relu(conv(F.pad(x, (p, p, p, p))))
        return torch.flatten(x, 1)


functional = Functional
pads_itself = PadsItself
{slips}
'''


def sizes(model):
    L, LC = int(model.L), int(model.LC)
    convs = [(int(model.ch_input[m]), int(model.ch_input[m + 1]), int(model.wd_filter[m]), int(model.strides[m]),
              int(model.wd_pad_added[m]), int(model.wd_subimage_pool[m])) for m in range(1, LC + 1)]
    n_in = int(model.ch_input[LC + 1]) * int(model.ht_input[LC + 1]) * int(model.wd_input[LC + 1])
    fulls = []
    for m in range(LC + 1, L + 1):
        n_out = int(model.full_neurons[m - LC])
        fulls.append((n_in, n_out))
        n_in = n_out
    shape = (int(model.ch_input[1]), int(model.ht_input[1]), int(model.wd_input[1]))
    return convs, fulls, shape


def network_file(model, folder) -> Path:
    convs, fulls, shape = sizes(model)
    slips = "\n".join(f"{s} = lambda: Functional({s!r})" for s in SLIPS if s != "loss_mean")
    slips += "\nloss_mean = Functional"
    text = TEMPLATE.format(convs=convs, fulls=fulls, shape=shape, slips=slips)
    path = Path(folder) / "nets.py"
    path.write_text(text)
    mean = Path(folder) / "nets_mean_loss.py"
    (Path(folder) / "nets_criterion.py").write_text(
        f"import sys\nsys.path.insert(0, {str(folder)!r})\nfrom nets import Functional\nimport torch.nn as nn\n"
        "def net():\n    n = Functional()\n    n.criterion = nn.MSELoss(reduction='mean')\n    return n\n")
    mean.write_text(f"import sys\nsys.path.insert(0, {str(folder)!r})\nfrom nets import Functional\n"
                    "import torch.nn as nn\nnet = Functional()\nloss = nn.MSELoss()\n")
    return path


def expected_layer(where, model):
    L, LC = int(model.L), int(model.LC)
    if where == "pooled":
        return next(m for m in range(1, LC + 1) if int(model.wd_subimage_pool[m]) > 1)
    return {"full1": LC + 1, "L": L, "LC": LC}.get(where, where)


# a FILE.py beside the nets module (``folder``): networks torch cannot run to the end
# (``width``: the config's flattened width, which ceil_mode then does not give)
CRASH = '''
import sys
sys.path.insert(0, {folder!r})
from torch import nn
import torch.nn.functional as F
from nets import Functional


def ceil_mode_config_width():
    """ceil_mode=True with the first Linear of the config's width: torch fails at its product."""
    net = Functional("ceil_mode")
    net.fulls[0] = nn.Linear({width}, net.fulls[0].out_features)
    return net


class RaisesLate(Functional):
    def forward(self, x):
        super().forward(x)
        raise RuntimeError("late")


raises_late = RaisesLate
'''
