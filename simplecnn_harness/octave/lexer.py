"""The one MATLAB lexer: source text split into statements.

:func:`scan` understands what matters for finding statement boundaries in
MATLAB/Octave source: ``%``/``#`` comments, ``%{ ... %}`` block comments,
``...`` continuations, single-quoted strings versus the transpose operator,
double-quoted strings, brackets (inside ``[]``/``{}`` a newline or ``;``
separates rows, not statements), several statements on one line separated
by ``,`` or ``;``.  Each :class:`Span` keeps the statement's code (comments
dropped, continuations joined), the same with the inside of strings masked,
its offsets and lines.  The instrumentation (``instrument.py``), the layout
detection (``layouts.py``) and the training comparison's call generator use
it; :func:`string_literals` lists a statement's string literals;
``KEYWORDS`` (``BLOCK_OPEN``, ``BLOCK_END``, ``OTHER_KEYWORDS``) are the
block keywords.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BLOCK_OPEN = {"for", "parfor", "while", "if", "switch", "try", "unwind_protect", "do", "function"}
BLOCK_END = {"end", "endfor", "endparfor", "endwhile", "endif", "endswitch", "end_try_catch",
              "end_unwind_protect", "endfunction", "until"}
OTHERKEYWORDS = {"else", "elseif", "case", "otherwise", "catch", "unwind_protect_cleanup",
                   "return", "break", "continue", "global", "persistent", "classdef",
                   "properties", "methods", "events", "enumeration"}
KEYWORDS = BLOCK_OPEN | BLOCK_END | OTHERKEYWORDS
IDENT = re.compile(r"[A-Za-z_]\w*")
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


def string_literals(code: str) -> list[str]:
    return [a or b for a, b in re.findall(r"'((?:[^']|'')*)'|\"((?:[^\"\\]|\\.)*)\"", code)]
