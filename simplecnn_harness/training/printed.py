"""The progress lines the training routines print: parsed tolerantly,
compared as text, and, in a copy of the MATLAB tree, repeated at full
precision.

``k-iter f: .. |g|: .. alpha: .. ratio: .. lambda: .. #CG: .. actred: ..
prered: ..`` and ``k-epoch <label>: ..`` (any ``name: value`` pairs after
``<k>-iter`` / ``<k>-epoch``), ``initial f: ..`` and ``total_#CG: ..``.
The copies are found with the harness's one MATLAB lexer
(:func:`simplecnn_harness.octave.instrument.scan`).
"""
from __future__ import annotations

import re

from ..octave.instrument import scan

FULL = "simplecnn-full: "    # prefix of the instrumented copies of the progress lines
_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Inf|inf|NaN|nan)"
_ITER = re.compile(r"^\s*(\d+)\s*-\s*iter\b[\s,:]*(.*)$", re.IGNORECASE)
_EPOCH = re.compile(r"^\s*(?:(\d+)\s*-\s*epoch\b|epoch\s*[:=#]?\s*(\d+)\b)[\s,:]*(.*)$", re.IGNORECASE)
_INITIAL = re.compile(r"^\s*initial\s+f\s*:\s*(" + _NUM + r")", re.IGNORECASE)
_PAIR = re.compile(r"([#|A-Za-z_][\w#|/]*)\s*[:=]\s*(" + _NUM + r")")
# "f" is the value compared: f (Newton), loss/batch_size (SGD, Adam: the last mini-batch's loss)
_KEYS = {"f": "f", "obj": "f", "fun": "f", "loss": "f", "loss/batch_size": "f", "|g|": "gnorm",
         "gnorm": "gnorm", "alpha": "alpha", "ratio": "ratio", "lambda": "lambda", "#cg": "cg", "cg": "cg",
         "actred": "actred", "prered": "prered", "val_acc": "val_acc"}
PROGRESS_LINE = re.compile(r"^\s*(initial f:|\d+-iter |\d+-epoch |total_#CG:|line search)", re.IGNORECASE)


def _number(text):
    return float(text.replace("Inf", "inf").replace("NaN", "nan"))


def _digits(text):
    """Significant digits of a printed number."""
    mant = re.sub(r"[eE].*$", "", text.lstrip("+-")).replace(".", "").lstrip("0")
    return len(mant)


def progress_lines(lines) -> list[str]:
    """The lines the solvers print (initial f, per iteration/epoch, total),
    without the harness's full-precision copies."""
    return [ln.rstrip() for ln in lines if PROGRESS_LINE.match(ln) and not ln.startswith(FULL)]


def full_lines(lines) -> list[str]:
    """The full-precision copies (prefix removed)."""
    return [ln[len(FULL):].rstrip() for ln in lines if ln.startswith(FULL)]


def parse_progress(lines, solver: str) -> tuple[list[dict], dict]:
    """Per-iteration (Newton) or per-epoch (SGD/Adam) values from printed
    lines: ``[{k, f, ...}]`` and ``{'line_search_failed', 'total_cg',
    'min_digits', 'f0'}``."""
    rows, extra = [], {"line_search_failed": False, "total_cg": None, "min_digits": None, "f0": None}
    pattern = _ITER if solver == "newton" else _EPOCH
    for line in lines:
        if re.search(r"line\s*search\s*fail", line, re.IGNORECASE):
            extra["line_search_failed"] = True
        m = _INITIAL.match(line)
        if m:
            extra["f0"] = _number(m.group(1))
            continue
        m = re.search(r"total_?#?\s*CG\s*[:=]\s*(\d+)", line, re.IGNORECASE)
        if m:
            extra["total_cg"] = int(m.group(1))
            continue
        m = pattern.match(line)
        if not m:
            continue
        if solver == "newton":
            k, rest = int(m.group(1)), m.group(2)
        else:
            k, rest = int(m.group(1) or m.group(2)), m.group(3)
        row = {"k": k}
        for key, value in _PAIR.findall(rest):
            name = _KEYS.get(key.lower())
            if name and name not in row:
                row[name] = int(_number(value)) if name == "cg" else _number(value)
                if name == "f":
                    d = _digits(value)
                    extra["min_digits"] = d if extra["min_digits"] is None else min(extra["min_digits"], d)
        if "f" in row:
            rows.append(row)
    return rows, extra


def compare_text(py_lines, ml_lines) -> dict:
    """The progress lines of both sides as text: ``{'equal', 'digits',
    'structure', 'first'}`` -- lines identical, lines that differ only in
    printed digits, lines that differ in words or count (the first of those)."""
    out = {"lines": max(len(py_lines), len(ml_lines)), "equal": 0, "digits": 0, "structure": 0, "first": None}
    num = re.compile(_NUM)
    for j in range(out["lines"]):
        a = py_lines[j] if j < len(py_lines) else None
        b = ml_lines[j] if j < len(ml_lines) else None
        if a == b:
            out["equal"] += 1
        elif a is not None and b is not None and num.sub("#", a) == num.sub("#", b):
            out["digits"] += 1
            out["first_digits"] = out.get("first_digits") or {"python": a, "matlab": b}
        else:
            out["structure"] += 1
            if out["first"] is None:
                out["first"] = {"line": j + 1, "python": a, "matlab": b}
    return out


_FMT_CALL = re.compile(r"^fprintf\s*\(\s*'((?:[^']|'')*)'(.*)\)$", re.DOTALL)
_FLOAT_CONV = re.compile(r"%[-+ 0#]*\d*(?:\.\d+)?[eEfgG]")


def instrument_progress(src: str) -> tuple[str, int]:
    """The source with a full-precision copy after every progress ``fprintf``
    (a format mentioning ``iter``, ``epoch`` or ``initial``):
    ``fprintf(FMT, args);`` becomes ``fprintf(FMT, args); fprintf(
    'simplecnn-full: ' FMT', args);`` with FMT' its float conversions as
    ``%.17g``, on the statement's last line.  The original line prints
    unchanged (compared as text); every line keeps its number (error locations map back to the user's file)."""
    inserts = []
    for sp in scan(src):            # a statement continued over lines (...) gets its copy on its last line
        m = _FMT_CALL.match(sp.code)
        if not m or not re.search(r"iter|epoch|initial", m.group(1), re.IGNORECASE):
            continue
        wide = _FLOAT_CONV.sub("%.17g", m.group(1))
        copy = f"fprintf('{FULL}{wide}'{m.group(2)});"
        if sp.term in (";", ","):
            inserts.append((sp.term_pos + 1, " " + copy))
        else:
            inserts.append((sp.code_end, "; " + copy))
    out = src
    for pos, text in reversed(inserts):
        out = out[:pos] + text + out[pos:]
    return out, len(inserts)


def widen_progress_formats(src: str) -> tuple[str, int]:
    """Kept for callers of the earlier harness: ``instrument_progress``."""
    return instrument_progress(src)
