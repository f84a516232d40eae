"""Preparing a run of a MATLAB tree, apart from running it.

:func:`prepare_run` does everything before Octave is asked anything, into a
folder of its own, and returns a :class:`PreparedRun`:

1. the user's tree is copied (``*.m`` and compiled helpers only); the
   user's files are never modified;
2. the subfunctions the driver calls are written out into files of their
   own, the copies of the files holding the stages (``Layout.forward_files``
   and ``backward_files``) instrumented (``instrument.py``) and the boundary
   routines wrapped (:func:`wrapper_source`);
3. ``param``, ``model`` (sizes, the given weights) and ``prob`` are written
   to a .mat file with ``scipy.io.savemat``, with the driver's options.

``run.execute`` then runs a prepared run in an Octave session
(``octave/simplecnn_drive__.m`` calls the tree's own ``init_net`` and
``lossgrad_subset``); ``traces/emit.py`` writes a prepared run into a folder
that MATLAB runs by itself.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io

from simplecnn_py.support.conventions import cell, struct

from .instrument import Stmt, instrument_source
from .layouts import Layout, parse_functions

_COPY_SUFFIXES = (".m", ".oct", ".mex", ".mexa64", ".mexglx", ".mexmaci64", ".mexw64")


@dataclass
class PreparedRun:
    """A tree copied, instrumented and given its inputs, ready to run."""
    layout: Layout
    instrumented: bool
    stmts: dict                       # statement id -> Stmt (the instrumented statements)
    code_dir: Path                    # the copy of the tree
    out_dir: Path                     # where the recorder writes
    in_file: Path                     # the driver's input file (MAT v5)
    dirs: list                        # folders of the copy to put on the path, in addpath's order
    origins: dict = field(default_factory=dict)   # file of the copy -> (user's file, line shift) or None
    seconds: float = 0.0              # time spent preparing
    model: object = None              # the model given (an error's explanation reads its sizes)
    instances: int = 0                # instances given


def scratch_dir():
    """Folder for a run's files: /dev/shm (tmpfs) when writable, else the
    system's temporary folder (None); ``SIMPLECNN_TMPDIR`` overrides it.

    (Measured here with 635 MiB recorded per run: tracing costs about 0.3-0.4 s
    into /dev/shm, 1.2-1.7 s into /tmp, whose dirty pages go to a slow disk.)
    """
    if os.environ.get("SIMPLECNN_TMPDIR"):
        return os.environ["SIMPLECNN_TMPDIR"]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return None


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

def to_mat(v):
    """A Python value of the port as something scipy.io.savemat writes as MATLAB would hold it."""
    if isinstance(v, struct):
        return {k: to_mat(x) for k, x in vars(v).items() if to_mat(x) is not None}
    if isinstance(v, dict):
        return {k: to_mat(x) for k, x in v.items() if to_mat(x) is not None}
    if isinstance(v, cell):
        items = v.tolist()
        if all(isinstance(x, (int, float, np.integer, np.floating)) for x in items):
            return np.asarray(items, dtype=np.float64).reshape(1, -1)
        out = np.empty((len(items), 1), dtype=object)
        for k, x in enumerate(items):
            y = to_mat(x)
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
    p = to_mat(param)
    mdl = to_mat(model)
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


# --- the driver's options ------------------------------------------------------------

def training_defaults(l, precision) -> dict:
    """The original's option defaults (matlab_ref/current/MATLAB/opt/parse_options.m), for code that
    reads a param field beyond the config's (e.g. ``param.Jacobian`` in
    ``init_net``).  ``Jacobian`` is 0: a gradient needs no stored Jacobian."""
    return {"solver": 1.0, "s": 1.0, "C": 0.01, "GNsize": float(np.ceil(0.05 * l)), "iter_max": 100.0,
            "xi": 0.1, "CGmax": 250.0, "lambda": 1.0, "drop": 2 / 3, "boost": 1.5, "eta": 1e-4,
            "Jacobian": 0.0, "epoch_max": 500.0, "lr": 0.01, "decay": 0.0, "momentum": 0.0,
            "ftype": 0.0 if precision == "single" else 1.0, "gpu_use": 0.0}



def prepare_run(layout: Layout, param, model, prob, precision: str, workdir: Path, instrument: bool = True,
                want_phiZ: bool | None = None, tag: str = "run", repeats: int = 1,
                code: PreparedRun | None = None) -> PreparedRun:
    """Copy, instrument and feed the tree for a run of its ``lossgrad_subset``
    on ``prob`` (all its instances), in ``workdir`` (``TAG-code``, ``TAG-out``,
    ``TAG-in.mat``); ``repeats`` timed calls.  ``code``: an earlier run's
    prepared copy of the same tree to run again (a streamed compare's next
    chunk): only the inputs and the records' folder are new."""
    t0 = time.perf_counter()
    workdir = Path(workdir)
    out_dir = workdir / f"{tag}-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    if code is not None:
        code_dir, stmts, dirs, origins = code.code_dir, code.stmts, code.dirs, code.origins
    else:
        code_dir = workdir / f"{tag}-code"
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
    return PreparedRun(layout, instrument, stmts, code_dir, out_dir, in_file, dirs, origins,
                       time.perf_counter() - t0, model, N)


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
