"""The layout a newcomer can live in (issue 14): no import cycles among the
project's modules, modules small enough to read in one sitting, the fast
paths one module per routine with a one-line dispatch, the command line
thin, the port free of the harness, the benchmarks and the CLI.

Each check is a plain reading of the source files (ast), so a cycle or a
fat module added anywhere fails here, and each check is shown to fail on a
planted example.
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("simplecnn_py", "simplecnn_cli", "simplecnn_harness", "simplecnn_bench")
MAX_LINES = 500

# modules over MAX_LINES owned by other issues' work, listed so the check can
# stay strict for everything else; a module may also state at its top why it
# is longer ("longer than 500 lines because ...")
OVER_LIMIT_ELSEWHERE = {
    "simplecnn_harness/training/compare_train.py",      # issue 11 (training comparison) owns it
    "simplecnn_harness/octave/session.py",            # issue 13 (Octave session progress) owns it
}


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


def imports_of(name, path, modules):
    """The project modules that module ``name`` imports (anywhere in the file,
    function-level imports included: a lazy import still ties the two)."""
    tree = ast.parse(path.read_text())
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


def _top_docstring(path):
    return ast.get_docstring(ast.parse(path.read_text())) or ""


def test_modules_are_small_or_say_why():
    fat = []
    for name, path in project_modules().items():
        rel = path.relative_to(REPO).as_posix()
        n = len(path.read_text().splitlines())
        if n > MAX_LINES and rel not in OVER_LIMIT_ELSEWHERE and "longer than 500 lines" not in _top_docstring(path).lower():
            fat.append(f"{rel} ({n} lines)")
    assert not fat, "modules over 500 lines with no reason stated at their top: " + ", ".join(fat)


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


def test_cli_modules_only_parse_and_call():
    """No simplecnn_cli module defines computation of its own: besides
    ``add_parser``/``run``/``main`` (and small private helpers of the
    argument handling) nothing over 40 lines, and the bench command's work
    lives in simplecnn_bench."""
    modules = project_modules()
    long_defs = []
    for name, path in modules.items():
        if not name.startswith("simplecnn_cli") or name.startswith("simplecnn_cli.demo"):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name not in ("add_parser", "run", "main"):
                if node.end_lineno - node.lineno + 1 > 40:
                    long_defs.append(f"{name}.{node.name}")
    assert not long_defs, long_defs
    assert "simplecnn_cli.bench_impl" not in modules and "simplecnn_cli.bench_newton" not in modules
    assert "simplecnn_bench.run" in imports_of("simplecnn_cli.bench", modules["simplecnn_cli.bench"], modules)
