"""Traces recorded and judged in chunks (``simplecnn record --chunk N``,
``traces/chunked.py``; ``TraceSource.chunks``).

A chunked trace judged offline gives exactly the live streamed compare's
verdict (every per-stage number, the first divergence with its instance),
whose PASS/FAIL and first divergence are the unchunked compare's: on
matlab_ref/seed as it is and with a fault planted, and on the real current
simpleNN (../shared; skipped when absent) as it is and with a fault in
``JTv.m``.  A value changed in the second chunk of a trace is caught at its
stage, at an instance of that chunk.  The file stays flat (numeric arrays
and char rows), deflated where it pays, the index maps stored once; Octave
loads it.  Chunkings other than the recorded one are refused in one line.
"""
from __future__ import annotations

import subprocess
import zlib

import numpy as np
import pytest

from tests.conftest import REPO, needs_octave
from harness_bundle import real_trees, planted

from simplecnn_cli.main import main
from simplecnn_harness.compare import Options, run_compare
from simplecnn_harness.sources.trace import TraceSource
from simplecnn_harness.traces.file import read_trace, write_trace
from simplecnn_harness.traces.record import record

pytestmark = needs_octave

SEED = REPO / "matlab_ref" / "seed"
SMALL = SEED / "config" / "small-nonsquare.config"
SEED_FAULT = ("cnn/lossgrad_subset.m", "V = model.weight{m}'*dXidS;", "V = 1.001*model.weight{m}'*dXidS;")
REAL_FAULT = ("cnn/JTv.m", "v = model.weight{m}'*v;", "v = 1.001*model.weight{m}'*v;")




def numbers(v):
    """Everything a verdict says but the run's identity and timings."""
    return (v.ok, v.first_divergence, v.pooling, v.loss, v.notes, v.chunks,
            [(s.layer, s.direction, s.stage, s.compared, s.ok, s.explained, s.rel_err, s.max_abs_err,
              s.max_ulp, s.n_diff, s.note, s.source, s.origin) for s in v.stages])


def offline(trace, **kw):
    opts = Options(precision=None, **kw)
    return run_compare(opts, TraceSource(trace, opts))


def check_case(tree, config, n, chunk, trace, want):
    """Record ``tree`` in chunks; the trace's verdict is the live streamed one, and agrees with the whole one."""
    kw = dict(matlab_dir=str(tree), config=str(config), instances=n)
    info = record(Options(**kw), trace, chunk=chunk)
    count = -(-n // chunk)
    assert info["chunks"] == count and info["chunk"] == chunk
    assert read_trace(trace)["chunk_sizes"].tolist() == [[float(min(chunk, n - s)) for s in range(0, n, chunk)]]
    live = run_compare(Options(chunk=chunk, **kw))
    off = offline(trace)                                 # the recorded chunking, by default
    assert off.chunks == count
    assert numbers(off) == numbers(live)
    whole = run_compare(Options(**kw))
    assert whole.ok == off.ok == (want is None)
    if want is not None:
        f = off.first_divergence
        assert (f["layer"], f["direction"], f["stage"]) == want == \
            tuple(whole.first_divergence[k] for k in ("layer", "direction", "stage"))
        assert 1 <= f["instance"] <= n
    return off


@pytest.fixture(scope="module")
def seed_fault(tmp_path_factory):
    return planted(SEED, tmp_path_factory.mktemp("chunks") / "fault", SEED_FAULT)


@pytest.mark.parametrize("name,n,chunk,want", [
    ("seed", 20, 8, None),
    ("fault", 18, 7, (2, "backward", "WtDelta")),
])
def test_chunked_trace_gives_the_live_streamed_verdict(seed_fault, tmp_path, name, n, chunk, want):
    tree = SEED if name == "seed" else seed_fault
    check_case(tree, SMALL, n, chunk, tmp_path / "t.mat", want)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    trees = real_trees(tmp_path_factory.mktemp("chunks-real"))
    trees["fault"] = planted(trees["current"], trees["dir"] / "fault", REAL_FAULT)
    return trees


@pytest.mark.parametrize("name,want", [("current", None), ("fault", (3, "backward", "WtDelta"))])
def test_chunked_trace_of_the_real_code(real, tmp_path, name, want):
    check_case(real[name], real["config"], 16, 6, tmp_path / "t.mat", want)


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    trace = tmp_path_factory.mktemp("chunked") / "t.mat"
    record(Options(instances=12), trace, chunk=5)             # the default tree and config (28 x 28)
    return trace


def test_a_value_changed_in_a_later_chunk_is_caught_there(chunked, tmp_path):
    v = read_trace(chunked)
    line = next(ln.split("\t") for ln in v["c2_index"].splitlines() if ln.startswith("2\tbackward\tWtDelta\t"))
    assert line[3].startswith("c2_")
    v[line[3]] = np.array(v[line[3]], order="F")
    v[line[3]].reshape(-1, order="F")[-1] += 0.5             # the last instance of chunk 2 (instance 10)
    bad = write_trace(tmp_path / "bad.mat", v)
    assert offline(chunked).ok
    got = offline(bad)
    f = got.first_divergence
    assert not got.ok and (f["layer"], f["direction"], f["stage"], f["instance"]) == (2, "backward", "WtDelta", 10)


def test_the_file_is_flat_compressed_and_stores_the_maps_once(chunked):
    import h5py

    v = read_trace(chunked)
    assert v["simplecnn_trace"] == "simplecnn-trace/2" and v["chunk_sizes"].tolist() == [[5.0, 5.0, 2.0]]
    assert all(isinstance(x, (str, np.ndarray)) for x in v.values())
    rows = {k: [ln.split("\t") for ln in v[f"c{k}_index"].splitlines()] for k in (1, 2, 3)}
    for k in (2, 3):
        for r in rows[k]:
            if r[2] in ("idx_phiZ", "idx_pad") and r[3] != "-":
                assert r[3].startswith("c1_"), r               # stored once, in chunk 1
            elif r[3] != "-":
                assert r[3].startswith(f"c{k}_"), r
    with h5py.File(chunked, "r") as f:
        assert all(isinstance(f[n], h5py.Dataset) for n in f)
        big = [f[n] for n in f if f[n].nbytes >= 1 << 16]
        packed = [d for d in big if d.compression]
        assert len(packed) > len(big) / 2 and all(d.compression == "gzip" for d in packed)
        for d in big:                        # what is stored plain would barely deflate
            if not d.compression:
                a = d[()]
                assert len(zlib.compress(a.tobytes(), 1)) > 0.7 * a.nbytes
        stored = sum(f[n].id.get_storage_size() for n in f)
        raw = sum(f[n].nbytes for n in f)
    assert stored < 0.8 * raw                                # the zeros of ReLU, pooling and padding deflate
    # Octave (whose HDF5 reads the filters, as MATLAB's does) loads a chunk's value
    name = rows[2][2][3]
    code = f"T = load('{chunked}'); printf('%.17g\\n', sum(T.{name}(:)))"
    out = subprocess.run(["octave-cli", "--no-gui", "--eval", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) == pytest.approx(float(v[name].sum()), rel=1e-12)


def test_other_chunkings_than_the_recorded_one_are_refused(chunked, tmp_path, capsys):
    def cli(*args):
        rc = main(["compare", "--quiet", "--trace", *map(str, args)])
        out, err = capsys.readouterr()
        return rc, out, err

    rc, out, err = cli(chunked, "--chunk", 5)
    assert rc == 0 and "streamed in 3 chunks" in out
    for extra, words in ((["--chunk", "4"], "was recorded in chunks of 5 instances; give --chunk 5"),
                         (["--mode", "isolated"], "isolated mode is not streamed yet; record it in one chunk")):
        rc, out, err = cli(chunked, *extra)
        assert rc == 2 and out == "" and err.count("\n") == 1 and words in err, err
    # a trace in one piece: judged whole, or as one chunk; smaller chunks refused
    whole = tmp_path / "w.mat"
    record(Options(config=str(SMALL), instances=6), whole)
    assert read_trace(whole)["chunk_sizes"].tolist() == [[6.0]]
    rc, out, err = cli(whole)
    assert rc == 0 and "chunks of instances" not in out
    rc, out, err = cli(whole, "--chunk", 6)
    assert rc == 0 and "streamed in 1 chunks" in out
    rc, out, err = cli(whole, "--chunk", 4)
    assert rc == 2 and err.count("\n") == 1 and "holds its 6 instances in one piece" in err, err


def test_chunks_by_default_when_the_instances_pass_the_budget(tmp_path, monkeypatch):
    from simplecnn_harness import inputs as loader
    from simplecnn_harness import streamed

    model_bytes = loader.bytes_per_instance(loader.load(str(SMALL), instances=10).model, "double")
    monkeypatch.setattr(streamed, "STREAM_BUDGET", 4 * model_bytes)        # 4 instances a chunk
    trace = tmp_path / "t.mat"
    info = record(Options(config=str(SMALL), instances=10), trace)
    assert (info["chunks"], info["chunk"]) == (3, 4)
    live = run_compare(Options(config=str(SMALL), instances=10))          # streamed by the same budget
    assert live.chunks == 3 and numbers(offline(trace)) == numbers(live)


@pytest.mark.parametrize("extra,words", [
    (["--chunk", "0", "--out", "t.mat"], "--chunk: must be a positive number of instances, not 0"),
    (["--chunk", "4", "--emit-script", "b"], "--chunk: not with --emit-script"),
    (["--all-records", "--chunk", "4", "--instances", "12", "--out", "t.mat"], "an --all-records trace holds one"),
])
def test_record_refuses_bad_chunking_in_one_line(tmp_path, capsys, monkeypatch, extra, words):
    monkeypatch.chdir(tmp_path)
    rc = main(["record", "--quiet", *extra])
    out, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1 and words in err, err
    assert list(tmp_path.iterdir()) == []                      # nothing written
