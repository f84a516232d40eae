"""What the port needs beside the MATLAB routines: conventions, MAT files, models, randomness, printing, tracing, errors."""
