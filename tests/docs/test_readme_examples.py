"""The README's shell examples run in a fresh clone, on shipped data.

Every ```sh block of README.md is one test item.  A block is run (``bash
-eo pipefail``, in the repository root) unless it is

* a synopsis: it holds a placeholder (``[--option``, ``CFG``, ``DATA.mat``,
  ``DIR``, ``'...'``); skipped, saying so;
* a set-up command (``scripts/setup.sh``, ``pip install``): the test suite
  runs inside the environment they make;
* an MNIST example: ``PATH`` stands for the folder of the upstream demo files,
  which a clone does not have; run with ``PATH`` replaced by ../shared/data
  when that is here, else skipped with the reason.

Blocks calling Octave (``octave-cli``, ``simplecnn compare``,
``simplecnn sweep``) skip without Octave.  A test checks that no
runnable example points at ../shared (a fresh clone has none).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import SHARED_DATA, octave_available

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PLACEHOLDERS = re.compile(r"\[--|\bCFG\b|\bDATA\.mat\b|\bDIR\b|\bOUT\.mat\b|\bM\.mat\b|'\.\.\.'|\bFILE\b")
SETUP = re.compile(r"scripts/setup\.sh|pip install")
MNIST = "PATH/"


def sh_blocks():
    blocks, lines = [], README.read_text().splitlines()
    inside, start, code = None, 0, []
    for n, line in enumerate(lines, start=1):
        if inside is None and line.startswith("```"):
            inside, start, code = line[3:].strip(), n + 1, []
        elif inside is not None and line.startswith("```"):
            if inside == "sh":
                blocks.append((start, "\n".join(code) + "\n"))
            inside = None
        elif inside is not None:
            code.append(line)
    return blocks


BLOCKS = sh_blocks()


def test_readme_has_runnable_examples():
    runnable = [c for _, c in BLOCKS if not PLACEHOLDERS.search(c) and not SETUP.search(c)]
    assert len(runnable) >= 3
    assert any("simplecnn_cli/demo/" in c for c in runnable)
    for _, code in BLOCKS:
        assert "../shared" not in code, "a fresh clone has no ../shared"
        if MNIST in code:
            assert "mnist-demo" in code


@pytest.mark.parametrize("start, code", BLOCKS, ids=[f"README.md-line-{s}" for s, _ in BLOCKS])
def test_readme_example(start, code, tmp_path):
    if PLACEHOLDERS.search(code):
        pytest.skip("a synopsis with placeholders")
    if SETUP.search(code):
        pytest.skip("sets up the environment the tests run in")
    if not (REPO / ".venv" / "bin" / "simplecnn").exists():
        pytest.skip("no .venv (run bash scripts/setup.sh first)")
    if re.search(r"octave|simplecnn\s+(compare|sweep)", code) and not octave_available():
        pytest.skip("GNU Octave is not installed")
    if MNIST in code:
        if not (SHARED_DATA / "mnist-demo.mat").exists():
            pytest.skip("the upstream MNIST demo files (../shared/data) are not here")
        code = code.replace(MNIST, str(SHARED_DATA) + "/")
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"README.md line {start}:\n{code}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
