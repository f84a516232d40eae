"""The cross-checker: runs MATLAB code under GNU Octave and compares it with the port."""
