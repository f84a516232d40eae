"""compare-train's reports: the table and the verdict on the terminal, a
self-contained HTML page (the curves drawn by
:func:`simplecnn_harness.reports.train_report.series_svg`), and progress
lines on stderr.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .printed import PROGRESS_LINE
from .verdict import TrainComparison, unit_of

def format_table(result: TrainComparison) -> str:
    newton = result.solver == "newton"
    name = result.value_name
    head = (f"{'k':>4}  {name + ' (Python)':>24}  {name + ' (MATLAB)':>24}  {'rel err':>9}  "
            f"{'floor':>9}  {'allowed':>9}")
    if newton:
        head += f"  {'#CG':>9}  {'alpha':>10}  {'lambda':>12}"
    if result.validation:
        head += f"  {'val_acc Py/ML':>17}"
    out = [head + "  ok"]
    for r in result.rows:
        p, m = r["python"], r["matlab"] or {}
        e = r["rel_err"]
        line = (f"{r['k']:>4}  {_g(p.get('f')):>24}  {_g(m.get('f')):>24}  "
                f"{('-' if e is None else f'{e:.2e}'):>9}  {_e(r.get('floor')):>9}  {_e(r.get('allowed')):>9}")
        if newton:
            cg = f"{p.get('cg')}/{m.get('cg', '-')}"
            line += f"  {cg:>9}  {_g(p.get('alpha'), 4):>10}  {_g(p.get('lambda'), 6):>12}"
        if result.validation:
            acc = f"{_g(p.get('val_acc'), 6)}/{_g(m.get('val_acc'), 6)}"
            line += f"  {acc:>17}"
        out.append(line + ("  ok" if r["ok"] else "  FAIL") + (" (#CG one step apart, within the floor)"
                                                               if r.get("note") else ""))
    return "\n".join(out)


def _e(x):
    return "-" if x is None else f"{x:.2e}"


def _g(x, digits=17):
    return "-" if x is None else f"{x:.{digits}g}"


def summary(result: TrainComparison) -> str:
    unit = unit_of(result.solver)
    n = len(result.rows)
    worst = max((r["rel_err"] for r in result.rows if r["rel_err"] is not None), default=None)
    floor = max((r.get("floor") or 0.0 for r in result.rows), default=None) if result.perturbed else None
    text = (f"compare-train ({result.solver}, {result.instances} instances"
            + (f" + {result.validation} validation" if result.validation else "")
            + f", seed {result.seed}, {result.layout} layout at {result.matlab_dir}): "
            + (f"{n} {unit}s" if n else f"no {unit} compared"))
    if worst is not None:
        text += f", largest {result.value_name} relative error {worst:.2e}"
        if floor is not None:
            text += (f", the MATLAB side's own floor {floor:.2e} (its run with the initial weights moved by "
                     f"{result.perturbation:.1e} relative)")
        text += f" (tolerance max({result.tol:g}, {result.floor_factor:g} x floor))"
    if result.weights_rel_err is not None:
        text += f", final weights relative difference {result.weights_rel_err:.2e}"
    if result.text:
        t = result.text
        text += (f"; printed lines: {t['equal']}/{t['lines']} identical"
                 + (f", {t['digits']} differ in the last printed digits" if t["digits"] else ""))
    notes = [f"- note: {n}" for n in result.notes]
    if result.passed:
        return "\n".join([text + ": PASS"] + notes)
    lines = [text + ": FAIL"]
    if result.first_divergence:
        k = result.first_divergence.get("k")
        lines.append(f"first divergence{'' if k is None else f' at {unit} {k}'}: {result.first_divergence['what']}")
    lines += [f"- {p}" for p in result.problems if not result.first_divergence
              or p != result.first_divergence.get("what")]
    return "\n".join(lines + notes)


def write_html(path, result: TrainComparison) -> None:
    """A self-contained page: f per iteration on a log scale (both sides), the table."""
    import html

    from ..reports.html import page as html_page
    from ..reports.train_report import series_svg

    unit = unit_of(result.solver)
    name = result.value_name
    series = {"Python": [(r["k"], r["python"].get("f")) for r in result.rows],
              "MATLAB": [(r["k"], (r["matlab"] or {}).get("f")) for r in result.rows]}
    svg = series_svg(series, unit, f"{name} (log scale)")
    errs = {"relative error": [(r["k"], max(r["rel_err"], 1e-17)) for r in result.rows
                               if r["rel_err"] is not None]}
    floor = [(r["k"], r.get("floor")) for r in result.rows] if result.perturbed is not None else None
    svg_err = series_svg(errs, unit, "relative error (log scale)", line=result.tol,
                         line_label=f"tolerance {result.tol:g}", floor=floor)
    newton = result.solver == "newton"
    cols = (["k", f"{name} (Python)", f"{name} (MATLAB)", "rel. error", "floor", "allowed"]
            + (["#CG Py/ML", "alpha", "lambda", "|g|"] if newton else [])
            + (["val_acc Py/ML"] if result.validation else []) + ["ok"])
    rows_html = []
    for r in result.rows:
        p, m = r["python"], r["matlab"] or {}
        cells = [str(r["k"]), _g(p.get("f")), _g(m.get("f")),
                 "-" if r["rel_err"] is None else f"{r['rel_err']:.2e}", _e(r.get("floor")), _e(r.get("allowed"))]
        if newton:
            cells += [f"{p.get('cg')}/{m.get('cg', '-')}", _g(p.get("alpha"), 6), _g(p.get("lambda"), 8),
                      _g(p.get("gnorm"), 8)]
        if result.validation:
            cells.append(f"{_g(p.get('val_acc'), 6)}/{_g(m.get('val_acc'), 6)}")
        cells.append("ok" if r["ok"] else "FAIL")
        cls = "" if r["ok"] else " class='bad'"
        rows_html.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    verdict = "PASS" if result.passed else "FAIL"
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in result.problems)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    replay = "".join(f"<tr><td>{k}</td><td>{v['python_draws']}</td><td>{v['matlab_draws']}</td></tr>"
                     for k, v in result.replay.items() if v["python_draws"] or v["matlab_draws"])
    body = f"""<p>{html.escape(summary(result).splitlines()[0])}</p>
<p>Options <code>{html.escape(result.options)}</code>; tolerance: relative error &le; max({result.tol:g}, {result.floor_factor:g} &times; floor)
{"; equal #CG counts" if newton else ""}. Time: Python {result.python.seconds:.2f} s,
MATLAB under Octave {result.matlab.seconds:.2f} s.</p>
{f"<h2>Problems</h2><ul>{problems}</ul>" if problems else ""}
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
<h2>{html.escape(name)} per {unit}</h2>
{svg}
<h2>Relative error per {unit} (log scale; dashed red: the tolerance; dotted grey: the original's own floor,
its run with the initial weights moved by {result.perturbation or 0:.1e})</h2>
{svg_err}
<h2>Per {unit}</h2>
<table><tr>{"".join(f"<th>{c}</th>" for c in cols)}</tr>
{"".join(rows_html)}
</table>
<h2>Replayed randomness</h2>
<table><tr><th>kind</th><th>Python draws</th><th>MATLAB draws</th></tr>{replay}</table>"""
    page = html_page(f"simplecnn compare-train: {verdict}", body, heading="compare-train", ok=result.passed,
                     command=getattr(result, "command", ""))
    from simplecnn_py.support.model_file import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))


def default_progress(side, line):
    """Progress lines on stderr as iterations run."""
    if PROGRESS_LINE.match(line):
        print(f"[{side:>6}] {line}", file=sys.stderr, flush=True)
