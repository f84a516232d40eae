"""The training curve and progress of ``simplecnn train`` / ``compare-train``:
a tqdm bar only on a terminal and never with --quiet; the curve drawn by
matplotlib into one self-contained HTML page; JSON with the values."""
import io
import json

from simplecnn_harness.reports.train_report import (curve_svg, progress_bar, series_svg, train_record,
                                            write_train_html, write_train_json)
from simplecnn_py.support.conventions import struct


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal_and_not_quiet():
    assert progress_bar(5, "iter", stream=io.StringIO()) == (None, None)
    assert progress_bar(5, "iter", quiet=True, stream=Tty()) == (None, None)
    out = Tty()
    on_step, bar = progress_bar(4, "epoch", stream=out)
    for k in range(1, 5):
        on_step(k, 0.5 / k)
    assert bar.n == 4 and bar.total == 4 and "loss/bsize 0.125" in str(bar)
    bar.close()
    text = out.getvalue()
    assert "/4 [" in text and "epoch/s" in text


def test_curve_and_files(tmp_path):
    info = struct(f0=3.0, f=[2.0, 1.0, 0.5], val_acc=[0.2, 0.4, 0.3], gnorm=[1, 1, 1], alpha=[1, 1, 1],
                  ratio=[1, 1, 1], cg=[3, 2, 1], actred=[-1, -1, -0.5], prered=[-1, -1, -0.5], total_CG=6)
    setattr(info, "lambda", [1, 1, 1])
    rec = train_record("-s 1", "newton", info, ["initial f: 3", "1-iter f: 2"], 1.5, 100, 50)
    assert rec["values"] == [2.0, 1.0, 0.5] and rec["val_acc"] == [0.2, 0.4, 0.3] and rec["initial_f"] == 3.0
    write_train_json(tmp_path / "r.json", rec)
    assert json.loads((tmp_path / "r.json").read_text())["total_CG"] == 6
    write_train_html(tmp_path / "r.html", rec)
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 1 and "val_acc" in page and "initial f: 3" in page
    assert "<script" not in page and "src=" not in page        # one self-contained file
    svg = curve_svg([1.0, float("nan"), 0.1], None, "loss/batch_size", "epoch")
    assert svg.startswith("<svg") and "loss/batch_size" in svg
    svg = series_svg({"Python": [(1, 1e-16)], "MATLAB": [(1, None)]}, "iteration", "err", line=1e-9,
                     floor=[(1, 2e-16)])
    assert "tolerance" in svg and "floor" in svg
