"""simplecnn_py: a line-for-line Python port of the simpleNN CNN routines.

Every routine keeps its MATLAB name, argument order and 1-based index
values; see ``docs/design.md`` for the API and ``simplecnn_py.support.conventions``
for how MATLAB's column-major, 1-based world is kept.
"""
__version__ = "0.1.0"
