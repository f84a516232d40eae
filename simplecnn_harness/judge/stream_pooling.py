"""Differing pooling winners located chunk by chunk (the streamed judge's part
of the near-tie analysis, ``pooling.py``).

Per chunk and pooled layer, where the port's ``idx_pool`` and the
reference's (offsets removed) differ, ``metrics.pooling_flips`` locates each
flip with the chunk's sigma(S) of both sides, with no sigma(S) error yet:
its instance is offset by the chunk's start; a tie-rule difference and a
near-tie within ``NEAR_TIE_ULPS`` are final.  Whether a flip is a near-tie
within the sigma(S) error (twice the layer's ``max_abs_err``) is known only
at the end, from the whole run: the gaps of the flips still open are kept
(they are few), and :meth:`LayerFlips.info` decides them then, as the
unchunked judge does (a gap within ``max(ulps, 2 * sigma error)`` is one
within either).  ``first`` keeps the first 10 flips in column-major
instance order, as ``pooling_flips`` does.
"""
from __future__ import annotations

import numpy as np

from . import metrics as C

LIMIT = 10


class LayerFlips:
    """The flips of one pooled layer over the chunks."""

    def __init__(self):
        self.windows = self.count = self.ties = self.rules = 0
        self.open = []                    # gaps of flips neither tie-rule nor near-ties within the ULPs
        self.first = []
        self.located = True               # every chunk's index arrays of one size

    def add(self, model, m, start, instances, idx_py, idx_mat, sig_py, sig_mat, precision):
        """The chunk of ``instances`` instances starting after instance ``start``."""
        if np.size(idx_py) != np.size(idx_mat):
            self.located = False
            return
        self.windows += int(np.size(idx_py))
        A = C.flat(idx_py).astype(np.int64)
        B = C.flat(idx_mat).astype(np.int64)
        if not (A != B).any():
            return
        info = C.pooling_flips(model, m, instances, idx_py, idx_mat, sig_py, sig_mat, precision, 0.0,
                               limit=float("inf"))
        self.count += info["count"]
        self.ties += info["near_ties"]
        self.rules += info["tie_rule"]
        gaps = [f["gap"] for f in info["first"] if not f["near_tie"] and not f["tie_rule"]]
        if gaps:
            self.open.append(np.array(gaps, dtype=np.float64))
        for f in info["first"][:LIMIT - len(self.first)]:
            f["instance"] += start
            self.first.append(f)

    def info(self, sig_err):
        """``metrics.pooling_flips``'s dict over all chunks, given the layer's sigma(S) error."""
        if not self.located:
            return None
        bound = 2.0 * sig_err
        late = sum(int(np.count_nonzero(g <= bound)) for g in self.open)
        for f in self.first:
            if not f["near_tie"] and not f["tie_rule"] and f["gap"] <= bound:
                f["near_tie"] = True
        return {"count": int(self.count), "near_ties": int(self.ties + late), "tie_rule": int(self.rules),
                "windows": int(self.windows), "first": self.first, "ulp_bound": C.NEAR_TIE_ULPS}
