"""Sources: one side of a comparison each (a MATLAB tree, a trace, the port, ...)."""
