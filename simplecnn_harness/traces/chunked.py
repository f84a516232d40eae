"""Traces recorded chunk by chunk, holding only what the judge takes.

``simplecnn record`` runs the tree over the instances in chunks, in ONE
Octave session (``MatlabSource.chunks``, the streamed compare's own MATLAB
side), and writes each chunk into the trace file as it comes (a worker
thread writes chunk k-1 while Octave computes chunk k), so memory is
bounded by two chunks, not by the run.  What a chunk keeps is the side the
judge is handed (``SideRun``): the canonical stages that
``sources/matlab_stages.matlab_stages`` mapped from the chunk's records,
each with its value (in MATLAB's class and shape), where it came from
(statement file and line, routine boundary, net field) or why it is not
exposed.  The records the mapping did not take are not kept.  Values are
deflated when a sample shows it pays; the index maps (``idx_phiZ``, ``idx_pad``,
and any ``idx_*`` stage equal to one stored before) are stored once and
named again by the later chunks, and a value equal to another of its chunk
(the delta leaving a layer is the one entering the next) once per chunk.

Variables (format ``simplecnn-trace/2``; all top-level, docs/traces.md):

``simplecnn_trace``, ``meta``, ``engine``, ``in_*``   as in format 1
``chunk_sizes``      1 x C: the instances of each chunk, in order
``chunk_bytes``      1 x C: what Octave recorded for each chunk (bytes)
``lossgrad_seconds`` 1 x C: lossgrad_subset's time on each chunk
``cK_index``         chunk K (1..C): one line per stage,
                     ``layer<TAB>direction<TAB>stage<TAB>var<TAB>dims<TAB>source<TAB>origin<TAB>note``
``cK_vJ``            its values (``var``; ``-`` for a stage not exposed; a
                     variable of an earlier chunk for a map stored once)
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .file import COMPRESS_FROM, FORMAT_CHUNKED, trace_writer


def chunk_var(k: int, what: str) -> str:
    """The name of chunk ``k``'s (0-based) variable ``what``: ``c{k+1}_{what}``."""
    return f"c{k + 1}_{what}"


def is_chunk_var(name: str) -> bool:
    head = name.split("_", 1)[0]
    return len(head) > 1 and head[0] == "c" and head[1:].isdigit() and "_" in name


def _clean(text) -> str:
    return " ".join(str(text or "").split())


class _Maps:
    """The ``idx_*`` stages stored so far, by digest: a later chunk's equal map names the stored variable."""

    def __init__(self):
        self.seen = {}

    def find(self, stage, value):
        if not stage.startswith("idx_"):
            return None, None
        a = np.asfortranarray(value)
        h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes(order="F"))
        digest = h.hexdigest()
        return self.seen.get(digest), digest


SAMPLE = 1 << 18                # bytes of a value deflated to decide whether the whole is


def deflates(value) -> bool:
    """Whether deflating ``value`` pays: a sample of it shrinks by a sixth or
    more.  Dense products (``W'*delta``) barely do and would only cost time;
    ReLU, pooling and padding zeros do.  (HDF5's shuffle filter before
    deflate was measured here: slower, and bigger on these values.)"""
    import zlib

    a = np.asarray(value)
    if a.nbytes < COMPRESS_FROM:
        return False
    sample = np.ascontiguousarray(a.reshape(-1, order="A")[: max(1, SAMPLE // a.itemsize)]).tobytes()
    return len(zlib.compress(sample, 1)) < 5 * len(sample) / 6


def write_chunk(add, k: int, side, maps: _Maps) -> int:
    """Chunk ``k``'s stages (``side``: a ``SideRun``) through ``add``; how many stage records.
    A value equal to one stored before in the chunk (same class, shape and
    bits: the delta leaving a layer and the one entering the next) is named
    again, not stored twice."""
    lines, stored, by_id = [], 0, {}
    by_shape: dict = {}                     # (dtype, shape) -> [(value, var)] stored in this chunk
    for key, st in side.stages.items():
        layer, direction, stage = key
        var, dims = "-", ""
        if st.value is not None:
            value = np.asarray(st.value)
            dims = " ".join(str(int(x)) for x in value.shape)
            var = by_id.get(id(st.value))
            same = by_shape.setdefault((value.dtype.str, value.shape), [])
            if var is None:
                var = next((v for a, v in same if np.array_equal(a, value)), None)
            digest = None
            if var is None:
                var, digest = maps.find(stage, value)
            if var is None:
                stored += 1
                var = chunk_var(k, f"v{stored}")
                add(var, value, deflates(value))
                if digest is not None:
                    maps.seen[digest] = var
                same.append((value, var))
            by_id[id(st.value)] = var
        lines.append(f"{int(layer)}\t{direction}\t{stage}\t{var}\t{dims}\t{_clean(st.source)}\t"
                     f"{_clean(st.origin)}\t{_clean(st.note)}\n")
    add(chunk_var(k, "index"), "".join(lines))
    return len(lines)


def _write_then_release(add, k, holder, held, maps) -> int:
    """The worker's step: chunk ``k`` (the one ``SideRun`` in ``holder``) into
    the file, then its records released (``held``, its block)."""
    try:
        return write_chunk(add, k, holder.pop(), maps)
    finally:
        held.close()


def record_chunked(source, ins, out, chunk: int, say, head: dict) -> dict:
    """Run ``source`` (a ``MatlabSource``) on ``ins`` ``chunk`` instances at a
    time and write the trace ``out``; ``head``: the variables every trace
    starts with (format, meta fields, inputs), completed here."""
    from .. import inputs as loader

    n = int(ins.prob.l)
    chunk = max(1, min(int(chunk), n))
    count = -(-n // chunk)
    say(f"record: {n} instances in {count} chunk(s) of at most {chunk}")
    sizes, seconds, recorded = [], [], []
    maps, t0, records = _Maps(), time.perf_counter(), 0
    with trace_writer(out, compress=True) as add, source.chunks(say, command="record") as run_chunk, \
            ThreadPoolExecutor(1, thread_name_prefix="simplecnn-record") as pool:   # exits first: waits for its job
        for name, value in head.items():
            if name not in ("meta", "engine"):
                add(name, value)
        job = None                          # the worker writing the chunk before, while Octave computes this one
        for k, start in enumerate(range(0, n, chunk)):
            c = min(chunk, n - start)
            part = dataclasses.replace(ins, prob=loader.subset(ins.prob, c, start))
            held = contextlib.ExitStack()
            try:
                side = held.enter_context(run_chunk(part, k))
                if job is not None:
                    records += job.result()
            except BaseException:
                held.close()
                raise
            sizes.append(float(c))
            seconds.append(float(side.timings.get("octave_lossgrad_s", float("nan"))))
            recorded.append(float(side.meta.get("recorded_bytes", 0)))
            job = pool.submit(_write_then_release, add, k, [side], held, maps)
            del side
            say(f"record: chunk {k + 1} of {count} computed (instances {start + 1}..{start + c})")
        records += job.result()
        add("chunk_sizes", np.asarray(sizes).reshape(1, -1))
        add("chunk_bytes", np.asarray(recorded).reshape(1, -1))
        add("lossgrad_seconds", np.asarray(seconds).reshape(1, -1))
        meta = dict(head["meta"], format=FORMAT_CHUNKED, chunk=chunk, chunks=count)
        add("meta", json.dumps(meta, ensure_ascii=True, sort_keys=True, separators=(",", ":")))
        add("engine", head.get("engine", ""))
    return {"chunks": count, "chunk": chunk, "records": records, "seconds": time.perf_counter() - t0}
