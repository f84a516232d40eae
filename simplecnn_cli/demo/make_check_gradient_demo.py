"""Generate the bundled files of ``simplecnn check-gradient``'s example: the
one-conv-layer network input -> conv -> ReLU -> pool -> fully connected
(``check-gradient.config``), twelve 12 x 12 seven-segment digits
(``check-gradient-data.mat``) and its weights (``check-gradient-weights.mat``:
He initialisation, seed 0, with small nonzero biases).

    .venv/bin/python -m simplecnn_cli.demo.make_check_gradient_demo     # rewrites the files
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

CONFIG = """% simplecnn check-gradient demo: input -> conv -> ReLU -> pool -> fully connected
L = 2;
LC = 1;
ht_input = 12;
wd_input = 12;
ch_input = [1,4];
wd_pad_added = [1];
wd_filter = [3];
strides = [1];
wd_subimage_pool = [2];
full_neurons = [10];
"""


def main():
    from simplecnn_cli.demo.make_demo_data import digit_image
    from simplecnn_py.support.datafile import save_data, save_weights
    from simplecnn_py.cnn.init_model import init_model
    from simplecnn_py.cnn.read_config import read_config

    (HERE / "check-gradient.config").write_text(CONFIG)
    rng = np.random.default_rng(16)
    y = np.arange(12) % 10
    Z = np.stack([digit_image(int(k), 12, 12, rng).reshape(-1, order="F") for k in y])
    save_data(HERE / "check-gradient-data.mat", y, Z)
    param = read_config(HERE / "check-gradient.config")
    model = init_model(param, seed=0)
    g = np.random.default_rng(1)
    bias = [np.round(0.05 * g.standard_normal(model.bias[m].shape), 4) for m in range(1, model.L + 1)]
    save_weights(HERE / "check-gradient-weights.mat", list(model.weight), bias)


if __name__ == "__main__":
    main()
