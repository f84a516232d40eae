"""The Octave parts: the session, tree layouts, the MATLAB lexer and instrumentation, preparing and running a tree, what the recorder wrote."""
