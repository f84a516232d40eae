"""``compare --matlab-dir A --against matlab:B``: two MATLAB trees judged
stage by stage, no port in between.

* our reference (matlab_ref/current) against the real current simpleNN: PASS;
* our seed-layout reference against the real seed-layout commit ff2333d on a
  non-square net: FAIL at layer 1, forward (the original's (wd_pad, ht_pad)
  swap in init_net);
* a copy of matlab_ref/seed whose vTP scales the pooling gradient against
  the original: FAIL at the first pooled layer's backward pool_gradient, every
  forward stage and the loss equal.
Needs Octave (and ../shared/upstream for the real trees)."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import CURRENT, NONSQUARE, SEED, needs_octave
from harness_bundle import TINY_CONFIG, clone, extract

from simplecnn_harness.compare import Options, run_compare
from simplecnn_harness.sources.python_side import python_source
from simplecnn_py.support.errors import InputError

pytestmark = needs_octave

CURRENT_REV = "bc40417"
SEED_REV = "ff2333d"
VTP_LINE = "vTP = accumarray(subs(:), V(:), [d*a*b*nV*n 1])';"


def _pair(a, b, config, n=12):
    opts = Options(matlab_dir=str(a), config=str(config), instances=n)
    return run_compare(opts, None, python_source(None, f"matlab:{b}", opts))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    base = tmp_path_factory.mktemp("pair")
    git_dir = clone(base)
    cfg = base / "tiny.config"
    cfg.write_text(TINY_CONFIG)
    return {"current": extract(git_dir, CURRENT_REV, base / CURRENT_REV),
            "seed": extract(git_dir, SEED_REV, base / SEED_REV), "config": cfg}


def test_our_reference_against_the_real_current_code_passes(real):
    result = _pair(CURRENT, real["current"], real["config"])
    assert result.ok and result.first_divergence is None
    assert result.notes[0].startswith(f"Python side: MATLAB tree {real['current']}")
    backward = {s.layer for s in result.stages if s.compared and s.direction == "backward"}
    assert backward == {1, 2, 3, 4}
    assert result.loss["python"] == pytest.approx(result.loss["matlab"], rel=1e-13)


def test_the_real_seed_commit_against_our_seed_reference_fails_at_layer_1(real):
    result = _pair(SEED, real["seed"], real["config"])
    assert not result.ok
    fd = result.first_divergence
    assert (fd["layer"], fd["direction"]) == (1, "forward")


def test_an_edited_vtp_fails_at_the_pooling_gradient(tmp_path):
    edited = tmp_path / "seed-edited"
    shutil.copytree(SEED, edited)
    f = edited / "cnn" / "vTP.m"
    text = f.read_text()
    assert VTP_LINE in text
    f.write_text(text.replace(VTP_LINE, VTP_LINE.replace("= accumarray", "= 1.001*accumarray"), 1))
    result = _pair(SEED, edited, NONSQUARE)
    assert not result.ok
    assert result.first_divergence == {"layer": 2, "direction": "backward", "stage": "pool_gradient"}
    by = {s.key(): s for s in result.stages}
    assert all(s.ok for s in result.stages if s.compared and s.direction == "forward")
    assert by[(2, "backward", "pool_gradient")].rel_err == pytest.approx(1e-3, rel=1e-6)


def test_a_tree_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(InputError):
        python_source(None, f"matlab:{tmp_path}", Options())
    with pytest.raises(InputError) as e:
        python_source(None, f"octave:{tmp_path}", Options())
    assert "give matlab:DIR" in str(e.value)
