"""``simplecnn record``: run a MATLAB tree under Octave once and write a trace
file, or emit a standalone MATLAB driver that writes it (docs/traces.md)."""
from __future__ import annotations


def record(*, out=None, emit_script=None, compress=False, chunk=None, all_records=False, matlab_dir=None,
           config=None, data=None, weights=None, instances=None, precision="double", seed=0, timeout=600.0, progress=None) -> int:
    """Write the trace ``out`` (or the driver folder ``emit_script``), print
    one line; 0."""
    from ..compare import Options
    from ..reports.progress import QUIET

    progress = QUIET if progress is None else progress
    opts = Options(matlab_dir=matlab_dir, config=config, data=data, weights=weights, instances=instances,
                   precision=precision, seed=seed, timeout=timeout, progress=None if progress is QUIET else progress)
    if emit_script and (chunk is not None or all_records):
        from simplecnn_py.support.errors import InputError

        raise InputError("--chunk" if chunk is not None else "--all-records",
                         "not with --emit-script (the emitted driver records every record of one whole run)")
    with progress:
        if emit_script:
            from ..traces.emit import emit_script as emit

            info = emit(opts, emit_script)
        else:
            from ..traces.record import record as write_trace

            info = write_trace(opts, out, compress=compress, chunk=chunk, all_records=all_records)
    if emit_script:
        print(f"wrote {info['driver']}: run it in MATLAB (cd {info['dir']}; simplecnn_record_trace) "
              f"to write {info['trace']}")
    else:
        what = f"{info['records']} records" if info.get("all_records") else \
            f"{info['records']} stage records in {info['chunks']} chunk(s) of at most {info['chunk']} instances"
        print(f"wrote {info['path']}: {what}, {info['layout']} layout ({info['bytes'] / 2**20:.1f} MiB)")
    return 0
