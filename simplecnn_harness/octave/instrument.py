"""Tracing without editing: rewrite a *copy* of a MATLAB file so that every
assignment statement reports its value to the recorder.

The user's files are never touched: the harness copies the tree to a
temporary directory and calls :func:`instrument_source` on the copies of the
files that hold the forward and backward stages (``feedforward.m``,
``lossgrad_subset.m`` and, in the current layout, ``JTv.m``).

After each assignment statement a call

    simplecnn_rec__(ID, VALUE, LAYER, KEEP);

is appended *on the same line* (so line numbers in Octave's error messages
stay those of the user's file), where

* ``ID`` numbers the statement (and output, for ``[a, b] = f(...)``),
* ``VALUE`` is the assigned variable: ``X`` for ``X(:, k) = ...``,
  ``net.Z{m+1}`` for ``net.Z{m+1} = ...``,
* ``LAYER`` is the innermost ``for`` variable (the layer ``m`` in simpleNN's
  loops) or ``0`` outside loops,
* ``KEEP`` is 1 when the values are wanted, 0 when only class and size are
  (statements that map to no stage: cheap).

Statements are found by the one MATLAB lexer (``lexer.py``).

Each statement is classified from its text (see :func:`classify`) into a
candidate stage of ``docs/design.md``; ``simplecnn_harness.sources.matlab_stages`` then
assigns the recorded values to stages using the layer and the order of
execution, with the stages' sizes as a check.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lexer import BLOCK_END, BLOCK_OPEN, IDENT, KEYWORDS, Span, scan, string_literals  # noqa: F401

REC = "simplecnn_rec__"


# --- statements ----------------------------------------------------------------

def _top_level_equals(masked: str) -> int:
    """Offset of the assignment '=' at bracket depth 0, or -1."""
    depth = 0
    for k, ch in enumerate(masked):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0:
            before = masked[k - 1] if k else ""
            after = masked[k + 1] if k + 1 < len(masked) else ""
            if after == "=" or before in "=<>~!":
                continue
            return k
    return -1


def _split_top(text: str, seps: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch in seps and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def lhs_targets(lhs: str) -> list[str | None]:
    """The recorded expression for each output of an assignment's left side.

    ``[a, ~, net.Z{m+1}] = ...`` gives ``['a', None, 'net.Z{m+1}']``;
    ``X(:, k) = ...`` gives ``['X']``; ``c{end+1} = ...`` gives ``['c']``.
    """
    lhs = lhs.strip()
    if lhs.startswith("[") and lhs.endswith("]"):
        parts = _split_top(lhs[1:-1], ", \t")
    else:
        parts = [lhs]
    out: list[str | None] = []
    for p in parts:
        if p == "~":
            out.append(None)
            continue
        base, depth = "", 0
        for ch in p:
            if ch == "(" and depth == 0:
                break
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            base += ch
        base = base.strip()
        if re.search(r"\bend\b", base):
            base = re.split(r"[({]", base, 1)[0].strip()
        out.append(base if IDENT.match(base) else None)
    return out


def base_name(target: str) -> str:
    m = IDENT.match(target or "")
    return m.group(0) if m else ""


# --- classification ------------------------------------------------------------

def _calls(text, name):
    return re.search(r"\b" + name + r"\s*\(", text) is not None


def classify(role: str, rhs: str, target: str, k: int, in_loop: bool) -> str | None:
    """Candidate stage of output ``k`` (0-based) of an assignment.

    Forward (``feedforward``): ``phiZ`` (right side calls padding_and_phiZ),
    ``Z`` / ``idx_pool`` (outputs 1 and 2 of maxpooling), ``sigmaS``
    (``max(... weight ..., 0)``), ``relu`` (``max(S, 0)``), ``linear``
    (a product with a weight).  Backward (``lossgrad_subset``, ``JTv``):
    ``pool_gradient`` / ``phi_gradient`` (vTP with a 'pool...' / 'phi...'
    operation), ``activation`` (a ``> 0`` mask), ``WtDelta`` (``weight{m}'*``),
    ``unpad`` (uses ``idx_pad``), ``dlossdW`` / ``dlossdb`` (by the target's
    name), ``output_delta`` (outside the loops, ``Z{...} - ...``: the delta
    ``2*(Z{L+1} - Y)``), ``phiZ_again`` (phiZ recomputed in the backward pass).
    """
    r = rhs
    if role == "forward":
        if _calls(r, "padding_and_phiZ"):
            return "phiZ"
        if _calls(r, "maxpooling"):
            return ("Z", "idx_pool")[k] if k < 2 else None
        if _calls(r, "max") and "weight" in r:
            return "sigmaS"
        if _calls(r, "max") and re.search(r",\s*0\s*\)", r):
            return "relu"
        if "weight" in r and "*" in r:
            return "linear"
        return None
    if _calls(r, "padding_and_phiZ"):
        return "phiZ_again"
    if _calls(r, "vTP"):
        lits = " ".join(string_literals(r))
        if "pool" in lits:
            return "pool_gradient"
        if "phi" in lits:
            return "phi_gradient"
    if re.search(r">\s*0(?![\w.])", r):
        return "activation"
    if re.search(r"weight\s*\{[^{}]*\}\s*\.?'\s*\*", r):
        return "WtDelta"
    if "idx_pad" in r:
        return "unpad"
    t = target or ""
    if re.search(r"(dlossdW|dzdW|dXidW|gradW|\bdW\b)", t):
        return "dlossdW"
    if re.search(r"(dlossdb|dzdb|dXidb|gradb|\bdb\b)", t):
        return "dlossdb"
    if not in_loop and re.search(r"Z\s*\{", r) and "-" in r:
        return "output_delta"
    return None


# stages whose values are transferred (the others: class and size only).  The
# outputs of maxpooling are not: the returned net holds them (net.Z{m+1},
# net.idx_pool{m}), and the backward pass needs them there.
_KEEP = {"phiZ", "sigmaS", "relu", "linear",
         "pool_gradient", "phi_gradient", "activation", "WtDelta", "unpad",
         "output_delta", "delta_other"}


@dataclass
class Stmt:
    """One recorded output of one assignment statement."""
    id: int
    file: str
    func: str
    line: int
    role: str
    target: str
    rhs: str
    code: str
    loop_var: str | None
    kind: str | None
    keep: bool
    out_index: int = 0
    n_outputs: int = 1
    extra: dict = field(default_factory=dict)


def instrument_source(src: str, role: str, file_label: str, first_id: int = 1,
                      keep_all: bool = False, covered: frozenset = frozenset()) -> tuple[str, list[Stmt]]:
    """Return the instrumented source and the table of recorded statements.

    ``role`` is 'forward' or 'backward' (it steers :func:`classify`).
    ``keep_all`` transfers every value (for debugging).  ``covered`` names
    the routines recorded at their boundary: a statement calling one of them
    keeps class and size only (the boundary has its value), and so do the
    sigma(S) statements when ``maxpooling`` is covered (its input is sigma(S)).
    """
    spans = scan(src)
    stmts: list[Stmt] = []
    inserts: list[tuple[int, str]] = []
    blocks: list[tuple[str, str | None]] = []
    func = ""
    next_id = first_id
    pending: list[tuple[Span, list[Stmt]]] = []
    for sp in spans:
        word_m = IDENT.match(sp.code)
        word = word_m.group(0) if word_m else ""
        rest = sp.code[len(word):] if word else sp.code
        is_keyword = word in KEYWORDS and not re.match(r"\s*(=(?!=)|\(|\{|\.)", rest) \
            if word else False
        code, masked = sp.code, sp.masked
        if is_keyword and word in ("else", "otherwise", "try") and rest.strip():
            # 'else x = 1;': a statement follows the keyword on the same line
            if word == "try":
                blocks.append(("try", None))
            cut = len(word)
            code, masked = code[cut:].strip(), masked[cut:].strip()
            word_m = IDENT.match(code)
            word = word_m.group(0) if word_m else ""
            is_keyword = False
        if is_keyword and word in BLOCK_END:
            if blocks:
                blocks.pop()
            continue
        if is_keyword:
            if word == "function":
                blocks = [("function", None)]
                fm = re.match(r"function\s*(?:\[[^\]]*\]\s*=\s*|[A-Za-z_]\w*\s*=\s*)?([A-Za-z_][\w.]*)",
                              sp.code)
                func = fm.group(1) if fm else ""
            elif word in ("for", "parfor"):
                vm = re.match(r"(?:par)?for\s*\(?\s*([A-Za-z_]\w*)\s*=", sp.code)
                blocks.append(("for", vm.group(1) if vm else None))
            elif word in BLOCK_OPEN:
                blocks.append((word, None))
            continue
        eq = _top_level_equals(masked)
        if eq < 0:
            continue
        lhs, rhs = code[:eq].strip(), code[eq + 1:].strip()
        if lhs and lhs[-1] in "+-*/^|&" and not lhs.endswith(("'", ".'")):
            lhs = lhs[:-1].strip()                       # Octave's x += 1
        targets = lhs_targets(lhs)
        loop_var = next((v for kind, v in reversed(blocks) if kind == "for" and v), None)
        outs = []
        for k, t in enumerate(targets):
            if t is None:
                continue
            kind = classify(role, rhs, t, k, loop_var is not None)
            # in the backward loops every plain variable keeps its values: the
            # delta's successive values are found by their flow when a
            # statement is written in a way classify() does not know
            flow = role == "backward" and t == base_name(t) and kind != "phiZ_again"
            keep = kind in _KEEP or flow
            if any(_calls(rhs, name) for name in covered) or (
                    "maxpooling" in covered and kind in ("sigmaS", "relu", "linear")):
                keep = False
            st = Stmt(next_id, file_label, func, sp.line, role, t, rhs, code, loop_var, kind,
                      keep_all or keep, k, len(targets))
            next_id += 1
            outs.append(st)
        if outs:
            pending.append((sp, outs))
            stmts.extend(outs)

    # a statement whose target is a delta variable keeps its values too
    delta_vars = {base_name(s.target) for s in stmts
                  if s.kind in ("pool_gradient", "phi_gradient", "activation", "unpad", "WtDelta", "output_delta")}
    for s in stmts:
        if s.role == "backward" and s.kind is None and base_name(s.target) in delta_vars \
                and s.target == base_name(s.target):
            s.kind, s.keep = "delta_other", True

    for sp, outs in pending:
        calls = " ".join(f"{REC}({s.id}, {s.target}, {s.loop_var or 0}, {int(s.keep)});" for s in outs)
        if sp.term in ";,":
            inserts.append((sp.term_pos + 1, " " + calls))
        else:
            inserts.append((sp.code_end, ", " + calls))
    out, last = [], 0
    for pos, text in sorted(inserts):
        out.append(src[last:pos])
        out.append(text)
        last = pos
    out.append(src[last:])
    return "".join(out), stmts
