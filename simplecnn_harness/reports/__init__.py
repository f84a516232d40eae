"""Reports: terminal, JSON, HTML, plots and progress."""
