"""The layout a newcomer can live in: no import cycles among the project's
modules, modules small enough to read in one sitting (at most 500 lines),
folders small enough to scan (at most 16 modules), no private name used
across modules, the fast paths one module per routine with a one-line
dispatch, the command line thin, the port free of the harness, the
benchmarks and the CLI, the judge free of the reports (docs/design.md).

Each check is a plain reading of the source files (ast), so a cycle, a fat
module or folder, or a private import added anywhere fails here, with no
list of exemptions; each check is shown to fail on a planted example.
"""
import ast
import functools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("simplecnn_py", "simplecnn_cli", "simplecnn_harness", "simplecnn_bench", "simplecnn_interop")
MAX_LINES = 500
MAX_MODULES_PER_FOLDER = 16


def project_modules(root=REPO):
    """{dotted module name: path} of every .py file in the project's packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


@functools.lru_cache(maxsize=None)
def _parsed(path, mtime_ns):
    return ast.parse(Path(path).read_text())


def parse(path):
    """The ast of a file, parsed once per version of it (every check reads every module)."""
    return _parsed(str(path), path.stat().st_mtime_ns)


def imports_of(name, path, modules):
    """The project modules that module ``name`` imports (anywhere in the file,
    function-level imports included: a lazy import still ties the two)."""
    tree = parse(path)
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[:len(base) - (node.level - 1)]
                mod = ".".join(prefix + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" for a in node.names] + [mod]
        else:
            continue
        for t in targets:
            # the longest project module that t names (a.b.c -> a.b.c, else a.b)
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def find_cycles(modules):
    """Every import cycle, as a list of module names (Tarjan's strongly
    connected components with more than one module, or a self-import)."""
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    # a package's __init__ imported implicitly by its submodules is not an edge;
    # an explicit import of the package is
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    cycles = find_cycles(project_modules())
    assert not cycles, "import cycles among the project's modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_planted_cycle(tmp_path):
    pkg = tmp_path / "simplecnn_bench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from simplecnn_bench import b\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")       # a lazy import still closes it
    (pkg / "c.py").write_text("import simplecnn_bench.a\n")
    cycles = find_cycles(project_modules(tmp_path))
    assert cycles == [["simplecnn_bench.a", "simplecnn_bench.b"]]


def fat_modules(root=REPO):
    """``path (n lines)`` of every module over MAX_LINES lines."""
    fat = []
    for path in project_modules(root).values():
        n = len(path.read_text().splitlines())
        if n > MAX_LINES:
            fat.append(f"{path.relative_to(root).as_posix()} ({n} lines)")
    return fat


def test_modules_are_small():
    fat = fat_modules()
    assert not fat, f"modules over {MAX_LINES} lines: " + ", ".join(fat)


def test_the_size_check_finds_a_planted_fat_module(tmp_path):
    pkg = tmp_path / "simplecnn_bench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "small.py").write_text("x = 1\n" * MAX_LINES)
    (pkg / "fat.py").write_text('"""longer than 500 lines because it says so"""\n' + "x = 1\n" * MAX_LINES)
    assert fat_modules(tmp_path) == [f"simplecnn_bench/fat.py ({MAX_LINES + 1} lines)"]


def is_matlab_twin(path, root=REPO):
    """A port module at the relative path of a MATLAB file of simpleNN
    (``simplecnn_py/cnn/JTv.py`` beside ``MATLAB/cnn/JTv.m``).  The original's
    ``cnn/`` folder holds 17 routines of the current layout (and two more of
    the seed layout), each ported one to a module: such a folder is read
    beside its MATLAB twin, file by file, and its twins are not counted
    against the folder limit; anything else in it is."""
    rel = path.relative_to(root)
    if rel.parts[0] != "simplecnn_py" or len(rel.parts) != 3 or rel.parts[1] not in ("cnn", "opt"):
        return False
    stem = f"{rel.parts[1]}/{path.stem}.m"
    return any((root / "matlab_ref" / tree / stem).is_file() for tree in ("seed", "current/MATLAB"))


def crowded_folders(root=REPO):
    """``folder (n modules)`` of every folder of the packages holding more
    than MAX_MODULES_PER_FOLDER modules (``.py`` files, ``__init__.py`` not
    counted: it is the folder's own; nor MATLAB twins, see is_matlab_twin)."""
    counts = {}
    for path in project_modules(root).values():
        if path.name != "__init__.py" and not is_matlab_twin(path, root):
            folder = path.parent.relative_to(root).as_posix()
            counts[folder] = counts.get(folder, 0) + 1
    return [f"{folder} ({n} modules)" for folder, n in sorted(counts.items()) if n > MAX_MODULES_PER_FOLDER]


def test_folders_are_small():
    crowded = crowded_folders()
    assert not crowded, f"folders of more than {MAX_MODULES_PER_FOLDER} modules: " + ", ".join(crowded)


def test_the_folder_check_finds_a_planted_crowded_folder(tmp_path):
    for folder, n in (("simplecnn_bench", MAX_MODULES_PER_FOLDER), ("simplecnn_bench/big", MAX_MODULES_PER_FOLDER + 1)):
        pkg = tmp_path / folder
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        for k in range(n):
            (pkg / f"m{k}.py").write_text("")
    assert crowded_folders(tmp_path) == [f"simplecnn_bench/big ({MAX_MODULES_PER_FOLDER + 1} modules)"]


def test_matlab_twins_are_not_counted_but_other_modules_of_their_folder_are(tmp_path):
    """simplecnn_py/cnn may hold one module per MATLAB file of cnn/ (17 of
    them); one module more that has no twin there makes it crowded."""
    twins = [f"r{k}" for k in range(MAX_MODULES_PER_FOLDER + 3)]
    (tmp_path / "matlab_ref" / "seed" / "cnn").mkdir(parents=True)
    pkg = tmp_path / "simplecnn_py" / "cnn"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name in twins:
        (tmp_path / "matlab_ref" / "seed" / "cnn" / f"{name}.m").write_text("function r()\n")
        (pkg / f"{name}.py").write_text("")
    assert crowded_folders(tmp_path) == []
    for k in range(MAX_MODULES_PER_FOLDER + 1):
        (pkg / f"helper{k}.py").write_text("")
    assert crowded_folders(tmp_path) == [f"simplecnn_py/cnn ({MAX_MODULES_PER_FOLDER + 1} modules)"]


# --- private names stay in their module ----------------------------------------------------

def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node):
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id] + parts[::-1])


def private_uses(name, path, modules):
    """``module: what`` for every private name (leading underscore, not a
    dunder) of another project module that module ``name`` uses:
    ``from x import _y``, and ``m._y`` where ``m`` is bound to a project
    module by an import (``import x as m``, ``from pkg import m``, ``import a.b``)."""
    tree = parse(path)
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    bound, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    bound[a.asname] = a.name
                else:
                    bound[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[:len(base) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                if f"{mod}.{a.name}" in modules:
                    bound[a.asname or a.name] = f"{mod}.{a.name}"
                elif _private(a.name) and mod in modules and mod != name:
                    found.append(f"{name}: from {mod} import {a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            target = _dotted(node.value)
            if target is None:
                continue
            head, _, rest = target.partition(".")
            if head not in bound:
                continue
            full = bound[head] + ("." + rest if rest else "")
            if full in modules and full != name:
                found.append(f"{name}: {full}.{node.attr}")
    return sorted(set(found))


def private_imports(root=REPO):
    modules = project_modules(root)
    return [use for name, path in modules.items() for use in private_uses(name, path, modules)]


def test_no_private_name_is_used_across_modules():
    uses = private_imports()
    assert not uses, "private names used outside their module: " + "; ".join(uses)


def test_the_private_name_check_finds_planted_uses(tmp_path):
    pkg = tmp_path / "simplecnn_bench"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("__version__ = '0'\n")
    (pkg / "a.py").write_text("def _helper():\n    pass\n\n\ndef public():\n    return _helper()\n")
    (pkg / "b.py").write_text("from .a import _helper, public\n")                  # caught
    (pkg / "c.py").write_text("import simplecnn_bench.a as a\n\n\ndef f():\n    return a._helper()\n")   # caught
    (pkg / "d.py").write_text("from simplecnn_bench import a\n\nx = a.public\ny = a._helper\n")         # caught
    (pkg / "e.py").write_text("import simplecnn_bench\nfrom . import a\n\nv = simplecnn_bench.__version__\n"
                              "w = a.public\n\n\nclass K:\n    def _own(self):\n        return self._own\n")  # fine
    assert private_imports(tmp_path) == ["simplecnn_bench.b: from simplecnn_bench.a import _helper",
                                         "simplecnn_bench.c: simplecnn_bench.a._helper",
                                         "simplecnn_bench.d: simplecnn_bench.a._helper"]


# --- the fast paths: one module per routine, one dispatch line -------------------------

FAST_ROUTINES = ("padding_and_phiZ", "maxpooling", "vTP", "feedforward", "lossgrad_subset",
                 "Jacobian", "JTBJv", "R_JTBJv")


@pytest.mark.parametrize("routine", FAST_ROUTINES)
def test_each_routine_dispatches_to_its_fast_module_in_one_line(routine):
    """``simplecnn_py/{cnn,opt}/<routine>.py`` imports ``simplecnn_py/fast/<routine>.py``
    as ``fast_path`` and calls it on exactly one line, guarded by
    ``fast.enabled()``; the fast module defines the routine's name."""
    (twin,) = [p for sub in ("cnn", "opt") if (p := REPO / "simplecnn_py" / sub / f"{routine}.py").exists()]
    port = twin.read_text()
    calls = [line for line in port.splitlines() if f"fast_path.{routine}(" in line]
    assert len(calls) == 1, calls
    assert "fast.enabled()" in calls[0]
    assert f"import {routine} as fast_path" in port
    fast_mod = ast.parse((REPO / "simplecnn_py" / "fast" / f"{routine}.py").read_text())
    assert routine in {n.name for n in fast_mod.body if isinstance(n, ast.FunctionDef)}


def test_fast_package_imports_none_of_its_kernels():
    """``import simplecnn_py.fast`` is the switch only; a routine imports the
    kernel module it dispatches to (so no fast module imports a port routine
    that dispatches back to it)."""
    modules = project_modules()
    assert imports_of("simplecnn_py.fast", modules["simplecnn_py.fast"], modules) == {"simplecnn_py.fast.switch"}
    for name, path in modules.items():
        if name.startswith("simplecnn_py.fast."):
            bad = {m for m in imports_of(name, path, modules)
                   if m.startswith("simplecnn_py.") and m.rpartition(".")[2] in FAST_ROUTINES
                   and not m.startswith("simplecnn_py.fast")}
            assert not bad, (name, bad)


# --- who imports whom ---------------------------------------------------------------------

def test_port_imports_neither_harness_nor_cli_nor_benchmarks():
    modules = project_modules()
    for name, path in modules.items():
        if name.startswith("simplecnn_py"):
            bad = {m for m in imports_of(name, path, modules) if not m.startswith("simplecnn_py")}
            assert not bad, (name, bad)


JUDGE, REPORTS = "simplecnn_harness.judge", "simplecnn_harness.reports"


def report_imports_of_the_judge(root=REPO):
    """``judge module -> ... -> reports module`` for every chain of imports
    from a module of the judge to a module of the reports (indirect ones
    included: loading the judge must not load the reports)."""
    modules = project_modules(root)
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    chains = []
    for start in sorted(m for m in modules if m == JUDGE or m.startswith(JUDGE + ".")):
        seen, queue, reached = {start: None}, [start], []
        while queue:
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w in seen:
                    continue
                seen[w] = v
                if w == REPORTS or w.startswith(REPORTS + "."):
                    reached.append(w)
                else:
                    queue.append(w)
        for w in reached:
            if any(r.startswith(w + ".") for r in reached):
                continue                    # ``from ..reports import html`` names the package too
            chain, x = [w], seen[w]
            while x is not None:
                chain.append(x)
                x = seen[x]
            chains.append(" -> ".join(chain[::-1]))
    return chains


def test_the_judge_imports_nothing_from_the_reports():
    chains = report_imports_of_the_judge()
    assert not chains, "the judge reaches the reports: " + "; ".join(chains)


def test_the_judge_check_finds_a_planted_report_import(tmp_path):
    for folder in ("simplecnn_harness", "simplecnn_harness/judge", "simplecnn_harness/reports"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "simplecnn_harness/reports/html.py").write_text("from simplecnn_harness.judge import verdict\n")
    (tmp_path / "simplecnn_harness/judge/verdict.py").write_text("")
    (tmp_path / "simplecnn_harness/judge/metrics.py").write_text("import math\n")
    (tmp_path / "simplecnn_harness/judge/first.py").write_text("from . import helper\n")
    (tmp_path / "simplecnn_harness/judge/helper.py").write_text(
        "def f():\n    from ..reports import html\n")                      # a lazy import counts
    assert report_imports_of_the_judge(tmp_path) == [
        "simplecnn_harness.judge.first -> simplecnn_harness.judge.helper -> simplecnn_harness.reports.html",
        "simplecnn_harness.judge.helper -> simplecnn_harness.reports.html"]


def test_cli_modules_only_parse_and_call():
    """No simplecnn_cli module defines computation of its own: besides
    ``add_parser``/``run``/``main`` (and small private helpers of the
    argument handling) nothing over 40 lines, and the bench command's work
    lives in simplecnn_bench."""
    modules = project_modules()
    long_defs = []
    for name, path in modules.items():
        if not name.startswith("simplecnn_cli"):
            continue
        for node in parse(path).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name not in ("add_parser", "run", "main"):
                if node.end_lineno - node.lineno + 1 > 40:
                    long_defs.append(f"{name}.{node.name}")
    assert not long_defs, long_defs
    assert "simplecnn_cli.bench_impl" not in modules and "simplecnn_cli.bench_newton" not in modules
    assert "simplecnn_bench.run" in imports_of("simplecnn_cli.bench", modules["simplecnn_cli.bench"], modules)
