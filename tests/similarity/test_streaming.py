"""Minibatch CKA: unbiased per batch, averaged as HSICs, memory set by the batch."""

import numpy as np
import pytest
import similarity_references as ref

from strata.similarity.streaming import HSICAccumulator, MinibatchCKA, minibatches


def layers(n, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6))
    xs = [base @ rng.normal(size=(6, 9)) + rng.normal(size=(n, 9)) for _ in range(2)]
    ys = [np.tanh(base @ rng.normal(size=(6, 5))) + 0.5 * rng.normal(size=(n, 5))]
    return xs, ys


def test_one_batch_is_the_full_unbiased_estimator():
    xs, ys = layers(120)
    got = MinibatchCKA(batch_size=120).matrix(xs, ys)
    want = [[ref.linear_cka(x, y, debiased=True) for y in ys] for x in xs]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_many_batches_estimate_what_the_full_estimator_does():
    xs, ys = layers(6000, seed=1)
    streamed = MinibatchCKA(batch_size=500).matrix(xs, ys)
    from strata.similarity.measures import get_measure

    full = get_measure("linear_cka_debiased").matrix(xs, ys)
    np.testing.assert_allclose(streamed, full, atol=0.02)


def test_self_similarity_is_exactly_one_with_many_batches():
    """Averaging HSICs, not per-batch CKA values, keeps the diagonal at 1."""
    xs, _ = layers(1000)
    matrix = MinibatchCKA(batch_size=64).matrix(xs)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)


def test_batch_hsics_average_to_the_mean_of_per_batch_references():
    xs, ys = layers(40, seed=2)
    acc = HSICAccumulator(["a0", "a1"], ["b0"])
    halves = (slice(0, 20), slice(20, 40))
    for rows in halves:
        acc.update([x[rows] for x in xs], [y[rows] for y in ys])
    x, y = xs[1], ys[0]
    hsic = [ref.hsic_unbiased(x[r] @ x[r].T, y[r] @ y[r].T) for r in halves]
    hxx = [ref.hsic_unbiased(x[r] @ x[r].T, x[r] @ x[r].T) for r in halves]
    hyy = [ref.hsic_unbiased(y[r] @ y[r].T, y[r] @ y[r].T) for r in halves]
    assert acc.cka()[1, 0] == pytest.approx(np.mean(hsic) / np.sqrt(np.mean(hxx) * np.mean(hyy)))


def test_minibatches_cover_every_row_once_in_shuffled_batches():
    rows = np.arange(1003, dtype=float)[:, None]
    chunks = [([rows[i : i + 37]], None) for i in range(0, 1003, 37)]
    batches = list(minibatches(chunks, 100, np.random.default_rng(0)))
    seen = np.concatenate([b[0][0].ravel() for b in batches])
    assert sorted(seen) == list(range(1003))
    sizes = [len(b[0][0]) for b in batches]
    assert all(s == 100 for s in sizes[:-1]) and 4 <= sizes[-1] <= 103
    first = batches[0][0][0].ravel()
    assert np.ptp(first) > 200  # a batch mixes rows from far apart in the stream


def test_a_tail_under_four_rows_joins_the_batch_before():
    rows = np.arange(202, dtype=float)[:, None]
    sizes = [len(b[0][0]) for b in minibatches([([rows], None)], 100, np.random.default_rng(0))]
    assert sizes == [100, 102]


def test_the_permutation_path_and_the_blocked_path_agree():
    """Without permutations a batch is summed in Gram blocks; with them, whole Grams."""
    xs, ys = layers(1500, seed=3)
    plain = MinibatchCKA(batch_size=700).accumulate((xs, ["a", "b"]), (ys, ["c"]))
    permuted = MinibatchCKA(batch_size=700).accumulate((xs, ["a", "b"]), (ys, ["c"]), 5)
    np.testing.assert_allclose(plain.cka(), permuted.cka(), atol=1e-9)
    assert permuted.null_cka().shape == (5, 2, 1) and np.abs(permuted.null_cka()).max() < 0.2
