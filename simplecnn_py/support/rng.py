"""One stream of random draws, shaped as MATLAB draws them.

Octave's and numpy's generators differ, so every draw of the port goes
through a ``Stream``: ``randn(m, n)`` fills an m x n matrix column-major from
consecutive standard normals, ``rand`` likewise from uniforms, ``randperm(n)``
returns a 1-based permutation.  The harness can record the values a stream
served and replay them to Octave, so both sides consume the same numbers.
"""
from __future__ import annotations

import numpy as np


class Stream:
    """Random draws in MATLAB's shapes from ``numpy.random.default_rng(seed)``."""

    def __init__(self, seed=0):
        self.seed = seed
        self._g = np.random.default_rng(seed)
        self.log = None  # a list when the harness records the draws

    def _keep(self, kind, values):
        if self.log is not None:
            self.log.append((kind, values.copy()))
        return values

    def randn(self, m, n=None):
        """``randn(m, n)``: standard normals, filled column-major."""
        n = m if n is None else n
        v = self._g.standard_normal(m * n)
        return self._keep("randn", v).reshape((m, n), order="F")

    def rand(self, m, n=None):
        """``rand(m, n)``: uniforms on (0, 1), filled column-major."""
        n = m if n is None else n
        v = self._g.random(m * n)
        return self._keep("rand", v).reshape((m, n), order="F")

    def randperm(self, n, k=None):
        """``randperm(n)`` or ``randperm(n, k)``: 1-based, as a row vector."""
        p = self._g.permutation(n)[: (n if k is None else k)] + 1
        return self._keep("randperm", p.astype(np.float64)).astype(np.int64)


class NoDraws(Stream):
    """A stream that draws nothing: ``randn``/``rand`` give zeros.

    For a model whose weights are replaced right after ``init_model`` (as
    ``simplecnn gradient --weights`` does): the He draws would be thrown
    away, and not making a generator keeps ``numpy.random`` out of the
    process.  ``randperm`` is refused.
    """

    def __init__(self):
        self.seed = None
        self._g = None
        self.log = None

    def randn(self, m, n=None):
        return np.zeros((m, m if n is None else n), order="F")

    rand = randn

    def randperm(self, n, k=None):
        raise TypeError("NoDraws serves no permutation")
