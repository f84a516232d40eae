"""``simplecnn sweep CONFIG_OR_FOLDER ...``: ``simplecnn compare`` over many
configurations of one MATLAB tree, one summary (what ``scripts/compare_report.py``
did).

Each argument is a simpleNN config file or a folder (its ``*.config`` files,
sorted).  For every configuration :func:`run_configs` runs

    simplecnn compare --config CFG --json OUT/NAME.json --html OUT/NAME.html [the options]

as a separate process (so one configuration's Octave trouble cannot take the
others down), and :func:`write_summaries` writes ``OUT/summary.md``,
``OUT/summary.html`` (self-contained; each configuration links to its own
detailed report) and ``OUT/summary.json``, a row per configuration:

    config | layout | result | worst stage | its rel_err | first divergence | time (s)

* result: ``PASS``, ``FAIL`` (a parity failure: compare exited 1) or
  ``ERROR`` (bad input or a broken environment: compare exited 2; the row
  carries compare's one-line message);
* worst stage: the compared floating-point stage with the largest normwise
  relative error (index stages are exact: their disagreement shows in the
  first divergence);
* first divergence: compare's ``first_divergence`` (layer, direction, stage),
  or ``-``;
* time: wall-clock seconds of the compare process, Octave's start included.

A ``--data`` file (one for every configuration) must suit each
configuration's image size; without it compare generates seeded images per
configuration.  :func:`exit_code`: 2 if any configuration gave an ERROR,
else 1 if any FAILed, else 0.  The configurations and the output folder
are checked before any configuration runs (:func:`find_configs`,
:func:`check_folder`); the summaries are written whole or not at all.
"""
from __future__ import annotations

import html
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

from simplecnn_py.support.atomic import write_atomically
from simplecnn_py.support.errors import InputError

from ..sources.base import observer


def find_configs(items):
    """Config files of the arguments: files as given, folders' ``*.config`` sorted."""
    configs = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.config"))
            if not found:
                raise InputError(item, "no *.config files in this folder")
            configs.extend(found)
        elif p.is_file():
            configs.append(p)
        else:
            raise InputError(item, "no such config file or folder")
    return configs


def check_folder(out):
    """The output folder exists (made if need be) and takes new files: checked
    before any configuration runs."""
    import tempfile

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".sweep-check-"):
            pass
    except OSError as e:
        raise InputError(out, f"cannot write into this folder: {e.strerror or e}") from None
    return out


def _names(configs):
    """A distinct file-name stem per configuration (a.config, a-2 ...)."""
    seen, out = {}, []
    for c in configs:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(c).stem) or "config"
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out



# --- one configuration ---------------------------------------------------------------

def compare_command(config, json_path, html_path, args):
    """The ``simplecnn compare`` command line of one configuration (``args``: the
    sweep's options, an object with ``matlab_dir``, ``data``, ``instances``,
    ``precision``, ``mode``, ``seed``, ``rtol``, ``timeout``)."""
    cmd = [sys.executable, "-m", "simplecnn_cli", "compare", "--config", str(config),
           "--json", str(json_path), "--html", str(html_path), "--quiet"]
    for opt in ("matlab_dir", "data", "instances", "precision", "mode", "seed", "rtol", "timeout"):
        value = getattr(args, opt, None)
        if value is not None:
            cmd += [f"--{opt.replace('_', '-')}", str(value)]
    return cmd


def run_one(config, name, args, out):
    """Run compare on one configuration; the summary row (see ``summarize``)."""
    json_path, html_path = out / f"{name}.json", out / f"{name}.html"
    for p in (json_path, html_path):
        if p.exists():
            p.unlink()
    start = time.perf_counter()
    proc = subprocess.run(compare_command(config, json_path, html_path, args), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    result = None
    if json_path.exists():
        try:
            result = json.loads(json_path.read_text())
        except json.JSONDecodeError:
            result = None
    message = _error_line(proc.stderr) if proc.returncode not in (0, 1) or result is None else ""
    if result is None and not message:
        message = f"compare exited {proc.returncode} without a JSON report"
    return summarize(str(config), result, proc.returncode, seconds, message,
                     html_path.name if html_path.exists() else None)


def _error_line(stderr):
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("simplecnn:"):
            return ln
    return lines[-1] if lines else ""


def _number(v):
    if v is None:
        return None
    if isinstance(v, str):
        return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(v.lower())
    return float(v)


def summarize(config, result, returncode, seconds, message="", report=None):
    """The row of one configuration from compare's JSON (``result``, or None)."""
    row = {"config": config, "layout": None, "result": "ERROR", "worst_stage": None, "worst_rel_err": None,
           "first_divergence": None, "seconds": round(seconds, 2), "message": message, "report": report,
           "exit": returncode}
    if result is None:
        return row
    row["layout"] = result.get("layout")
    if returncode == 0 and result.get("pass"):
        row["result"] = "PASS"
    elif returncode in (0, 1):
        row["result"] = "FAIL"
    worst, worst_err = None, -1.0
    for s in result.get("stages", []):
        if not s.get("compared") or s.get("kind") == "index":
            continue
        err = _number(s.get("rel_err"))
        if err is None:
            continue
        key = math.inf if math.isnan(err) else err
        if key > worst_err:
            worst, worst_err = s, key
    if worst is not None:
        row["worst_stage"] = {k: worst[k] for k in ("layer", "direction", "stage")}
        row["worst_rel_err"] = _number(worst.get("rel_err"))
    row["first_divergence"] = result.get("first_divergence")
    return row


# --- the summary ---------------------------------------------------------------------

def _stage_text(s):
    return "-" if not s else f"layer {s['layer']}, {s['direction']}, {s['stage']}"


def _err_text(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    return f"{v:.3g}"


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _settings_text(args):
    parts = [f"MATLAB tree: {args.matlab_dir or 'matlab_ref/seed (embedded)'}",
             f"data: {args.data or 'generated per configuration'}",
             f"instances: {args.instances or 'default'}", f"precision: {args.precision}", f"mode: {args.mode}"]
    return "; ".join(parts)


def _totals(rows):
    n = {k: sum(r["result"] == k for r in rows) for k in ("PASS", "FAIL", "ERROR")}
    return f"{n['PASS']} of {len(rows)} configurations pass, {n['FAIL']} fail, {n['ERROR']} could not be compared"


def markdown_summary(rows, args):
    lines = ["# simplecnn compare: summary", "", _settings_text(args) + ".", "", _totals(rows) + ".", "",
             "| config | layout | result | worst stage | rel_err | first divergence | time (s) |",
             "|---|---|---|---|---:|---|---:|"]
    for r in rows:
        result = r["result"] + (f" ({r['message']})" if r["message"] else "")
        lines.append("| " + " | ".join(_md(x) for x in (
            r["config"], r["layout"] or "-", result, _stage_text(r["worst_stage"]), _err_text(r["worst_rel_err"]),
            _stage_text(r["first_divergence"]), f"{r['seconds']:.2f}")) + " |")
    return "\n".join(lines) + "\n"


def html_summary(rows, args):
    e = html.escape
    from ..reports.html import page       # the one template and stylesheet of every report

    out = [f"<p>{e(_settings_text(args))}.</p>", f"<p><b>{e(_totals(rows))}.</b></p>",
           "<table><tr><th>config</th><th>layout</th><th>result</th><th>worst stage</th><th>rel_err</th>"
           "<th>first divergence</th><th>time (s)</th></tr>"]
    for r in rows:
        name = e(r["config"])
        if r["report"]:
            name = f"<a href='{e(r['report'])}'>{name}</a>"
        result = e(r["result"]) + (f"<br><small>{e(r['message'])}</small>" if r["message"] else "")
        out.append(f"<tr class='{e(r['result'])}'><td>{name}</td><td>{e(r['layout'] or '-')}</td><td>{result}</td>"
                   f"<td>{e(_stage_text(r['worst_stage']))}</td><td class='num'>{e(_err_text(r['worst_rel_err']))}</td>"
                   f"<td>{e(_stage_text(r['first_divergence']))}</td><td class='num'>{r['seconds']:.2f}</td></tr>")
    out += ["</table>", "<p><small>worst stage: the compared floating-point stage with the largest normwise "
            "relative error ||py - mat||/||mat||; index stages are compared exactly and show in the first "
            "divergence.</small></p>"]
    return page("simplecnn compare: summary", "\n".join(out))


def run_configs(configs, out, args, progress=None) -> list[dict]:
    """Compare every configuration (``configs``: files, from :func:`find_configs`)
    into the folder ``out``; the summary rows.  ``args``: the compare options
    (see :func:`compare_command`); ``progress``: the observer (a bar over the
    configurations, a line per result)."""
    say = observer(progress)
    out = Path(out)
    rows = []
    jobs = list(zip(configs, _names(configs)))
    for config, name in say.bar(jobs, total=len(jobs), desc="configurations", unit="config"):
        if say.live:
            say(f"sweep: {config}")
        row = run_one(config, name, args, out)
        rows.append(row)
        say.write(f"{row['result']:5s} {config} ({row['seconds']:.1f} s)"
                  + (f": {row['message']}" if row["message"] else ""))
    return rows


def write_summaries(rows, args, out) -> list[Path]:
    """``summary.md``, ``summary.html`` and ``summary.json`` in ``out``, each whole or not at all."""
    written = []
    for name, text in (("summary.md", markdown_summary(rows, args)), ("summary.html", html_summary(rows, args)),
                       ("summary.json", json.dumps(rows, indent=1, default=str) + "\n")):
        path = Path(out) / name
        try:
            write_atomically(path, text)
        except OSError as e:
            raise InputError(path, f"cannot write: {e.strerror or e}") from None
        written.append(path)
    return written


def exit_code(rows) -> int:
    """2 if a configuration could not be compared, else 1 if one failed, else 0."""
    if any(r["result"] == "ERROR" for r in rows):
        return 2
    return 1 if any(r["result"] == "FAIL" for r in rows) else 0
