"""conventions.gather_blocks / accumarray_blocks (used by padding_and_phiZ,
maxpooling and vTP) equal MATLAB's offset forms, built literally here:
``A(idx + blk*[0:n-1])`` and ``accumarray(idx + blk*[0:n-1], V(:))``."""
import numpy as np
import pytest

from simplecnn_py.support.conventions import accumarray, accumarray_blocks, gather_blocks, reshape, vec


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gather_blocks_equals_offset_indexing(dtype):
    g = np.random.default_rng(0)
    blk, n = 30, 5
    A = np.asfortranarray(g.standard_normal((3, blk * n // 3)), dtype=dtype)
    idx = g.integers(1, blk + 1, (47, 1))                      # repeats allowed
    offset = idx + blk * np.arange(n)                           # MATLAB: idx + blk*[0:n-1]
    expected = reshape(vec(A)[vec(offset) - 1], -1, n)
    got = gather_blocks(A, idx, n)
    assert got.shape == (47, n) and got.flags.f_contiguous and got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_accumarray_blocks_bit_identical_to_accumarray(dtype):
    """Many repeated subscripts with values of mixed magnitude, so that any
    change of summation order would show in the last bits."""
    g = np.random.default_rng(1)
    blk, n, k = 13, 6, 400
    idx = g.integers(1, blk + 1, (k, 1))
    V = np.asfortranarray(g.standard_normal((k, n)) * 10.0 ** g.integers(-8, 8, (k, n)), dtype=dtype)
    expected = accumarray(idx + blk * np.arange(n), V, blk * n)
    got = accumarray_blocks(idx, V, blk, n)
    assert got.dtype == dtype and got.shape == (blk * n,)
    assert got.tobytes() == expected.tobytes()
    # and the order does matter for these values (so the test can fail):
    shuffled = accumarray(np.flipud(idx) + blk * np.arange(n), np.flipud(V), blk * n)
    assert shuffled.tobytes() != expected.tobytes()


def test_accumarray_matches_sequential_sum():
    """accumarray adds in subscript order: compare with a plain Python loop."""
    g = np.random.default_rng(2)
    subs = g.integers(1, 5, 200)
    vals = (g.standard_normal(200) * 10.0 ** g.integers(-6, 6, 200)).astype(np.float32)
    expected = np.zeros(4, dtype=np.float32)
    for s, v in zip(subs, vals):
        expected[s - 1] = np.float32(expected[s - 1] + v)
    assert accumarray(subs, vals, 4).tobytes() == expected.tobytes()
