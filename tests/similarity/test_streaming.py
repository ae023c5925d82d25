"""Minibatch CKA: unbiased per batch, averaged as HSICs, memory set by the batch."""

import numpy as np
import pytest
import similarity_references as ref

from strata.similarity.resampling import Jackknife
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
        acc.update([x[rows] for x in xs], [y[rows] for y in ys], np.arange(40)[rows])
    x, y = xs[1], ys[0]
    hsic = [ref.hsic_unbiased(x[r] @ x[r].T, y[r] @ y[r].T) for r in halves]
    hxx = [ref.hsic_unbiased(x[r] @ x[r].T, x[r] @ x[r].T) for r in halves]
    hyy = [ref.hsic_unbiased(y[r] @ y[r].T, y[r] @ y[r].T) for r in halves]
    assert acc.cka()[1, 0] == pytest.approx(np.mean(hsic) / np.sqrt(np.mean(hxx) * np.mean(hyy)))


def test_minibatches_hold_whole_utterances_in_order_and_cover_every_row_once():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 9, size=300)
    owners = np.repeat(np.arange(300), sizes)
    rows = np.arange(len(owners), dtype=float)[:, None]
    ends = np.cumsum(sizes)
    edges = [0, *ends[24:-1:25], ends[-1]]  # chunks of 25 whole utterances
    chunks = [([rows[i:j]], None, owners[i:j]) for i, j in zip(edges[:-1], edges[1:])]
    batches = list(minibatches(chunks, 100, np.random.default_rng(0)))
    seen = np.concatenate([b[0][0].ravel() for b in batches])
    assert sorted(seen) == list(range(len(owners)))
    for values, _, batch_owners in batches:
        np.testing.assert_array_equal(owners[values[0].ravel().astype(int)], batch_owners)
        for u in np.unique(batch_owners):  # all of an utterance's rows, in time order
            np.testing.assert_array_equal(
                values[0][batch_owners == u].ravel(), rows[owners == u].ravel()
            )
    sizes_out = [len(b[2]) for b in batches]
    # cut at the utterance reaching each multiple of 100 rows: within an utterance (≤ 8) of it
    assert all(92 < s < 108 for s in sizes_out[:-1]) and sizes_out[-1] >= 4
    assert np.ptp(batches[0][2]) >= 25  # a batch mixes utterances of several chunks


def test_a_tail_under_four_rows_joins_the_batch_before():
    rows = np.arange(202, dtype=float)[:, None]
    chunk = ([rows], None, np.arange(202))
    sizes = [len(b[2]) for b in minibatches([chunk], 100, np.random.default_rng(0))]
    assert sizes == [100, 102]


def test_batches_weighted_by_usable_pairs_make_a_small_tail_harmless():
    """n = 7·64 and n + 4 (a 4-row tail batch): over many shuffles the estimates agree in mean
    and spread; weighting the tail like a full batch would shift both."""
    rng = np.random.default_rng(0)
    n = 7 * 64 + 4
    z = rng.normal(size=(n, 3))
    x = z @ rng.normal(size=(3, 20)) + 2 * rng.normal(size=(n, 20))
    y = z[:, :1] @ rng.normal(size=(1, 10)) + 2 * rng.normal(size=(n, 10))

    def estimates(rows):
        return np.array(
            [
                MinibatchCKA(batch_size=64, seed=s).matrix([x[:rows]], [y[:rows]])[0, 0]
                for s in range(200)
            ]
        )

    full, tail = estimates(n - 4), estimates(n)
    assert abs(tail.mean() - full.mean()) < 0.003
    assert tail.std() < 1.3 * full.std()


def test_jackknife_values_are_the_estimate_without_each_group_on_the_same_batches():
    rng = np.random.default_rng(1)
    owners = np.repeat(rng.permutation(90), 4)
    xs, ys = layers(len(owners), seed=5)
    jackknife = Jackknife.assign(owners, 7, seed=0)
    m = MinibatchCKA(batch_size=100)
    for side_b in (ys, None):  # across models and a model with itself
        names_b = None if side_b is None else ["c"]
        acc = m.accumulate((xs, ["a", "b"]), side_b and (side_b, names_b), 3, jackknife, owners)
        batches = list(minibatches([(xs, side_b, owners)], 100, np.random.default_rng([0, 0])))
        assert acc.batches == len(batches) == 4
        for g in range(jackknife.count):
            direct = HSICAccumulator(["a", "b"], names_b)
            for batch_a, batch_b, batch_owners in batches:
                keep = jackknife.of(batch_owners) != g
                direct.update(
                    [v[keep] for v in batch_a],
                    None if batch_b is None else [v[keep] for v in batch_b],
                    batch_owners[keep],
                )
            np.testing.assert_allclose(acc.jackknife_cka()[g], direct.cka(), atol=1e-6)
        assert np.ptp(acc.jackknife_cka()[:, 1, 0]) > 1e-4  # the groups differ


def test_the_permutation_path_and_the_blocked_path_agree():
    """Without controls a batch is summed in Gram blocks; with them, whole Grams."""
    xs, ys = layers(1500, seed=3)
    owners = np.arange(1500) // 3
    plain = MinibatchCKA(batch_size=700).accumulate((xs, ["a", "b"]), (ys, ["c"]), owners=owners)
    jackknife = Jackknife.assign(owners, 5, seed=0)
    permuted = MinibatchCKA(batch_size=700).accumulate(
        (xs, ["a", "b"]), (ys, ["c"]), 5, jackknife, owners
    )
    np.testing.assert_allclose(plain.cka(), permuted.cka(), atol=1e-9)
    assert permuted.null_cka().shape == (5, 2, 1) and np.abs(permuted.null_cka()).max() < 0.2
