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

Besides the metrics, per chunk: the differing pooling winners are located
(``stream_pooling.py``: the near-tie analysis is decided at the end with the
whole run's sigma(S) error, ``pooling.py``); the heatmap grid of every stage
is built as the whole array's (``heatmap.MappedAccumulator``: block maxima
only where a block differs); in isolated mode the port's stages are
recomputed from the reference's chunk (``sources/isolated.py``) and judged
in place of the propagated ones.  After near-tie flips, the stages after
them are judged by their isolated error: :meth:`StreamJudge.add_isolated`
takes the chunks of a second pass for that (``streamed.py`` runs it).

:meth:`StreamJudge.results` gives the ``StageResult`` rows, the first
divergence in execution order (with its instance) and the loss of each
side; :meth:`pooling`, :meth:`divergence` and :meth:`heatmap` complete the
verdict from them.
"""
from __future__ import annotations

import numpy as np

from . import metrics as C
from .heatmap import GridStream, MappedAccumulator, heatmap_grid, heatmap_stage, labelled
from .pooling import after_flips, classify_pooling, rejudge_after_flips
from .stages import INDEX_STAGES, canonical_stages
from .stream_pooling import LayerFlips

SUMMED = {"dlossdW", "dlossdb", "loss"}
MODEL_ONLY = {"idx_pad", "idx_phiZ"}


class StreamJudge:
    """``n``: the instances of the whole run (the heatmaps' layout; None: no
    heatmap); ``mode``: ``'propagated'`` or ``'isolated'`` (then :meth:`add`
    needs each chunk's inputs and the port's ``net``)."""

    def __init__(self, model, precision, rtol=None, n=None, mode="propagated"):
        self.model, self.precision = model, precision
        self.rtol = rtol if rtol is not None else C.DEFAULT_RTOL[precision]
        self.dtype = C.working_dtype(precision)
        self.keys = canonical_stages(model)
        self.total, self.mode = n, mode
        self.n = 0                                     # instances judged so far
        self.chunks = 0
        self.acc = {}                                  # key -> Accumulator (per-instance arrays)
        self.sums = {}                                 # key -> [candidate sum, reference sum]
        self.index = {}                                # key -> compare_index result (combined)
        self.shapes = {}                               # key -> (candidate shape, reference shape) of chunk 1
        self.per_instance = {}                         # key -> entries per instance
        self.missing = {}                              # key -> note (not compared)
        self.sources = {}                              # key -> (source, origin, note) of the reference
        self.flips = {}                                # pooled layer -> LayerFlips
        self.grids = {}                                # index key -> (GridStream, entries seen)
        self.small = {}                                # model-only index key -> (candidate, reference) copies
        self.where = {}                                # key -> instance of its first difference (results())
        self.iso_used = set()                          # keys judged by their isolated value (isolated mode)
        self.iso_acc, self.iso_sums = {}, {}           # the second pass's isolated values (add_isolated)

    def add(self, reference, candidate, instances: int, inputs=None):
        """The runs of the next chunk of ``instances`` instances (both sides);
        ``inputs``: the chunk's (isolated mode)."""
        first = self.chunks == 0
        P, M, norm = self._values(reference, candidate)
        iso = self._isolated(inputs, candidate, M) if self.mode == "isolated" else None
        for key in self.keys:
            m = reference.stages.get(key)
            if first and m is not None:
                self.sources[key] = (m.source, m.origin, m.note)
            stage = key[2]
            a = P.get(key)
            if iso is not None and stage not in MODEL_ONLY and key in iso:
                a = iso[key]
                self.iso_used.add(key)
            if a is None:
                self.missing.setdefault(key, "the port recorded no such stage")
                continue
            b = M.get(key)
            if b is None:
                self.missing.setdefault(key, (m.note if m is not None else "") or "not exposed by the MATLAB code")
                continue
            self._shape(key, a, b, grow=stage not in SUMMED and stage not in MODEL_ONLY)
            if stage in SUMMED:
                s = self.sums.setdefault(key, [0.0, 0.0])
                s[0] = s[0] + np.asarray(a, dtype=np.float64)
                s[1] = s[1] + np.asarray(b, dtype=np.float64)
            elif stage in MODEL_ONLY:
                if first:
                    self.index[key] = self._index(a, b, norm.get(key, ""))
                    self.small[key] = (np.array(a), np.array(b))
            elif stage in INDEX_STAGES:
                self._add_index(key, a, b, norm.get(key, ""), instances)
            else:
                if np.size(a) != np.size(b):            # sizes differ: the whole run's entries and shapes at the end
                    self.missing.pop(key, None)
                    res = self.index.get(key)
                    if res is None or "sized" not in res:
                        res = self.index[key] = dict(C.compare_arrays(a, b, self.precision, self.rtol), numel=0,
                                                     sized=True)
                    res["numel"] += int(np.size(b))
                    continue
                self.per_instance.setdefault(key, np.size(b) // instances)
                self._accumulator(key, b, instances).feed(C.flat(a, self.dtype), C.flat(b, self.dtype))
        self._locate_flips(P, M, instances)
        self.n += instances
        self.chunks += 1

    def _values(self, reference, candidate):
        """The chunk's values: the candidate's, the reference's (index stages in
        the candidate's representation, as the unchunked judge has them) and
        the notes of that normalisation."""
        P = {k: s.value for k, s in candidate.stages.items() if s.value is not None}
        M, norm = {}, {}
        for key, m in reference.stages.items():
            if m is None or m.value is None:
                continue
            M[key] = m.value
            if key[2] in INDEX_STAGES and key in P:
                mv, note = C.normalise_index(P[key], m.value, C.index_stride(self.model, key[0], key[2]))
                M[key], norm[key] = mv, note
        return P, M, norm

    def _isolated(self, inputs, candidate, M):
        """The candidate's stages of the chunk recomputed from the reference's inputs to each."""
        from ..sources.isolated import isolated_stages

        if getattr(candidate, "isolate", None) is not None:
            return candidate.isolate(M, self.dtype)
        if candidate.net is None or inputs is None:
            from simplecnn_py.support.errors import InputError

            raise InputError("--mode", "isolated needs the port as the Python side (its net re-runs each stage)")
        return isolated_stages(inputs.param, self.model, candidate.net, inputs.prob.label_mat, M, self.dtype)

    def _accumulator(self, key, b, instances):
        acc = self.acc.get(key)
        if acc is None:
            grid = GridStream(np.shape(b), instances, self.total) if self.total else None
            acc = self.acc[key] = MappedAccumulator(grid) if grid is not None and grid.ok else C.Accumulator()
        return acc

    def _locate_flips(self, P, M, instances):
        """The chunk's differing pooling winners (the port's propagated ``idx_pool``, as unchunked)."""
        for m in range(1, int(self.model.LC) + 1):
            key = (m, "forward", "idx_pool")
            if key not in P or key not in M:
                continue
            sig = (m, "forward", "sigmaS")
            self.flips.setdefault(m, LayerFlips()).add(self.model, m, self.n, instances, P[key], M[key],
                                                       P.get(sig), M.get(sig), self.precision)

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

    def _index(self, a, mv, note):
        res = C.compare_index(a, mv)
        if note:
            res["note"] = note + ("; " + res["note"] if res.get("note") else "")
        return res

    def _add_index(self, key, a, b, note, instances):
        res = self._index(a, b, note)
        self._index_grid(key, a, b, res, instances)
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

    def _index_grid(self, key, a, b, res, instances):
        """The heatmap grid of an index stage (shown when it is the first divergence)."""
        if not self.total or np.size(a) != np.size(b):
            return
        if key not in self.grids:
            self.grids[key] = [GridStream(np.shape(b), instances, self.total), 0]
        grid, seen = self.grids[key]
        if not grid.ok:
            return
        y = C.flat(b).astype(self.dtype)
        grid.scale_of(y)
        if res.get("n_diff"):
            grid.add(C.flat(a).astype(self.dtype), y, seen)
        self.grids[key][1] = seen + y.size

    def results(self):
        """``(stage results, first divergence or None, {'python': loss, 'matlab': loss})``."""
        out = []
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
                if res.pop("sized", False) and key in self.shapes:
                    sp, sm = self.shapes[key]
                    res["note"] = f"sizes differ: Python {_dims(sp)}, MATLAB {_dims(sm)}"
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
            if where is not None:
                self.where[key] = int(where)
            out.append(r)
        loss = self.sums.get((int(self.model.L), "forward", "loss"))
        return out, self.divergence(out), {"python": None if loss is None else float(np.reshape(loss[0], -1)[0]),
                                           "matlab": None if loss is None else float(np.reshape(loss[1], -1)[0])}

    def divergence(self, rows):
        """The first divergence in execution order (with the instance where it first shows), or None."""
        r = next((x for x in rows if x.compared and not x.ok and not x.explained), None)
        if r is None:
            return None
        first = {"layer": r.layer, "direction": r.direction, "stage": r.stage}
        if r.key() in self.where:
            first["instance"] = self.where[r.key()]
        return first

    def pooling(self, rows):
        """``pooling.classify_pooling`` of the rows with the flips located chunk by chunk:
        ``({layer: info}, layers whose flips are all near-ties)``."""
        def flips(m, sig_err):
            return self.flips[m].info(sig_err) if m in self.flips else None

        return classify_pooling(self.model, rows, self.keys, flips)

    def isolated_needed(self, rows, flip_layers):
        """The stages the re-judging after near-tie flips needs isolated values of:
        none in isolated mode (the rows are those), else the keys for :meth:`add_isolated`."""
        return [] if self.mode == "isolated" else [r.key() for r in after_flips(rows, self.keys, flip_layers)]

    def add_isolated(self, reference, candidate, instances, inputs, keys):
        """A chunk of the second pass: the isolated values of ``keys`` accumulated."""
        P, M, _ = self._values(reference, candidate)
        iso = self._isolated(inputs, candidate, M)
        for key in keys:
            a, b = iso.get(key), M.get(key)
            if a is None or b is None:
                continue
            if key[2] in SUMMED:
                s = self.iso_sums.setdefault(key, [0.0, 0.0])
                s[0] = s[0] + np.asarray(a, dtype=np.float64)
                s[1] = s[1] + np.asarray(b, dtype=np.float64)
            elif np.size(a) == np.size(b):
                self.iso_acc.setdefault(key, C.Accumulator()).feed(C.flat(a, self.dtype), C.flat(b, self.dtype))

    def rejudge(self, rows, flip_layers):
        """``pooling.rejudge_after_flips`` with the isolated errors (of the rows in
        isolated mode, else of the second pass); its note."""
        by_key = {r.key(): r for r in rows}

        def isolated(key):
            if self.mode == "isolated":
                r = by_key[key]
                return {"ok": r.ok, "rel_err": r.rel_err} if key in self.iso_used else None
            if key in self.iso_acc:
                return self.iso_acc[key].result(self.rtol)
            if key in self.iso_sums:
                return C.compare_arrays(*self.iso_sums[key], self.precision, self.rtol)
            return None

        return rejudge_after_flips(rows, self.keys, flip_layers, isolated)

    def heatmap(self, rows):
        """``heatmap.worst_heatmap`` of the whole run, from the grids built chunk by chunk."""
        by_key = {r.key(): r for r in rows}

        def usable(key, sized=True):
            if key in self.acc:
                return isinstance(self.acc[key], MappedAccumulator)
            if key in self.grids:
                return self.grids[key][0].ok and by_key[key].numel == self.grids[key][1]
            pair = self.sums.get(key) or self.small.get(key)
            return pair is not None and (not sized or np.size(pair[0]) == np.size(pair[1]))

        w = heatmap_stage(rows, usable)
        if w is None:
            return None
        key = w.key()
        if key in self.acc:
            return labelled(self.acc[key].grid.result(self.shapes[key][1]), w)
        if key in self.grids:
            return labelled(self.grids[key][0].result(), w)
        return labelled(heatmap_grid(*(self.sums.get(key) or self.small[key]), self.precision), w)


def _first_entry(res) -> int:
    """The 0-based entry of ``compare_index``'s first difference (from its note)."""
    note = res.get("note", "")
    marker = "first at entry "
    k = note.find(marker)
    return int(note[k + len(marker):].split(":")[0]) - 1 if k >= 0 else 0


def _dims(shape) -> str:
    """A shape as the judge's notes write it (``metrics.compare_arrays``)."""
    return " x ".join(str(x) for x in shape) or "scalar"
