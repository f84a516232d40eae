"""``simplecnn sweep``: ``simplecnn compare`` on every commit of a simpleNN
repository that changes MATLAB code; Markdown on stdout, PREFIX.md/.html/.json
on request, each ending with the line that reproduces it."""
from __future__ import annotations


def sweep(*, repo, configs=(None,), jobs=1, rev="HEAD", commits=None, instances=None, seed=0, timeout=600.0,
          out=None, command="", progress=None, train=None, data=None, files=(), matlab_dir=None,
          precision="double", mode="propagated", rtol=None) -> int:
    """Compare every commit (``commits``: "sha,sha,..." to pick some),
    print the Markdown report, write the files; the sweep's exit code (0
    every verdict PASS, 1 a parity failure, 2 a commit that could not be
    driven).  ``train``: options strings; each commit then runs compare-train
    (``training.sweep``) on the one config and ``data`` instead.  No
    ``repo``: compare over the config ``files`` of one tree instead
    (:func:`sweep_configs`, with ``matlab_dir``, ``precision``, ``mode``, ``rtol``)."""
    if not repo:
        return sweep_configs(files, out=out, matlab_dir=matlab_dir, data=data, instances=instances,
                             precision=precision, mode=mode, seed=seed, rtol=rtol, timeout=timeout, progress=progress)
    from ..reports.progress import QUIET
    from ..sweep import run_sweep, to_markdown, write_reports

    progress = QUIET if progress is None else progress
    only = [c.strip() for c in commits.split(",") if c.strip()] if commits else None
    if train and (not configs or len(configs) != 1 or configs[0] is None):
        from simplecnn_py.support.errors import InputError

        raise InputError("--config", "sweep --train takes exactly one --config")
    with progress:
        if train:
            from .. import embedded
            from ..training.sweep import run_train_sweep

            data = data or str(embedded.DEMO_DIR / "demo-data.mat")
            result = run_train_sweep(repo, train, configs[0], data, seed=seed, instances=instances, jobs=jobs,
                                     rev=rev, only=only, timeout=timeout,
                                     progress=None if progress is QUIET else progress.write)
        else:
            result = run_sweep(repo, list(configs) or [None], jobs=jobs, rev=rev, only=only,
                               compare_opts={"instances": instances, "seed": seed, "timeout": timeout},
                               progress=None if progress is QUIET else progress.write)
    result.command = command
    print(to_markdown(result), end="")
    if out:
        for path in write_reports(result, out):
            progress.write(f"sweep: wrote {path}")
    return result.exit_code()


def sweep_configs(configs, *, out=None, matlab_dir=None, data=None, instances=None, precision="double",
                  mode="propagated", seed=0, rtol=None, timeout=600.0, progress=None) -> int:
    """``simplecnn sweep CONFIG...``: compare over configurations of one tree,
    a row each (``sweep.configs``); the Markdown summary on stdout, the
    summaries and each configuration's reports in ``out``; 0 all pass, 1 a
    failure, 2 a configuration that could not be compared."""
    import sys
    from types import SimpleNamespace

    from simplecnn_py.support.errors import InputError

    from ..reports.progress import QUIET
    from ..sweep import check_folder, exit_code, find_configs, markdown_summary, run_configs, write_summaries

    if not configs:
        raise InputError("sweep", "name a --repo, or config files or folders")
    progress = QUIET if progress is None else progress
    opts = SimpleNamespace(matlab_dir=matlab_dir, data=data, instances=instances, precision=precision, mode=mode,
                           seed=seed, rtol=rtol, timeout=timeout)
    found = find_configs(configs)
    folder = check_folder(out or "compare-report")
    with progress:
        rows = run_configs(found, folder, opts, progress=progress)
    paths = write_summaries(rows, opts, folder)
    print(markdown_summary(rows, opts), end="")
    sys.stdout.flush()
    progress.write(f"sweep: wrote {paths[0]} and {paths[1]}")
    return exit_code(rows)
