"""Comparison metrics, per stage, and the verdict.

For floating-point stages (Python value ``a``, MATLAB value ``b``, both cast
to the working precision, compared entry by entry in column-major order):

* ``rel_err``  = ||a - b||_F / ||b||_F (0 when both are zero),
* ``max_abs_err`` = max |a - b|,
* ``max_ulp`` = the largest distance in units in the last place of the
  working precision (adjacent floats are 1 apart, +0 and -0 are 0 apart),
* ``n_diff`` = entries that differ (+0 and -0 count as equal),
* ``ok`` = shapes agree and ``rel_err <= rtol`` (default 1e-13 in double,
  1e-4 in single; overridable).

Index stages (``idx_pad``, ``idx_phiZ``, ``idx_pool``) are compared exactly,
after :func:`normalise_index` removes per-instance offsets (the real code
stored ``idx_phiZ`` repeated for a batch and ``idx_pool`` pointing into the
whole batch in some versions).  Pooling winners that differ are counted and
located, and each is classified: a *tie-rule difference* when the window's
two values are exactly equal on both sides (another winner than the first
maximum: a divergence of ``idx_pool``), a *near-tie* when they differ by no
more than a few ULP (or than the error already present in that layer's
sigma(S)), so different summation orders can flip the winner, else a real
difference.  When every flip is a near-tie the ``idx_pool`` stage is
accepted with a note, and the stages downstream, which a flip changes, are
judged by their own (isolated) error (``isolated.py``) and marked
``explained``.

A MATLAB array whose shape differs from Python's but has the same number of
entries (a reshape done at another statement, e.g. ``net.Z{LC+1}`` kept as
(d*a*b) x n) is compared in column-major order (both shapes are reported);
a different number of entries fails.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .stages import INDEX_STAGES

DEFAULT_RTOL = {"double": 1e-13, "single": 1e-4}
NEAR_TIE_ULPS = 16


@dataclass
class StageResult:
    layer: int
    direction: str
    stage: str
    kind: str = "array"            # 'array' | 'index' | 'scalar'
    compared: bool = False
    ok: bool | None = None
    rel_err: float | None = None
    max_abs_err: float | None = None
    max_ulp: float | None = None
    n_diff: int | None = None
    numel: int | None = None
    shape_python: list | None = None
    shape_matlab: list | None = None
    source: str = ""
    origin: str = ""
    note: str = ""
    explained: bool = False
    isolated_rel_err: float | None = None
    extra: dict = field(default_factory=dict)

    def key(self):
        return (self.layer, self.direction, self.stage)

    def to_json(self):
        d = asdict(self)
        for k in ("rel_err", "max_abs_err", "max_ulp", "isolated_rel_err"):
            v = d[k]
            if v is not None and not np.isfinite(v):
                d[k] = None if np.isnan(v) else ("inf" if v > 0 else "-inf")
        if not d["extra"]:
            d.pop("extra")
        return d


def working_dtype(precision):
    return np.float32 if precision == "single" else np.float64


def flat(a, dtype=None):
    a = np.asarray(a)
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    return a.reshape(-1, order="F")


def _ordered(i, bits):
    """Float bit patterns (as signed ints) mapped to a monotonic integer scale
    on which adjacent floats are 1 apart and +0 == -0."""
    s = i >> (bits - 1)                          # 0 or -1
    return (i ^ (s & np.array((1 << (bits - 1)) - 1, dtype=i.dtype))) - s


def ulp_distance(A, B) -> np.ndarray:
    """Distance in ULPs between same-dtype float arrays (as float64; inf at a NaN)."""
    bits = 32 if A.dtype == np.float32 else 64
    it = np.int32 if bits == 32 else np.int64
    ia, ib = A.view(it), B.view(it)
    fa, fb = _ordered(ia, bits), _ordered(ib, bits)
    mixed = (ia ^ ib) < 0
    with np.errstate(over="ignore"):
        d = np.abs(fa - fb).astype(np.float64)          # exact where the signs agree
    d[mixed] = np.abs(fa[mixed].astype(np.float64)) + np.abs(fb[mixed].astype(np.float64))
    nan = np.isnan(A) | np.isnan(B)
    if nan.any():
        d = np.where(np.isnan(A) & np.isnan(B), 0.0, np.where(nan, np.inf, d))
    return d


def max_ulp(A, B) -> float:
    """``max(ulp_distance(A, B))`` without NaNs, in few passes (exact for same-sign pairs)."""
    bits = 32 if A.dtype == np.float32 else 64
    it = np.int32 if bits == 32 else np.int64
    ia, ib = A.view(it), B.view(it)
    fa, fb = _ordered(ia, bits), _ordered(ib, bits)
    mixed = (ia ^ ib) < 0                                # signs differ: the distance passes zero
    out = 0.0
    with np.errstate(over="ignore"):
        d = fa - fb                                      # exact where the signs agree
    if mixed.any():
        out = float(np.max(np.abs(fa[mixed].astype(np.float64)) + np.abs(fb[mixed].astype(np.float64))))
        d[mixed] = 0
    if d.size:
        out = max(out, float(max(int(d.max()), -int(d.min()))))
    return out


STEP = 1 << 16                      # entries per block: cache friendly; a stream holds under one block per stage and side


class Accumulator:
    """The metrics of two arrays, gathered chunk by chunk: the squared norms
    of ``a - b`` and of ``b`` (in float64), the largest absolute difference
    and ULP distance, the entries that differ and those NaN/Inf on one side
    only, and where the first difference is (``first``: its 0-based index
    in the flat arrays).  Chunks are consecutive pieces of the column-major
    flat arrays, cast to the working precision: :meth:`add` takes one block
    as it is (:func:`compare_arrays` adds blocks of ``STEP`` entries);
    :meth:`feed` takes pieces of any length (an array of instance chunks
    streamed, the instances last) and gathers them into the same ``STEP``
    blocks, so that the metrics of a stream are bit for bit those of the
    whole array."""

    def __init__(self):
        self.sq_d = self.sq_b = 0.0
        self.max_abs = self.max_u = 0.0
        self.n_diff = self.n_bad = 0
        self.first = None                 # flat index of the first entry that differs
        self.seen = 0                     # entries added so far
        self._pending = []                # pieces fed, not yet a whole block

    def feed(self, x, y):
        """Consecutive entries ``x`` of ``a`` and ``y`` of ``b`` (flat, same dtype), of any length.

        The entries held back from earlier pieces (fewer than ``STEP``) are
        completed into one block; the piece's whole blocks are added as views
        of it; what is left (fewer than ``STEP``) is copied and held, so no
        piece is kept alive after the call (each chunk of a stream is
        released as soon as it is judged)."""
        start = 0
        if self._pending:
            held = sum(p[0].size for p in self._pending)
            take = min(STEP - held, x.size)
            self._pending.append((x[:take], y[:take]))
            start = take
            if held + take < STEP:
                self._pending = [(np.concatenate([p[0] for p in self._pending]),
                                  np.concatenate([p[1] for p in self._pending]))]
                return
            self.flush()
        whole = start + ((x.size - start) // STEP) * STEP
        for s in range(start, whole, STEP):
            self.add(x[s:s + STEP], y[s:s + STEP])
        if whole < x.size:
            self._pending = [(x[whole:].copy(), y[whole:].copy())]

    def flush(self):
        """Add what :meth:`feed` still holds (the last, partial block)."""
        if self._pending:
            xs = np.concatenate([p[0] for p in self._pending])
            ys = np.concatenate([p[1] for p in self._pending])
            self._pending = []
            if xs.size:
                self.add(xs, ys)

    def add(self, x, y):
        """One block: ``x`` of ``a``, ``y`` of ``b`` (flat, same dtype)."""
        offset, self.seen = self.seen, self.seen + x.size
        x64 = x.astype(np.float64, copy=False)
        y64 = y.astype(np.float64, copy=False)
        diff = x64 - y64
        cd, cb = float(np.dot(diff, diff)), float(np.dot(y64, y64))
        if not (np.isfinite(cd) and np.isfinite(cb)):     # NaN/Inf somewhere: the careful path
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            bad = ~np.isfinite(diff) & ~same
            if self.first is None and not same.all():
                self.first = offset + int(np.argmin(same))
            self.n_bad += int(np.count_nonzero(bad))
            diff = np.where(same | bad, 0.0, diff)
            y64 = np.where(np.isfinite(y64), y64, 0.0)
            cd, cb = float(np.dot(diff, diff)), float(np.dot(y64, y64))
            keep = ~same & ~bad
            x, y = x[keep], y[keep]
            self.n_diff += int(np.count_nonzero(bad))
        self.sq_d += cd
        self.sq_b += cb
        if cd == 0.0 and not diff.any():            # the usual block: equal entries (one pass, no copy)
            return
        absd = np.abs(diff)
        if absd.size:
            self.max_abs = max(self.max_abs, float(absd.max()))
        k = int(np.count_nonzero(absd))
        self.n_diff += k
        if k:
            if self.first is None:
                self.first = offset + int(np.argmax(absd != 0))
            self.max_u = max(self.max_u, max_ulp(x, y))

    def rel_err(self, when_b_is_zero="inf") -> float:
        """||a - b||_F / ||b||_F: 0 when equal; when ``b`` is all zeros, inf
        (``when_b_is_zero='absolute'``: ||a - b||_F); NaN when a NaN/Inf is
        on one side only."""
        self.flush()
        nd, nb = np.sqrt(self.sq_d), np.sqrt(self.sq_b)
        if self.n_bad:
            return float("nan")
        if nd == 0:
            return 0.0
        if nb > 0:
            return float(nd / nb)
        return float(nd) if when_b_is_zero == "absolute" else float("inf")

    def result(self, rtol) -> dict:
        """``ok``, ``rel_err``, ``max_abs_err``, ``max_ulp``, ``n_diff``, ``note`` (see the module docstring)."""
        self.flush()
        rel = self.rel_err()
        note, max_u = "", self.max_u
        if self.n_bad:
            max_u = np.inf
            note = f"{self.n_bad} entries are NaN/Inf on one side only"
        ok = bool(np.isfinite(rel) and rel <= rtol)
        return dict(ok=ok, rel_err=float(rel), max_abs_err=self.max_abs, max_ulp=max_u, n_diff=self.n_diff,
                    note=note)


def _accumulate(a, b, dtype) -> Accumulator:
    A, B = flat(a, dtype), flat(b, dtype)
    acc = Accumulator()
    for s in range(0, A.size, STEP):
        acc.add(A[s:s + STEP], B[s:s + STEP])
    return acc


def compare_arrays(a, b, precision, rtol) -> dict:
    """Metrics of ``a`` (Python) against ``b`` (MATLAB), see the module docstring:
    the one comparison core of the harness."""
    res = {"numel": int(np.size(b)), "shape_python": list(np.shape(a)), "shape_matlab": list(np.shape(b))}
    if np.size(a) != np.size(b):
        res.update(ok=False, note=f"sizes differ: Python {_shape(a)}, MATLAB {_shape(b)}")
        return res
    # a reshape (same entries, other shape) is visible in shape_python/shape_matlab
    res.update(_accumulate(a, b, working_dtype(precision)).result(rtol))
    return res


def relative_error(a, b, precision="double", when_b_is_zero="inf") -> float:
    """||a - b||_F / ||b||_F of two arrays (or numbers) of as many entries,
    in the working precision, by the same core as :func:`compare_arrays`
    (inf when the numbers of entries differ; see ``Accumulator.rel_err``).
    For every relative error the project reports: the compare's stages, the
    training runs' iterations, the student's gradients."""
    if np.size(a) != np.size(b):
        return float("inf")
    return _accumulate(a, b, working_dtype(precision)).rel_err(when_b_is_zero)


def compare_index(a, b) -> dict:
    """Exact comparison of 1-based index arrays."""
    res = {"numel": int(np.size(b)), "shape_python": list(np.shape(a)), "shape_matlab": list(np.shape(b))}
    if np.size(a) != np.size(b):
        res.update(ok=False, note=f"sizes differ: Python {_shape(a)}, MATLAB {_shape(b)}")
        return res
    A = flat(a).astype(np.int64)
    bf = flat(b)
    if bf.dtype.kind == "f" and not np.all(bf == np.round(bf)):
        res.update(ok=False, note="the MATLAB indices are not integers")
        return res
    B = bf.astype(np.int64)
    neq = A != B
    k = int(np.count_nonzero(neq))
    note = ""
    if k:
        first = int(np.argmax(neq))
        note = (note + "; " if note else "") + (
            f"{k} of {A.size} indices differ; first at entry {first + 1}: Python {A[first]}, MATLAB {B[first]}")
    res.update(ok=(k == 0), n_diff=k, rel_err=None if k else 0.0,
               max_abs_err=float(np.max(np.abs(A - B))) if A.size else 0.0, max_ulp=None, note=note)
    return res


def index_stride(model, m, stage) -> int | None:
    """Entries per instance of the array an index stage points into: an
    index of instance j (1-based) stored with a per-instance offset is
    ``i + (j-1)*stride``."""
    if stage == "idx_phiZ":
        return int(model.ch_input[m]) * int(model.ht_pad[m]) * int(model.wd_pad[m])
    if stage == "idx_pool":
        return int(model.ch_input[m + 1]) * int(model.ht_conv[m]) * int(model.wd_conv[m])
    if stage == "idx_pad":
        return int(model.ht_pad[m]) * int(model.wd_pad[m])
    return None


def normalise_index(py, mat, stride):
    """MATLAB's index array in the Python side's representation, and a note.

    The real code has stored indices two ways: within one instance (the
    port's way), or with a per-instance offset ``(j-1)*stride`` (May 2020:
    ``idx_phiZ`` repeated for the bsize instances of a batch, ``idx_pool``
    of instance j pointing into the whole batch).  Both are undone here,
    exactly: columns that are not pure offset copies stay as they are (and
    then differ).  The values are returned in the Python side's shape."""
    A = np.asarray(py)
    B = np.asarray(mat)
    if stride is None or B.size == 0 or A.size == 0 or B.dtype.kind not in "fiub":
        return mat, ""
    Bf = flat(B)
    if Bf.dtype.kind == "f" and not np.all(Bf == np.round(Bf)):
        return mat, ""
    Bi = Bf.astype(np.int64)
    if B.size % A.size == 0 and B.size > A.size:
        K = B.size // A.size
        C = Bi.reshape(A.size, K, order="F") - stride * np.arange(K, dtype=np.int64)[None, :]
        if np.all(C == C[:, :1]):
            return C[:, 0].reshape(A.shape, order="F"), (
                f"MATLAB stores it for {K} instances with per-instance offsets (j-1)*{stride}: "
                "offsets removed, instance 1 compared")
        return mat, (f"MATLAB's array holds {K} times as many indices, not per-instance offset copies "
                     f"(stride {stride})")
    if B.size == A.size and A.ndim == 2 and A.shape[1] > 1 and Bi.max(initial=0) > stride:
        n = A.shape[1]
        C = Bi.reshape(-1, n, order="F") - stride * np.arange(n, dtype=np.int64)[None, :]
        if C.min(initial=1) >= 1 and C.max(initial=0) <= stride:
            return C.reshape(A.shape, order="F"), (
                f"MATLAB stores instance j's indices with the offset (j-1)*{stride}: offsets removed")
    return mat, ""


def pooling_flips(model, m, n, idx_py, idx_mat, sig_py, sig_mat, precision, sig_max_abs=0.0,
                  limit=10) -> dict:
    """Locate pooling winners that differ and tell whether each was a near-tie.

    ``idx_*`` are (d*a_out*b_out) x n (1-based within an instance's
    d*a_conv*b_conv values of sigma(S^m)); ``sig_*`` are sigma(S^m),
    d x (a_conv*b_conv*n).
    """
    d = int(model.ch_input[m + 1])
    a_out, b_out = int(model.ht_input[m + 1]), int(model.wd_input[m + 1])
    D_conv = d * int(model.ht_conv[m]) * int(model.wd_conv[m])
    A = flat(idx_py).astype(np.int64).reshape(-1, n, order="F")
    B = flat(idx_mat).astype(np.int64).reshape(-1, n, order="F")
    rows, inst = np.nonzero((A != B).T)[::-1]        # column-major order: instance, then entry
    order = np.lexsort((rows, inst))
    rows, inst = rows[order], inst[order]
    eps = np.finfo(working_dtype(precision)).eps
    sp = flat(sig_py) if sig_py is not None else None
    sm = flat(sig_mat) if sig_mat is not None else None
    flips, n_tie, n_rule = [], 0, 0
    for k, j in zip(rows.tolist(), inst.tolist()):
        p, q = int(A[k, j]), int(B[k, j])
        info = {"instance": j + 1, "channel": k % d + 1, "row": (k // d) % a_out + 1,
                "col": (k // d) // a_out + 1, "python_winner": p, "matlab_winner": q}
        gaps, scale = [], 0.0
        for s in (sp, sm):
            if s is None or not (1 <= p <= D_conv and 1 <= q <= D_conv) or (j + 1) * D_conv > s.size:
                continue                                    # unknown, or a winner outside the window's array
            vp, vq = float(s[j * D_conv + p - 1]), float(s[j * D_conv + q - 1])
            gaps.append(abs(vp - vq))
            scale = max(scale, abs(vp), abs(vq))
        gap = max(gaps) if gaps else np.inf
        # the window's two values exactly equal (on each side known): the tie
        # rule picked another winner, a divergence of idx_pool; different by
        # rounding only: a near-tie that summation order can flip
        rule = bool(gaps) and all(g == 0.0 for g in gaps)
        tie = bool(not rule and gap <= max(NEAR_TIE_ULPS * eps * scale, 2.0 * sig_max_abs))
        n_tie += tie
        n_rule += rule
        info["gap"] = gap
        info["near_tie"] = tie
        info["tie_rule"] = rule
        if len(flips) < limit:
            flips.append(info)
    return {"count": int(rows.size), "near_ties": int(n_tie), "tie_rule": int(n_rule),
            "windows": int(A.size), "first": flips,
            "ulp_bound": NEAR_TIE_ULPS}


def _shape(a):
    return " x ".join(str(x) for x in np.shape(a)) or "scalar"


def kind_of(stage):
    if stage in INDEX_STAGES:
        return "index"
    if stage == "loss":
        return "scalar"
    return "array"
