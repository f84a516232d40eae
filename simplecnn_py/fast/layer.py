"""Geometry of a conv layer and the standard index maps, shared by the fast paths.

``Layer(model, m)`` holds conv layer m's sizes (MATLAB's names); a fast path
applies only when the net's ``idx_pad``, ``idx_phiZ`` and ``idx_phiZ_pool``
are the standard ones (``standard``), i.e. those ``find_index_padding`` and
``find_index_phiZ`` build: it steps aside (the routine runs its reference
lines) when, for example, the harness feeds MATLAB's own maps in isolated
mode.  ``fusable`` says whether the fused passes apply (no tracing, every map
standard).  ``LazyCell`` is the base of the cells the fast paths fill only
when they are read.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from ..support import trace
from ..support.conventions import cell

F = "F"


@functools.lru_cache(maxsize=4096)
def span(start, count, step):
    """The slice start, start+step, ..., count values."""
    return slice(start, start + step * (count - 1) + 1, step)


def pool_base(d, a_conv, h, a_out, b_out):
    """1-based position, within one instance's d*a_conv*b_conv values, of the
    first entry (offset i = j = 0) of each pooling window: (d, a_out, b_out)."""
    c = np.arange(d, dtype=np.int64)[:, None, None]
    r = np.arange(a_out, dtype=np.int64)[None, :, None]
    q = np.arange(b_out, dtype=np.int64)[None, None, :]
    return 1 + c + d * (r * h + a_conv * (q * h))


class Layer:
    """Sizes of conv layer m (1-based names as in ``model``)."""

    def __init__(self, model, m):
        self.m = m
        self.d = int(model.ch_input[m])
        self.a, self.b = int(model.ht_input[m]), int(model.wd_input[m])
        self.p = int(model.wd_pad_added[m])
        self.a_pad, self.b_pad = int(model.ht_pad[m]), int(model.wd_pad[m])
        self.h, self.s = int(model.wd_filter[m]), int(model.strides[m])
        self.a_conv, self.b_conv = int(model.ht_conv[m]), int(model.wd_conv[m])
        self.d_out = int(model.ch_input[m + 1])
        self.pool = int(model.wd_subimage_pool[m])
        self.a_out, self.b_out = int(model.ht_input[m + 1]), int(model.wd_input[m + 1])
        self.rows = self.h * self.h * self.d                 # rows of phiZ
        self.ncol = self.a_conv * self.b_conv                # columns of phiZ per instance
        if self.pool > 1:
            self.base = pool_base(self.d_out, self.a_conv, self.pool, self.a_out, self.b_out)

    def key(self):
        return (self.d, self.a, self.b, self.p, self.h, self.s, self.d_out, self.pool)


def _index_maps(layer):
    """The standard idx_pad, idx_phiZ, idx_phiZ_pool of a layer (1-based)."""
    from ..cnn.find_index_phiZ import find_index_phiZ

    ly = layer
    i = np.arange(ly.a, dtype=np.int64)[:, None]
    j = np.arange(ly.b, dtype=np.int64)[None, :]
    idx_pad = (1 + (ly.p + i) + ly.a_pad * (ly.p + j)).reshape(-1, 1, order=F)
    idx_phiZ = find_index_phiZ(ly.a_pad, ly.b_pad, ly.d, ly.h, ly.s)
    idx_pool = (find_index_phiZ(ly.a_conv, ly.b_conv, ly.d_out, ly.pool, ly.pool)
                if ly.pool > 1 else None)
    return idx_pad, idx_phiZ, idx_pool


_standard_cache: dict = {}
_standard_lock = threading.Lock()


def standard(net, layer, which):
    """True when net's index map ``which`` of this layer is the standard one
    (the fast paths compute exactly those maps' gathers and scatters)."""
    given = getattr(net, which, None)
    given = given[layer.m] if given is not None else None
    if given is None:
        return False
    with _standard_lock:
        maps = _standard_cache.get(layer.key())
        if maps is None:
            maps = _standard_cache[layer.key()] = _index_maps(layer)
    want = {"idx_pad": maps[0], "idx_phiZ": maps[1], "idx_phiZ_pool": maps[2]}[which]
    given = np.asarray(given)
    return want is not None and given.size == want.size and np.array_equal(given.reshape(-1), want.reshape(-1))


class LazyCell(cell):
    """A cell whose entries are built the first time they are read: iterating,
    converting and comparing go through ``__getitem__``, so a lazy cell reads
    exactly as the filled one.  Subclasses define ``__getitem__``."""

    __slots__ = ()

    def __iter__(self):
        return (self[m] for m in range(1, len(self) + 1))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(list(self), dtype=dtype)

    def __eq__(self, other):
        return isinstance(other, cell) and list(self) == list(other)

    def tolist(self):
        return list(self)

    def built(self, m):
        """True once entry m has been built (for tests and the benchmark);
        reading it would build it."""
        return self._v[int(m) - 1] is not None


def fusable(model, net):
    """The conv layers' geometry when every index map is standard, else None."""
    if trace.enabled():
        return None
    layers = [Layer(model, m) for m in range(1, int(model.LC) + 1)]
    for ly in layers:
        if not (standard(net, ly, "idx_pad") and standard(net, ly, "idx_phiZ")):
            return None
        if ly.pool > 1 and not standard(net, ly, "idx_phiZ_pool"):
            return None
    return layers
