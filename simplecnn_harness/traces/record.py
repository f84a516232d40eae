"""Record once, check anywhere: the MATLAB side of a comparison as a file.

``simplecnn record`` runs a tree under Octave exactly as ``simplecnn
compare`` does (``octave_run.run_matlab``: copy, instrument, run) and writes
what the recorder saw into one trace file (``trace_file.py``: MAT v7.3)
instead of comparing it.  ``simplecnn compare --trace`` reads the file back
into the same ``MatlabRun`` a live run gives (``TraceRecords``), so the
mapping to stages, the metrics, the near-tie analysis and the reports are
the live code's own: the verdicts cannot differ.

Variables of a trace (all top-level, see docs/traces.md):

``simplecnn_trace``  the format, ``'simplecnn-trace/1'``
``meta``             JSON text: the tree's identity (path, git commit, a
                     hash of its .m files, layout), the inputs (config text
                     and digest, weights/data files and digests, seed,
                     instances, precision), the instrumented statements and
                     the record labels
``engine``           ``'Octave 7.3.0'`` (or MATLAB's version), the run time's
``in_weight_M``, ``in_bias_M``, ``in_data``, ``in_y``, ``in_y_mapped``,
``in_label_mat``, ``in_label_enum``   the inputs the tree was given
``rec_index``        one line per record, in execution order:
                     ``name<TAB>class<TAB>var<TAB>dims<TAB>routine<TAB>direction<TAB>stage``
``rec_layer``        the layer of each record (1 x K double)
``rNNNNNN``          the values of the kept records (``var`` in the index)
``lossgrad_seconds`` lossgrad_subset's time (the one run-dependent value)
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import InputError

from ..octave.instrument import Stmt
from ..octave.run import MatlabRun, _to_mat
from ..octave.records import Record
from .file import FORMAT, TraceError, read_trace, write_trace

# values that differ from run to run (left out when two traces are compared)
RUN_DEPENDENT = {"lossgrad_seconds"}
# what the outputs the driver puts are (routine lossgrad_subset)
_NET_FIELDS = {"Z": ("forward", "Z"), "idx_pad": ("forward", "idx_pad"), "idx_phiZ": ("forward", "idx_phiZ"),
               "idx_pool": ("forward", "idx_pool"), "phiZ": ("forward", "phiZ"),
               "dlossdW": ("backward", "dlossdW"), "dlossdb": ("backward", "dlossdb")}
# boundary routines: their direction, and the stage of an input/output
_BOUNDARY_DIRECTION = {"padding_and_phiZ": "forward", "maxpooling": "forward", "feedforward": "forward",
                       "vTP": "backward", "JTv": "backward"}


# --- identity of a tree --------------------------------------------------------------

def tree_identity(root: Path) -> dict:
    """Path, git commit (and whether the .m files differ from it) when the
    tree is inside a git checkout, and a SHA-256 over its .m files (relative
    path and contents, sorted)."""
    root = Path(root).resolve()
    h = hashlib.sha256()
    count = 0
    for f in sorted(root.rglob("*.m")):
        if any(p.startswith(".") for p in f.relative_to(root).parts):
            continue
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
        count += 1
    ident = {"path": str(root), "mfiles_sha256": h.hexdigest(), "mfiles": count,
             "git_commit": None, "git_modified": None}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=30)
        if commit.returncode == 0:
            ident["git_commit"] = commit.stdout.strip()
            st = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "."],
                                capture_output=True, text=True, timeout=30)
            ident["git_modified"] = bool(st.stdout.strip()) if st.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return ident


def _sha256_file(path) -> str | None:
    if not path:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sha256_arrays(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.asfortranarray(a).tobytes(order="F"))
    return h.hexdigest()


# --- the inputs --------------------------------------------------------------------------

def input_variables(model, prob) -> dict:
    """The inputs the tree is given, as ``write_inputs`` hands them to Octave."""
    out = {}
    for m in range(1, int(model.L) + 1):
        out[f"in_weight_{m}"] = _to_mat(model.weight[m])
        out[f"in_bias_{m}"] = _to_mat(model.bias[m])
    out["in_data"] = np.asfortranarray(prob.data)
    for name in ("y", "y_mapped", "label_enum"):
        out[f"in_{name}"] = np.asarray(getattr(prob, name), dtype=np.float64).reshape(-1, 1)
    out["in_label_mat"] = np.asfortranarray(prob.label_mat)
    return out


def inputs_meta(opts, config_path, data_desc, model, prob) -> dict:
    config_text = Path(config_path).read_text(encoding="utf-8", errors="replace")
    return {
        "config_path": str(Path(config_path).resolve()),
        "config_text": config_text,
        "config_sha256": _sha256_file(config_path),
        "weights_path": str(Path(opts.weights).resolve()) if opts.weights else None,
        "weights_sha256": _sha256_file(opts.weights),
        "data_path": str(Path(opts.data).resolve()) if opts.data else None,
        "data_sha256": _sha256_file(opts.data),
        "data": data_desc,
        "seed": int(opts.seed),
        "instances": int(prob.l),
        "precision": opts.precision,
        "weights_digest": _sha256_arrays(*[model.weight[m] for m in range(1, int(model.L) + 1)],
                                         *[model.bias[m] for m in range(1, int(model.L) + 1)]),
        "data_digest": _sha256_arrays(prob.data, np.asarray(prob.y, dtype=np.float64)),
    }


# --- labels of records ---------------------------------------------------------------

def label_table(stmts: dict) -> dict:
    """``name or prefix -> (routine, direction, stage)`` for every record a
    run can make: statements by id (their candidate stage from the text),
    boundary routines by ``b:NAME``, the returned net's fields by
    ``net.FIELD``.  Written into an emitted bundle so MATLAB labels alike."""
    table = {}
    for sid, s in stmts.items():
        table[f"s{sid}"] = (s.func or "-", s.role or "-", s.kind or "-")
    for name, direction in _BOUNDARY_DIRECTION.items():
        table[f"b:{name}"] = (name, direction, "boundary")
    for fname, (direction, stage) in _NET_FIELDS.items():
        table[f"net.{fname}"] = ("lossgrad_subset", direction, stage)
    table["loss"] = ("lossgrad_subset", "forward", "loss")
    return table


def label_of(name: str, table: dict) -> tuple:
    if name in table:
        return table[name]
    if name.startswith("b:"):
        routine = name.split(":")[1]
        return table.get(f"b:{routine}", (routine, "-", "boundary"))
    return ("-", "-", "-")


def _dims(shape) -> str:
    return " ".join(str(int(x)) for x in shape)


def record_variables(records, table) -> dict:
    """``rec_index``, ``rec_layer`` and the ``rNNNNNN`` values of a live run."""
    lines, layers, out = [], [], {}
    for r in records:
        if r.name == "seconds":
            v = r.value()
            if v is not None:
                out["lossgrad_seconds"] = np.asarray(v, dtype=np.float64)
            continue
        var = "-"
        if r.has_values:
            v = r.value()
            if v is None:
                raise InputError("record", f"record {r.name} could not be read back ({r.problem})")
            var = Path(r.file).stem
            out[var] = np.asfortranarray(v)
        routine, direction, stage = label_of(r.name, table)
        lines.append(f"{r.name}\t{r.cls}\t{var}\t{_dims(r.shape)}\t{routine}\t{direction}\t{stage}\n")
        layers.append(float(r.layer))
    out["rec_index"] = "".join(lines)
    out["rec_layer"] = np.asarray(layers, dtype=np.float64).reshape(1, -1)
    return out


def stmt_table(stmts: dict) -> list:
    return [{k: getattr(s, k) for k in Stmt.__dataclass_fields__} for s in stmts.values()]


def build_meta(layout, ident, inputs, stmts) -> str:
    meta = {"format": FORMAT, "layout": layout.name, "tree": ident, "inputs": inputs,
            "statements": stmt_table(stmts),
            "labels": {k: list(v) for k, v in label_table(stmts).items()}}
    return json.dumps(meta, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


# --- record (live) ----------------------------------------------------------------------

def record(opts, out, compress: bool = False) -> dict:
    """Run the tree under Octave on ``opts``' inputs and write the trace ``out``."""
    from ..octave.layouts import detect_layout
    from ..compare import _fast_tmp, _say, default_tree, prepare
    from ..octave.run import run_matlab
    from ..octave.session import OctaveSession, find_octave

    tree = Path(opts.matlab_dir) if opts.matlab_dir else default_tree()
    layout = detect_layout(tree)
    find_octave()
    out = Path(out)
    if out.is_dir():
        raise InputError("--out", f"{out} is a directory; name the trace file to write")
    if not out.resolve().parent.is_dir():
        raise InputError("--out", f"cannot write {out}: folder {out.resolve().parent} does not exist")
    param, model, prob, config_desc, data_desc = prepare(opts)
    ident = tree_identity(layout.root)
    inputs = inputs_meta(opts, config_desc, data_desc, model, prob)
    _say(opts, f"record: Octave, {layout.name} layout at {layout.root}, {int(prob.l)} instances")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="simplecnn-record-", dir=_fast_tmp()) as work:
        with OctaveSession(timeout=opts.timeout) as octave:
            version = octave.eval("disp(OCTAVE_VERSION)")[-1].strip()
            run = run_matlab(octave, layout, param, model, prob, opts.precision, Path(work),
                             instrument=opts.instrument, timeout=opts.timeout)
        variables = {"simplecnn_trace": FORMAT,
                     "meta": build_meta(layout, ident, inputs, run.stmts),
                     "engine": f"Octave {version}"}
        variables.update(input_variables(model, prob))
        variables.update(record_variables(run.records, label_table(run.stmts)))
        write_trace(out, variables, compress=compress)
    n_rec = variables["rec_index"].count("\n")
    size = out.stat().st_size
    _say(opts, f"record: wrote {out} ({n_rec} records, {size / 2**20:.1f} MiB) in "
               f"{time.perf_counter() - t0:.1f} s")
    return {"path": str(out), "records": n_rec, "bytes": size, "layout": layout.name}


# --- a trace read back ------------------------------------------------------------------

class Trace:
    """A trace file read back: its variables, meta, and the records as a ``MatlabRun``."""

    def __init__(self, path):
        self.path = Path(path)
        self.vars = read_trace(self.path)
        try:
            self.meta = json.loads(self.vars["meta"])
        except (KeyError, ValueError) as e:
            raise TraceError(self.path, f"its meta variable is not readable JSON ({e})")

    @property
    def inputs(self) -> dict:
        return self.meta.get("inputs", {})

    def matlab_run(self) -> MatlabRun:
        """The records as ``octave_run.run_matlab`` returns them live."""
        stmts = {}
        for d in self.meta.get("statements", []):
            try:
                s = Stmt(**{k: d[k] for k in Stmt.__dataclass_fields__ if k in d})
            except TypeError as e:
                raise TraceError(self.path, f"its statement table is not this simplecnn's ({e}); "
                                            "record it again")
            stmts[s.id] = s
        index = self.vars.get("rec_index", "")
        layers = np.asarray(self.vars.get("rec_layer", np.zeros((1, 0)))).reshape(-1)
        lines = [ln for ln in index.split("\n") if ln]
        if len(lines) != layers.size:
            raise TraceError(self.path, f"rec_index has {len(lines)} records but rec_layer {layers.size}")
        records, outputs = [], {}
        for seq, (line, layer) in enumerate(zip(lines, layers)):
            bits = line.split("\t")
            name, cls, var, dims = bits[:4]
            shape = tuple(int(x) for x in dims.split())
            value = None
            if var != "-":
                if var not in self.vars:
                    raise TraceError(self.path, f"record {name} names variable {var}, which is missing")
                value = self.vars[var]
            nbytes = 0 if value is None else int(value.nbytes)
            r = Record(seq, name, float(layer), cls, var, nbytes, shape, None, value)
            records.append(r)
            if r.stmt_id is None:
                outputs[(name.replace("net.", ""), int(r.layer))] = r
        layout = _TraceLayout(self.meta.get("layout", "?"), Path(self.meta.get("tree", {}).get("path", ".")))
        secs = self.vars.get("lossgrad_seconds")
        run = MatlabRun(layout, True, stmts, records, outputs,
                        float(np.asarray(secs).reshape(-1)[0]) if secs is not None else float("nan"))
        run.timings = {"recorded_bytes": int(sum(r.nbytes for r in records))}
        return run


class _TraceLayout:
    """What the mapping reads of a layout: its name (and root, for messages)."""

    def __init__(self, name, root):
        self.name, self.root = name, root


def same_trace(a: dict, b: dict) -> list[str]:
    """Differences between two traces' variables (names, classes, shapes,
    values bit for bit), the run-dependent ones left out; [] when identical."""
    diffs = []
    names_a, names_b = set(a) - RUN_DEPENDENT, set(b) - RUN_DEPENDENT
    for n in sorted(names_a ^ names_b):
        diffs.append(f"{n}: only in the {'first' if n in names_a else 'second'}")
    for n in sorted(names_a & names_b):
        x, y = a[n], b[n]
        if isinstance(x, str) or isinstance(y, str):
            if x != y:
                diffs.append(f"{n}: text differs")
        elif x.dtype != y.dtype or x.shape != y.shape:
            diffs.append(f"{n}: {x.dtype}{x.shape} against {y.dtype}{y.shape}")
        elif x.tobytes(order="F") != y.tobytes(order="F"):
            diffs.append(f"{n}: values differ")
    return diffs


# --- compare against a trace ---------------------------------------------------------------

class TraceRecords:
    """``pipeline.run_compare``'s source for a trace: the inputs the trace
    was recorded on (checked against any the user gives) and its records."""
    origin = "the trace"

    def __init__(self, trace_path, opts, seed: int | None = None):
        self.trace = Trace(trace_path)
        self.opts = opts
        meta = self.trace.meta
        self.layout_name = meta.get("layout", "?")
        self.tree = f"{meta.get('tree', {}).get('path', '?')} (trace {trace_path})"
        ins = self.trace.inputs
        if opts.precision is None:
            opts.precision = ins.get("precision", "double")
        elif opts.precision != ins.get("precision"):
            self._refuse("--precision", f"{opts.precision}, the trace was recorded in {ins.get('precision')}")
        if opts.instances is not None and opts.instances != ins.get("instances"):
            self._refuse("--instances", f"{opts.instances}, the trace was recorded on {ins.get('instances')}")
        if seed is not None and seed != ins.get("seed") and not (ins.get("weights_path") and ins.get("data_path")):
            self._refuse("--seed", f"{seed}, the trace's generated inputs come from seed {ins.get('seed')}")

    def _refuse(self, what, detail):
        raise InputError(str(self.trace.path), f"recorded on other inputs: {what} {detail}")

    def inputs(self):
        from simplecnn_py.support.conventions import struct
        from simplecnn_py.cnn.init_model import init_model

        from ..compare import _read_param, _subset

        v, ins, opts = self.trace.vars, self.trace.inputs, self.opts
        with tempfile.TemporaryDirectory(prefix="simplecnn-trace-") as tmp:
            if opts.config:
                if _sha256_file(opts.config) != ins.get("config_sha256"):
                    self._refuse("--config", f"{opts.config} is not the config it was recorded with "
                                             f"({ins.get('config_path')}, sha256 {ins.get('config_sha256', '')[:12]})")
                config = Path(opts.config)
            else:
                config = Path(tmp) / Path(ins.get("config_path") or "trace.config").name
                config.write_text(ins.get("config_text", ""), encoding="utf-8")
            param = _read_param(config, opts.precision)
        model = init_model(param, seed=int(ins.get("seed", 0)))
        for m in range(1, int(model.L) + 1):
            for name, target in (("weight", model.weight), ("bias", model.bias)):
                a = v.get(f"in_{name}_{m}")
                if a is None or np.size(a) != np.size(target[m]):
                    raise TraceError(self.trace.path, f"in_{name}_{m} is missing or of the wrong size "
                                                      "for its own config")
                target[m] = np.asfortranarray(a.reshape(target[m].shape, order="F")
                                              .astype(target[m].dtype))
        if opts.weights:
            from simplecnn_py.support.datafile import load_weights

            W, b = load_weights(opts.weights, param)
            L = int(model.L)
            given = _sha256_arrays(*[W[m].astype(model.weight[m].dtype) for m in range(1, L + 1)],
                                   *[b[m].astype(model.bias[m].dtype) for m in range(1, L + 1)])
            if given != ins.get("weights_digest"):
                self._refuse("--weights", f"{opts.weights} holds other weights than the recorded ones")
        n = int(ins.get("instances", 0))
        prob = struct(data=np.asfortranarray(v["in_data"]), y=v["in_y"].reshape(-1).astype(np.float64),
                      y_mapped=v["in_y_mapped"].reshape(-1).astype(np.int64),
                      label_enum=v["in_label_enum"].reshape(-1).astype(np.float64),
                      label_mat=np.asfortranarray(v["in_label_mat"]), l=n)
        if _sha256_arrays(prob.data, prob.y) != ins.get("data_digest"):
            raise TraceError(self.trace.path, "its inputs do not match its own data digest (damaged?)")
        if opts.data:
            from simplecnn_py.cnn.check_data import check_data
            from simplecnn_py.support.datafile import load_data

            given = check_data(load_data(opts.data, param), param, where=opts.data)
            if given.l < n:
                self._refuse("--data", f"{opts.data} has {given.l} instances, the trace used {n}")
            given = _subset(given, n)
            if _sha256_arrays(given.data, np.asarray(given.y, dtype=np.float64)) != ins.get("data_digest"):
                self._refuse("--data", f"{opts.data}: its first {n} instances are not the recorded ones "
                                       f"(recorded from {ins.get('data')})")
        data_desc = ins.get("data") or "?"
        config_desc = opts.config or f"{ins.get('config_path')} (from the trace)"
        return param, model, prob, str(config_desc), data_desc

    @contextlib.contextmanager
    def records(self, param, model, prob, timings):
        t0 = time.perf_counter()
        run = self.trace.matlab_run()
        timings["trace_read_s"] = time.perf_counter() - t0
        yield run
