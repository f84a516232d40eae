"""Lint of every .m file under matlab_ref/: code must be valid MATLAB, not
only valid Octave.

Flagged (outside single-quoted strings and comments): ``#`` comments, ``!``
and ``!=``, the C-style operators ``++ -- += -= *= /= ^=``, ``printf(``,
the Octave-only block ends (``endfunction endif endfor endwhile
endswitch end_try_catch end_unwind_protect``, ``unwind_protect``), and
double-quoted strings.  The scanner knows MATLAB's two meanings of ``'``
(transpose after a value, string delimiter elsewhere) and block comments
``%{ ... %}``, so ``fprintf('#CG: %d\\n', k)`` and ``A'*B`` are fine.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

MATLAB_REF = Path(__file__).resolve().parents[2] / "matlab_ref"

# a ' right after one of these characters is the transpose operator
_TRANSPOSE_AFTER = re.compile(r"[A-Za-z0-9_)\]}.']")

_RULES = [
    (re.compile(r"#"), "'#' comment (use %)"),
    (re.compile(r"!="), "'!=' (use ~=)"),
    (re.compile(r"!"), "'!' negation (use ~)"),
    (re.compile(r"\+\+|--"), "'++'/'--' (write x = x + 1)"),
    (re.compile(r"[-+*/^]="), "compound assignment like '+=' (write x = x + y)"),
    (re.compile(r"(?<![A-Za-z0-9_])printf\s*\("), "printf( (use fprintf)"),
    (re.compile(r"\b(endfunction|endif|endfor|endwhile|endswitch|end_try_catch|"
                r"end_unwind_protect|unwind_protect(_cleanup)?)\b"),
     "Octave-only keyword (use plain end / try-catch)"),
    (re.compile(r'"'), "double-quoted string (use single quotes)"),
]


def code_part(line: str) -> str:
    """The line with single-quoted strings blanked and the comment removed."""
    return _scan(line)[0]


def has_continuation(line: str) -> bool:
    """True when the line's code ends in a '...' continuation."""
    return _scan(line)[1]


def _scan(line: str) -> tuple[str, bool]:
    out = []
    k = 0
    while k < len(line):
        ch = line[k]
        if ch == "%":
            break
        if line.startswith("...", k):          # continuation: rest is a comment
            return "".join(out), True
        if ch == "'":
            prev = line[k - 1] if k > 0 else ""
            if prev and _TRANSPOSE_AFTER.match(prev):
                out.append(ch)                 # transpose operator
                k += 1
                continue
            # a string: skip to its closing quote ('' is an escaped quote)
            k += 1
            while k < len(line):
                if line[k] == "'":
                    if line.startswith("''", k):
                        k += 2
                        continue
                    break
                k += 1
            out.append("''")
            k += 1
            continue
        out.append(ch)
        k += 1
    return "".join(out), False


def lint_text(text: str, name: str = "<text>") -> list[str]:
    """Problems of one MATLAB source text, as 'name:line: message' strings."""
    problems = []
    in_block = False
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped == "%{":
            in_block = True
            continue
        if in_block:
            if stripped == "%}":
                in_block = False
            continue
        code = code_part(line)
        for pattern, message in _RULES:
            if pattern.search(code):
                problems.append(f"{name}:{no}: {message}: {line.strip()}")
    if in_block:
        problems.append(f"{name}: unterminated %{{ block comment")
    return problems


def matlab_files():
    return sorted(MATLAB_REF.rglob("*.m"))


def test_matlab_ref_has_files():
    assert any((MATLAB_REF / "seed" / "cnn").glob("*.m")), "matlab_ref/seed/cnn is empty"


@pytest.mark.parametrize("path", matlab_files(), ids=lambda p: str(p.relative_to(MATLAB_REF)))
def test_no_octave_only_syntax(path):
    problems = lint_text(path.read_text(encoding="utf-8", errors="replace"),
                         str(path.relative_to(MATLAB_REF)))
    assert not problems, "\n".join(problems)


# --- the linter itself -----------------------------------------------------

BAD_SNIPPETS = {
    "hash comment": "x = 1; # set x",
    "hash at start": "# comment",
    "not-equal": "if a != b",
    "bang": "if !a",
    "increment": "k++;",
    "decrement": "k--;",
    "plus-assign": "x += 2;",
    "times-assign": "x *= 2;",
    "printf": "printf('%d\\n', x);",
    "endfunction": "endfunction",
    "endif": "  endif",
    "endfor": "endfor",
    "endwhile": "endwhile",
    "end_try_catch": "end_try_catch",
    "double quotes": 'disp("hello")',
    "double quotes after transpose": "y = A'; disp(\"x\")",
    "code after a string": "fprintf('ok'); x += 1;",
}

GOOD_SNIPPETS = {
    "hash in string": "fprintf('#CG: %d\\n', k);",
    "comment with everything": "x = 1; % a # b != c ++ printf( \"q\" endif",
    "transpose then string": "y = A'*B; s = 'it''s # fine';",
    "transpose of cell element": "d = model.weight{m}'*dXidS;",
    "double transpose": "B = A'';",
    "not-equal MATLAB": "if a ~= b",
    "fprintf": "fprintf('%d\\n', x);",
    "sprintf": "s = sprintf('%d', x);",
    "comparison": "t = (a <= b) & (c >= d) | (e == f);",
    "continuation": "x = [1, 2, ... # not code\n 3];",
    "end keyword": "end",
    "quote char in string": "q = '\"';",
}


@pytest.mark.parametrize("name", sorted(BAD_SNIPPETS))
def test_linter_flags_bad_snippet(name):
    assert lint_text(BAD_SNIPPETS[name]), f"linter missed: {BAD_SNIPPETS[name]!r}"


@pytest.mark.parametrize("name", sorted(GOOD_SNIPPETS))
def test_linter_accepts_good_snippet(name):
    assert lint_text(GOOD_SNIPPETS[name]) == []


def test_linter_block_comment():
    text = "%{\nx += 1; # inside a block comment\n%}\ny = 2;\n"
    assert lint_text(text) == []
    assert lint_text(text + "y += 1;\n")


def test_linter_reports_file_and_line(tmp_path):
    bad = tmp_path / "bad.m"
    bad.write_text("function y = bad(x)\ny = x;\ny += 1;\nendfunction\n")
    problems = lint_text(bad.read_text(), "bad.m")
    assert any(p.startswith("bad.m:3:") for p in problems)
    assert any(p.startswith("bad.m:4:") for p in problems)


# --- instrumentable files of the seed reference ------------------------------
# The harness inserts a recording call after each assignment statement of
# feedforward.m and lossgrad_subset.m, so those files keep one statement per
# line, no '...' continuations, and the layer loops use the variable m.

def statements_on_line(code: str) -> int:
    """Number of statements on a code line (separators ';' or ',' at bracket depth 0)."""
    depth = 0
    count = 0
    current = ""
    for ch in code:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if depth == 0 and ch in ";,":
            count += bool(current.strip())
            current = ""
        else:
            current += ch
    return count + bool(current.strip())


def instrumentation_problems(text: str, name: str) -> list[str]:
    problems = []
    for no, line in enumerate(text.splitlines(), 1):
        if has_continuation(line):
            problems.append(f"{name}:{no}: '...' continuation")
        if statements_on_line(code_part(line)) > 1:
            problems.append(f"{name}:{no}: more than one statement on the line")
        loop = re.match(r"\s*for\s+(\w+)\s*=", code_part(line))
        if loop and loop.group(1) != "m":
            problems.append(f"{name}:{no}: layer loop variable is {loop.group(1)}, not m")
    return problems


@pytest.mark.parametrize("fname", ["feedforward.m", "lossgrad_subset.m"])
def test_seed_instrumented_files_one_statement_per_line(fname):
    path = MATLAB_REF / "seed" / "cnn" / fname
    assert not instrumentation_problems(path.read_text(), fname)


def test_instrumentation_check_can_fail():
    assert statements_on_line("a = [1; 2]; b = f(x, y);") == 2
    assert statements_on_line("x = A(:, [1, 2]);") == 1
    assert instrumentation_problems("a = 1; b = 2;", "t.m")
    assert instrumentation_problems("x = f(a, ...\n b);", "t.m")
    assert instrumentation_problems("for k = 1 : L\nend", "t.m")
    assert not instrumentation_problems("for m = 1 : L\n\tx = y'; % a, b; c ...\nend", "t.m")
    assert not instrumentation_problems("s = 'a ... b';", "t.m")
