#!/usr/bin/env python3
"""Scripted comparison report: ``simplecnn compare`` over many configurations.

    .venv/bin/python scripts/compare_report.py CONFIG_OR_FOLDER [...]
        [--matlab-dir DIR] [--data DATA.mat] [--instances N]
        [--precision double|single] [--mode propagated|isolated] [--seed S]
        [--rtol TOL] [--timeout SEC] [--out FOLDER]

Each argument is a simpleNN config file or a folder (its ``*.config`` files,
sorted).  For every configuration the script runs

    simplecnn compare --config CFG --json OUT/NAME.json --html OUT/NAME.html [the options above]

as a separate process (so one configuration's Octave trouble cannot take the
others down), then writes one summary, ``OUT/summary.md`` and
``OUT/summary.html`` (self-contained; each configuration links to its own
detailed report), with a row per configuration:

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

``--data`` (one simpleNN data file for every configuration) must suit each
configuration's image size; without it compare generates seeded images per
configuration.  Exit status: 2 if any configuration gave an ERROR, else 1 if
any FAILed, else 0.  Bad arguments and an output folder that takes no new
file are refused before any configuration runs; the summaries are written
whole or not at all.  On a terminal, stderr shows a bar over the
configurations (count, rate, time left) and the running one's elapsed time.
"""
from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["find_configs", "run_one", "summarize", "markdown_summary", "html_summary", "main"]


# --- inputs ----------------------------------------------------------------------

def _fail(message):
    """Bad input: one line on stderr, exit status 2 (as simplecnn's)."""
    print(f"compare_report: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def find_configs(items):
    """Config files of the arguments: files as given, folders' ``*.config`` sorted."""
    configs = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*.config"))
            if not found:
                _fail(f"{item}: no *.config files in this folder")
            configs.extend(found)
        elif p.is_file():
            configs.append(p)
        else:
            _fail(f"{item}: no such config file or folder")
    return configs


def _names(configs):
    """A distinct file-name stem per configuration (a.config, a-2 ...)."""
    seen, out = {}, []
    for c in configs:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(c).stem) or "config"
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


# --- one configuration --------------------------------------------------------------

def compare_command(config, json_path, html_path, args):
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


# --- the summary ------------------------------------------------------------------

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
    from simplecnn_harness.reports.html import page       # the one template and stylesheet of every report

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


# --- command line -------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="compare_report.py",
                                description="Run simplecnn compare over several configurations and write one "
                                            "summary in Markdown and HTML, a row per configuration.")
    p.add_argument("configs", nargs="+", metavar="CONFIG_OR_FOLDER",
                   help="simpleNN config files, or folders whose *.config files are taken")
    p.add_argument("--matlab-dir", metavar="DIR", help="MATLAB tree to compare (default: matlab_ref/seed)")
    p.add_argument("--data", metavar="DATA.mat", help="one data file for every configuration (default: generated)")
    p.add_argument("--instances", type=int, metavar="N", help="use the first N instances")
    p.add_argument("--precision", choices=("double", "single"), default="double")
    p.add_argument("--mode", choices=("propagated", "isolated"), default="propagated")
    p.add_argument("--seed", type=int, help="seed of the He init and of generated data (compare's default 0)")
    p.add_argument("--rtol", type=float, help="normwise relative tolerance (compare's default per precision)")
    p.add_argument("--timeout", type=float, help="stop Octave after SEC seconds, per configuration")
    p.add_argument("--out", default="compare-report", metavar="FOLDER",
                   help="folder for summary.md, summary.html and the per-configuration reports "
                        "(default ./compare-report)")
    return p.parse_args(argv)


def _check_folder(out):
    """The output folder exists (made if need be) and takes new files: checked
    before any configuration runs."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".compare_report-check-"):
            pass
    except OSError as e:
        _fail(f"{out}: cannot write into this folder: {e.strerror or e}")


def _write(path, text):
    """Whole or not at all: a temporary file renamed over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        _fail(f"{path}: cannot write: {e.strerror or e}")


def main(argv=None):
    args = parse_args(argv)
    if args.seed is not None and args.seed < 0:
        _fail(f"--seed: must be >= 0, not {args.seed}")
    if args.instances is not None and args.instances < 1:
        _fail(f"--instances: must be a positive number, not {args.instances}")
    configs = find_configs(args.configs)
    out = Path(args.out)
    _check_folder(out)
    rows = []
    try:
        from simplecnn_harness.reports import progress
    except ImportError:                      # run outside the package's environment
        progress = None
    live = progress.live() if progress else _no_progress()
    with live as say:
        jobs = list(zip(configs, _names(configs)))
        for config, name in (progress.bar(jobs, total=len(jobs), desc="configurations", unit="config")
                             if progress and progress.active() else jobs):
            if say and progress.active():
                say(f"compare_report: {config}")
            row = run_one(config, name, args, out)
            rows.append(row)
            line = (f"{row['result']:5s} {config} ({row['seconds']:.1f} s)"
                    + (f": {row['message']}" if row["message"] else ""))
            if progress:
                progress.write(line)
            else:
                print(line, file=sys.stderr, flush=True)
    _write(out / "summary.md", markdown_summary(rows, args))
    _write(out / "summary.html", html_summary(rows, args))
    _write(out / "summary.json", json.dumps(rows, indent=1, default=str) + "\n")
    print(markdown_summary(rows, args), end="")
    print(f"compare_report: wrote {out / 'summary.md'} and {out / 'summary.html'}", file=sys.stderr)
    if any(r["result"] == "ERROR" for r in rows):
        return 2
    return 1 if any(r["result"] == "FAIL" for r in rows) else 0


class _no_progress:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
