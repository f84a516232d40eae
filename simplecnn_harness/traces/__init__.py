"""Trace files: the format, recording, the emitted MATLAB driver, the pytest plugin."""
