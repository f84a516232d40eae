"""The MATLAB side of a comparison: copy, instrument, feed and run a tree.

1. The user's tree is copied (``*.m`` and compiled helpers only) into a
   temporary folder; the user's files are never modified.
2. The copies of the files holding the stages (``Layout.forward_files`` and
   ``backward_files``) are instrumented (``instrument.py``).
3. ``param``, ``model`` (sizes, the Python side's weights) and ``prob`` are
   written to a .mat file with ``scipy.io.savemat``.
4. In the Octave session, ``octave/simplecnn_drive__.m`` calls the tree's own
   ``init_net`` and ``lossgrad_subset`` (layout's argument order, the tree's
   gradient task string) and the recorder writes every value to raw binary
   files, read back with ``records.py``.
"""
from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io

from simplecnn_py.support.conventions import cell, struct

from .instrument import Stmt, instrument_source
from .layouts import Layout
from .records import Record, read_error, read_records
from .session import OctaveError, OctaveSession

_COPY_SUFFIXES = (".m", ".oct", ".mex", ".mexa64", ".mexglx", ".mexmaci64", ".mexw64")


@dataclass
class MatlabRun:
    layout: Layout
    instrumented: bool
    stmts: dict[int, Stmt]
    records: list[Record]
    outputs: dict[tuple[str, int], Record]
    octave_seconds: float          # lossgrad_subset's own time, measured in Octave
    timings: dict = field(default_factory=dict)

    def output(self, name, layer=0):
        r = self.outputs.get((name, int(layer)))
        return None if r is None else r.value()

    def stmt_records(self):
        """(Record, Stmt) of the instrumented statements, in execution order."""
        return [(r, self.stmts[r.stmt_id]) for r in self.records
                if r.stmt_id is not None and r.stmt_id in self.stmts]


class MatlabCodeError(OctaveError):
    """The user's MATLAB code failed under Octave (exit 2, one line)."""


ORIG = "simplecnn_orig__"          # prefix of a wrapped routine's original in the copy


def copy_tree(layout: Layout, dest: Path, instrument: bool = True,
              origins: dict | None = None) -> tuple[dict[int, Stmt], list[Path]]:
    """Copy the tree's code to ``dest``, expose the subfunctions the driver
    calls, instrument the stage files and wrap the boundary routines there.

    ``origins`` (filled when given) maps each file of the copy whose lines
    come from a user's file to ``(user file, first user line - 1)``; wrapper
    files map to None (never the user's code)."""
    root = layout.root
    origins = {} if origins is None else origins
    dirs = set()
    for src in _code_files(root):
        rel = src.relative_to(root)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        origins[str(target)] = (src, 0)
        if src.suffix == ".m" and not any(p == "private" or p.startswith(("+", "@")) for p in rel.parts[:-1]):
            dirs.add(target.parent)
    for name in layout.expose:
        _expose(layout, name, dest, origins)
    stmts: dict[int, Stmt] = {}
    if instrument:
        next_id = 1
        for role, names in (("forward", layout.forward_files), ("backward", layout.backward_files)):
            for name in names:
                sig = layout.signature(name)
                if sig is None:
                    continue
                target = _copy_of(layout, name, dest)
                src = target.read_text(encoding="utf-8", errors="replace")
                new, table = instrument_source(src, role, str(sig.file.relative_to(root)), next_id,
                                               covered=frozenset(layout.boundary) - {name})
                target.write_text(new, encoding="utf-8")
                for s in table:
                    stmts[s.id] = s
                next_id += len(table) + 1
        for name in layout.boundary:
            _wrap(layout, name, dest, origins)
    return stmts, sorted(dirs, key=lambda p: (-len(p.relative_to(dest).parts), str(p)))


def _copy_of(layout: Layout, name: str, dest: Path) -> Path:
    sig = layout.signature(name)
    if name in layout.functions:
        return dest / sig.file.relative_to(layout.root)
    return dest / sig.file.relative_to(layout.root).parent / f"{name}.m"


def _expose(layout: Layout, name: str, dest: Path, origins: dict):
    """Write subfunction ``name`` out into its own file beside its host (with
    the host's other subfunctions after it, so its calls to them still work):
    a subfunction cannot be called from outside its file."""
    sig = layout.subfunctions[name]
    src = sig.file.read_text(encoding="utf-8", errors="replace")
    from .layouts import parse_functions

    sigs = parse_functions(sig.file)
    bounds = [s.offset for s in sigs] + [len(src)]
    pieces, first = [], None
    for k, s in enumerate(sigs):
        if k == 0:
            continue                       # the host's main function stays in the host
        text = src[bounds[k]:bounds[k + 1]]
        if s.name == name:
            pieces.insert(0, text)
            first = s
        else:
            pieces.append(text)
    target = dest / sig.file.relative_to(layout.root).parent / f"{name}.m"
    body = pieces[0]
    rest = "".join(pieces[1:])
    if not body.endswith("\n"):
        body += "\n"
    target.write_text(body + rest, encoding="utf-8")
    # only the exposed function's own lines map back exactly
    origins[str(target)] = (sig.file, first.line - 1)


# which numeric values each wrapper records: (inputs, outputs) as a bit mask of
# positions (-1: all), 0 none.  What the returned net already holds (the
# outputs of maxpooling, the input of padding_and_phiZ, feedforward's net) is
# not recorded twice.
RECORDED = {"padding_and_phiZ": (0, 1), "maxpooling": (-1, 0), "vTP": (-1, 1), "JTv": (-1, 0),
            "feedforward": (0, 0), "lossgrad_subset": (0, 0)}


def wrapper_source(sig, orig: str) -> str:
    """The boundary wrapper of routine ``sig``: records its numeric inputs,
    announces it (``@@simplecnn-routine NAME`` on Octave's output), calls the
    original (renamed ``orig``) with the same arguments and number of
    outputs, and records its numeric outputs.  Records are named
    ``b:NAME:in:ARG[:op]`` / ``b:NAME:out:K[:op]`` (op: the char arguments,
    e.g. vTP's 'pool_gradient'); their layer is the argument named m."""
    args = [a for a in sig.args if a != "varargin"]
    names = "{" + ", ".join(f"'{a}'" for a in args) + "}"
    lower = [a.lower() for a in args]
    layer_pos = next((k + 1 for k, a in enumerate(lower) if a in ("m", "layer")), 0)
    extra = ""
    if sig.name == "maxpooling" and "net" in lower and layer_pos and not any(
            a.lower().startswith("z") for a in args):
        # maxpooling(model, net, m) reads sigma(S^m) from net.Z{m+1}
        k = lower.index("net") + 1
        extra = (f"if numel(varargin) >= {max(k, layer_pos)}\n"
                 f"\tsimplecnn_rec__('put', 'b:maxpooling:in:Z', varargin{{{k}}}.Z{{varargin{{{layer_pos}}}+1}}, "
                 f"varargin{{{layer_pos}}});\nend\n")
    rec_in, rec_out = RECORDED.get(sig.name, (1, 1))
    return (f"function varargout = {sig.name}(varargin)\n"
            f"% harness wrapper (simplecnn): records the inputs and outputs of {sig.name}\n"
            f"simplecnn_bnd__('in', '{sig.name}', {layer_pos}, varargin, {names}, {{}}, {rec_in});\n"
            f"{extra}"
            f"varargout = cell(1, max(nargout, 1));\n"
            f"[varargout{{:}}] = {orig}(varargin{{:}});\n"
            f"simplecnn_bnd__('out', '{sig.name}', {layer_pos}, varargin, {names}, varargout, {rec_out});\n"
            f"end\n")


def _wrap(layout: Layout, name: str, dest: Path, origins: dict):
    sig = layout.functions[name]
    target = dest / sig.file.relative_to(layout.root)
    src = target.read_text(encoding="utf-8", errors="replace")
    orig = ORIG + name
    head, body = src[:sig.offset], src[sig.offset:]
    body = re.sub(r"^(function\s*(?:\[[^\]]*\]\s*=\s*|[A-Za-z_]\w*\s*=\s*)?)([A-Za-z_]\w*)",
                  lambda m: m.group(1) + orig, body, count=1)
    renamed = target.with_name(orig + ".m")
    renamed.write_text(head + body, encoding="utf-8")
    origins[str(renamed)] = origins.pop(str(target), (sig.file, 0))
    target.write_text(wrapper_source(sig, orig), encoding="utf-8")
    origins[str(target)] = None


def _code_files(root: Path):
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = list(d.iterdir())
        except OSError:
            continue
        for e in entries:
            if e.is_dir():
                if not e.name.startswith(".") and e.name not in ("__pycache__", "node_modules"):
                    stack.append(e)
            elif e.suffix.lower() in _COPY_SUFFIXES and e.is_file():
                yield e


# --- inputs -----------------------------------------------------------------------

def _to_mat(v):
    """A Python value of the port as something scipy.io.savemat writes as MATLAB would hold it."""
    if isinstance(v, struct):
        return {k: _to_mat(x) for k, x in vars(v).items() if _to_mat(x) is not None}
    if isinstance(v, dict):
        return {k: _to_mat(x) for k, x in v.items() if _to_mat(x) is not None}
    if isinstance(v, cell):
        items = v.tolist()
        if all(isinstance(x, (int, float, np.integer, np.floating)) for x in items):
            return np.asarray(items, dtype=np.float64).reshape(1, -1)
        out = np.empty((len(items), 1), dtype=object)
        for k, x in enumerate(items):
            y = _to_mat(x)
            out[k, 0] = np.zeros((0, 0)) if y is None else y
        return out
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, np.integer)):
        return float(v)
    if isinstance(v, (float, np.floating, str)):
        return v
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "iub":
            v = v.astype(np.float64)
        if v.ndim == 1:
            v = v.reshape(-1, 1)
        return v
    return None


def write_inputs(path: Path, param, model, prob, opt: dict):
    """The driver's input file (MAT v5)."""
    p = _to_mat(param)
    mdl = _to_mat(model)
    pr = {
        "data": np.asfortranarray(prob.data),
        "y": np.asarray(prob.y, dtype=np.float64).reshape(-1, 1),
        "y_mapped": np.asarray(prob.y_mapped, dtype=np.float64).reshape(-1, 1),
        "label_mat": np.asfortranarray(prob.label_mat),
        "label_enum": np.asarray(prob.label_enum, dtype=np.float64).reshape(-1, 1),
        "l": float(prob.l),
    }
    scipy.io.savemat(str(path), {"param": p, "model": mdl, "prob": pr, "opt": opt},
                     format="5", do_compression=False, oned_as="column")


# --- running ------------------------------------------------------------------------

def training_defaults(l, precision) -> dict:
    """The original's option defaults (matlab_ref/current/MATLAB/opt/parse_options.m), for code that
    reads a param field beyond the config's (e.g. ``param.Jacobian`` in
    ``init_net``).  ``Jacobian`` is 0: a gradient needs no stored Jacobian."""
    return {"solver": 1.0, "s": 1.0, "C": 0.01, "GNsize": float(np.ceil(0.05 * l)), "iter_max": 100.0,
            "xi": 0.1, "CGmax": 250.0, "lambda": 1.0, "drop": 2 / 3, "boost": 1.5, "eta": 1e-4,
            "Jacobian": 0.0, "epoch_max": 500.0, "lr": 0.01, "decay": 0.0, "momentum": 0.0,
            "ftype": 0.0 if precision == "single" else 1.0, "gpu_use": 0.0}


def run_matlab(session: OctaveSession, layout: Layout, param, model, prob, precision: str,
               workdir: Path, instrument: bool = True, want_phiZ: bool | None = None,
               timeout: float | None = None, tag: str = "run", repeats: int = 1) -> MatlabRun:
    """Run the tree's ``lossgrad_subset`` on ``prob`` (all its instances) under Octave
    (``repeats`` times, each timed: ``MatlabRun.timings['octave_lossgrad_each_s']``)."""
    t0 = time.perf_counter()
    workdir = Path(workdir)
    code_dir = workdir / f"{tag}-code"
    out_dir = workdir / f"{tag}-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    origins: dict = {}
    stmts, dirs = copy_tree(layout, code_dir, instrument, origins)
    if want_phiZ is None:
        want_phiZ = not any(s.kind == "phiZ" for s in stmts.values())
    N = int(prob.l)
    param = struct(**vars(param))
    param.bsize = N
    for name, value in training_defaults(N, precision).items():
        if not hasattr(param, name):
            setattr(param, name, value)
    opt = {
        "layout": layout.name, "task": layout.task_grad, "nout": float(len(layout.lossgrad.outputs)),
        "net_out": float(layout.net_out), "loss_out": float(layout.loss_out), "precision": precision,
        "want_phiZ": float(bool(want_phiZ)), "init_model_call": layout.calls.get("init_model", ""),
        "init_net_call": layout.calls["init_net"], "lossgrad_call": layout.calls["lossgrad_subset"],
        "repeats": float(max(1, int(repeats))),
        "y_as_index": float(_indexes_with_labels(layout)),
        "config_file": str(Path(param.config_file).resolve())
        if "read_config" in layout.functions and getattr(param, "config_file", None) else "",
    }
    in_file = workdir / f"{tag}-in.mat"
    write_inputs(in_file, param, model, prob, opt)
    t1 = time.perf_counter()
    paths = ", ".join(f"'{_q(d)}'" for d in dirs)
    # forget the functions of a tree run before in this session
    forget = "clear functions; " if getattr(session, "trees_run", 0) else ""
    session.trees_run = getattr(session, "trees_run", 0) + 1
    try:
        session.eval(f"{forget}addpath({paths}); cd('{_q(code_dir)}'); "
                     f"simplecnn_drive__('{_q(in_file)}', '{_q(out_dir)}'); cd(tempdir);", timeout=timeout)
    finally:
        if session.alive():
            session.eval(f"cd(tempdir); rmpath({paths});", timeout=60)
    t2 = time.perf_counter()
    err = read_error(out_dir)
    if err is not None:
        raise _code_error(layout, code_dir, err, origins, explain=original_fails(model, N))
    records = read_records(out_dir)
    outputs = {}
    for r in records:
        if r.stmt_id is None:
            outputs[(r.name.replace("net.", ""), int(r.layer))] = r
    seconds_rec = outputs.get(("seconds", 0))
    each = [float(x) for x in seconds_rec.value().reshape(-1)] if seconds_rec is not None else [float("nan")]
    octave_seconds = min(each)
    t3 = time.perf_counter()
    run = MatlabRun(layout, instrument, stmts, records, outputs, octave_seconds)
    run.timings = {"prepare_s": t1 - t0, "octave_call_s": t2 - t1, "read_s": t3 - t2,
                   "octave_lossgrad_s": octave_seconds, "octave_lossgrad_each_s": each,
                   "recorded_bytes": int(sum(r.nbytes for r in records))}
    return run


def _indexes_with_labels(layout: Layout) -> bool:
    """Code before general labels (Jan 2020) indexes rows of Y with ``prob.y``
    itself (labels had to be 1..K): it is given the labels mapped to 1..K
    (``y_mapped``, the same classes), so data labelled 0..9 runs too."""
    sig = layout.lossgrad
    try:
        src = sig.file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\bprob\.y\s*\(", src) is not None


def original_fails(model, n) -> str:
    """What ``compare`` adds to an Octave error when the original simpleNN
    itself cannot run this network on ``n`` instances ('' otherwise)."""
    from simplecnn_py.support.quirks import explain_octave_error

    return explain_octave_error(model, n)


def _code_error(layout: Layout, code_dir: Path, err, origins: dict | None = None,
                explain: str = "") -> MatlabCodeError:
    """One line: Octave's message and the USER's file, line and function (the
    temporary copy's files mapped back through ``origins``; the harness's
    wrappers skipped); then ``explain`` (a known failure of the original on
    this network)."""
    step, message, stack = err
    where = f"{step}"
    origins = origins or {}
    for entry in stack:
        f, name, line = (list(entry) + ["", "", ""])[:3]
        if not (f and f.startswith(str(code_dir))):
            continue
        if f in origins and origins[f] is None:
            continue                                   # a boundary wrapper
        user, shift = origins.get(f) or (layout.root / Path(f).relative_to(code_dir), 0)
        try:
            line = int(line) + shift
        except (TypeError, ValueError):
            pass
        name = (name or "").replace(ORIG, "")
        where = f"{user} line {line} ({name})"
        break
    else:
        for entry in stack:
            f, name, line = (list(entry) + ["", "", ""])[:3]
            if name and not name.startswith("simplecnn_"):
                where = f"{name.replace(ORIG, '')} line {line} (called from {step})"
                break
    message = (message or "unknown error").replace(ORIG, "")
    if code_dir is not None:
        message = message.replace(str(code_dir) + "/", "")
    return MatlabCodeError(f"Octave error in {where}: {message}{explain}", stack)


def _q(s) -> str:
    return str(s).replace("'", "''")


def time_tree(directory, param, model, prob, precision: str = "double", repeats: int = 1,
              timeout: float | None = 600.0, workdir=None) -> list[float]:
    """Seconds of each of ``repeats`` calls of the tree's own ``lossgrad_subset``
    (task: its gradient task) on ``prob``, under one Octave, the code copied
    uninstrumented: any tree ``simplecnn compare`` drives (``simplecnn
    bench --matlab-dir``)."""
    import tempfile

    from .layouts import detect_layout
    from .session import OctaveSession

    layout = detect_layout(directory)
    with tempfile.TemporaryDirectory(prefix="simplecnn-time-", dir=workdir) as work, \
            OctaveSession(timeout=timeout) as octave:
        run = run_matlab(octave, layout, param, model, prob, precision, Path(work), instrument=False,
                         want_phiZ=False, timeout=timeout, tag="time", repeats=repeats)
    return run.timings["octave_lossgrad_each_s"]
