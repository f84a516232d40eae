"""Threads, scratch memory and BLAS control of the fast paths.

* ``run_parts(fn, groups, fold)``: the groups of instance chunks of a pass,
  run in the calling thread and ``NPARTS - 1`` kept helper threads, with
  single-threaded BLAS; results folded in group order, so that sums do not
  depend on the number of threads;
* ``split(n, chunk)`` / ``chunk_size(layers, itemsize)``: chunks and groups,
  a fixed function of n and the shapes (``CHUNK_BYTES`` of intermediates per
  chunk);
* ``scratch``, ``zero_bordered``: per-thread scratch arrays carved from
  arenas on huge pages (``_arena_empty``);
* ``openblas()``, ``openblas_corename()``, ``single_threaded_blas()``:
  numpy's OpenBLAS thread count and kernels.

No routine of its own: every kernel module builds on it.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import itertools
import math
import os
import threading

import numpy as np

from . import switch

F = "F"


_ARENA_BYTES = 16 * 2**20    # scratch of a thread comes from arenas of at least this size
_HUGE = 2**21                # a transparent huge page


def _arena_empty(work, size, dtype):
    """An uninitialised 1-D array of ``size`` items from this thread's arena.

    The scratch of a pass (about 20 MiB per thread here, in some 30 arrays)
    is carved out of a few large blocks instead of allocated array by array:
    numpy asks the kernel for transparent huge pages for allocations of 4 MiB
    and more, so the first pass of a process takes a few page faults of 2 MiB
    instead of thousands of 4 KiB (~2.5 us each on this machine's VM), and
    later passes run with fewer TLB misses.  Views start on 64-byte lines.
    """
    dtype = np.dtype(dtype)
    nbytes = -(-size * dtype.itemsize // 64) * 64
    arena = work.get("arena")
    if arena is None or arena[1] + nbytes > arena[0].size:
        capacity = max(_ARENA_BYTES, nbytes)
        block = np.empty(capacity + _HUGE, dtype=np.uint8)
        start = -block.ctypes.data % _HUGE                   # from a huge-page boundary
        arena = work["arena"] = [block[start:start + capacity], 0]
    block, offset = arena
    arena[1] = offset + nbytes
    return block[offset:offset + size * dtype.itemsize].view(dtype)


def zero_bordered(work, key, shape, dtype):
    """A zero array kept in ``work`` whose border stays zero: callers write
    only its interior (the padding buffers)."""
    key = ("zero", key, tuple(shape), np.dtype(dtype))
    buf = work.get(key)
    if buf is None:
        buf = _arena_empty(work, math.prod(shape), dtype).reshape(shape, order=F)
        buf[...] = 0
        work[key] = buf
    return buf


def scratch(work, name, shape, dtype):
    """A scratch array of ``shape`` from ``work``, F-order.

    A buffer is made half as large again as first asked for, so that a
    chunk one instance longer (see ``split``) fits as well.  The views
    handed out are kept with their buffer (the same call returns the same
    view: no slicing and reshaping on every chunk).
    """
    views = work.get((name, dtype))
    view = views.get(shape) if views is not None else None
    if view is not None:
        return view
    size = math.prod(shape)
    buf = work.get(("buf", name, np.dtype(dtype)))
    if buf is None or buf.size < size:
        buf = _arena_empty(work, size + size // 2, dtype)
        work[("buf", name, np.dtype(dtype))] = buf
        for key in [key for key in work if len(key) == 2 and key[0] == name and key[1] == dtype]:
            del work[key]                  # views of the old buffer
        views = work[(name, dtype)] = {}
    elif views is None:
        views = work[(name, dtype)] = {}
    view = views[shape] = buf[:size].reshape(shape, order=F)
    return view


NPARTS = max(1, min(8, os.cpu_count() or 1))     # threads (at most)
_helpers = None
_pool_lock = threading.Lock()


class _Helpers:
    """``n`` threads kept for the passes (so their scratch dicts persist),
    each running the job it is handed.

    A few lines of ``threading`` instead of ``concurrent.futures``, whose
    import (with ``logging``) is ~6 ms of every ``simplecnn`` process.
    """

    def __init__(self, n):
        self.n = n
        self._go = [threading.Semaphore(0) for _ in range(n)]
        self._done = threading.Semaphore(0)
        self._job, self._errors = None, []
        for k in range(n):
            threading.Thread(target=self._serve, args=(k,), name=f"simplecnn-{k + 1}", daemon=True).start()

    def _serve(self, k):
        while True:
            self._go[k].acquire()
            try:
                self._job()
            except BaseException as e:      # handed to the caller of run()
                self._errors.append(e)
            finally:
                self._done.release()

    def run(self, job, count):
        """``job()`` in ``count`` helpers and in the calling thread at once;
        returns when all are done, raising the first exception any raised.
        The helpers run it under the caller's floating-point error handling
        (``np.errstate`` is per thread): an overflow the caller ignores, or
        turns into an exception, is handled the same way in every thread."""
        count = min(count, self.n)
        caller = np.geterr()

        def job_as_caller():
            with np.errstate(**caller):
                job()

        self._job, self._errors = job_as_caller, []
        for go in self._go[:count]:
            go.release()
        try:
            job()
        finally:
            for _ in range(count):
                self._done.acquire()
        if self._errors:
            raise self._errors[0]


_blas = False        # not looked up yet


def openblas():
    """(set, get) of numpy's OpenBLAS thread count, or None if not found."""
    global _blas
    if _blas is not False:
        return _blas
    _blas = None
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so"))):
        try:
            lib = ctypes.CDLL(path)
            for suffix in ("64_", "", "_64"):
                s = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
                g = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
                if s is not None and g is not None:
                    s.argtypes, s.restype, g.restype = [ctypes.c_int], None, ctypes.c_int
                    c = getattr(lib, f"scipy_openblas_get_corename{suffix}", None)
                    if c is not None:
                        c.restype = ctypes.c_char_p
                    _blas = (s, g, c)
                    return _blas
        except OSError:
            continue
    return _blas


def openblas_corename():
    """The kernels numpy's OpenBLAS runs (``"Haswell"``, ``"SkylakeX"``, ...),
    or None if unknown (reported by ``simplecnn bench``)."""
    blas = openblas()
    if blas is None or blas[2] is None:
        return None
    return blas[2]().decode(errors="replace")


def workers():
    """How many threads to run the groups on: one per core (up to 8) when we
    can make BLAS single-threaded, else 1 (the groups run one after the
    other: the same results)."""
    override = os.environ.get("SIMPLECNN_THREADS")
    if override:
        return max(1, min(NPARTS, int(override)))
    if (os.cpu_count() or 1) < 2 or openblas() is None:
        return 1
    return NPARTS


def run_parts(fn, groups, fold=None):
    """[fn(group, work) for group in groups], in threads when possible.

    The threads take the groups one after the other as they become free (so
    a core held by another process does not hold the whole pass back).  With
    ``fold``, the results are folded in group order, ``total = fold(total,
    result)`` as soon as every earlier group is in (so at most a few results
    wait), and the total is returned: whatever is summed over groups is summed
    in the same order every time.  Without ``fold`` the results are returned
    in group order.  ``work`` is the calling thread's scratch dict, kept
    between calls (a few MiB per thread), so that repeated calls do not fault
    fresh pages in.  BLAS is single-threaded meanwhile: a chunk's products are
    small, and OpenBLAS's own threads would fight ours for the cores (and
    spin badly when other processes hold them).
    """
    global _helpers
    nw = workers()
    blas = openblas()
    done, state, lock = {}, {"next": 0, "total": None}, threading.Lock()

    def finish(i, result):
        if fold is None:
            done[i] = result
            return
        with lock:
            done[i] = result
            while state["next"] in done:
                r = done.pop(state["next"])
                state["total"] = r if state["next"] == 0 else fold(state["total"], r)
                state["next"] += 1

    with _pool_lock:
        before = None
        if blas is not None:
            before = blas[1]()
            blas[0](1)
        try:
            if nw == 1 or len(groups) == 1:
                work = thread_work()
                for i, g in enumerate(groups):
                    finish(i, fn(g, work))
            else:
                if _helpers is None or _helpers.n < nw - 1:
                    _helpers = _Helpers(nw - 1)        # (an older, smaller set just stays idle)
                taken = itertools.count()              # next() is atomic under the GIL
                failed = []

                def worker():
                    work = thread_work()
                    for i in iter(lambda: next(taken), None):
                        if i >= len(groups) or failed:
                            return
                        try:
                            finish(i, fn(groups[i], work))
                        except BaseException:
                            failed.append(i)           # the other threads stop too
                            raise

                _helpers.run(worker, nw - 1)
        finally:
            if before is not None:
                blas[0](before)
    return state["total"] if fold is not None else [done[i] for i in range(len(groups))]


_local = threading.local()


def thread_work():
    """This thread's scratch dict (see ``scratch``)."""
    work = getattr(_local, "work", None)
    if work is None:
        work = _local.work = {}
    return work


NGROUPS = 16          # the chunks of a batch form at most 16 groups (fixed by n and the shapes)


def split(n, chunk, groups=NGROUPS):
    """Instances 0..n-1 in n // chunk chunks (at least one) of consecutive
    instances whose sizes differ by one at most, in at most ``groups`` groups
    of consecutive chunks.

    So no chunk is shorter than ``chunk`` unless n is (a one-column product is
    a slow matrix-vector product), and none much longer.  The chunks and groups
    depend on n and the shapes only, not on the machine.
    """
    count = max(1, n // chunk)
    size, extra = divmod(n, count)
    chunks, c0 = [], 0
    for c in range(count):
        c1 = c0 + size + (1 if c < extra else 0)
        chunks.append((c0, c1))
        c0 = c1
    per = -(-len(chunks) // groups)
    return [chunks[k:k + per] for k in range(0, len(chunks), per)]


CHUNK_BYTES = 8 * 2**20     # intermediates of one chunk (per thread): stays in L3 (measured best of 1.5-16 MiB)


def chunk_size(layers, itemsize):
    """Instances per chunk: a fixed function of the shapes and the precision
    (so are the sums over chunks)."""
    per = 1
    for ly in layers:
        per = max(per, (2 * ly.rows * ly.ncol + ly.d * ly.a_pad * ly.b_pad + 2 * ly.d_out * ly.ncol) * itemsize)
    return max(1, CHUNK_BYTES // per)


def mtimes_into(out, A, B):
    """out = A*B for Fortran-ordered out (the product of conventions.mtimes)."""
    np.matmul(B.T, A.T, out=out.T)


@contextlib.contextmanager
def single_threaded_blas():
    """Inside, OpenBLAS runs one thread (when the fast paths are on and
    numpy's OpenBLAS is found; else nothing changes).

    For a loop that alternates the fast paths (which run their own threads
    with single-threaded BLAS) with small BLAS calls of its own: after a
    threaded BLAS call, OpenBLAS's idle worker spins for about 0.1 s and holds
    a core that the fast paths' next call needs (measured: a 13-instance
    ``R_JTBJv`` right after a threaded 87,600-long dot product takes 25 ms
    instead of 15).  ``newton`` runs its iterations inside.  The small calls
    (CG's dot products, norms) then sum in one thread: the same values up to
    rounding, and independent of the number of cores.
    """
    blas = openblas() if switch.enabled() else None
    if blas is None:
        yield
        return
    before = blas[1]()
    blas[0](1)
    try:
        yield
    finally:
        blas[0](before)
