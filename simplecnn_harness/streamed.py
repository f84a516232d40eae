"""``simplecnn compare --chunk N``: the compare streamed over instance chunks.

Both sides compute the instances chunk by chunk (the MATLAB tree in ONE
Octave session, chunk after chunk; the port on the same chunk), each
chunk's stages go into a :class:`~simplecnn_harness.judge.stream.StreamJudge`
and are released, so memory is bounded by the chunk, not the run.  The
verdict is the unchunked one: per-instance stages are accumulated into the
same blocks as the whole arrays, ``dlossdW``/``dlossdb``/``loss`` are the
sums over all instances (as ``fungrad_minibatch`` adds them up), the first
divergence is the earliest stage in execution order, with the instance
where it first shows.

What cannot be streamed exactly yet is refused in one line (exit 2) rather
than judged differently: a trace or a ``--python``/``--against`` side,
isolated mode, and pooling winners that differ before any other divergence
(the near-tie analysis re-judges by isolated errors, whole-run).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from simplecnn_py.support.errors import InputError

from . import inputs as loader
from .judge.verdict import Verdict


STREAM_BUDGET = 192 * 2**20       # bytes of traced intermediates per side per chunk (compare's default chunking)


def chunk_from_budget(model, precision, budget=None) -> int:
    """The instances per chunk whose traced intermediates fit ``budget`` (one side; ``STREAM_BUDGET``)."""
    budget = STREAM_BUDGET if budget is None else budget
    return max(1, int(budget // loader.bytes_per_instance(model, precision)))


def refuse_unless_streamable(opts, reference, candidate, python) -> None:
    """``InputError`` (one line, exit 2) for a combination ``--chunk`` cannot stream exactly yet."""
    why = None
    if opts.chunk is not None and opts.chunk < 1:
        raise InputError("--chunk", f"must be a positive number of instances, not {opts.chunk}")
    if python is not None:
        why = "a --python/--against side is not streamed yet"
    elif opts.mode != "propagated":
        why = "isolated mode is not streamed yet"
    elif not hasattr(reference, "chunks"):
        why = "a trace is not streamed yet (only a live MATLAB tree)"
    elif not getattr(candidate, "keeps_net", False):
        why = "only the port is streamed as the Python side"
    if why:
        raise InputError("--chunk", f"{why}; run without --chunk")


def streamable(opts, reference, candidate, python) -> bool:
    try:
        refuse_unless_streamable(opts, reference, candidate, python)
    except InputError:
        return False
    return True


def run_streamed(opts, ins, reference, candidate, chunk: int, say, t_start) -> Verdict:
    """The verdict of ``reference`` against ``candidate`` on ``ins``, ``chunk`` instances at a time."""
    from .judge.stream import StreamJudge

    n, model = int(ins.prob.l), ins.model
    chunk = min(chunk, n)
    count = -(-n // chunk)
    sj = StreamJudge(model, ins.precision, opts.rtol)
    timings, meta, describe, port_path = {}, {}, "", ""
    say(f"compare: streaming {n} instances in {count} chunk(s) of at most {chunk}")
    with reference.chunks(say) as run_chunk:
        for k, start in enumerate(range(0, n, chunk)):
            c = min(chunk, n - start)
            part = dataclasses.replace(ins, prob=loader.subset(ins.prob, c, start))
            with candidate.run(part, None) as b, run_chunk(part, k) as a:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    sj.add(a, b, c)
                for t in (b.timings, a.timings):
                    for key, v in t.items():
                        if isinstance(v, (int, float)):
                            timings[key] = timings.get(key, 0) + v
                meta, describe, port_path = a.meta, a.describe, b.meta.get("port_path", "")
            say(f"compare: chunk {k + 1} of {count} judged (instances {start + 1}..{start + c})")
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        results, first, loss = sj.results()
    notes = [f"streamed in {count} chunk(s) of at most {chunk} instances (--chunk)"]
    pooling_check(model, results, first)
    L = int(model.L)
    missing_backward = [m for m in range(1, L + 1)
                        if not any(r.compared for r in results if r.layer == m and r.direction == "backward")]
    if missing_backward:
        notes.append(f"no backward stage compared for layer(s) {missing_backward}")
    ok = first is None and any(r.compared for r in results)
    timings["compare_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    v = Verdict(ok, meta.get("layout", ""), meta.get("tree", describe), ins.config_desc, ins.data_desc, n,
                ins.precision, opts.mode, sj.rtol, results, first, {},
                {k: (round(x, 4) if isinstance(x, float) else x) for k, x in timings.items()}, notes,
                loss, None, port_path, opts.command)
    v.chunks = count
    return v


def pooling_check(model, results, first) -> None:
    """Differing pooling winners with no earlier divergence need the whole-run
    near-tie analysis: refused; after an earlier divergence they are noted as
    downstream of it, as the unchunked judge does."""
    order = {r.key(): i for i, r in enumerate(results)}
    for m in range(1, int(model.LC) + 1):
        r = next((x for x in results if x.key() == (m, "forward", "idx_pool")), None)
        if r is None or not r.compared or r.ok or not r.n_diff:
            continue
        up = None if first is None else (first["layer"], first["direction"], first["stage"])
        if up is None or order[up] >= order[r.key()]:
            raise InputError("--chunk", f"pooling winners differ at layer {m} before any other divergence: "
                                        "the near-tie analysis is not streamed yet; run without --chunk "
                                        "(at most the streaming budget's instances run unchunked by default)")
        r.note = (f"{r.n_diff} pooling winners differ, downstream of the divergence at layer {up[0]}, "
                  f"{up[1]}, {up[2]}" + ("; " + r.note if r.note else ""))
