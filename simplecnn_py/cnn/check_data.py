"""``prob = check_data(prob, param)``: instances as columns, labels as one-hot.

Translated from simpleNN (C.-C. Wang, K. L. Tan, C.-J. Lin; BSD-3-Clause),
``cnn/check_data.m``.  This repository's MATLAB twins:
``matlab_ref/seed/cnn/check_data.m`` (the seed layout's
``check_data(prob, param)``, the port's signature) and
``matlab_ref/current/MATLAB/cnn/check_data.m`` (the current layout's
``check_data(y, Z, model)``).  No equation of the gradient-calculation slides:
it lays out the Z^{1,i} they start from.  Shapes for l instances of a x b x d
images (a = ht_input, b = wd_input, d = ch_input(1)):

* in:  ``prob.y`` l x 1, ``prob.Z`` l x a*b*d (row i: channel k in columns
  (k-1)*a*b+1..k*a*b, each a x b image vec'ed column-major);
* out: ``prob.data`` (d*a*b) x l, column i = vec of instance i as a
  d x a x b array (channel fastest, then height, then width):
  ``reshape(permute(reshape(Z', a, b, d, l), [3 1 2 4]), d*a*b, l)``;
  ``prob.l``; ``[prob.label_enum, ~, prob.y_mapped] = unique(prob.y)``;
  ``prob.label_mat`` nL x l one-hot, ``label_mat(y_mapped(i), i) = 1``.

The seed layout asks labels to be exactly 1..nL and builds label_mat from y;
the current layout maps any labels through ``unique``.  For labels 1..nL the
two agree, so the port always maps (``y_mapped`` keeps 1-based values).

Python shapes: ``prob.data`` and ``prob.label_mat`` are Fortran-ordered in
``param.precision`` (float64 or float32); ``prob.y`` (float64),
``prob.label_enum`` (float64) and ``prob.y_mapped`` (int64, 1-based) are
1-D arrays (MATLAB's l x 1 and k x 1 columns).  ``prob.Z`` is kept as given.
"""
from __future__ import annotations

import numpy as np

from simplecnn_py.support.conventions import float_type, ftype, reshape, to0, unique, zeros
from simplecnn_py.support.errors import InputError

__all__ = ["check_data"]


def check_data(prob, param, *, where="data"):
    """Fill ``prob.data``, ``prob.l``, ``label_enum``, ``y_mapped``, ``label_mat``.

    ``where`` names the data source in error messages (the CLI passes the
    file name): wrong width, l mismatch, NaN/Inf labels, or a number of
    distinct labels different from ``param.nL``.
    """
    dtype = float_type(param)
    a, b, d = param.ht_input, param.wd_input, param.ch_input[1]
    Z = prob.Z
    l = Z.shape[0]
    if Z.ndim != 2 or Z.shape[1] != a * b * d:
        raise InputError(where, f"Z is {' x '.join(map(str, Z.shape))}; the config's {a} x {b} x {d} images "
                                f"need l x {a * b * d}")
    y = np.asarray(prob.y, dtype=np.float64).reshape(-1)
    if y.size != l:
        raise InputError(where, f"y has {y.size} labels but Z has {l} rows (one instance a row)")
    if not np.all(np.isfinite(y)):
        raise InputError(where, "y has NaN/Inf labels")

    if hasattr(Z, "toarray"):
        Z = Z.toarray()
    Zt = np.asarray(Z).T  # a*b*d x l: column i is instance i
    data = reshape(np.transpose(reshape(Zt, a, b, d, l), (2, 0, 1, 3)), d * a * b, l)
    prob.data = ftype(data, dtype)
    prob.l = l
    prob.y = y

    label_enum, _, y_mapped = unique(y)
    nL = param.nL
    if label_enum.size != nL:
        shown = ", ".join(f"{v:g}" for v in label_enum[:12]) + (", ..." if label_enum.size > 12 else "")
        raise InputError(where, f"y has {label_enum.size} distinct labels ({shown}) but the config's last "
                                f"layer has nL = full_neurons(LF) = {nL} outputs")
    prob.label_enum = label_enum
    prob.y_mapped = y_mapped
    label_mat = zeros(nL, l, dtype=dtype)
    label_mat[to0(y_mapped), np.arange(l)] = 1
    prob.label_mat = label_mat
    return prob
