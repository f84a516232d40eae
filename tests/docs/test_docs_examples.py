"""Every example of docs/migration-guide.md runs here, so the guide cannot rot.

The collector reads the guide's fenced code blocks and makes one test item per
block, its id holding the block's number, language and heading:

* ```python blocks run in the repository root.  A block with ``>>>`` lines
  is a doctest (its printed output is checked, ELLIPSIS and
  NORMALIZE_WHITESPACE on); any other block is executed and its ``assert``
  lines are the checks.  Blocks of one ``##`` section share a namespace,
  in order; when a block fails, the later blocks of its section are skipped.
* ```matlab blocks run under ``octave-cli`` in the repository root (skipped
  when Octave is missing) and must exit 0, i.e. every ``assert`` holds; they
  must also pass the MATLAB-not-only-Octave lint of test_matlab_syntax.py.
* ```sh blocks run under ``bash -eo pipefail`` in the repository root and
  must exit 0, or the status named by a ``<!-- expect-exit: N -->`` marker.
* ``<!-- not-run: reason -->`` on the line before a fence: shown to the
  reader, never run (kept for the few long commands).
  ``<!-- needs-octave -->`` marks a python/sh block that needs Octave, or
  reads what a block needing Octave wrote (those calling ``octave`` or
  ``simplecnn compare`` are detected anyway); a test runs the guide as if
  Octave were missing to check that nothing fails instead of skipping.

Python's ``tempfile`` and Octave's ``tempdir`` both point to one temporary
folder of the session (``TMPDIR``), so a file a Python block writes with
``tempfile.gettempdir()`` is read by a MATLAB block with ``tempdir``.

Beside the examples: the guide names every routine of the port, the routine
map's signatures are those of the code (Python) and of matlab_ref (MATLAB),
every idiom the issue lists has its row, and the collector itself fails on
deliberately wrong blocks.
"""
from __future__ import annotations

import doctest
import importlib
import inspect
import io
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import simplecnn_py

from conftest import octave_available

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "migration-guide.md"
RUN_LANGS = ("python", "matlab", "sh")
TIMEOUT_S = 300


# --- parsing ------------------------------------------------------------------

@dataclass
class Block:
    index: int                 # 1-based, in document order
    lang: str
    code: str
    line: int                  # line of the first code line (1-based)
    heading: str               # nearest heading above
    section: str               # nearest '##' heading above (the shared namespace)
    markers: dict = field(default_factory=dict)
    path: Path = GUIDE

    @property
    def id(self):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.heading).strip("-").lower()[:48]
        return f"{self.index:02d}-{self.lang}-{slug}"

    @property
    def needs_octave(self):
        if self.lang == "matlab" or "needs-octave" in self.markers:
            return True
        return bool(re.search(r"octave|simplecnn(_cli)?\W+(compare|sweep)", self.code))


_FENCE = re.compile(r"^( *)(`{3,})\s*([A-Za-z0-9_+-]*)\s*$")
_MARKER = re.compile(r"<!--\s*([a-z-]+)\s*(?::\s*(.*?))?\s*-->")


def parse_blocks(text: str, path: Path = GUIDE) -> list[Block]:
    """The fenced code blocks of a Markdown text with their headings and markers."""
    blocks, heading, section = [], "(top)", "(top)"
    lines = text.splitlines()
    k, count = 0, 0
    while k < len(lines):
        line = lines[k]
        fence = _FENCE.match(line)
        if fence is None:
            if line.startswith("#"):
                level = len(line) - len(line.lstrip("#"))
                heading = line.lstrip("#").strip()
                if level <= 2:
                    section = heading
            k += 1
            continue
        indent, ticks, lang = len(fence.group(1)), fence.group(2), fence.group(3).lower()
        start = k + 1
        k += 1
        while k < len(lines) and lines[k].strip() != ticks:
            k += 1
        if k >= len(lines):
            raise ValueError(f"{path}:{start}: code fence never closed")
        # a fence indented inside a list item: its lines carry the same indentation
        code = "\n".join(ln[indent:] if ln[:indent].strip() == "" else ln for ln in lines[start:k]) + "\n"
        k += 1
        markers = {}
        j = start - 2
        while j >= 0 and _MARKER.fullmatch(lines[j].strip()):
            mk = _MARKER.fullmatch(lines[j].strip())
            markers[mk.group(1)] = mk.group(2) or ""
            j -= 1
        count += 1
        blocks.append(Block(count, lang, code, start + 1, heading, section, markers, path))
    return blocks


# --- running ------------------------------------------------------------------

class BlockFailed(Exception):
    """An example did not do what the guide says."""


def _octave():
    return shutil.which("octave-cli") or shutil.which("octave")


def _env(tmpdir):
    env = dict(os.environ)
    env["TMPDIR"] = str(tmpdir)
    venv_bin = str(Path(os.sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def run_python(block: Block, namespace: dict, tmpdir) -> str:
    """Run one python block in ``namespace``; raise BlockFailed on failure."""
    old_cwd, old_tempdir = os.getcwd(), tempfile.tempdir
    old_env = os.environ.get("TMPDIR")
    os.chdir(REPO)
    tempfile.tempdir = str(tmpdir)
    os.environ["TMPDIR"] = str(tmpdir)
    try:
        if re.search(r"^\s*>>>", block.code, re.M):
            parser = doctest.DocTestParser()
            test = parser.get_doctest(block.code, namespace, block.id, str(block.path), block.line - 1)
            report = io.StringIO()
            runner = doctest.DocTestRunner(
                optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
            result = runner.run(test, out=report.write, clear_globs=False)
            namespace.update(test.globs)          # DocTest works on a copy of the namespace
            if result.failed:
                raise BlockFailed(f"{block.path}:{block.line}: doctest failed\n{report.getvalue()}")
            return report.getvalue()
        code = compile("\n" * (block.line - 1) + block.code, str(block.path), "exec")
        try:
            exec(code, namespace)
        except Exception as e:
            import traceback

            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-3))
            raise BlockFailed(f"{block.path}:{block.line}: python block failed\n{tb}") from None
        return ""
    finally:
        os.chdir(old_cwd)
        tempfile.tempdir = old_tempdir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env


def run_matlab(block: Block, tmpdir) -> str:
    """Run one matlab block under Octave in the repository root; it must exit 0."""
    from test_matlab_syntax import lint_text

    problems = lint_text(block.code, f"{block.path.name}:{block.line}")
    if problems:
        raise BlockFailed("not valid MATLAB (Octave-only syntax):\n" + "\n".join(problems))
    script = Path(tmpdir) / f"guide_block_{block.index:03d}.m"
    script.write_text(block.code)
    proc = subprocess.run([_octave(), "--no-gui", "-q", "--no-init-file", "--no-window-system", str(script)],
                          cwd=REPO, env=_env(tmpdir), capture_output=True, text=True, timeout=TIMEOUT_S,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BlockFailed(f"{block.path}:{block.line}: Octave exited {proc.returncode}\n"
                          f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    return proc.stdout


def run_sh(block: Block, tmpdir) -> str:
    """Run one sh block with bash in the repository root; check its exit status."""
    expected = int(block.markers.get("expect-exit", "0") or 0)
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", block.code], cwd=REPO, env=_env(tmpdir),
                          capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    if proc.returncode != expected:
        raise BlockFailed(f"{block.path}:{block.line}: sh block exited {proc.returncode}, expected {expected}\n"
                          f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    return proc.stdout


def skip_reason(block: Block, octave_present=None):
    if "not-run" in block.markers:
        return f"marked not-run: {block.markers['not-run']}"
    if octave_present is None:
        octave_present = _octave() is not None
    if block.needs_octave and not octave_present:
        return "GNU Octave is not installed"
    if block.lang == "sh" and ".venv/bin/" in block.code and not (REPO / ".venv" / "bin").is_dir():
        return "no .venv (run bash scripts/setup.sh first)"
    return None


# --- the guide's examples, one item each ------------------------------------------

def guide_blocks():
    if not GUIDE.exists():
        return []
    return [b for b in parse_blocks(GUIDE.read_text(encoding="utf-8")) if b.lang in RUN_LANGS]


_BLOCKS = guide_blocks()
_NAMESPACES: dict[str, dict] = {}
_FAILED_SECTIONS: dict[str, str] = {}


@pytest.fixture(scope="module")
def guide_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("guide")


# the blocks share namespaces and files, so they run in one worker, in order
# (setup.cfg sets pytest-xdist's --dist loadfile)
@pytest.mark.parametrize("block", _BLOCKS, ids=[b.id for b in _BLOCKS])
def test_guide_example(block, guide_tmp):
    reason = skip_reason(block)
    if reason:
        pytest.skip(reason)
    if block.section in _FAILED_SECTIONS:
        pytest.skip(f"an earlier block of section {block.section!r} failed ({_FAILED_SECTIONS[block.section]})")
    failure = None
    try:
        if block.lang == "python":
            run_python(block, _NAMESPACES.setdefault(block.section, {"__name__": "guide"}), guide_tmp)
        elif block.lang == "matlab":
            run_matlab(block, guide_tmp)
        else:
            run_sh(block, guide_tmp)
    except BlockFailed as e:
        failure = str(e)
    if failure is not None:
        if block.lang == "python":
            _FAILED_SECTIONS[block.section] = block.id
        pytest.fail(failure, pytrace=False)


def test_guide_without_octave_skips_rather_than_fails(tmp_path):
    """On a machine without Octave every example needing it (or a file it
    writes) must skip: run the rest of the guide as if Octave were missing."""
    namespaces, failures, ran = {}, [], 0
    for block in _BLOCKS:
        if skip_reason(block, octave_present=False) or block.lang == "matlab":
            continue
        try:
            if block.lang == "python":
                run_python(block, namespaces.setdefault(block.section, {"__name__": "guide"}), tmp_path)
            else:
                run_sh(block, tmp_path)
            ran += 1
        except BlockFailed as e:
            failures.append(f"{block.id}: {str(e).splitlines()[0]}")
    assert not failures, "blocks that need Octave but are not marked <!-- needs-octave -->:\n" + "\n".join(failures)
    assert ran >= 30


# --- the guide's coverage ---------------------------------------------------------

# modules of simplecnn_py that are infrastructure, not MATLAB routines
IDIOMS = ["column-major reshape", "vec", "1-based indices", "accumarray", "first-max ties", "unique",
          "cell arrays and structs", "implicit expansion", "floor", "seeding"]


def _guide_text():
    if not GUIDE.exists():
        pytest.fail(f"{GUIDE} is missing")
    return GUIDE.read_text(encoding="utf-8")


def test_guide_has_runnable_examples():
    text = _guide_text()
    blocks = parse_blocks(text)
    by_lang = {lang: [b for b in blocks if b.lang == lang] for lang in RUN_LANGS}
    # every fence of a runnable language was parsed (nothing hides in a broken fence)
    for lang in RUN_LANGS:
        assert len(by_lang[lang]) == len(re.findall(rf"^ *```{lang}\s*$", text, re.M)), lang
    assert len(by_lang["python"]) >= 15 and len(by_lang["matlab"]) >= 8 and len(by_lang["sh"]) >= 3
    not_run = [b for b in blocks if "not-run" in b.markers]
    assert len(not_run) <= 4, "keep the not-run examples few"
    for b in blocks:
        assert b.lang in RUN_LANGS + ("text", "json", "console", "markdown", "ini", ""), \
            f"{b.id}: fence language {b.lang!r} is neither run nor a known display language"


def port_routines():
    """(module, public function) of every routine module of simplecnn_py."""
    out = []
    for name in sorted(simplecnn_py.ROUTINES):
        mod = simplecnn_py.routine_module(name)
        names = getattr(mod, "__all__", None) or [name]
        out.extend((name, f) for f in names if inspect.isfunction(getattr(mod, f, None)))
    return out


def test_guide_names_every_routine_of_the_port():
    text = _guide_text()
    routines = port_routines()
    assert len(routines) >= 30
    missing = [f"{mod}.{f}" for mod, f in routines if not re.search(rf"`[^`]*\b{re.escape(f)}\(", text)]
    assert not missing, f"routines of simplecnn_py not in the guide's routine map: {missing}"


def test_guide_has_every_idiom():
    text = _guide_text()
    table = text.split("## 3.", 1)[-1].split("\n## ", 1)[0]
    missing = [i for i in IDIOMS if not re.search(rf"^\|\s*{re.escape(i)}", table, re.M | re.I)]
    assert not missing, f"idiom rows missing from section 3: {missing}"
    for idiom in IDIOMS:     # each idiom has a subsection with a runnable example
        sub = re.search(rf"^### [^\n]*{re.escape(idiom)}[^\n]*$(.*?)(?=^##)", table + "\n##", re.M | re.S | re.I)
        assert sub and "```python" in sub.group(1), f"no runnable example for idiom {idiom!r}"


_CALL = re.compile(r"`(?:\[?[^`=]*\]?\s*=\s*)?([A-Za-z_][\w.]*)\(([^`)]*)\)`")


def _routine_map_rows():
    text = _guide_text()
    part = text.split("## 2.", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in part.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            rows.pop()                            # the row above a separator is a header
        elif len(cells) >= 3:
            rows.append(cells)
    return rows


def _names(args):
    return [a.split("=")[0].strip() for a in args.split(",") if a.strip() and a.strip() not in ("*", "...")]


def test_routine_map_python_signatures_match_the_code():
    checked = 0
    for cells in _routine_map_rows():
        for call in _CALL.finditer(cells[2]):
            dotted, args = call.group(1), call.group(2)
            mod_name, _, func_name = dotted.rpartition(".")
            name = mod_name or func_name
            mod = (simplecnn_py.routine_module(name) if name in simplecnn_py.ROUTINES
                   else importlib.import_module(f"simplecnn_py.support.{name}"))
            func = getattr(mod, func_name)
            params = [p.name for p in inspect.signature(func).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            assert _names(args) == params, f"routine map says {dotted}({args}); the code has {params}"
            checked += 1
    assert checked >= 30


def _matlab_signatures(root):
    sigs = {}
    for path in Path(root).rglob("*.m"):
        first = path.read_text(encoding="utf-8", errors="replace").lstrip().splitlines()[0]
        m = re.match(r"function\s+(?:\[?([^=\]]*)\]?\s*=\s*)?(\w+)\s*\(([^)]*)\)", first)
        if m:
            sigs[m.group(2)] = (_names(m.group(1) or ""), _names(m.group(3)))
    return sigs


@pytest.mark.parametrize("column, root", [(0, "matlab_ref/seed"), (1, "matlab_ref/current/MATLAB")],
                         ids=["seed", "current"])
def test_routine_map_matlab_signatures_match_matlab_ref(column, root):
    sigs = _matlab_signatures(REPO / root)
    checked = 0
    for cells in _routine_map_rows():
        for call in re.finditer(r"`(?:\[([^\]]*)\]\s*=\s*|(\w+)\s*=\s*)?(\w+)\(([^)]*)\)`", cells[column]):
            outs = _names(call.group(1) or call.group(2) or "")
            name, args = call.group(3), _names(call.group(4))
            assert name in sigs, f"{name} is not a function of {root}"
            assert (outs, args) == sigs[name], f"routine map: {call.group(0)}; {root} has {sigs[name]}"
            checked += 1
    assert checked >= 12


# --- the collector itself ---------------------------------------------------------

WRONG_GUIDE = '''
## A section

```python
x = 2
```

```python
assert x == 2
```

```python
assert x == 3, "deliberately wrong"
```

```python
>>> print(x + 1)
3
```

```python
>>> print(x + 1)
4
```

```sh
test 1 -eq 1
```

```sh
exit 3
```

<!-- expect-exit: 3 -->
```sh
exit 3
```

```matlab
x = 2;
assert(x == 2);
```

```matlab
x = 2;
assert(x == 3);
```

```matlab
x = 2; # an Octave-only comment
```

* a list item with an indented example:

  ```python
  assert x == 4, "deliberately wrong, indented"
  ```
'''


def test_collector_fails_on_wrong_examples(tmp_path):
    path = tmp_path / "wrong.md"
    path.write_text(WRONG_GUIDE)
    blocks = parse_blocks(path.read_text(), path)
    assert [b.lang for b in blocks] == ["python"] * 5 + ["sh"] * 3 + ["matlab"] * 3 + ["python"]
    assert blocks[-1].code.startswith("assert x == 4")
    assert all(b.section == "A section" for b in blocks)
    assert blocks[7].markers == {"expect-exit": "3"}
    ns = {}
    cwd = os.getcwd()
    good = {0, 1, 3, 5, 7, 8}
    for k, b in enumerate(blocks):
        if b.lang == "matlab" and k != 10 and not octave_available():
            continue
        runner = {"python": lambda b=b: run_python(b, ns, tmp_path), "sh": lambda b=b: run_sh(b, tmp_path),
                  "matlab": lambda b=b: run_matlab(b, tmp_path)}[b.lang]
        if k in good:
            runner()
        else:
            with pytest.raises(BlockFailed):
                runner()
    assert os.getcwd() == cwd and tempfile.tempdir != str(tmp_path)      # restored after each block


def test_python_failure_points_at_the_guide_line(tmp_path):
    path = tmp_path / "wrong.md"
    path.write_text("# t\n\ntext\n\n```python\ny = 1\nassert y == 2\n```\n")
    (block,) = parse_blocks(path.read_text(), path)
    with pytest.raises(BlockFailed, match=rf"{re.escape(str(path))}\", line 7"):
        run_python(block, {}, tmp_path)
