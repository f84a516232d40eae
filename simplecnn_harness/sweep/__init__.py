"""``simplecnn sweep``: ``simplecnn compare`` many times, one table.

* over the history of a simpleNN repository: every commit that changes
  MATLAB code, under each config (``history.py``, ``--repo``);
* over configurations of one MATLAB tree: a row per config file, each with
  its own JSON and HTML report (``configs.py``; what
  ``scripts/compare_report.py`` did).
"""
from __future__ import annotations

from .configs import (check_folder, compare_command, exit_code, find_configs, html_summary, markdown_summary,
                      run_configs, run_one, summarize, write_summaries)
from .history import (Cell, Commit, SweepResult, extract, matlab_commits, on_commit, open_repo, run_sweep,
                      to_html, to_markdown, verdict_changes, write_reports)

__all__ = ["Cell", "Commit", "SweepResult", "check_folder", "compare_command", "exit_code", "extract",
           "find_configs", "html_summary", "markdown_summary", "matlab_commits", "on_commit", "open_repo", "run_configs",
           "run_one", "run_sweep", "summarize", "to_html", "to_markdown", "verdict_changes", "write_reports",
           "write_summaries"]
