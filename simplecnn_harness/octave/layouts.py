"""How to drive a simpleNN MATLAB tree, whichever version: read from the
``function`` lines, never from a fixed list of layouts (matlab_ref/*/README.md show two).

A tree is searched in ``DIR`` and ``DIR/MATLAB`` (the current layout keeps its
``cnn/``, ``opt/`` folders there).  Every ``function`` line of every ``.m``
file is parsed: a file's first function is callable by the file's name; the
others are subfunctions (``init_model`` lives in ``train.m`` in every version
of the real code), which the harness exposes in its temporary copy by writing
them out into their own file (``octave_run.copy_tree``).

The calls of ``init_model``, ``init_net`` and ``lossgrad_subset`` are
generated from the argument NAMES (:data:`ARGUMENTS`): ``param``/``options``
get our param struct, ``net_config``/``config`` too (it holds the config's
keys), ``model``, ``net``, ``prob`` theirs, ``bsize``/``num_data`` the number
of instances, ``batch_idx`` the instance indices, and the argument that
``lossgrad_subset`` compares with a string literal containing ``grad`` (e.g.
``strcmp(task, 'fungrad')``) that literal.  So ``init_net(param, model)``
(2019), ``init_net(model)``, ``init_net(model, bsize)`` (Dec 2019) and
``init_net(model, param)`` (2020 on) are all driven, and a user's copy with
its own argument order too.

From ``lossgrad_subset`` the harness also reads which output is ``net`` and
which is the loss (the ``function [net, loss] = ...`` line).  ``name`` is
``'seed'`` when ``lossgrad_subset`` takes ``param`` (the 2019 layout, where
``param`` holds the sizes), else ``'current'``.

A tree that cannot be driven raises ``InputError(DIR, reason)``: one line
saying what is missing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from simplecnn_py.support.errors import InputError

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
    offset: int = 0                  # where its function line starts in the file
    line: int = 1                    # 1-based line of the function line

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
    subfunctions: dict[str, Signature] = field(default_factory=dict)   # name -> signature (file: its host)
    init_model: Signature | None = None
    calls: dict[str, str] = field(default_factory=dict)       # routine -> MATLAB call statement
    expose: list[str] = field(default_factory=list)           # subfunctions written out in the copy
    boundary: list[str] = field(default_factory=list)         # routines recorded at their boundary

    def relpath(self, path) -> str:
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return str(path)

    def signature(self, name) -> Signature | None:
        return self.functions.get(name) or self.subfunctions.get(name)


def _signature(sp, path) -> Signature | None:
    m = _FUNC.match(sp.code)
    if not m:
        return None
    outs = m.group("outs")
    outputs = ([o for o in re.split(r"[\s,]+", outs.strip()) if o] if outs is not None
               else ([m.group("out")] if m.group("out") else []))
    args = [a.strip() for a in (m.group("args") or "").split(",") if a.strip()]
    return Signature(m.group("name"), outputs, args, Path(path), sp.start, sp.line)


def parse_functions(path: Path) -> list[Signature]:
    """Every ``function`` line of a file, in order (empty for a script)."""
    try:
        src = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for k, sp in enumerate(scan(src)):
        if re.match(r"function\b", sp.code):
            sig = _signature(sp, path)
            if sig is not None:
                out.append(sig)
        elif k == 0:
            return []        # a script, or code before the function line
    return out


def parse_function_line(path: Path) -> Signature | None:
    """The first ``function`` line of a file (continuations joined)."""
    funcs = parse_functions(path)
    return funcs[0] if funcs else None


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
    return _all_functions(root)[0]


def _all_functions(root: Path) -> tuple[dict[str, Signature], dict[str, Signature]]:
    """(main functions by file name, subfunctions by name for names no file has)."""
    funcs, subs = {}, {}
    # files nearer the root win, then cnn/ before opt/ (sorted)
    for f in sorted(_m_files(root), key=lambda p: (len(p.relative_to(root).parts), str(p))):
        sigs = parse_functions(f)
        if not sigs:
            continue
        if f.stem not in funcs:
            sigs[0].name = f.stem            # MATLAB calls a file's main function by the file name
            funcs[f.stem] = sigs[0]
        for s in sigs[1:]:
            subs.setdefault(s.name, s)
    return funcs, {k: v for k, v in subs.items() if k not in funcs}


def _task_for_gradient(sig: Signature, arg: str | None = None) -> str | None:
    """The string literal compared with ``task`` that contains 'grad'.

    Comparisons are ``strcmp(task, 'x')`` (also ``strcmpi``, ``isequal``,
    either argument order), ``task == 'x'`` and ``case`` labels of a
    ``switch task``; only identifier-like literals count (not messages).
    """
    src = sig.file.read_text(encoding="utf-8", errors="replace")
    t = re.escape(arg or (sig.args[-1] if sig.args else "task"))
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



# What each argument name of init_model, init_net and lossgrad_subset gets (lower case).
ARGUMENTS = {
    "param": "param", "params": "param", "parameters": "param", "options": "param", "option": "param",
    "opt": "param", "opts": "param", "net_config": "param", "netconfig": "param", "config": "param",
    "cfg": "param", "conf": "param", "configuration": "param", "hyper": "param",
    "model": "model", "mdl": "model", "net": "net", "network": "net", "prob": "prob", "problem": "prob",
    "bsize": "numel(batch_idx)", "batch_size": "numel(batch_idx)", "batchsize": "numel(batch_idx)",
    "num_data": "numel(batch_idx)", "numdata": "numel(batch_idx)", "n_data": "numel(batch_idx)",
    "num_instances": "numel(batch_idx)",
    "batch_idx": "batch_idx", "batch_index": "batch_idx", "batch": "batch_idx", "idx": "batch_idx",
    "subset": "batch_idx", "index": "batch_idx", "indices": "batch_idx",
}
# the routines a twin of which the port has: recorded at their boundary (inputs and outputs)
BOUNDARY = ("feedforward", "padding_and_phiZ", "maxpooling", "vTP", "JTv", "lossgrad_subset")


def _call(sig: Signature, where: str, rel, extra: dict | None = None, outs: str | None = None) -> str:
    """The MATLAB statement calling ``sig`` with our values, by argument name."""
    vals = []
    for a in sig.args:
        low = a.lower()
        if extra and low in extra:
            vals.append(extra[low])
        elif low in ARGUMENTS:
            vals.append(ARGUMENTS[low])
        elif low == "varargin":
            break
        else:
            raise InputError(where, f"{rel(sig)} line {sig.line}: cannot tell what to pass as '{a}' to "
                                    f"{sig.text()} (argument names the harness knows: "
                                    "param/net_config, model, net, prob, bsize/num_data, batch_idx, task)")
    lhs = outs if outs is not None else (sig.outputs[0] + " = " if sig.outputs else "")
    return f"{lhs}{sig.name}({', '.join(vals)});"


def detect_layout(directory) -> Layout:
    """Detect how to drive the tree at ``directory`` or raise ``InputError``."""
    given = Path(directory).expanduser()
    where = str(directory)
    if not given.exists():
        raise InputError(where, "no such directory")
    if not given.is_dir():
        raise InputError(where, "not a directory (--matlab-dir names the folder of a simpleNN checkout)")
    roots = [r for r in (given / "MATLAB", given) if r.is_dir()]
    found = None
    for root in roots:
        funcs, subs = _all_functions(root)
        if "lossgrad_subset" in funcs or "lossgrad_subset" in subs:
            found = (root, funcs, subs)
            break
    if found is None:
        any_m = any(_m_files(r) for r in roots)
        what = ("has .m files but no lossgrad_subset.m" if any_m else "holds no .m files")
        raise InputError(where, f"not a simpleNN tree: it {what} (looked in {where} and {where}/MATLAB, "
                                "with their cnn/ and opt/ folders)")
    root, funcs, subs = found
    rel = lambda s: s.file.relative_to(root)   # noqa: E731
    sig = lambda n: funcs.get(n) or subs.get(n)   # noqa: E731
    lg = sig("lossgrad_subset")
    largs = [a.lower() for a in lg.args]
    missing = [w for w, names in (("prob", ("prob", "problem")), ("model", ("model", "mdl")),
                                  ("net", ("net", "network"))) if not set(names) & set(largs)]
    if missing:
        raise InputError(where, f"{rel(lg)}: lossgrad_subset takes {len(lg.args)} arguments "
                                f"({', '.join(lg.args)}), none of them {' or '.join(missing)}: not the "
                                "simpleNN lossgrad_subset(prob, [param,] model, net, batch_idx, task)")
    task_arg, task = None, None
    for a in reversed(lg.args):
        t = _task_for_gradient(lg, a)
        if t is not None:
            task_arg, task = a, t
            break
    if task is None:
        raise InputError(where, f"{rel(lg)}: no string compared with '{lg.args[-1] if lg.args else 'task'}' "
                                "asks for the gradient (expected a literal such as 'fungrad')")
    init = sig("init_net")
    if init is None:
        raise InputError(where, f"not a simpleNN tree: no init_net.m beside {rel(lg)}")
    if not {"model", "mdl"} & {a.lower() for a in init.args}:
        raise InputError(where, f"{rel(init)}: init_net takes {len(init.args)} arguments "
                                f"({', '.join(init.args)}), none of them the model: not simpleNN's init_net")
    if sig("feedforward") is None:
        raise InputError(where, f"not a simpleNN tree: no feedforward.m beside {rel(lg)}")
    name = "seed" if any(ARGUMENTS.get(a) == "param" for a in largs) else "current"

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

    calls = {"init_net": _call(init, where, rel, outs="net = "),
             "lossgrad_subset": _call(lg, where, rel, {task_arg.lower(): "task__"}, outs="[outs{:}] = ")}
    im = sig("init_model")
    if im is not None:
        try:
            calls["init_model"] = _call(im, where, rel, outs="tree_model = ")
        except InputError:
            im = None              # only used to add the fields it sets: optional
    expose = [n for n in ("init_model", "init_net", "lossgrad_subset", "feedforward")
              if n not in funcs and n in subs and (n != "init_model" or im is not None)]

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
    boundary = [n for n in BOUNDARY if n in funcs]
    return Layout(name, root, given, funcs, init, lg, task, net_out, loss_out, forward, backward,
                  subs, im, calls, expose, boundary)
