"""``fprintf(format, ...)``: MATLAB's printing of the training progress lines.

Python's ``%`` formatting agrees with MATLAB's ``fprintf`` for ``%d``,
``%g``, ``%.15g``, ``%e``, ``%f`` and ``%s`` on finite values; MATLAB
spells the non-finite ones ``NaN``, ``Inf`` and ``-Inf`` where Python writes
``nan``, ``inf``, ``-inf``.  This function makes that one difference
disappear, so that a line printed by the port is the line the MATLAB code
prints for the same numbers.  Output goes to standard output, flushed.
"""
from __future__ import annotations

import math
import re
import sys

import numpy as np

__all__ = ["fprintf", "sprintf"]

_SPEC = re.compile(r"%(?:%|[-+ #0]*\d*(?:\.\d+)?[diouxXeEfgGcs])")


def _matlab_nonfinite(x: float) -> str:
    return "NaN" if math.isnan(x) else ("Inf" if x > 0 else "-Inf")


def sprintf(fmt: str, *args) -> str:
    """``sprintf(fmt, args...)`` for scalar arguments (see the module docstring)."""
    out, pos, k = [], 0, 0
    for spec in _SPEC.finditer(fmt):
        out.append(fmt[pos:spec.start()])
        pos = spec.end()
        if spec.group() == "%%":
            out.append("%")
            continue
        x = args[k]
        k += 1
        if isinstance(x, (np.generic, np.ndarray)):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            out.append(_matlab_nonfinite(x))
        elif spec.group()[-1] in "di" and isinstance(x, float) and x != int(x):
            out.append("%e" % x)                      # MATLAB's %d of a non-integer
        else:
            out.append(spec.group() % x)
    out.append(fmt[pos:])
    return "".join(out)


def fprintf(fmt: str, *args) -> None:
    """``fprintf(fmt, args...)`` to standard output."""
    sys.stdout.write(sprintf(fmt, *args))
    sys.stdout.flush()
