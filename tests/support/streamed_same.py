"""A streamed compare's verdict against the unchunked one, field by field of
their JSON (for the ``--python``/``--against`` sides' streamed tests).

Equal: every field but the timings, the count of chunks and the notes a
streamed run adds (``streamed in ...``, a loss that is not a sum over the
instances); the first divergence (the streamed one also names the instance
where it first shows); each stage's kind, compared/ok/explained, source,
origin and note (the likely slip, the tie note, the reasons of stages not
exposed), sizes of the per-instance stages.  Numbers: each side computes a
chunk on its own and may round a product differently than on the whole
batch, so a failing stage's errors agree to ``rel`` and a passing one stays
within the tolerance; the losses agree to ``rel``.
"""
from __future__ import annotations

import pytest

SUMMED = {"dlossdW", "dlossdb", "loss"}
STREAM_NOTES = ("streamed in ", "the network's loss is not a sum over the instances")
SAME = ("kind", "compared", "ok", "explained", "source", "origin", "note", "isolated_rel_err")


def streamed_notes(notes):
    return [x for x in notes if x.startswith(STREAM_NOTES)]


def assert_streamed_same(whole, streamed, n, chunk, rel=1e-9):
    assert whole.chunks == 0 and streamed.chunks == -(-n // chunk)
    a, b = whole.to_json(), streamed.to_json()
    assert set(b) - set(a) == {"chunks"}
    for key in set(a) - {"timings", "stages", "notes", "first_divergence", "loss"}:
        assert a[key] == b[key], key
    assert [x for x in b["notes"] if not x.startswith(STREAM_NOTES)] == a["notes"]
    assert any(x.startswith("streamed in ") for x in b["notes"])
    fa, fb = a["first_divergence"], b["first_divergence"]
    assert (fa is None) == (fb is None)
    if fa is not None:
        assert {k: v for k, v in fb.items() if k != "instance"} == fa
        assert 1 <= fb.get("instance", 1) <= n
    for side in ("python", "matlab"):
        assert b["loss"][side] == pytest.approx(a["loss"][side], rel=rel)
    assert [(s["layer"], s["direction"], s["stage"]) for s in a["stages"]] == \
        [(s["layer"], s["direction"], s["stage"]) for s in b["stages"]]
    for x, y in zip(a["stages"], b["stages"]):
        where = (x["layer"], x["direction"], x["stage"])
        for name in SAME:
            assert x[name] == y[name], (where, name)
        if not x["compared"]:
            continue
        if x["kind"] == "index":
            assert (x["n_diff"], x["numel"]) == (y["n_diff"], y["numel"]), where
        elif x["ok"] and not x["explained"]:
            assert y["rel_err"] <= streamed.rtol, where
        elif x["rel_err"] is None:                  # sizes differ: no error to compare
            assert y["rel_err"] is None, where
        else:
            assert y["rel_err"] == pytest.approx(x["rel_err"], rel=rel), where
        if x["stage"] not in SUMMED:
            for name in ("numel", "shape_python", "shape_matlab"):
                assert x[name] == y[name], (where, name)
