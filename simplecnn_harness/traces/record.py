"""Record once, check anywhere: the MATLAB side of a comparison as a file.

``simplecnn record`` runs a tree under Octave exactly as ``simplecnn
compare`` does (the loader ``inputs.py``, the MATLAB source
``sources/matlab.py``: copy, instrument, run) and writes what the recorder
saw into one trace file (``file.py``: MAT v7.3) instead of comparing it.
``simplecnn compare --trace`` reads the file back into the same
``MatlabRun`` a live run gives (``sources/trace.py``), so the
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

import hashlib
import json
import subprocess
import time
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import InputError

from ..octave.instrument import Stmt
from ..octave.prepare import to_mat
from ..sources.trace import Trace, TraceSource  # noqa: F401  (a trace read back; compare's trace source)
from .file import FORMAT, FORMAT_CHUNKED, sha256_arrays, sha256_file, write_trace

TraceRecords = TraceSource          # the name ``simplecnn compare --trace`` has used

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


# --- the inputs --------------------------------------------------------------------------

def input_variables(model, prob) -> dict:
    """The inputs the tree is given, as ``write_inputs`` hands them to Octave."""
    out = {}
    for m in range(1, int(model.L) + 1):
        out[f"in_weight_{m}"] = to_mat(model.weight[m])
        out[f"in_bias_{m}"] = to_mat(model.bias[m])
    out["in_data"] = np.asfortranarray(prob.data)
    for name in ("y", "y_mapped", "label_enum"):
        out[f"in_{name}"] = np.asarray(getattr(prob, name), dtype=np.float64).reshape(-1, 1)
    out["in_label_mat"] = np.asfortranarray(prob.label_mat)
    return out


def inputs_meta(ins) -> dict:
    """What a trace keeps of its inputs (``inputs.Inputs``): paths, digests, seed, sizes."""
    config_path, model, prob = ins.config, ins.model, ins.prob
    config_text = Path(config_path).read_text(encoding="utf-8", errors="replace")
    return {
        "config_path": str(Path(config_path).resolve()),
        "config_text": config_text,
        "config_sha256": sha256_file(config_path),
        "weights_path": str(Path(ins.weights).resolve()) if ins.weights else None,
        "weights_sha256": sha256_file(ins.weights),
        "data_path": str(Path(ins.data).resolve()) if ins.data else None,
        "data_sha256": sha256_file(ins.data),
        "data": ins.data_desc,
        "seed": int(ins.seed),
        "instances": int(prob.l),
        "precision": ins.precision,
        "weights_digest": sha256_arrays(*[model.weight[m] for m in range(1, int(model.L) + 1)],
                                         *[model.bias[m] for m in range(1, int(model.L) + 1)]),
        "data_digest": sha256_arrays(prob.data, np.asarray(prob.y, dtype=np.float64)),
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

def record(opts, out, compress: bool = False, progress=None, chunk: int | None = None,
           all_records: bool = False) -> dict:
    """Run the tree under Octave on ``opts``' inputs (``compare.Options``) and
    write the trace ``out``: the loader, a MATLAB source, and the trace writer.

    By default in chunks of ``chunk`` instances (None: one chunk, or chunks
    sized by compare's budget when the instances pass it), each chunk's
    stages as the judge takes them (``chunked.py``, format 2);
    ``all_records``: every record of one whole run (format 1, the emitted
    driver's)."""
    from .. import inputs as loader
    from ..sources.base import observer
    from ..sources.matlab import MatlabSource

    say = observer(progress if progress is not None else opts.progress)
    if chunk is not None and chunk < 1:
        raise InputError("--chunk", f"must be a positive number of instances, not {chunk}")
    source = MatlabSource(opts.matlab_dir, opts.timeout, opts.instrument)
    layout = source.layout
    out = Path(out)
    if out.is_dir():
        raise InputError("--out", f"{out} is a directory; name the trace file to write")
    if not out.resolve().parent.is_dir():
        raise InputError("--out", f"cannot write {out}: folder {out.resolve().parent} does not exist")
    ins = loader.load(opts.config, opts.data, opts.weights, opts.instances, opts.precision, opts.seed,
                      budget=loader.MEMORY_BUDGET, progress=say, command="compare")
    n = int(ins.prob.l)
    if all_records and chunk is not None and chunk < n:
        raise InputError("--chunk", "an --all-records trace holds one whole run; leave out --chunk")
    ident = tree_identity(layout.root)
    meta_inputs = inputs_meta(ins)
    t0 = time.perf_counter()
    if not all_records:
        from ..streamed import chunk_from_budget
        from .chunked import record_chunked

        if chunk is None:
            budget = chunk_from_budget(ins.model, ins.precision)
            chunk = budget if n > budget else n
        head = {"simplecnn_trace": FORMAT_CHUNKED,
                "meta": {"layout": layout.name, "tree": ident, "inputs": meta_inputs},
                "engine": octave_version()}
        head.update(input_variables(ins.model, ins.prob))
        info = record_chunked(source, ins, out, chunk, say, head)
        size = out.stat().st_size
        say(f"record: wrote {out} ({info['chunks']} chunk(s), {size / 2**20:.1f} MiB, "
            f"{size / n / 2**10:.0f} KiB per instance) in {time.perf_counter() - t0:.1f} s")
        return {"path": str(out), "records": info["records"], "chunks": info["chunks"], "chunk": info["chunk"],
                "bytes": size, "layout": layout.name}
    with source.execute(ins, say, command="record", engine=True) as (run, _, engine):
        variables = {"simplecnn_trace": FORMAT,
                     "meta": build_meta(layout, ident, meta_inputs, run.stmts),
                     "engine": engine}
        variables.update(input_variables(ins.model, ins.prob))
        variables.update(record_variables(run.records, label_table(run.stmts)))
        write_trace(out, variables, compress=compress)
    n_rec = variables["rec_index"].count("\n")
    size = out.stat().st_size
    say(f"record: wrote {out} ({n_rec} records, {size / 2**20:.1f} MiB) in {time.perf_counter() - t0:.1f} s")
    return {"path": str(out), "records": n_rec, "chunks": 1, "chunk": n, "bytes": size, "layout": layout.name,
            "all_records": True}


def octave_version() -> str:
    """``'Octave 7.3.0'``: the version of the Octave the harness runs."""
    from ..octave.session import find_octave

    try:
        got = subprocess.run([find_octave(), "--version"], capture_output=True, text=True, timeout=60)
        words = got.stdout.split("\n", 1)[0].split()
        return f"Octave {words[words.index('version') + 1]}" if "version" in words else "Octave"
    except (OSError, subprocess.SubprocessError):
        return "Octave"


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


