"""simplecnn_py: a line-for-line Python port of the simpleNN CNN routines.

simpleNN (C.-C. Wang, K. L. Tan and C.-J. Lin; BSD-3-Clause) is MATLAB code;
this package is our own translation of it (NOTICE; each routine's docstring
names its original file and this repository's MATLAB twin under matlab_ref/).  Every routine keeps its MATLAB
name, argument order and 1-based index values, and sits at the same relative
path as its MATLAB twin (``matlab_ref/current/MATLAB``):

* ``simplecnn_py/cnn/<name>.py``: the routines of ``MATLAB/cnn/`` (and the seed
  layout's ``cnn/``), e.g. ``simplecnn_py.cnn.JTv`` beside ``cnn/JTv.m``;
* ``simplecnn_py/opt/<name>.py``: the routines of ``MATLAB/opt/``;
* ``simplecnn_py/cnn_train.py``, ``simplecnn_py/cnn_predict.py``: the top;
* ``simplecnn_py/support/``: what the port needs beside the routines
  (``conventions``, MAT files, models, randomness, printing, tracing, errors);
* ``simplecnn_py/fast/``: the fast paths, one module per routine they speed up.

The routines of ``cnn/`` and ``opt/`` are also importable from here:
``from simplecnn_py import JTv`` (``cnn_train`` and ``cnn_predict`` are modules of
this package: ``from simplecnn_py.cnn_train import cnn_train``).
See ``docs/design.md`` for the API and ``simplecnn_py.support.conventions`` for
how MATLAB's column-major, 1-based world is kept.
"""
import importlib

__version__ = "0.1.0"

CNN = ("JTv", "Jacobian", "Jv", "cal_accuracy", "cells_to_vec", "check_data", "feedforward",
       "find_index_padding", "find_index_phiZ", "fungrad_minibatch", "init_model", "init_net",
       "lossgrad_subset", "maxpooling", "padding_and_phiZ", "predict", "read_config", "vTP",
       "vec_to_cells")
OPT = ("CG", "JTBJv", "R_JTBJv", "adam", "newton", "parse_options", "sgd")
TOP = ("cnn_train", "cnn_predict")

#: routine name -> the module that holds it (the MATLAB file's relative path, dotted)
ROUTINES = {**{n: f"simplecnn_py.cnn.{n}" for n in CNN},
            **{n: f"simplecnn_py.opt.{n}" for n in OPT},
            **{n: f"simplecnn_py.{n}" for n in TOP}}

__all__ = sorted(ROUTINES)


def routine_module(name):
    """The module of routine ``name`` (``routine_module('JTv')`` is ``simplecnn_py.cnn.JTv``)."""
    return importlib.import_module(ROUTINES[name])


def __getattr__(name):
    # lazily, so that ``import simplecnn_py`` stays free of numpy until a routine is asked for
    if name in ROUTINES and name not in TOP:
        return getattr(routine_module(name), name)
    raise AttributeError(f"module 'simplecnn_py' has no attribute {name!r}")
