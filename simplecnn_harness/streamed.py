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

The candidate is any source: the port, or a ``--python``/``--against`` side
(``sources/python_side.StreamedSide``: its own ``chunks`` set up once, e.g.
one Octave session for a second MATLAB tree, whose chunks then run in the
worker thread; what its outcome adds after the judge is kept chunk by chunk).

Pooling winners that differ are located chunk by chunk and classified at
the end (near-ties with the whole run's sigma(S) error); when near-tie
flips remain, the stages after them are judged by their isolated error,
from a second streamed pass.  Isolated mode (the port) recomputes each
chunk's stages from the reference's.  The heatmap is built chunk by chunk
as the whole array's.  A trace recorded in chunks (``traces/chunked.py``)
is judged in its recorded chunks.  What cannot be streamed exactly yet is
refused in one line (exit 2) rather than judged differently: a trace
recorded in one piece cut smaller than it, another chunking than a
trace's, isolated mode with a side other than the port.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from simplecnn_py.fast.workspace import single_threaded_blas
from simplecnn_py.support.errors import InputError

from . import inputs as loader
from .judge.verdict import Verdict


STREAM_BUDGET = 192 * 2**20       # bytes of traced intermediates per side per chunk (compare's default chunking)
MEMORY_SHARE = 12                 # at most 1/12 of the available memory per chunk and side: a streamed run holds
#                                   about six chunks' worth at once (two judged or computed in Python, Octave's
#                                   working set, its records), both sides


def stream_budget() -> int:
    """Bytes of traced intermediates per chunk and side: ``STREAM_BUDGET``,
    less on a machine whose available memory (``MemAvailable`` of
    /proc/meminfo) is under ``MEMORY_SHARE`` times that."""
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(x.split()[1]) * 1024 for x in f if x.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return STREAM_BUDGET
    return max(1, min(STREAM_BUDGET, avail // MEMORY_SHARE))


def chunk_from_budget(model, precision, budget=None) -> int:
    """The instances per chunk whose traced intermediates fit ``budget`` (one side; ``stream_budget()``)."""
    budget = stream_budget() if budget is None else budget
    return max(1, int(budget // loader.bytes_per_instance(model, precision)))


def refuse_unless_streamable(opts, reference, candidate, python) -> None:
    """``InputError`` (one line, exit 2) for a combination ``--chunk`` cannot stream exactly yet."""
    why = None
    if opts.chunk is not None and opts.chunk < 1:
        raise InputError("--chunk", f"must be a positive number of instances, not {opts.chunk}")
    if opts.mode != "propagated" and (python is not None or not getattr(candidate, "keeps_net", False)):
        why = "isolated mode is streamed with the port only"
    elif not hasattr(reference, "chunks"):
        why = "this MATLAB side is not streamed yet (only a live tree or a trace)"
    elif hasattr(reference, "chunk_refusal") and reference.chunk_refusal(opts.chunk):
        why = reference.chunk_refusal(opts.chunk)              # a trace: its recorded chunking
    if why:
        raise InputError("--chunk", f"{why}; run without --chunk")


def streamable(opts, reference, candidate, python) -> bool:
    try:
        refuse_unless_streamable(opts, reference, candidate, python)
    except InputError:
        return False
    return True


def run_streamed(opts, ins, reference, candidate, chunk: int, say, t_start) -> Verdict:
    """The verdict of ``reference`` against ``candidate`` on ``ins``, ``chunk`` instances at a time.

    The two sides overlap: while Octave computes chunk k (this thread, which
    waits on it), a worker thread judges chunk k-1, releases it, and runs the
    port on chunk k.  The judge still takes the chunks in order, so the
    verdict is the sequential one."""
    from .judge.stream import StreamJudge

    n, model = int(ins.prob.l), ins.model
    chunk = min(chunk, n)
    count = -(-n // chunk)
    big_arrays_mapped()
    sj = StreamJudge(model, ins.precision, opts.rtol, n, opts.mode)
    timings = {}
    say(f"compare: streaming {n} instances in {count} chunk(s) of at most {chunk}")
    judge = _observed(sj, getattr(candidate, "observe", None))
    meta, describe, port_path = _run_chunks(ins, reference, candidate, chunk, judge, say, timings,
                                            keep_net=opts.mode == "isolated")
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        results, _, loss = sj.results()
        pooling, notes = pooling_check(sj, results, (ins, reference, candidate, chunk, say, timings))
        first = sj.divergence(results)
        heatmap = sj.heatmap(results)
    notes.insert(0, f"streamed in {count} chunk(s) of at most {chunk} instances (--chunk)")
    L = int(model.L)
    missing_backward = [m for m in range(1, L + 1)
                        if not any(r.compared for r in results if r.layer == m and r.direction == "backward")]
    if missing_backward:
        notes.append(f"no backward stage compared for layer(s) {missing_backward}")
    ok = first is None and any(r.compared for r in results)
    timings["compare_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    v = Verdict(ok, meta.get("layout", ""), meta.get("tree", describe), ins.config_desc, ins.data_desc, n,
                ins.precision, opts.mode, sj.rtol, results, first, pooling,
                {k: (round(x, 4) if isinstance(x, float) else x) for k, x in timings.items()}, notes,
                loss, heatmap, port_path, opts.command)
    v.chunks = count
    return v


def _run_chunks(ins, reference, candidate, chunk, sj, say, timings, keep_net=False):
    """Both sides over the chunks, each chunk handed to ``sj.add(reference run,
    candidate run, instances, inputs)`` in the worker thread and released;
    the timings added up into ``timings``: ``(reference meta, its
    description, the port's path)``.  ``keep_net``: the port keeps its net
    (isolated values)."""
    n = int(ins.prob.l)
    count = -(-n // chunk)
    meta, describe, port_path = {}, "", ""
    held = None                                          # the chunk waiting for the judge
    tick = chunk_progress(say, count)
    with reference.chunks(say) as run_chunk, candidate_chunks(candidate, say, keep_net) as run_b, \
            ThreadPoolExecutor(1, thread_name_prefix="simplecnn-chunk") as pool, tick:
        try:
            for k, start in enumerate(range(0, n, chunk)):
                c = min(chunk, n - start)
                part = dataclasses.replace(ins, prob=loader.subset(ins.prob, c, start))
                job, held = pool.submit(_judge_then_run, sj, held, functools.partial(run_b, k=k), part), None
                a_side = contextlib.ExitStack()
                try:
                    a = a_side.enter_context(run_chunk(part, k))
                except BaseException:
                    a_side.close()
                    _stop(run_b)
                    _release(job)
                    raise
                try:
                    b_side, b = job.result()
                except BaseException:
                    a_side.close()
                    _stop(run_b)
                    raise
                for t in (b.timings, a.timings):
                    for key, v in t.items():
                        if isinstance(v, (int, float)):
                            timings[key] = timings.get(key, 0) + v
                meta, describe, port_path = a.meta, a.describe, b.meta.get("port_path", "")
                held, job = [([b_side, a_side], a, b, c, part)], None
                del a, b, b_side
                tick(k, start, c)
            job, held = pool.submit(_judge_then_run, sj, held, None, None), None
            job.result()
        finally:
            if held:
                _close(held.pop()[0])
    return meta, describe, port_path


class chunk_progress:
    """The chunks' progress: a bar (count, rate, time left) on a terminal;
    elsewhere (a log) a line for about every tenth chunk and the last."""

    def __init__(self, say, count):
        self.say, self.count = say, count
        self.every = max(1, count // 10)
        self.bar = say.bar(total=count, desc="compare: chunks", unit="chunk") \
            if getattr(say, "live", False) and hasattr(say, "bar") else None

    def __call__(self, k, start, c):
        if self.bar is not None:
            self.bar.update(1)
        elif (k + 1) % self.every == 0 or k + 1 == self.count:
            self.say(f"compare: chunk {k + 1} of {self.count} computed on both sides "
                     f"(instances {start + 1}..{start + c})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def _judge_then_run(sj, held, candidate, part):
    """The worker's step: judge the chunk in the list ``held`` (both sides),
    releasing it, then run ``candidate`` on ``part``: ``(its ExitStack, its SideRun)``."""
    if held:
        stacks, a, b, c, inputs = held.pop()    # the only reference: the chunk goes with this frame's
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"), single_threaded_blas():
                sj.add(a, b, c, inputs)
        finally:
            del a, b                             # the records, then the files behind them
            _close(stacks)
            give_back_memory()
    if candidate is None:
        return None
    side = contextlib.ExitStack()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), single_threaded_blas():
            return side, side.enter_context(candidate(part))
    except BaseException:
        side.close()
        raise


def candidate_chunks(candidate, say, keep_net=False):
    """A context yielding ``run(inputs, k)``, the candidate's run of chunk
    ``k`` (a context manager yielding its ``SideRun``): its own
    ``chunks(progress)`` when it has one (set up once for all the chunks:
    ``python_side.StreamedSide``), else its ``run(inputs, None)`` per chunk
    (the port's without its net: the chunks' records are judged, never their
    net; ``keep_net``: with it, for isolated values)."""
    if getattr(candidate, "keep_net", False) and not keep_net:
        candidate = type(candidate)(keep_net=False)
    if hasattr(candidate, "chunks"):
        return candidate.chunks(say)
    return contextlib.nullcontext(lambda part, k: candidate.run(part, None))


def _stop(run_b):
    """The main thread's side failed (or Ctrl-C): end the candidate's Octave
    session now rather than wait for its chunk (a side without one goes on)."""
    stop = getattr(run_b, "stop", None)
    if stop is None and getattr(run_b, "octave", None) is not None:      # a MatlabSource as the candidate
        from .sources.matlab_pair import stop_session

        stop = functools.partial(stop_session, run_b.octave)
    if stop is not None:
        stop()


class _observed:
    """``sj`` whose ``add(reference, candidate, instances)`` first hands the
    chunk's two runs to ``observe`` (what a ``--python``/``--against`` side
    keeps for after the judge: ``python_side.StreamedSide.observe``)."""

    def __new__(cls, sj, observe):
        if observe is None:
            return sj
        self = super().__new__(cls)
        self.sj, self.observe = sj, observe
        return self

    def add(self, reference, candidate, instances, inputs=None):
        self.observe(reference, candidate, instances)
        self.sj.add(reference, candidate, instances, inputs)

    def __getattr__(self, name):
        return getattr(self.sj, name)


def big_arrays_mapped() -> None:
    """Arrays of 1 MiB and more get pages of their own (glibc's
    ``mallopt(M_MMAP_THRESHOLD)``, for the rest of the process; nothing
    elsewhere), returned to the system when freed: a streamed run's resident
    memory then follows the chunk being worked on instead of the heap's
    high-water mark, whatever the number of chunks (glibc otherwise raises
    the threshold as big blocks are freed)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-3, 1 << 20)                      # M_MMAP_THRESHOLD


def give_back_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``;
    nothing elsewhere): a released chunk's arrays leave holes that the next
    chunk's, of other sizes, do not always fill, and without it the process
    grows slowly with the number of chunks."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.lru_cache(maxsize=None)
def _glibc():
    """The C library when it is glibc (``mallopt`` and ``malloc_trim``), else None."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _close(stacks):
    for s in stacks:
        s.close()


def _release(job):
    """Wait for a worker step whose chunk will not be judged, and release what it ran."""
    try:
        out = job.result()
    except BaseException:
        return
    if out is not None:
        out[0].close()


def pooling_check(sj, results, rerun):
    """The near-tie analysis of differing pooling winners, as the unchunked
    judge makes it: ``(pooling flips {layer: info}, notes)``.  The flips were
    located chunk by chunk; when every flip of a layer is a near-tie (decided
    with the whole run's sigma(S) error), the stages after it are judged by
    their isolated error: in isolated mode those are the rows; else a second
    streamed pass (``rerun``: inputs, reference, candidate, chunk, say,
    timings) recomputes them, both sides again chunk by chunk, the port
    keeping its net (the rare case pays twice)."""
    pooling, flip_layers = sj.pooling(results)
    if not flip_layers:
        return pooling, []
    keys = sj.isolated_needed(results, flip_layers)
    if keys:
        ins, reference, candidate, chunk, say, timings = rerun
        say(f"compare: near-tie pooling flips at layer {', '.join(map(str, flip_layers))}: a second pass "
            f"for the isolated errors of the {len(keys)} stage(s) after them")

        class Isolated:
            def add(self, a, b, c, part):
                sj.add_isolated(a, b, c, part, keys)

        _run_chunks(ins, reference, candidate, chunk, Isolated(), say, timings, keep_net=True)
    return pooling, [sj.rejudge(results, flip_layers)]
