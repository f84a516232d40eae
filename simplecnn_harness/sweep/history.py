"""``simplecnn sweep --repo``: ``simplecnn compare`` on every version of a
simpleNN repository's MATLAB code, in parallel, with one table of verdicts.

A user holding a clone (or a ``git bundle``) of the real code asks: at which
commits does the port agree with the MATLAB code, and where does a verdict
change?  :func:`run_sweep`

1. lists the commits that change a ``*.m`` file (``git log -- '*.m'``),
   oldest first (a bundle is cloned into a temporary bare repository first);
2. for each commit and each config, extracts the commit's tree into a
   temporary folder (``git archive``) and runs :func:`compare.run_compare`
   on it, ``jobs`` at a time, each in its own process with its own Octave;
3. records the verdict (``pass``, ``fail`` with the first divergence, or
   ``error``: the tree could not be driven, with the one-line reason), and,
   per config, the commits where the verdict changes from the previous one.

The writers give the same table as Markdown, HTML (one self-contained page)
and JSON.  Verdicts are compare's own: the harness adapts to each version's
function lines (``layouts.py``), so no version list lives here.
"""
from __future__ import annotations

import html
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from simplecnn_py.support.atomic import write_atomically
from simplecnn_py.support.errors import EnvironmentProblem, InputError

from ..reports.html import page as html_page
from ..sources.base import observer


@dataclass
class Commit:
    sha: str
    short: str
    date: str
    subject: str


@dataclass
class Cell:
    """The verdict of one commit under one config."""
    verdict: str                          # 'pass' | 'fail' | 'error'
    first_divergence: dict | None = None
    message: str = ""
    layout: str = ""
    seconds: float = 0.0
    compared: int = 0
    not_compared: int = 0

    def label(self) -> str:
        if self.verdict == "pass":
            return "PASS"
        if self.verdict == "fail":
            fd = self.first_divergence or {}
            return f"FAIL at layer {fd.get('layer')} {fd.get('direction')} {fd.get('stage')}" if fd else "FAIL"
        return "ERROR"


@dataclass
class SweepResult:
    repo: str
    configs: list[str]
    commits: list[Commit]
    cells: dict = field(default_factory=dict)         # (sha, config index) -> Cell
    changes: list = field(default_factory=list)       # {config, sha, short, before, after}
    seconds: float = 0.0
    command: str = ""                                 # the shell command that reproduces the report (the CLI sets it)

    def ok(self) -> bool:
        return all(c.verdict == "pass" for c in self.cells.values())

    def exit_code(self) -> int:
        """0 every verdict PASS, 1 a parity failure (and nothing worse), 2 a
        commit that could not be driven."""
        if any(c.verdict == "error" for c in self.cells.values()):
            return 2
        return 0 if self.ok() else 1

    def to_json(self) -> dict:
        return {
            "repo": self.repo, "configs": self.configs, "seconds": round(self.seconds, 2),
            "commits": [dict(asdict(c), verdicts=[asdict(self.cells[(c.sha, k)])
                                                  for k in range(len(self.configs))])
                        for c in self.commits],
            "changes": self.changes,
            "command": self.command,
        }


# --- git -----------------------------------------------------------------------------

def _git(args, cwd=None, binary=False):
    try:
        p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=600)
    except FileNotFoundError:
        raise EnvironmentProblem("git is not installed (apt-get install git)") from None
    if p.returncode != 0:
        raise InputError("--repo", (p.stderr.decode(errors="replace").strip().splitlines() or ["git failed"])[-1])
    return p.stdout if binary else p.stdout.decode(errors="replace")


def open_repo(repo, workdir: Path) -> Path:
    """A git directory to read: ``repo`` itself, or a bare clone of a bundle."""
    path = Path(repo).expanduser()
    if not path.exists():
        raise InputError(str(repo), "no such file or directory")
    if path.is_file():
        dest = Path(workdir) / "repo.git"
        _git(["clone", "--quiet", "--bare", str(path.resolve()), str(dest)])
        return dest
    p = subprocess.run(["git", "-C", str(path), "rev-parse", "--git-dir"], capture_output=True)
    if p.returncode != 0:
        raise InputError(str(repo), "not a git repository or bundle")
    return path


def matlab_commits(git_dir: Path, rev: str = "HEAD") -> list[Commit]:
    """Commits changing a ``*.m`` file, oldest first."""
    out = _git(["-C", str(git_dir), "log", "--format=%H%x09%h%x09%ad%x09%s", "--date=short", rev, "--",
                "*.m"])
    commits = []
    for line in out.splitlines():
        bits = line.split("\t", 3)
        if len(bits) == 4:
            commits.append(Commit(*bits))
    return commits[::-1]


def extract(git_dir: Path, sha: str, dest: Path) -> Path:
    """The tree of commit ``sha`` in ``dest`` (``git archive``)."""
    data = _git(["-C", str(git_dir), "archive", "--format=tar", sha], binary=True)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return dest


# --- one job -------------------------------------------------------------------------

def on_commit(git_dir, sha: str, check, cell_type=None, prefix: str = "simplecnn-sweep") -> dict:
    """One job of a sweep: commit ``sha``'s tree extracted into a temporary
    folder, ``check(tree)`` run on it (a ``cell_type``: :class:`Cell` or a
    subclass), its seconds set, and the folder removed.  The commit's own
    failure (bad input, an environment problem, an Octave error) is the
    cell ``error`` with its one line, paths inside the tree made relative;
    anything else is ``error`` too, named as an internal error: one commit
    never stops the sweep.  Returns the cell's fields (picklable)."""
    from simplecnn_harness.octave.session import OctaveError

    cell_type = cell_type or Cell
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}-{sha[:7]}-"))
    try:
        cell = check(extract(Path(git_dir), sha, tmp / "tree"))
    except (InputError, EnvironmentProblem, OctaveError) as e:
        cell = cell_type("error", None, _one_line(e, tmp))
    except Exception as e:                                   # noqa: BLE001 - reported per commit
        cell = cell_type("error", None, f"internal error: {type(e).__name__}: {_one_line(e, tmp)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cell.seconds = time.perf_counter() - t0
    return asdict(cell)


def _one(git_dir: str, sha: str, config: str | None, compare_opts: dict) -> dict:
    """Compare one commit under one config (runs in a worker process)."""
    from simplecnn_harness.compare import Options, run_compare

    def check(tree):
        res = run_compare(Options(matlab_dir=str(tree), config=config, **compare_opts))
        stages = res.stages
        return Cell("pass" if res.ok else "fail", res.first_divergence, "", res.layout, 0.0,
                    sum(1 for s in stages if s.compared), sum(1 for s in stages if not s.compared))

    return on_commit(git_dir, sha, check)


def _one_line(e, tmp) -> str:
    text = " ".join(str(e).split())
    return text.replace(str(tmp / "tree") + "/", "").replace(str(tmp / "tree"), ".")


def run_sweep(repo, configs=(None,), jobs: int = 1, rev: str = "HEAD", compare_opts: dict | None = None,
              progress=None, only: list[str] | None = None, job=None, cell_type=Cell,
              labels: list[str] | None = None) -> SweepResult:
    """Compare every commit of ``repo`` that changes MATLAB code (``only``: a
    subset of them, by short or full hash) under each config.  ``job``
    (``job(git_dir, sha, column, compare_opts) -> dict`` of ``cell_type``'s
    fields, picklable) runs another check per commit and column instead
    (``training.sweep``: compare-train per options string; ``labels`` name
    the columns)."""
    t0 = time.perf_counter()
    configs = list(configs) or [None]
    for c in configs if job is None else ():
        if c is not None and not Path(c).is_file():
            raise InputError(str(c), "no such config file")
    job = job or _one
    if jobs < 1:
        raise InputError("--jobs", f"must be at least 1, not {jobs}")
    compare_opts = dict(compare_opts or {})
    with tempfile.TemporaryDirectory(prefix="simplecnn-sweep-") as work:
        git_dir = open_repo(repo, Path(work))
        commits = matlab_commits(git_dir, rev)
        if only:
            commits = [c for c in commits if any(c.sha.startswith(o) for o in only)]
        if not commits:
            raise InputError(str(repo), "no commit changes a .m file")
        result = SweepResult(str(repo), labels or [str(c) if c else "default" for c in configs], commits)
        tasks = [(c, k) for c in commits for k in range(len(configs))]
        # count, rate and time left on a terminal (the progress observer's bar); a line per cell
        done = observer(progress).bar(total=len(tasks), desc="compares", unit="compare")
        if jobs == 1:
            for c, k in tasks:
                result.cells[(c.sha, k)] = cell_type(**job(str(git_dir), c.sha, configs[k], compare_opts))
                _tell(progress, result, c, k, done)
        else:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as ex:
                futs = {ex.submit(job, str(git_dir), c.sha, configs[k], compare_opts): (c, k) for c, k in tasks}
                for f in as_completed(futs):
                    c, k = futs[f]
                    try:
                        result.cells[(c.sha, k)] = cell_type(**f.result())
                    except Exception as e:                   # noqa: BLE001 - a worker died
                        result.cells[(c.sha, k)] = cell_type("error", None, f"the worker failed: {e}")
                    _tell(progress, result, c, k, done)
        if done is not None:
            done.close()
    result.changes = verdict_changes(result)
    result.seconds = time.perf_counter() - t0
    return result


def _tell(progress, result, c, k, done=None):
    if done is not None:
        done.update(1)
    if progress:
        cell = result.cells[(c.sha, k)]
        progress(f"sweep: {c.short} {c.date} [{result.configs[k]}] {cell.label()} ({cell.seconds:.1f} s)"
                 + (f": {cell.message}" if cell.message else ""))


def verdict_changes(result: SweepResult) -> list[dict]:
    """Per config, the commits (oldest first) whose verdict differs from the previous commit's."""
    out = []
    for k, cfg in enumerate(result.configs):
        prev = None
        for c in result.commits:
            label = result.cells[(c.sha, k)].label()
            if prev is not None and label != prev:
                out.append({"config": cfg, "sha": c.sha, "short": c.short, "date": c.date, "subject": c.subject,
                            "before": prev, "after": label})
            prev = label
    return out


# --- writers -------------------------------------------------------------------------

def to_markdown(result: SweepResult) -> str:
    cols = result.configs
    lines = [f"# simplecnn sweep of {result.repo}", "",
             f"{len(result.commits)} commits changing MATLAB code, oldest first; configs: "
             + ", ".join(f"`{c}`" for c in cols) + f"; {result.seconds:.0f} s.", "",
             "| commit | date | subject | " + " | ".join(f"`{Path(c).name}`" for c in cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for c in result.commits:
        cells = []
        for k in range(len(cols)):
            cell = result.cells[(c.sha, k)]
            cells.append(cell.label() + (f" ({cell.message[:120]})" if cell.verdict == "error" else ""))
        subject = c.subject.replace("|", "\\|")[:60]
        lines.append(f"| {c.short} | {c.date} | {subject} | " + " | ".join(cells) + " |")
    lines += ["", "## Where a verdict changes", ""]
    if not result.changes:
        lines.append("Nowhere: every commit has the same verdict under each config.")
    for ch in result.changes:
        lines.append(f"- `{Path(ch['config']).name}`: **{ch['short']}** ({ch['date']}, {ch['subject'][:60]}): "
                     f"{ch['before']} -> {ch['after']}")
    if result.command:
        lines += ["", f"reproduce: {result.command}"]
    return "\n".join(lines) + "\n"


def to_html(result: SweepResult) -> str:
    cols = result.configs
    colour = {"pass": "#d7f5d7", "fail": "#f9d6d5", "error": "#eeeeee"}
    changed = {(ch["sha"], ch["config"]) for ch in result.changes}
    rows = []
    for c in result.commits:
        tds = []
        for k, cfg in enumerate(cols):
            cell = result.cells[(c.sha, k)]
            mark = " &#9664; changes here" if (c.sha, cfg) in changed else ""
            tds.append(f"<td style='background:{colour[cell.verdict]}' title='{html.escape(cell.message)}'>"
                       f"{html.escape(cell.label())}{mark}</td>")
        rows.append(f"<tr><td><code>{c.short}</code></td><td>{c.date}</td><td>{html.escape(c.subject[:70])}</td>"
                    + "".join(tds) + "</tr>")
    changes = "".join(f"<li><code>{html.escape(Path(ch['config']).name)}</code>: <b>{ch['short']}</b> "
                      f"({ch['date']}): {html.escape(ch['before'])} &rarr; {html.escape(ch['after'])}</li>"
                      for ch in result.changes) or "<li>none</li>"
    head = "".join(f"<th>{html.escape(Path(c).name)}</th>" for c in cols)
    return html_page("simplecnn sweep", f"<p>{html.escape(result.repo)}: {len(result.commits)} commits changing "
                     f"MATLAB code, oldest first.</p><h2>Where a verdict changes</h2><ul>{changes}</ul>"
                     f"<table><tr><th>commit</th><th>date</th><th>subject</th>{head}</tr>{''.join(rows)}</table>",
                     command=result.command)


def write_reports(result: SweepResult, prefix) -> list[Path]:
    """PREFIX.md, PREFIX.html, PREFIX.json (each written whole, then renamed)."""
    prefix = Path(prefix)
    out = []
    for ext, text in ((".md", to_markdown(result)), (".html", to_html(result)),
                      (".json", json.dumps(result.to_json(), indent=1) + "\n")):
        path = prefix.with_name(prefix.name + ext)
        try:
            write_atomically(path, text)
        except OSError as e:
            raise InputError(str(path), f"cannot write: {e.strerror or e}") from None
        out.append(path)
    return out
