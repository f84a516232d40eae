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

The scanner understands what matters for finding statement boundaries in
MATLAB/Octave source: ``%``/``#`` comments, ``%{ ... %}`` block comments,
``...`` continuations, single-quoted strings versus the transpose operator,
double-quoted strings, brackets (inside ``[]``/``{}`` a newline or ``;``
separates rows, not statements), several statements on one line separated
by ``,`` or ``;``, and the block keywords (``for``/``if``/.../``end``), the
``for`` ones giving the loop variable.

Each statement is classified from its text (see :func:`classify`) into a
candidate stage of ``docs/design.md``; ``simplecnn_harness.sources.matlab_stages`` then
assigns the recorded values to stages using the layer and the order of
execution, with the Python side's sizes as a check.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

REC = "simplecnn_rec__"

_BLOCK_OPEN = {"for", "parfor", "while", "if", "switch", "try", "unwind_protect", "do", "function"}
_BLOCK_END = {"end", "endfor", "endparfor", "endwhile", "endif", "endswitch", "end_try_catch",
              "end_unwind_protect", "endfunction", "until"}
_OTHER_KEYWORDS = {"else", "elseif", "case", "otherwise", "catch", "unwind_protect_cleanup",
                   "return", "break", "continue", "global", "persistent", "classdef",
                   "properties", "methods", "events", "enumeration"}
_KEYWORDS = _BLOCK_OPEN | _BLOCK_END | _OTHER_KEYWORDS
_IDENT = re.compile(r"[A-Za-z_]\w*")
_BLOCK_COMMENT_OPEN = re.compile(r"[ \t]*[%#]\{[ \t]*(?:\r?\n|$)")
_BLOCK_COMMENT_CLOSE = re.compile(r"[ \t]*[%#]\}[ \t]*(?:\r?\n|$)")


@dataclass
class Span:
    """One statement of a source file."""
    start: int            # offset of its first code character
    code_end: int         # offset just after its last code character
    term: str             # ';', ',', '\n' or '' (end of file)
    term_pos: int         # offset of the terminator (== code_end for '\n'/'')
    code: str             # the code, comments dropped, continuations joined
    masked: str           # ``code`` with the inside of strings replaced by '_'
    line: int             # 1-based line of its first character
    end_line: int         # 1-based line of its last code character



def _string_end(src: str, i: int, quote: str, backslash: bool) -> int:
    """Index of the closing ``quote`` of the string literal opening at
    ``src[i]`` (a doubled quote stays inside; with ``backslash``, so does an
    escaped character), or of its last character when the line ends first."""
    n = len(src)
    j = i + 1
    while j < n:
        if backslash and src[j] == "\\":
            j += 2
            continue
        if src[j] == quote:
            if j + 1 < n and src[j + 1] == quote:
                j += 2
                continue
            return j
        if src[j] == "\n":
            return j - 1
        j += 1
    return j

def scan(src: str) -> list[Span]:
    """Split MATLAB source into statements (see the module docstring)."""
    spans: list[Span] = []
    n = len(src)
    i = 0
    line = 1
    at_line_start = True
    brackets: list[str] = []
    code: list[str] = []
    masked: list[str] = []
    start = None
    start_line = line
    code_end = 0
    end_line = line

    def emit(term, term_pos):
        nonlocal code, masked, start, brackets
        text = "".join(code).strip()
        if start is not None and text:
            spans.append(Span(start, code_end, term, term_pos, text, "".join(masked).strip(),
                              start_line, end_line))
        code, masked, start, brackets = [], [], None, []

    def put(text, mask=None):
        nonlocal start, start_line, code_end, end_line
        if start is None:
            start, start_line = i, line
        code.append(text)
        masked.append(text if mask is None else mask)
        code_end = i + len(text)
        end_line = line

    while i < n:
        c = src[i]
        if at_line_start:
            at_line_start = False
            m = _BLOCK_COMMENT_OPEN.match(src, i)
            if m:
                # skip to the matching close line (block comments nest)
                depth, j = 1, m.end()
                line += 1
                while j < n and depth:
                    if _BLOCK_COMMENT_CLOSE.match(src, j):
                        depth -= 1
                    elif _BLOCK_COMMENT_OPEN.match(src, j):
                        depth += 1
                    k = src.find("\n", j)
                    if k < 0:
                        j = n
                        break
                    j = k + 1
                    line += 1
                i = j
                at_line_start = True
                continue
        if c in " \t\r\f\v":
            if start is not None and code and code[-1] != " ":
                code.append(" ")
                masked.append(" ")
            i += 1
            continue
        if c == "\n":
            if brackets and brackets[-1] in "[{":
                if start is not None:
                    code.append(";")
                    masked.append(";")
            elif brackets:
                if start is not None:
                    code.append(" ")
                    masked.append(" ")
            else:
                emit("\n", i)
            line += 1
            i += 1
            at_line_start = True
            continue
        if c in "%#":
            k = src.find("\n", i)
            i = n if k < 0 else k
            continue
        if src.startswith("...", i):
            k = src.find("\n", i)
            if start is not None and code and code[-1] != " ":
                code.append(" ")
                masked.append(" ")
            if k < 0:
                i = n
            else:
                i = k + 1
                line += 1
                at_line_start = True
            continue
        if c == "'":
            prev = src[i - 1] if i > 0 else ""
            in_matrix = bool(brackets) and brackets[-1] in "[{"
            if prev and (prev.isalnum() or prev in "_)]}.'"):
                put(c)                                    # transpose
                i += 1
                continue
            if prev in " \t" and not in_matrix and start is not None:
                last = "".join(code).rstrip()[-1:]
                if last and (last.isalnum() or last in "_)]}'"):
                    put(c)                                # "a '" outside brackets: transpose
                    i += 1
                    continue
            j = _string_end(src, i, "'", backslash=False)
            lit = src[i:j + 1]
            put(lit, "'" + "_" * max(len(lit) - 2, 0) + "'")
            i = j + 1
            continue
        if c == '"':
            j = _string_end(src, i, '"', backslash=True)
            lit = src[i:j + 1]
            put(lit, '"' + "_" * max(len(lit) - 2, 0) + '"')
            i = j + 1
            continue
        if c in "([{":
            brackets.append(c)
            put(c)
            i += 1
            continue
        if c in ")]}":
            if brackets:
                brackets.pop()
            put(c)
            i += 1
            continue
        if c in ";," and not brackets:
            emit(c, i)
            i += 1
            continue
        put(c)
        i += 1
    emit("", n)
    return spans


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
        out.append(base if _IDENT.match(base) else None)
    return out


def base_name(target: str) -> str:
    m = _IDENT.match(target or "")
    return m.group(0) if m else ""


def string_literals(code: str) -> list[str]:
    return [a or b for a, b in re.findall(r"'((?:[^']|'')*)'|\"((?:[^\"\\]|\\.)*)\"", code)]


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
        word_m = _IDENT.match(sp.code)
        word = word_m.group(0) if word_m else ""
        rest = sp.code[len(word):] if word else sp.code
        is_keyword = word in _KEYWORDS and not re.match(r"\s*(=(?!=)|\(|\{|\.)", rest) \
            if word else False
        code, masked = sp.code, sp.masked
        if is_keyword and word in ("else", "otherwise", "try") and rest.strip():
            # 'else x = 1;': a statement follows the keyword on the same line
            if word == "try":
                blocks.append(("try", None))
            cut = len(word)
            code, masked = code[cut:].strip(), masked[cut:].strip()
            word_m = _IDENT.match(code)
            word = word_m.group(0) if word_m else ""
            is_keyword = False
        if is_keyword and word in _BLOCK_END:
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
            elif word in _BLOCK_OPEN:
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
