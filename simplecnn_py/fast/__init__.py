"""Fast paths beside the line-for-line port, one module per routine (docs/performance.md).

The port's routines read line for line beside MATLAB and gather/scatter
through the slides' index maps (``idx_pad``, ``idx_phiZ``, ``idx_pool``) with
fancy indexing and ``accumarray``: faithful, but then the index maps, not the
matrix products, cost the most.  Each module here computes what one routine
computes, with strided views, chunks of instances and threads; the routine
keeps its reference lines and dispatches in one line at its top::

    if fast.enabled() and (out := fast_path.maxpooling(model, net, m)) is not None:
        return out

=========================  =========================  ===========================================
module                     speeds up                  equality with the reference lines
=========================  =========================  ===========================================
``padding_and_phiZ``       ``padding_and_phiZ``       bit-identical (strided copies)
``maxpooling``             ``maxpooling``             bit-identical (values and ``idx_pool``)
``vTP``                    ``vTP`` (the scatters)     bit-identical (same additions, same order)
``lossgrad_subset``        ``lossgrad_subset``        to rounding (the fused pass of ``fused``)
``feedforward``            ``feedforward``            to rounding (the same pass, forward only)
``Jacobian``               ``Jacobian``               scatters bit-identical, ``dzdS`` to rounding
``JTBJv``                  ``JTBJv``                  to rounding
``R_JTBJv``                ``R_JTBJv``                to rounding
``fused``                  (the fused, chunked forward and backward pass behind the two above)
``layer``                  (layer sizes, standard index maps, lazy cells)
``workspace``              (threads, chunks, scratch arenas, OpenBLAS control)
``switch``                 (the state behind ``enabled``/``use_reference``/``gradient_only``)
=========================  =========================  ===========================================

A fast path returns ``None`` (and the routine runs its reference lines) when
it must step aside: the net's index maps are not the standard ones (e.g. the
harness feeds MATLAB's own maps in isolated mode), or tracing is on (the fused
passes; ``simplecnn_py.support.trace.tracing()`` records every stage of the
reference lines).

Selecting the reference path:

* environment: ``SIMPLECNN_REFERENCE=1`` (read at import);
* code: ``with simplecnn_py.fast.use_reference(): ...`` (or
  ``use_reference(False)`` to force the fast paths inside a reference block);
* ``SIMPLECNN_THREADS=1``: one thread (the same results).

This package imports none of its modules: a port routine imports the one it
dispatches to.  docs/performance.md says how each is made fast and measured.
"""
from __future__ import annotations

from .switch import enabled, gradient_only, use_reference

__all__ = ["enabled", "use_reference", "gradient_only"]
