"""``simplecnn train``: train a CNN with the port's ``cnn_train``, the
original's progress lines on stdout, the model saved as the real code's
model struct; the training curve as JSON/HTML on request (the port alone)."""
from __future__ import annotations

import sys


def train(config, data, model_out, *, options="", seed=None, validation=None, rowmajor=False, normalize=False,
          json=None, html=None, strict=False, progress=None) -> int:
    """Train, save ``model_out``, write the reports; 0.  ``progress``: the
    observer drawing the bar of iterations/epochs (None: none).  ``strict``: a
    network the original cannot train is refused (else a warning)."""
    import time
    import warnings

    from ..reports.progress import QUIET
    from ..reports.train_report import progress_bar
    from simplecnn_py.cnn.read_config import read_config
    from simplecnn_py.cnn_train import cnn_train
    from simplecnn_py.opt.parse_options import parse_options
    from simplecnn_py.support.datafile import load_data, scale_pixels, subtract_mean
    from simplecnn_py.support import quirks
    from simplecnn_py.support.model_file import save_model

    param = parse_options(options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = read_config(config)
    for w in caught:
        print(f"simplecnn: warning: {w.message}", file=sys.stderr)
    prob = load_data(data, cfg, rowmajor=rowmajor)
    quirks.say(quirks.original_vtp_failure(cfg, min(param.bsize, prob.l)), strict, config,
               note="the port trains it with the mathematically right gradients")
    Z, mean = prob.Z, None
    if normalize:
        Z, mean = subtract_mean(scale_pixels(Z))
    y_valid = Z_valid = None
    if validation:
        valid = load_data(validation, cfg, rowmajor=rowmajor)
        y_valid, Z_valid = valid.y, valid.Z
        if normalize:
            Z_valid, _ = subtract_mean(scale_pixels(Z_valid), mean)

    newton = param.solver == 1
    on_step, bar = progress_bar(param.iter_max if newton else param.epoch_max, "iter" if newton else "epoch",
                                progress=progress or QUIET)
    out = Tee(sys.stdout)
    start = time.perf_counter()
    try:
        from contextlib import redirect_stdout

        import numpy as np

        with redirect_stdout(out), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            model, info = cnn_train(prob.y, Z, y_valid, Z_valid, config, options, seed, where=data,
                                    where_valid=validation or "validation data", progress=on_step)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    model.input_rowmajor = bool(rowmajor)
    if normalize:
        model.input_scale = 255.0
        model.input_mean = mean
    save_model(model_out, model)
    if json or html:
        from ..reports.train_report import train_record, write_train_html, write_train_json


        solver = {1: "newton", 2: "sgd", 3: "adam"}[param.solver]
        record = train_record(options, solver, info, out.lines, seconds, prob.l,
                              0 if y_valid is None else int(len(y_valid)))
        if json:
            write_train_json(json, record)
        if html:
            write_train_html(html, record)
    print(f"simplecnn train: l = {prob.l}, {seconds:.1f} s, wrote {model_out}", file=sys.stderr)
    return 0


class Tee:
    """stdout passed through, lines kept for the report."""

    def __init__(self, out):
        self.out, self.buf, self.lines = out, "", []

    def write(self, s):
        self.out.write(s)
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.lines.append(line)
        return len(s)

    def flush(self):
        self.out.flush()
