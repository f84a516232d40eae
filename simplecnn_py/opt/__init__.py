"""Twins of the MATLAB routines in simpleNN's ``MATLAB/opt/`` (``matlab_ref/current/MATLAB/opt/``)."""
