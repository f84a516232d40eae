"""Twins of the MATLAB routines in simpleNN's ``MATLAB/cnn/`` (``matlab_ref/current/MATLAB/cnn/``)."""
