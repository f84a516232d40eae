"""The judge over instance chunks: metrics combined exactly, memory bounded.

A streamed compare runs both sides on instances 1..c, c+1..2c,
...; each chunk's two ``SideRun`` objects are handed to
:meth:`StreamJudge.add` in order and released.  Per stage:

* a stage with a column block per instance (every forward and backward
  stage but the ones below): its flat column-major values run through the
  instances in order, so the chunks are fed to one ``metrics.Accumulator``,
  which gathers them into the blocks ``compare_arrays`` uses: norms, maxima,
  ULPs and counts are bit for bit those of the whole arrays, and the first
  differing entry gives the instance where a divergence first shows;
* ``dlossdW``, ``dlossdb`` and ``loss``: sums over the instances (as the
  original's ``fungrad_minibatch`` adds them up), summed per side over the
  chunks and compared once at the end;
* ``idx_pad``, ``idx_phiZ`` (the model's, the same for every chunk): compared
  on the first chunk; ``idx_pool``: indices within an instance, compared
  exactly chunk by chunk (offsets removed per chunk).

:meth:`StreamJudge.results` gives the ``StageResult`` rows, the first
divergence in execution order (with its instance) and the loss of each
side.  Not yet here: the pooling near-tie analysis and isolated mode,
which need the other stages of the same chunk (they are per chunk too, and
come next).
"""
from __future__ import annotations

import numpy as np

from . import metrics as C
from .stages import INDEX_STAGES, canonical_stages

SUMMED = {"dlossdW", "dlossdb", "loss"}
MODEL_ONLY = {"idx_pad", "idx_phiZ"}


class StreamJudge:
    def __init__(self, model, precision, rtol=None):
        self.model, self.precision = model, precision
        self.rtol = rtol if rtol is not None else C.DEFAULT_RTOL[precision]
        self.dtype = C.working_dtype(precision)
        self.keys = canonical_stages(model)
        self.n = 0                                     # instances judged so far
        self.chunks = 0
        self.acc = {}                                  # key -> Accumulator (per-instance arrays)
        self.sums = {}                                 # key -> [candidate sum, reference sum]
        self.index = {}                                # key -> compare_index result (combined)
        self.shapes = {}                               # key -> (candidate shape, reference shape) of chunk 1
        self.per_instance = {}                         # key -> entries per instance
        self.missing = {}                              # key -> note (not compared)
        self.sources = {}                              # key -> (source, origin, note) of the reference

    def add(self, reference, candidate, instances: int):
        """The runs of the next chunk of ``instances`` instances (both sides)."""
        first = self.chunks == 0
        for key in self.keys:
            m, py = reference.stages.get(key), candidate.stages.get(key)
            if first and m is not None:
                self.sources[key] = (m.source, m.origin, m.note)
            if py is None or py.value is None:
                self.missing.setdefault(key, "the port recorded no such stage")
                continue
            if m is None or m.value is None:
                self.missing.setdefault(key, (m.note if m is not None else "") or "not exposed by the MATLAB code")
                continue
            a, b = py.value, m.value
            stage = key[2]
            self._shape(key, a, b, grow=stage not in SUMMED and stage not in MODEL_ONLY)
            if stage in SUMMED:
                s = self.sums.setdefault(key, [0.0, 0.0])
                s[0] = s[0] + np.asarray(a, dtype=np.float64)
                s[1] = s[1] + np.asarray(b, dtype=np.float64)
            elif stage in MODEL_ONLY:
                if first:
                    self.index[key] = self._index(key, a, b, 0)
            elif stage in INDEX_STAGES:
                self._add_index(key, a, b, instances)
            else:
                if np.size(a) != np.size(b):
                    self.missing.pop(key, None)
                    self.index[key] = C.compare_arrays(a, b, self.precision, self.rtol)   # sizes differ
                    continue
                self.per_instance.setdefault(key, np.size(b) // instances)
                self.acc.setdefault(key, C.Accumulator()).feed(C.flat(a, self.dtype), C.flat(b, self.dtype))
        self.n += instances
        self.chunks += 1

    def _shape(self, key, a, b, grow):
        """The stage's shapes over all chunks: the instances' columns (the last axis) added up."""
        new = [list(np.shape(a)), list(np.shape(b))]
        old = self.shapes.get(key)
        if old is None:
            self.shapes[key] = new
        elif grow:
            for o, x in zip(old, new):
                if o and x and len(o) == len(x):
                    o[-1] += x[-1]

    def _index(self, key, a, b, offset):
        mv, note = C.normalise_index(a, b, C.index_stride(self.model, key[0], key[2]))
        res = C.compare_index(a, mv)
        if note:
            res["note"] = note + ("; " + res["note"] if res.get("note") else "")
        return res

    def _add_index(self, key, a, b, instances):
        res = self._index(key, a, b, self.n)
        per = np.size(a) // max(instances, 1)
        old = self.index.get(key)
        if old is None:
            if res.get("n_diff"):
                res["first_instance"] = self.n + 1 + _first_entry(res) // max(per, 1)
            self.index[key] = res
            return
        if res.get("ok") is False and "n_diff" not in res:       # sizes differ
            self.index[key] = res
            return
        if res.get("n_diff"):
            old.setdefault("first_instance", self.n + 1 + _first_entry(res) // max(per, 1))
        old["n_diff"] = (old.get("n_diff") or 0) + (res.get("n_diff") or 0)
        old["numel"] += res["numel"]
        old["ok"] = bool(old["ok"] and res["ok"])
        old["max_abs_err"] = max(old.get("max_abs_err") or 0.0, res.get("max_abs_err") or 0.0)
        old["rel_err"] = None if old["n_diff"] else 0.0

    def results(self):
        """``(stage results, first divergence or None, {'python': loss, 'matlab': loss})``."""
        out = []
        first = None
        for key in self.keys:
            r = C.StageResult(*key, kind=C.kind_of(key[2]))
            src = self.sources.get(key)
            if src is not None:
                r.source, r.origin = src[0], src[1]
            where = None
            if key in self.acc:
                acc = self.acc[key]
                res = acc.result(self.rtol)
                res["numel"] = acc.seen
                if acc.first is not None:
                    where = acc.first // max(self.per_instance[key], 1) + 1
            elif key in self.sums:
                a, b = self.sums[key]
                res = C.compare_arrays(a, b, self.precision, self.rtol)
            elif key in self.index:
                res = dict(self.index[key])
                where = res.pop("first_instance", None)
            else:
                r.note = self.missing.get(key, "not compared")
                out.append(r)
                continue
            shp = self.shapes.get(key)
            if shp is not None:
                res["shape_python"], res["shape_matlab"] = shp
            r.compared = True
            for k2, v in res.items():
                setattr(r, k2, v)
            if src is not None and src[2]:
                r.note = (src[2] + "; " + r.note) if r.note else src[2]
            if not r.ok and first is None:
                first = {"layer": key[0], "direction": key[1], "stage": key[2]}
                if where is not None:
                    first["instance"] = int(where)
            out.append(r)
        loss = self.sums.get((int(self.model.L), "forward", "loss"))
        return out, first, {"python": None if loss is None else float(np.reshape(loss[0], -1)[0]),
                            "matlab": None if loss is None else float(np.reshape(loss[1], -1)[0])}


def _first_entry(res) -> int:
    """The 0-based entry of ``compare_index``'s first difference (from its note)."""
    note = res.get("note", "")
    marker = "first at entry "
    k = note.find(marker)
    return int(note[k + len(marker):].split(":")[0]) - 1 if k >= 0 else 0

