"""``compare --python torch:FILE.py:NAME --chunk N``: a PyTorch network
streamed against a live MATLAB tree gives the unchunked verdict.

Each case runs the comparison twice, whole and in chunks (sizes that do not
divide the instances), and the two JSON verdicts agree field by field
(``streamed_same``): a right network PASSes; a slip FAILs at the same stage
with the same slip named (the slip analysis runs on the first chunk that
diverges), first showing on instance 1; a mean loss (not a sum over the
instances: each chunk's is its own mean) FAILs at the loss with the same slip
and a note saying the chunks' numbers are the chunks'; PyTorch's pooling
ties, read per chunk and combined, are accepted as whole; a network that
fails mid-run is judged up to its failure.  The module's weights are copied
once for all the chunks and torch's thread setting is restored after."""
from __future__ import annotations

import pytest

from tests.conftest import NONSQUARE, needs_octave
from harness_bundle import SMALL_28x28
from streamed_same import assert_streamed_same
from torch_nets import CRASH, SLIPS, expected_layer, network_file

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'simplecnn_py[torch]')")

from simplecnn_harness.compare import Options, prepare, run_compare  # noqa: E402
from simplecnn_harness.sources.python_side import python_source  # noqa: E402



@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streamed-nets")
    model = prepare(Options(config=str(NONSQUARE), instances=16))[1]
    return network_file(model, folder), model


def both(spec, n, chunk, config=NONSQUARE, data=None):
    out = []
    for ch in (None, chunk):
        opts = Options(config=str(config), data=data, instances=n, chunk=ch)
        out.append(run_compare(opts, python=python_source(spec, None, opts)))
    return out


@needs_octave
def test_right_network_streams_to_the_unchunked_pass(nets, monkeypatch):
    from simplecnn_harness.sources import torch_stages

    copied = []
    real_copy = torch_stages.copy_weights
    monkeypatch.setattr(torch_stages, "copy_weights", lambda *a: copied.append(1) or real_copy(*a))
    threads = torch.get_num_threads()
    whole, streamed = both(f"torch:{nets[0]}:functional", 20, 8)
    assert whole.ok and streamed.ok
    assert_streamed_same(whole, streamed, 20, 8)
    assert len(copied) == 2                       # once for the whole run, once for its 3 chunks
    assert torch.get_num_threads() == threads
    assert streamed.notes[0] == f"Python side: PyTorch network {nets[0]}:functional"


@needs_octave
@pytest.mark.parametrize("slip,n,chunk", [("avg_pool", 20, 7), ("no_relu_full", 16, 6),
                                          ("padding_reflect", 17, 5), ("padding_amount", 17, 5)])
def test_a_slip_fails_at_the_same_stage_with_the_same_slip_named(nets, slip, n, chunk):
    path, model = nets
    where, stage, word = SLIPS[slip]
    whole, streamed = both(f"torch:{path}:{slip}", n, chunk)
    assert not whole.ok and not streamed.ok
    assert_streamed_same(whole, streamed, n, chunk)
    fd = streamed.first_divergence
    assert (fd["layer"], fd["direction"], fd["stage"]) == (expected_layer(where, model), "forward", stage)
    # a slip shows on every instance; a size that differs has no instance where it shows
    assert fd.get("instance") == (None if slip == "padding_amount" else 1)
    (named,) = [x for x in streamed.notes if x.startswith("likely slip:")]
    assert word in named


@needs_octave
def test_a_mean_loss_fails_at_the_loss_with_the_same_slip_and_says_the_chunks_are_means(nets):
    folder = nets[0].parent
    whole, streamed = both(f"torch:{folder / 'nets_mean_loss.py'}:net", 20, 8)
    key = (int(nets[1].L), "forward", "loss")
    for v in (whole, streamed):
        assert not v.ok and (v.first_divergence["layer"], v.first_divergence["direction"],
                             v.first_divergence["stage"]) == key
    slip = [x for x in whole.notes if x.startswith("likely slip:")]
    assert slip and "the mean over all 20 x 3 entries" in slip[0]
    assert [x for x in streamed.notes if x.startswith("likely slip:")] == slip
    (note,) = [x for x in streamed.notes if x.startswith("the network's loss is not a sum")]
    assert "the chunks'" in note and not any(x.startswith("the network's loss") for x in whole.notes)


@needs_octave
def test_pooling_ties_read_per_chunk_are_accepted_as_whole(shared_data, tmp_path):
    """MNIST's saturated strokes tie pooling maxima: the tie-moved windows are
    found chunk by chunk, and the pool gradient accepted (ok*) with the same
    count of windows as in one run."""
    cfg = tmp_path / "small28.config"
    cfg.write_text(SMALL_28x28)
    model = prepare(Options(config=str(cfg), instances=10))[1]
    path = network_file(model, tmp_path)
    whole, streamed = both(f"torch:{path}:sequential", 32, 12, cfg, str(shared_data / "mnist-demo.mat"))
    assert_streamed_same(whole, streamed, 32, 12)
    moved = [s for s in streamed.stages if s.explained]
    assert moved and all(s.stage == "pool_gradient" for s in moved)
    assert "equal maxima" in moved[0].note


@needs_octave
def test_a_network_failing_mid_run_is_judged_up_to_its_failure(nets, tmp_path):
    """ceil_mode with the config's width: torch fails at the first Linear on
    every chunk; what the layers got is judged, the FAIL is at the slip's
    stage, and the failure is noted (its text names the whole run's images)."""
    path, model = nets
    width = int(model.ch_input[3]) * int(model.ht_input[3]) * int(model.wd_input[3])
    f = tmp_path / "crash.py"
    f.write_text(CRASH.format(folder=str(path.parent), width=width))
    whole, streamed = both(f"torch:{f}:ceil_mode_config_width", 16, 6)
    assert not whole.ok and not streamed.ok
    fd = streamed.first_divergence
    assert {k: fd[k] for k in ("layer", "direction", "stage")} == whole.first_divergence
    for v in (whole, streamed):
        failed = [x for x in v.notes if x.startswith("the network then failed")]
        assert len(failed) == 1 and "(16, " in failed[0] and "RuntimeError" in failed[0]
        assert all(not s.compared for s in v.stages if s.direction == "backward")
    assert [(s.key(), s.compared, s.ok) for s in whole.stages] == [(s.key(), s.compared, s.ok)
                                                                   for s in streamed.stages]


def test_ties_read_per_chunk_combine_to_the_whole_runs_answer():
    """tie_pieces of instance 1 and of instance 2, combined, answer as
    tie_explained on both (a 1-channel 4 x 4 map, 2 x 2 pooling): instance 1
    holds a tie whose gradient moved, instance 2 agrees (explained: 1 of 8
    windows) or moves its gradient off a non-tie (not explained)."""
    import numpy as np

    from simplecnn_harness.sources.torch_ties import tie_explained, tie_pieces, ties_combined
    from simplecnn_py.support.conventions import cell, struct

    model = struct(ch_input=cell([1, 1]), wd_subimage_pool=cell([2]), ht_conv=cell([4]), wd_conv=cell([4]))
    S = np.array([[5., 5., 1., 2.], [0., 1., 3., 0.], [1., 2., 0., 0.], [0., 4., 0., 1.]])
    M = np.zeros((4, 4))
    M[0, 0], M[0, 3], M[3, 1] = 2.0, 1.5, -1.0
    P = M.copy()
    P[0, 0], P[0, 1] = 0.0, 2.0                        # moved between the tied maxima (0, 0) and (0, 1)
    flat = lambda *maps: np.concatenate([A.reshape(1, -1, order="F") for A in maps], axis=1)  # noqa: E731
    P2 = M.copy()
    P2[3, 1], P2[3, 0] = 0.0, -1.0                     # moved off the window's only maximum
    for second, want in ((M, (True, 1, 8)), (P2, (False, 0, 0))):
        whole = tie_explained(model, 1, 2, flat(P, second), flat(M, M), flat(S, S), 1e-13)
        pieces = [tie_pieces(model, 1, 1, flat(p), flat(M), flat(S)) for p in (P, second)]
        assert whole == ties_combined(pieces, 1e-13) == want
