"""Which layout ("era") of the simpleNN code a MATLAB tree holds, and how to
drive it (facts page, section 1).

A tree is searched in ``DIR`` and ``DIR/MATLAB`` (the current layout keeps its
``cnn/``, ``opt/`` folders there).  The layout is read from the ``function``
lines, never from folder names alone:

============  =====================================  ===================================
routine       seed layout                            current layout
============  =====================================  ===================================
init_net      ``net = init_net(param, model)``       ``net = init_net(model, param)``
lossgrad      ``(prob, param, model, net, batch_idx,  ``(prob, model, net, batch_idx,
              task)``                                task)``
============  =====================================  ===================================

From ``lossgrad_subset.m`` the harness also reads which output is ``net``
and which is the loss (the ``function [net, loss] = ...`` line) and the task
string that asks for the gradient (the string literal compared with
``task`` that contains ``grad``), so neither is hard-coded.

A tree that cannot be driven raises ``InputError(DIR, reason)``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from simplecnn_py.errors import InputError

from .instrument import scan, string_literals

_FUNC = re.compile(
    r"function\s*(?:\[(?P<outs>[^\]]*)\]\s*=\s*|(?P<out>[A-Za-z_]\w*)\s*=\s*)?"
    r"(?P<name>[A-Za-z_]\w*)\s*(?:\((?P<args>[^)]*)\))?")
_SKIP_DIRS = {".git", ".svn", ".hg", "__pycache__", "node_modules"}


@dataclass
class Signature:
    name: str
    outputs: list[str]
    args: list[str]
    file: Path

    def text(self) -> str:
        outs = self.outputs
        lhs = "" if not outs else (f"{outs[0]} = " if len(outs) == 1 else f"[{', '.join(outs)}] = ")
        return f"{lhs}{self.name}({', '.join(self.args)})"


@dataclass
class Layout:
    """A tree the harness can drive."""
    name: str                        # 'seed' | 'current'
    root: Path                       # DIR or DIR/MATLAB
    given: Path                      # the directory the user named
    functions: dict[str, Signature]  # main function of each .m file, by name
    init_net: Signature
    lossgrad: Signature
    task_grad: str
    net_out: int                     # 1-based position of net among lossgrad's outputs
    loss_out: int
    forward_files: list[str] = field(default_factory=list)   # function names to instrument
    backward_files: list[str] = field(default_factory=list)

    def relpath(self, path) -> str:
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return str(path)


def parse_function_line(path: Path) -> Signature | None:
    """The first ``function`` line of a file (continuations joined)."""
    try:
        src = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for sp in scan(src):
        if re.match(r"function\b", sp.code):
            m = _FUNC.match(sp.code)
            if not m:
                return None
            outs = m.group("outs")
            outputs = ([o for o in re.split(r"[\s,]+", outs.strip()) if o] if outs is not None
                       else ([m.group("out")] if m.group("out") else []))
            args = [a.strip() for a in (m.group("args") or "").split(",") if a.strip()]
            return Signature(m.group("name"), outputs, args, Path(path))
        return None          # a script, or code before the function line
    return None


def _m_files(root: Path, depth: int = 4):
    """``*.m`` files under root (hidden folders and private/ ignored)."""
    out = []
    stack = [(root, 0)]
    while stack:
        d, k = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError:
            continue
        for e in entries:
            if e.is_dir():
                if k < depth and not e.name.startswith(".") and e.name not in _SKIP_DIRS \
                        and e.name != "private" and not e.name.startswith(("+", "@")):
                    stack.append((e, k + 1))
            elif e.suffix == ".m" and e.is_file():
                out.append(e)
    return out


def _functions(root: Path) -> dict[str, Signature]:
    funcs = {}
    # files nearer the root win, then cnn/ before opt/ (sorted)
    for f in sorted(_m_files(root), key=lambda p: (len(p.relative_to(root).parts), str(p))):
        sig = parse_function_line(f)
        if sig is not None and f.stem not in funcs:
            sig.name = f.stem            # MATLAB calls a file's main function by the file name
            funcs[f.stem] = sig
    return funcs


def _task_for_gradient(sig: Signature) -> str | None:
    """The string literal compared with ``task`` that contains 'grad'.

    Comparisons are ``strcmp(task, 'x')`` (also ``strcmpi``, ``isequal``,
    either argument order), ``task == 'x'`` and ``case`` labels of a
    ``switch task``; only identifier-like literals count (not messages).
    """
    src = sig.file.read_text(encoding="utf-8", errors="replace")
    t = re.escape(sig.args[-1] if sig.args else "task")
    lit = r"'(\w+)'"
    pats = [re.compile(rf"\b(?:strcmpi?|isequal)\s*\(\s*{t}\s*,\s*{lit}\s*\)"),
            re.compile(rf"\b(?:strcmpi?|isequal)\s*\(\s*{lit}\s*,\s*{t}\s*\)"),
            re.compile(rf"\b{t}\s*==\s*{lit}"), re.compile(rf"{lit}\s*==\s*{t}\b")]
    candidates = []
    in_switch = False
    for sp in scan(src):
        code = sp.code
        if re.match(r"switch\b", code):
            in_switch = re.match(rf"switch\s*\(?\s*{t}\b", code) is not None
            continue
        if in_switch and re.match(r"case\b", code):
            candidates += [x for x in string_literals(code) if re.fullmatch(r"\w+", x)]
            continue
        for p in pats:
            candidates += p.findall(code)
    for x in candidates:
        if "grad" in x:
            return x
    return None


def _callees(sig: Signature, funcs: dict[str, Signature]) -> list[str]:
    src = sig.file.read_text(encoding="utf-8", errors="replace")
    code = " ".join(sp.code for sp in scan(src))
    return [name for name in funcs if name != sig.name and re.search(r"\b" + name + r"\s*\(", code)]


def _source(sig: Signature) -> str:
    src = sig.file.read_text(encoding="utf-8", errors="replace")
    return " ".join(sp.code for sp in scan(src))


def detect_layout(directory) -> Layout:
    """Detect the layout of the tree at ``directory`` or raise ``InputError``."""
    given = Path(directory).expanduser()
    where = str(directory)
    if not given.exists():
        raise InputError(where, "no such directory")
    if not given.is_dir():
        raise InputError(where, "not a directory (--matlab-dir names the folder of a simpleNN checkout)")
    roots = [r for r in (given / "MATLAB", given) if r.is_dir()]
    found = None
    for root in roots:
        funcs = _functions(root)
        if "lossgrad_subset" in funcs:
            found = (root, funcs)
            break
    if found is None:
        any_m = any(_m_files(r) for r in roots)
        what = ("has .m files but no lossgrad_subset.m" if any_m else "holds no .m files")
        raise InputError(where, f"not a simpleNN tree: it {what} (looked in {where} and {where}/MATLAB, "
                                "with their cnn/ and opt/ folders)")
    root, funcs = found
    lg = funcs["lossgrad_subset"]
    rel = lambda s: s.file.relative_to(root)   # noqa: E731

    args = [a.lower() for a in lg.args]
    if len(args) == 6:
        by_lossgrad = "seed"
    elif len(args) == 5:
        by_lossgrad = "current"
    else:
        raise InputError(where, f"{rel(lg)}: lossgrad_subset takes {len(lg.args)} arguments "
                                f"({', '.join(lg.args)}); the seed layout takes (prob, param, model, net, "
                                "batch_idx, task), the current one (prob, model, net, batch_idx, task)")
    if "init_net" not in funcs:
        raise InputError(where, f"not a simpleNN tree: no init_net.m beside {rel(lg)}")
    init = funcs["init_net"]
    iargs = [a.lower() for a in init.args]
    if len(iargs) != 2:
        raise InputError(where, f"{rel(init)}: init_net takes {len(iargs)} arguments ({', '.join(init.args)}); "
                                "expected (param, model) (seed layout) or (model, param) (current layout)")
    by_init = {("param", "model"): "seed", ("model", "param"): "current"}.get(tuple(iargs))
    if by_init is not None and by_init != by_lossgrad:
        raise InputError(where, f"mixed layouts: {rel(init)} has init_net({', '.join(init.args)}) of the "
                                f"{by_init} layout but {rel(lg)} has lossgrad_subset({', '.join(lg.args)}) "
                                f"of the {by_lossgrad} layout")
    name = by_lossgrad

    outs = [o.lower() for o in lg.outputs]
    if "net" not in outs:
        raise InputError(where, f"{rel(lg)}: lossgrad_subset does not return net "
                                f"(function line: {lg.text()})")
    net_out = outs.index("net") + 1
    loss_pos = [k for k, o in enumerate(outs) if o != "net" and ("loss" in o or o in ("f", "fun", "obj"))]
    if not loss_pos:
        others = [k for k, o in enumerate(outs) if o != "net"]
        if len(others) != 1:
            raise InputError(where, f"{rel(lg)}: cannot tell which output of lossgrad_subset is the loss "
                                    f"(function line: {lg.text()})")
        loss_pos = others
    loss_out = loss_pos[0] + 1
    task = _task_for_gradient(lg)
    if task is None:
        raise InputError(where, f"{rel(lg)}: no string compared with '{lg.args[-1]}' asks for the gradient "
                                "(expected a literal such as 'fungrad')")
    if "feedforward" not in funcs:
        raise InputError(where, f"not a simpleNN tree: no feedforward.m beside {rel(lg)}")

    # which files hold the stages: lossgrad_subset, what it calls
    forward, backward = ["feedforward"], ["lossgrad_subset"]
    for callee in _callees(lg, funcs):
        if callee in forward or callee in backward:
            continue
        code = _source(funcs[callee])
        if re.search(r"\bvTP\s*\(", code) and callee not in ("vTP",):
            backward.append(callee)
        elif re.search(r"\b(padding_and_phiZ|maxpooling)\s*\(", code) and callee not in (
                "padding_and_phiZ", "maxpooling"):
            forward.append(callee)
    return Layout(name, root, given, funcs, init, lg, task, net_out, loss_out, forward, backward)
