"""A trace file as a side of a comparison (``simplecnn compare --trace``).

A trace (``traces/``, docs/traces.md) holds what ``simplecnn record`` saw a
MATLAB tree compute, and the inputs it ran on.  Read back, its records are
the same ``MatlabRun`` a live run gives, mapped to the stages by the same
code (``matlab.side_run``): a verdict against a trace is the live one's.
The inputs are the trace's own; any the user gives must match them.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from simplecnn_py.support.errors import InputError

from ..octave.instrument import Stmt
from ..octave.records import Record
from ..octave.run import MatlabRun
from ..traces.chunked import chunk_var, is_chunk_var
from ..traces.file import FORMAT_CHUNKED, TraceError, read_trace, sha256_arrays, sha256_file
from .base import SideRun, Stage, observer
from .matlab import side_run


class Trace:
    """A trace file read back: its variables, meta, and the records as a ``MatlabRun``."""

    def __init__(self, path):
        self.path = Path(path)
        self.vars = read_trace(self.path, keep=lambda name: not is_chunk_var(name))    # the chunks: when judged
        try:
            self.meta = json.loads(self.vars["meta"])
        except (KeyError, ValueError) as e:
            raise TraceError(self.path, f"its meta variable is not readable JSON ({e})")
        self.chunked = self.vars.get("simplecnn_trace") == FORMAT_CHUNKED
        if self.chunked:
            sizes = np.asarray(self.vars.get("chunk_sizes", np.zeros((1, 0)))).reshape(-1)
            self.sizes = [int(x) for x in sizes]
            if not self.sizes or sum(self.sizes) != int(self.inputs.get("instances", -1)):
                raise TraceError(self.path, f"its chunks hold {sum(self.sizes)} instances, its meta "
                                            f"{self.inputs.get('instances')} (damaged?)")
        else:
            self.sizes = [int(self.inputs.get("instances", 0))]

    def chunk_stages(self, k: int) -> dict:
        """``{key: Stage}`` of chunk ``k`` (0-based) of a chunked trace, read now."""
        index_name = chunk_var(k, "index")
        index = read_trace(self.path, keep=lambda name: name == index_name).get(index_name)
        if index is None:
            raise TraceError(self.path, f"{index_name} is missing (damaged?)")
        rows = [ln.split("\t") for ln in index.split("\n") if ln]
        if any(len(r) != 8 for r in rows):
            raise TraceError(self.path, f"{index_name} is not a stage index")
        names = {r[3] for r in rows if r[3] != "-"}
        got = read_trace(self.path, keep=names.__contains__)
        stages = {}
        for layer, direction, stage, var, dims, source, origin, note in rows:
            value = None
            if var != "-":
                if var not in got:
                    raise TraceError(self.path, f"stage {layer} {direction} {stage} names variable {var}, "
                                                "which is missing")
                value = got[var].reshape(tuple(int(x) for x in dims.split()), order="F")
            stages[(int(layer), direction, stage)] = Stage(value, source, origin, note)
        return stages

    @property
    def inputs(self) -> dict:
        return self.meta.get("inputs", {})

    def matlab_run(self) -> MatlabRun:
        """The records as ``octave.run.execute`` returns them live."""
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


class TraceSource:
    """A trace as the reference side: the inputs it was recorded on (checked
    against any ``opts`` gives: config, data, weights, precision,
    instances, ``seed``) and its records.  ``opts.precision`` None takes the
    trace's."""
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
        sizes = self.trace.sizes
        if len(sizes) > 1:                  # judged chunk by chunk, as recorded
            if getattr(opts, "chunk", None) is None:
                opts.chunk = sizes[0]
            elif opts.chunk != sizes[0]:
                raise InputError("--chunk", f"{opts.chunk}: {trace_path} was recorded in chunks of {sizes[0]} "
                                            f"instances; give --chunk {sizes[0]} or leave it out")
            if getattr(opts, "mode", "propagated") != "propagated":
                raise InputError("--mode", f"{opts.mode}: {trace_path} was recorded in {len(sizes)} chunks, and "
                                           "isolated mode is not streamed yet; record it in one chunk "
                                           f"(--chunk {sum(sizes)})")

    def _refuse(self, what, detail):
        raise InputError(str(self.trace.path), f"recorded on other inputs: {what} {detail}")

    def check(self, inputs) -> None:
        """The inputs are the trace's own (:meth:`load_inputs`)."""

    def load_inputs(self):
        """The inputs the trace was recorded on, as the loader gives them."""
        from simplecnn_py.support.conventions import struct
        from simplecnn_py.cnn.init_model import init_model

        from ..inputs import Inputs, read_param, subset

        v, ins, opts = self.trace.vars, self.trace.inputs, self.opts
        with tempfile.TemporaryDirectory(prefix="simplecnn-trace-") as tmp:
            if opts.config:
                if sha256_file(opts.config) != ins.get("config_sha256"):
                    self._refuse("--config", f"{opts.config} is not the config it was recorded with "
                                             f"({ins.get('config_path')}, sha256 {ins.get('config_sha256', '')[:12]})")
                config = Path(opts.config)
            else:
                config = Path(tmp) / Path(ins.get("config_path") or "trace.config").name
                config.write_text(ins.get("config_text", ""), encoding="utf-8")
            param = read_param(config, opts.precision)
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
            given = sha256_arrays(*[W[m].astype(model.weight[m].dtype) for m in range(1, L + 1)],
                                   *[b[m].astype(model.bias[m].dtype) for m in range(1, L + 1)])
            if given != ins.get("weights_digest"):
                self._refuse("--weights", f"{opts.weights} holds other weights than the recorded ones")
        n = int(ins.get("instances", 0))
        prob = struct(data=np.asfortranarray(v["in_data"]), y=v["in_y"].reshape(-1).astype(np.float64),
                      y_mapped=v["in_y_mapped"].reshape(-1).astype(np.int64),
                      label_enum=v["in_label_enum"].reshape(-1).astype(np.float64),
                      label_mat=np.asfortranarray(v["in_label_mat"]), l=n)
        if sha256_arrays(prob.data, prob.y) != ins.get("data_digest"):
            raise TraceError(self.trace.path, "its inputs do not match its own data digest (damaged?)")
        if opts.data:
            from simplecnn_py.cnn.check_data import check_data
            from simplecnn_py.support.datafile import load_data

            given = check_data(load_data(opts.data, param), param, where=opts.data)
            if given.l < n:
                self._refuse("--data", f"{opts.data} has {given.l} instances, the trace used {n}")
            given = subset(given, n)
            if sha256_arrays(given.data, np.asarray(given.y, dtype=np.float64)) != ins.get("data_digest"):
                self._refuse("--data", f"{opts.data}: its first {n} instances are not the recorded ones "
                                       f"(recorded from {ins.get('data')})")
        data_desc = ins.get("data") or "?"
        config_desc = opts.config or f"{ins.get('config_path')} (from the trace)"
        return Inputs(param, model, prob, str(opts.config or ins.get("config_path")), str(config_desc), data_desc, opts.precision,
                      int(ins.get("seed", 0)), opts.data, opts.weights)

    def chunk_refusal(self, chunk) -> str | None:
        """Why ``chunk`` instances at a time cannot be judged from this trace (None: they can)."""
        sizes = self.trace.sizes
        if len(sizes) == 1:
            if chunk is not None and chunk >= sizes[0]:
                return None
            return f"the trace holds its {sizes[0]} instances in one piece (recorded without chunks)"
        if chunk != sizes[0]:
            return f"the trace was recorded in chunks of {sizes[0]} instances, not {chunk}"
        return None

    @contextlib.contextmanager
    def chunks(self, progress=None, command="compare"):
        """The trace chunk by chunk, as ``MatlabSource.chunks`` runs a tree:
        yields ``run(inputs, k)``, a context manager yielding chunk ``k``'s
        ``SideRun``, read from the file when asked (one chunk in memory)."""
        observer(progress)(f"{command}: the trace {self.trace.path}, {len(self.trace.sizes)} chunk(s)")

        @contextlib.contextmanager
        def one(inputs, k):
            sizes = self.trace.sizes
            if k >= len(sizes) or int(inputs.prob.l) != sizes[k]:
                raise InputError("--chunk", f"{self.chunk_refusal(None) or 'other chunks than recorded'}; "
                                            "run without --chunk")
            yield self._side(inputs, k)

        yield one

    def _side(self, inputs, k):
        """Chunk ``k`` as the judge takes it (a whole-run trace: its records mapped, as live)."""
        t0 = time.perf_counter()
        if not self.trace.chunked:
            run = self.trace.matlab_run()
            return side_run(run, inputs, {"trace_read_s": time.perf_counter() - t0}, self.tree, self.layout_name)
        stages = self.trace.chunk_stages(k)
        loss = stages.get((int(inputs.model.L), "forward", "loss"))
        value = None if loss is None or loss.value is None else float(loss.value.reshape(-1)[0])
        recorded = np.asarray(self.trace.vars.get("chunk_bytes", np.zeros((1, 0)))).reshape(-1)
        return SideRun(stages, value, {"trace_read_s": time.perf_counter() - t0}, None,
                       f"{self.tree} ({self.layout_name} layout)",
                       {"layout": self.layout_name, "tree": self.tree,
                        "recorded_bytes": int(recorded[k]) if k < recorded.size else 0})

    @contextlib.contextmanager
    def run(self, inputs, progress=None):
        if len(self.trace.sizes) > 1:
            raise InputError(str(self.trace.path), f"recorded in {len(self.trace.sizes)} chunks: it is judged "
                                                   f"chunk by chunk (--chunk {self.trace.sizes[0]})")
        yield self._side(inputs, 0)
