"""``simplecnn compare-train``: train with the port and with a MATLAB tree's
own ``cnn_train`` under Octave on one random stream, compare per
iteration/epoch; the table and the verdict on stdout, JSON and HTML on
request, each ending with the line that reproduces it."""
from __future__ import annotations

import sys


def compare_train(*, config, data, options, seed, matlab_dir=None, instances=None, validation=None,
                  validation_instances=None, floor=True, rowmajor=False, normalize=False, rtol=1e-9,
                  lenient_replay=False, timeout=600.0, json=None, html=None, command="", progress=None) -> int:
    """Train on both sides, print the table and the verdict, write the
    reports; 0 pass, 1 a parity failure.  ``progress``: the observer (a bar
    of the Python side's iterations on a terminal, else the progress lines
    of both sides as plain lines; nothing when quiet)."""
    from simplecnn_py.opt.parse_options import parse_options

    from ..reports.progress import QUIET
    from ..reports.train_report import progress_bar
    from ..training.compare_train import PERTURBATION, compare_train as train_both, default_progress, format_table
    from ..training.compare_train import summary, write_html

    progress = QUIET if progress is None else progress
    param = parse_options(options)
    newton = param.solver == 1
    on_step, bar = progress_bar(param.iter_max if newton else param.epoch_max, "iter" if newton else "epoch",
                                desc="python side", progress=progress)
    lines = default_progress if progress is not QUIET and bar is None else None     # no bar: plain lines
    try:
        result = train_both(matlab_dir, config, data, options, seed, instances=instances, timeout=timeout, tol=rtol,
                            rowmajor=rowmajor, normalize=normalize, progress=lines,
                            strict_replay=not lenient_replay, validation=validation,
                            validation_instances=validation_instances,
                            perturbation=PERTURBATION if floor else None, on_step=on_step)
    finally:
        if bar is not None:
            bar.close()
    result.command = command
    if result.rows:
        print(format_table(result))
    print(summary(result))
    if command:
        print(f"reproduce: {command}")
    if json:
        write_json(json, result.to_json(), command)
    if html:
        write_html(html, result)
    sys.stdout.flush()
    return 0 if result.passed else 1


def write_json(path, doc, command):
    """The comparison as JSON (non-finite numbers as null), ``command`` last."""
    import json as json_module
    import math

    from simplecnn_py.support.model_file import atomic_write

    doc = dict(doc, command=command)

    def plain(x):
        try:
            v = float(x)
        except (TypeError, ValueError):
            return str(x)
        return v if math.isfinite(v) else None

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json_module.dump(doc, f, indent=1, allow_nan=False, default=plain)
    atomic_write(path, write)
