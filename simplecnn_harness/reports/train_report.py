"""Training curves and progress for ``simplecnn train`` and ``compare-train``.

* :func:`progress_bar` -- a bar (count, rate, time left) drawn by the
  progress observer (``reports/progress.py``), only when stderr is a
  terminal and ``--quiet`` is not given; returns an
  ``on_step(k, value)`` callback for ``cnn_train(..., progress=...)`` and
  the bar (``None`` when off).
* :func:`curve_svg` -- the training curve drawn by matplotlib as an SVG
  string: f (Newton) or loss/batch_size (SGD, Adam) per iteration/epoch on a
  log scale, and val_acc on a second axis when given.
* :func:`write_train_json`, :func:`write_train_html` -- the report files of
  ``simplecnn train --json/--html``: one JSON document, one self-contained
  HTML page (the SVG inline); both written atomically (temp + rename).
"""
from __future__ import annotations

import html
import io
import json
import math
import sys

from simplecnn_py.support.model_file import atomic_write

from ..training.verdict import json_plain
from .html import page as html_page
from .progress import progress_for

__all__ = ["progress_bar", "curve_svg", "write_train_json", "write_train_html", "train_record"]


def progress_bar(total, unit, quiet=False, desc="train", stream=None, progress=None):
    """``(on_step, bar)``: a bar of ``total`` steps drawn by the progress
    observer (``progress``, else the one :func:`progress_for` picks for
    ``quiet`` and ``stream``), or ``(None, None)`` when it draws no bars
    (quiet, or stderr not a terminal: CI logs stay clean)."""
    observer = progress if progress is not None else progress_for(quiet, stream or sys.stderr)
    if not observer.live or not total:
        return None, None
    bar = observer.bar(total=total, unit=unit, desc=desc)

    def on_step(k, value):
        bar.set_postfix_str(f"{'f' if unit == 'iter' else 'loss/bsize'} {value:.6g}", refresh=False)
        bar.update(1)

    return on_step, bar


def train_record(options, solver, info, lines, seconds, l, validation=0):
    """The JSON document of a training run."""
    newton = solver == "newton"
    values = list(getattr(info, "f" if newton else "loss", []) or [])
    rec = {"solver": solver, "options": options, "instances": l, "validation_instances": validation,
           "seconds": seconds, "value": "f" if newton else "loss/batch_size",
           "unit": "iteration" if newton else "epoch",
           "values": values, "val_acc": list(getattr(info, "val_acc", []) or []), "lines": lines}
    if newton:
        rec["initial_f"] = getattr(info, "f0", None)
        for name in ("gnorm", "alpha", "ratio", "lambda", "cg", "actred", "prered"):
            rec[name] = list(getattr(info, name, []) or [])
        rec["total_CG"] = getattr(info, "total_CG", None)
    return json_plain(rec)


def curve_svg(values, val_acc=None, value_name="f", unit="iteration", initial=None, extra=None):
    """The curve as an SVG string (matplotlib, Agg-free SVG backend).
    ``extra``: more ``{label: values}`` series on the value axis."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    ks = list(range(1, len(values) + 1))
    xs, ys = ks, values
    if initial is not None:
        xs, ys = [0] + ks, [initial] + list(values)
    good = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y) and y > 0]
    if good:
        ax.plot([x for x, _ in good], [y for _, y in good], marker="o", ms=3, color="#1f77b4", label=value_name)
        ax.set_yscale("log")
    for j, (label, series) in enumerate((extra or {}).items()):
        pts = [(k, y) for k, y in zip(ks, series) if y is not None and math.isfinite(y) and y > 0]
        if pts:
            ax.plot([k for k, _ in pts], [y for _, y in pts], marker="s", ms=3, ls="--",
                    color=("#d62728", "#2ca02c", "#9467bd")[j % 3], label=label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(unit)
    ax.set_ylabel(value_name + " (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if val_acc:
        ax2 = ax.twinx()
        ax2.plot(ks[:len(val_acc)], val_acc, marker="^", ms=3, color="#ff7f0e", label="val_acc")
        ax2.set_ylabel("val_acc")
        ax2.set_ylim(0, 1)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if handles:
        ax.legend(handles, labels, loc="upper right", fontsize=8)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.find("<svg"):]


def write_train_json(path, record):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, allow_nan=False)
    atomic_write(path, write)


def write_train_html(path, record, title="simplecnn train"):
    svg = curve_svg(record["values"], record.get("val_acc"), record["value"], record["unit"],
                    record.get("initial_f"))
    rows = "".join(
        f"<tr><td>{k}</td><td>{_fmt(v)}</td>"
        + (f"<td>{_fmt(record['val_acc'][k - 1])}</td>" if record.get("val_acc") else "") + "</tr>"
        for k, v in enumerate(record["values"], 1))
    acc_head = "<th>val_acc</th>" if record.get("val_acc") else ""
    lines = html.escape("\n".join(record.get("lines", [])))
    body = f"""<p>Options <code>{html.escape(record['options'] or '(defaults)')}</code>; {record['instances']} instances
{f"+ {record['validation_instances']} validation" if record.get('validation_instances') else ''};
{len(record['values'])} {record['unit']}s in {record['seconds']:.1f} s.</p>
<h2>{html.escape(record['value'])} per {record['unit']}</h2>
{svg}
<h2>Per {record['unit']}</h2>
<table><tr><th>k</th><th>{html.escape(record['value'])}</th>{acc_head}</tr>{rows}</table>
<h2>Printed lines</h2><pre>{lines}</pre>"""
    page = html_page(title, body, heading=f"{title}: {record['solver']}")

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
    atomic_write(path, write)


def _fmt(v):
    return "-" if v is None else f"{v:.10g}"


def series_svg(series, unit, ylabel, line=None, line_label=None, floor=None):
    """Several ``{label: [(k, value)]}`` series on a log scale as an SVG
    string (matplotlib); ``line``: a horizontal reference (the tolerance);
    ``floor``: a second series drawn dashed (the original's own floor)."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    styles = {"Python": dict(color="#1f77b4", marker="o"), "MATLAB": dict(color="#d62728", marker="x", ls="--")}
    drawn = False
    for label, pts in series.items():
        pts = [(k, v) for k, v in pts if v is not None and math.isfinite(v) and v > 0]
        if pts:
            ax.plot([k for k, _ in pts], [v for _, v in pts], ms=4, label=label,
                    **styles.get(label, dict(color="#2ca02c", marker="s")))
            drawn = True
    if floor:
        pts = [(k, v) for k, v in floor if v is not None and math.isfinite(v) and v > 0]
        if pts:
            ax.plot([k for k, _ in pts], [v for _, v in pts], color="#7f7f7f", ls=":", marker=".",
                    label="the original's own floor")
            drawn = True
    if line is not None:
        ax.axhline(line, color="#b00", ls="--", lw=1, label=line_label or "tolerance")
        drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=8, loc="best")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(unit)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.find("<svg"):]
