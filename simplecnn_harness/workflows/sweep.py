"""``simplecnn sweep``: ``simplecnn compare`` on every commit of a simpleNN
repository that changes MATLAB code; Markdown on stdout, PREFIX.md/.html/.json
on request, each ending with the line that reproduces it."""
from __future__ import annotations


def sweep(*, repo, configs=(None,), jobs=1, rev="HEAD", commits=None, instances=None, seed=0, timeout=600.0,
          out=None, command="", progress=None) -> int:
    """Compare every commit (``commits``: "sha,sha,..." to pick some),
    print the Markdown report, write the files; the sweep's exit code (0
    every verdict PASS, 1 a parity failure, 2 a commit that could not be
    driven)."""
    from ..reports.progress import QUIET
    from ..sweep import run_sweep, to_markdown, write_reports

    progress = QUIET if progress is None else progress
    only = [c.strip() for c in commits.split(",") if c.strip()] if commits else None
    with progress:
        result = run_sweep(repo, list(configs) or [None], jobs=jobs, rev=rev, only=only,
                           compare_opts={"instances": instances, "seed": seed, "timeout": timeout},
                           progress=None if progress is QUIET else progress.write)
    result.command = command
    print(to_markdown(result), end="")
    if out:
        for path in write_reports(result, out):
            progress.write(f"sweep: wrote {path}")
    return result.exit_code()
