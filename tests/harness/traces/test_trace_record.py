"""``simplecnn record`` and ``simplecnn compare --trace``: a trace judged
offline gives exactly the live run's verdict, first divergence and stage
table (matlab_ref/seed and copies of it with a defect injected, whose first
divergence is known in advance); inputs that are not the recorded ones are
refused in one line; every report ends with the command that reproduces it.
"""
from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from simplecnn_cli.main import main
from tests.conftest import needs_octave

pytestmark = needs_octave

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "matlab_ref" / "seed"
NONSQUARE = SEED / "config" / "small-nonsquare.config"
SQUARE = ("L = 3;\nLC = 2;\nLF = 1;\nht_input = 8;\nwd_input = 8;\nch_input = [2,3,4];\n"
          "wd_pad_added = [1,1];\nwd_filter = [3,3];\nstrides = [1,1];\nwd_subimage_pool = [2,2];\n"
          "full_neurons = [3];\n")
DEFECT = ("cnn/init_net.m", "find_index_phiZ(model.ht_pad(m), model.wd_pad(m),",
          "find_index_phiZ(model.wd_pad(m), model.ht_pad(m),")
SIGN = ("cnn/lossgrad_subset.m", "V = model.weight{m}'*dXidS;", "V = (1 - 2*(m == 2))*model.weight{m}'*dXidS;")


def tree_copy(dest: Path, edit) -> Path:
    shutil.copytree(SEED, dest)
    rel, old, new = edit
    f = dest / rel
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, new))
    return dest


def cli(capsys, *args):
    rc = main([*map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """name -> (options, trace file, live result): each MATLAB side recorded once."""
    from simplecnn_harness.compare import Options, run_compare
    from simplecnn_harness.traces.record import record

    base = tmp_path_factory.mktemp("traces")
    square = base / "square.config"
    square.write_text(SQUARE)
    defect = tree_copy(base / "defect", DEFECT)
    sign = tree_copy(base / "sign", SIGN)
    specs = {"square": dict(config=str(square), instances=6),
             "nonsquare": dict(config=str(NONSQUARE), instances=5),
             "defect": dict(matlab_dir=str(defect), config=str(NONSQUARE), instances=6),
             "sign": dict(matlab_dir=str(sign), config=str(square), instances=7)}
    out = {}
    for name, kw in specs.items():
        trace = base / f"{name}.mat"
        record(Options(**kw), trace, all_records=name == "sign")     # every record (format 1) for "sign"
        out[name] = (kw, trace, run_compare(Options(**kw)))
    return out


def offline(kw, trace, **more):
    from simplecnn_harness.compare import Options, run_compare
    from simplecnn_harness.traces.record import TraceRecords

    opts = Options(precision=None, **{k: v for k, v in kw.items() if k not in ("matlab_dir",)}, **more)
    return run_compare(opts, TraceRecords(trace, opts))


def verdicts(res):
    return (res.ok, res.first_divergence, res.pooling, res.loss, res.notes,
            [(s.layer, s.direction, s.stage, s.compared, s.ok, s.explained, s.rel_err, s.max_abs_err,
              s.max_ulp, s.n_diff, s.note, s.source, s.origin) for s in res.stages])


@pytest.mark.parametrize("name,first", [("square", None), ("nonsquare", None),
                                        ("defect", (1, "forward", "idx_phiZ")),
                                        ("sign", (2, "backward", "WtDelta"))])
def test_offline_verdict_is_the_live_one(cases, name, first):
    kw, trace, live = cases[name]
    got = live.first_divergence
    assert (None if got is None else (got["layer"], got["direction"], got["stage"])) == first
    off = offline(kw, trace)
    assert verdicts(off) == verdicts(live)
    assert off.layout == live.layout == "seed"


def test_isolated_mode_from_a_trace(cases):
    from simplecnn_harness.compare import Options, run_compare

    kw, trace, _ = cases["defect"]
    live = run_compare(Options(mode="isolated", **kw))
    assert verdicts(offline(kw, trace, mode="isolated")) == verdicts(live)


def test_the_trace_holds_inputs_identity_and_labelled_records(cases):
    from simplecnn_harness.traces.file import read_trace

    kw, trace, live = cases["sign"]
    v = read_trace(trace)
    meta = json.loads(v["meta"])
    assert v["engine"].startswith("Octave ")
    assert meta["layout"] == "seed" and meta["tree"]["path"] == str(Path(kw["matlab_dir"]).resolve())
    assert len(meta["tree"]["mfiles_sha256"]) == 64 and meta["tree"]["mfiles"] > 5
    assert meta["inputs"]["config_text"] == SQUARE and meta["inputs"]["instances"] == 7
    assert v["in_data"].shape == (2 * 8 * 8, 7) and v["in_weight_1"].shape == (3, 2 * 9)
    lines = [ln.split("\t") for ln in v["rec_index"].splitlines()]
    assert len(lines) == v["rec_layer"].size
    assert all(len(ln) == 7 for ln in lines)
    # the records carry routine, direction and (candidate) stage; kept values are variables
    assert any(ln[4] == "lossgrad_subset" and ln[5] == "backward" and ln[6] == "WtDelta" for ln in lines)
    assert any(ln[0] == "net.dlossdW" and ln[6] == "dlossdW" for ln in lines)
    assert all(ln[2] in v for ln in lines if ln[2] != "-")
    # the tree itself was not touched by the recording
    assert "simplecnn_rec__" not in (Path(kw["matlab_dir"]) / "cnn" / "lossgrad_subset.m").read_text()


def test_cli_record_then_compare_exit_codes_reports_and_reproduce_line(cases, capsys, tmp_path):
    kw, _, live = cases["sign"]
    trace = tmp_path / "s.mat"
    rc, out, err = cli(capsys, "record", "--quiet", "--matlab-dir", kw["matlab_dir"], "--config", kw["config"],
                       "--instances", 7, "--out", trace)
    assert rc == 0 and trace.is_file() and "records" in out, err
    assert not list(tmp_path.glob(".*tmp"))
    j, h = tmp_path / "r.json", tmp_path / "r.html"
    rc, out, err = cli(capsys, "compare", "--quiet", "--trace", trace, "--json", j, "--html", h)
    assert rc == 1, out + err
    assert "first divergence at layer 2, backward, WtDelta" in out
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith("reproduce: simplecnn compare --trace ")
    d = json.loads(j.read_text())
    assert list(d)[-1] == "command" and d["command"] == last[len("reproduce: "):]
    assert d["first_divergence"] == live.first_divergence
    page = h.read_text()
    assert page.rstrip().endswith("</body></html>") and "reproduce: <code>simplecnn compare --trace" in page
    # the reproduce line gives the same report again
    words = shlex.split(d["command"])
    rc2, out2, _ = cli(capsys, *words[1:], "--quiet")
    assert rc2 == 1 and out2 == out


def test_live_report_ends_with_its_reproduce_line(capsys, tmp_path):
    cfg = tmp_path / "sq.config"
    cfg.write_text(SQUARE)
    j = tmp_path / "l.json"
    rc, out, err = cli(capsys, "compare", "--quiet", "--config", cfg, "--instances", 4, "--json", j)
    assert rc == 0, out + err
    want = f"simplecnn compare --config {cfg} --instances 4 --json {j}"
    assert out.rstrip("\n").splitlines()[-1] == f"reproduce: {want}"
    assert json.loads(j.read_text())["command"] == want


def test_inputs_other_than_the_recorded_ones_are_refused(cases, capsys, tmp_path):
    kw, trace, _ = cases["square"]
    # the same inputs given explicitly are accepted
    rc, out, err = cli(capsys, "compare", "--quiet", "--trace", trace, "--config", kw["config"],
                       "--instances", 6, "--seed", 0)
    assert rc == 0, out + err
    other = tmp_path / "other.config"
    other.write_text(SQUARE.replace("full_neurons = [3];", "full_neurons = [3];\n% edited"))
    for args, what in ((["--config", other], "--config"), (["--instances", 5], "--instances"),
                       (["--precision", "single"], "--precision"), (["--seed", 3], "--seed"),
                       (["--matlab-dir", SEED], "--matlab-dir")):
        rc, out, err = cli(capsys, "compare", "--quiet", "--trace", trace, *args)
        assert rc == 2 and out == "", err
        assert len(err.strip().splitlines()) == 1 and what in err and "Traceback" not in err
    # data: a file whose first instances are not the recorded (generated) ones
    import numpy as np
    import scipy.io

    data = tmp_path / "d.mat"
    rng = np.random.default_rng(1)
    scipy.io.savemat(data, {"y": np.arange(1, 7, dtype=float).reshape(-1, 1) % 3 + 1,
                            "Z": rng.random((6, 128))})
    rc, out, err = cli(capsys, "compare", "--quiet", "--trace", trace, "--data", data)
    assert rc == 2 and "--data" in err and len(err.strip().splitlines()) == 1
    # weights other than the recorded ones
    from simplecnn_harness.traces.file import read_trace

    v = read_trace(trace)
    W = np.empty((3, 1), dtype=object)
    b = np.empty((3, 1), dtype=object)
    for m in range(1, 4):
        W[m - 1, 0] = v[f"in_weight_{m}"] * (1.5 if m == 2 else 1.0)
        b[m - 1, 0] = v[f"in_bias_{m}"]
    wfile = tmp_path / "w.mat"
    scipy.io.savemat(wfile, {"weight": W, "bias": b})
    rc, out, err = cli(capsys, "compare", "--quiet", "--trace", trace, "--weights", wfile)
    assert rc == 2 and "--weights" in err
    W[1, 0] = v["in_weight_2"]
    scipy.io.savemat(wfile, {"weight": W, "bias": b})
    rc, out, err = cli(capsys, "compare", "--quiet", "--trace", trace, "--weights", wfile)
    assert rc == 0, err


def test_a_file_that_is_not_a_trace_is_refused(capsys, tmp_path):
    for content in (b"not hdf5 at all", None):
        f = tmp_path / "x.mat"
        if content is None:
            import h5py

            with h5py.File(f, "w") as h:
                h["a"] = [1.0]
        else:
            f.write_bytes(content)
        rc, out, err = cli(capsys, "compare", "--quiet", "--trace", f)
        assert rc == 2 and str(f) in err and len(err.strip().splitlines()) == 1
    rc, out, err = cli(capsys, "compare", "--quiet", "--trace", tmp_path / "missing.mat")
    assert rc == 2 and "no such trace file" in err


@pytest.mark.parametrize("option, value, what", [("--seed", -1, "must be an integer in [0, 2^32), not -1"),
                                                  ("--instances", 0, "must be a positive number, not 0"),
                                                  ("--timeout", 0, "must be a positive number of seconds")])
def test_record_refuses_what_compare_refuses_before_any_work(capsys, tmp_path, option, value, what):
    """record takes compare's inputs (simplecnn_cli/args.py) and the same
    checks: one line, exit 2, no file."""
    for command in (["record", "--out", tmp_path / "t.mat"], ["compare"]):
        rc, out, err = cli(capsys, *command, "--quiet", option, value)
        assert rc == 2 and err.strip().startswith(f"simplecnn: error: {option}: {what}"), err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.mat").exists()


def test_record_bad_input_leaves_no_file(capsys, tmp_path):
    rc, out, err = cli(capsys, "record", "--quiet", "--instances", 4, "--out", tmp_path / "no" / "t.mat")
    assert rc == 2 and "does not exist" in err
    broken = tmp_path / "broken"
    shutil.copytree(SEED, broken)
    f = broken / "cnn" / "feedforward.m"
    f.write_text(f.read_text().replace("function", "function", 1) + "\n")
    lg = broken / "cnn" / "lossgrad_subset.m"
    lg.write_text(lg.read_text().replace("V = model.weight{m}'*dXidS;", "V = no_such_function__(dXidS);"))
    out_file = tmp_path / "t.mat"
    cfg = tmp_path / "sq.config"
    cfg.write_text(SQUARE)
    rc, out, err = cli(capsys, "record", "--quiet", "--matlab-dir", broken, "--config", cfg,
                       "--instances", 4, "--out", out_file)
    assert rc == 2 and "lossgrad_subset.m" in err and len(err.strip().splitlines()) == 1
    assert not out_file.exists() and not list(tmp_path.glob(".t.mat.*"))
