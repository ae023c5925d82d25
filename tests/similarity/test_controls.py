"""Utterance permutation p-values, max-T family-wise p, jackknife intervals."""

import numpy as np
import pytest
from scipy.stats import chisquare

from strata.similarity.controls import Controls, with_controls
from strata.similarity.measures import get_measure
from strata.similarity.resampling import Jackknife, block_permutation
from strata.similarity.streaming import MinibatchCKA

DEBIASED = get_measure("linear_cka_debiased")


def correlated_frames(rng, utterances, k, d, rho=0.5):
    """(utterances · k, d) Gaussian frames, unit variance, correlation ``rho`` within an
    utterance (an utterance-level component shared by its frames)."""
    shared = rng.normal(size=(utterances, 1, d))
    own = rng.normal(size=(utterances, k, d))
    return (np.sqrt(rho) * shared + np.sqrt(1 - rho) * own).reshape(-1, d)


def test_block_permutation_moves_whole_groups_in_order_within_equal_sizes():
    owners = np.array([7, 7, 7, 3, 3, 9, 9, 9, 1, 5, 5, 5])
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(50):
        rows = block_permutation(owners, rng)
        assert sorted(rows) == list(range(12))
        for u in np.unique(owners):
            mine = np.flatnonzero(owners == u)
            source = rows[mine]
            assert len(set(owners[source])) == 1  # one whole group, in its order
            assert np.array_equal(source, np.flatnonzero(owners == owners[source[0]]))
        seen.add(tuple(owners[rows]))
    assert len(seen) == 6  # the three groups of 3 in every order; 3, 1 and 5 stay alone


def test_jackknife_groups_deal_utterances_evenly_from_the_seed():
    owners = np.repeat(np.arange(100, 147), 3)
    jk = Jackknife.assign(owners, 10, seed=0)
    group = jk.of(owners)
    assert np.all(group.reshape(-1, 3) == group[::3, None])  # an utterance stays whole
    assert set(np.bincount(group[::3])) == {4, 5}
    assert not np.array_equal(group, Jackknife.assign(owners, 10, seed=1).of(owners))
    assert Jackknife.assign(owners[:9], 10, seed=0).count == 3  # fewer utterances than groups


def test_utterance_level_p_values_are_uniform_under_the_null():
    """Independent X and Y, one row per utterance: p takes the values k/20, each with chance
    1/20."""
    rng = np.random.default_rng(0)
    ps = []
    for i in range(400):
        x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
        controls = Controls(groups=0, permutations=19, seed=i)
        ps.append(with_controls(DEBIASED, [x], [y], (["x"], ["y"]), np.arange(12), controls).p)
    counts = np.bincount(np.rint(np.array(ps).ravel() * 20).astype(int), minlength=21)[1:]
    assert counts.sum() == 400 and chisquare(counts).pvalue > 0.001


def null_rejections(owners, related, draws=400, seed=0):
    """Share of draws with p ≤ 0.05 (exact level 5 % with K = 19) for frames correlated
    within 40 utterances of 25 frames; B independent of A unless ``related``."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for i in range(draws):
        x = correlated_frames(rng, 40, 25, 4)
        y = correlated_frames(rng, 40, 25, 4)
        if related:  # frame by frame: a noisy linear map of A
            y = x @ rng.normal(size=(4, 4)) + 3 * y
        controls = Controls(groups=0, permutations=19, seed=i)
        p = with_controls(DEBIASED, [x], [y], (["x"], ["y"]), owners, controls).p[0, 0]
        rejected += p <= 0.05
    return rejected / draws


def test_frame_level_null_permutes_utterances_and_keeps_its_level():
    owners = np.repeat(np.arange(40), 25)
    # 400 draws at exact level 5 %: sd 1.1 %, so 7 % is 1.8 sd above it.
    assert null_rejections(owners, related=False) <= 0.07
    # Shuffling frames one by one, as if independent, rejects the null nearly always.
    assert null_rejections(np.arange(1000), related=False, draws=50) > 0.9
    assert null_rejections(owners, related=True, draws=50) > 0.8


def test_related_layers_get_the_smallest_p_and_distances_are_oriented():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 5))
    y = x @ rng.normal(size=(5, 4)) + 0.1 * rng.normal(size=(60, 4))
    for name in ("linear_cka", "procrustes", "mutual_knn"):
        stats = with_controls(
            get_measure(name), [x], [y], (["x"], ["y"]), np.arange(60), Controls(0, 49)
        )
        assert stats.p[0, 0] == pytest.approx(1 / 50), name
        assert stats.p_fwer[0, 0] == pytest.approx(1 / 50), name


def layer_stack(rng, n, base):
    """Three layers, each the one before plus noise (neighbouring layers correlated)."""
    layers = [base]
    for _ in range(2):
        layers.append(layers[-1] + 0.7 * rng.normal(size=base.shape))
    return layers


def test_max_t_controls_the_family_wise_error_and_keeps_real_cells():
    rng = np.random.default_rng(2)
    measure, n = get_measure("linear_cka"), 40
    any_fwer = any_raw = 0
    draws = 300
    for i in range(draws):
        xs = layer_stack(rng, n, rng.normal(size=(n, 4)))
        ys = layer_stack(rng, n, rng.normal(size=(n, 3)))
        stats = with_controls(
            measure, xs, ys, (["a0", "a1", "a2"], ["b0", "b1", "b2"]), np.arange(n),
            Controls(groups=0, permutations=19, seed=i),
        )  # fmt: skip
        any_fwer += (stats.p_fwer <= 0.05).any()
        any_raw += (stats.p <= 0.05).any()
        assert np.all(stats.p_fwer >= stats.p)
    # Exact level 1/20 for the whole matrix; 300 draws: sd 1.3 %, 7.5 % is 2 sd above.
    assert any_fwer / draws <= 0.075
    assert any_raw / draws > 0.15  # nine correlated cells: unadjusted p errs far more often
    xs = layer_stack(rng, n, rng.normal(size=(n, 4)))
    unrelated = rng.normal(size=(n, 3))
    ys = [
        xs[1] @ rng.normal(size=(4, 3)) + 0.5 * rng.normal(size=(n, 3)),  # a map of A
        unrelated,
        unrelated + 0.7 * rng.normal(size=(n, 3)),
    ]
    stats = with_controls(
        measure, xs, ys, (["a0", "a1", "a2"], ["b0", "b1", "b2"]), np.arange(n),
        Controls(groups=0, permutations=99, seed=0),
    )  # fmt: skip
    assert np.all(stats.p_fwer[:, 0] <= 0.05)
    assert np.all(stats.p_fwer[:, 1:] > 0.05)


def coverage(rng, sets, frames_per_utterance, rho, owners_are_frames=False):
    """Share of jackknife intervals (default 20 groups, 95 %) of debiased CKA holding the
    population CKA of X = Z A + E, Y = Z B + F (Gaussian; Z, E, F unit variance and, with
    several frames per utterance, correlated ``rho`` within one)."""
    k, hits = frames_per_utterance, 0
    for i in range(sets):
        utterances = int(rng.integers(100, 401) // k)
        a, b = rng.normal(size=(4, 6)), rng.normal(size=(4, 5))
        cov_x, cov_y = a.T @ a + np.eye(6), b.T @ b + np.eye(5)
        truth = np.linalg.norm(a.T @ b) ** 2 / (np.linalg.norm(cov_x) * np.linalg.norm(cov_y))
        z = correlated_frames(rng, utterances, k, 4, rho)
        x = z @ a + correlated_frames(rng, utterances, k, 6, rho)
        y = z @ b + correlated_frames(rng, utterances, k, 5, rho)
        owners = np.arange(len(x)) if owners_are_frames else np.repeat(np.arange(utterances), k)
        stats = with_controls(DEBIASED, [x], [y], (["x"], ["y"]), owners, Controls(seed=i))
        hits += stats.ci_low[0, 0] <= truth <= stats.ci_high[0, 0]
    return hits / sets


def test_jackknife_intervals_cover_the_population_cka():
    rng = np.random.default_rng(3)
    assert Controls().groups == 20
    # 400 data sets each: binomial sd 1.1 % at 95 %.
    assert 0.93 <= coverage(rng, 400, 1, 0.0) <= 0.97  # iid rows (the utterance level)
    assert 0.93 <= coverage(rng, 400, 4, 0.5) <= 0.97  # 4 correlated frames per utterance
    # Leaving out frames instead of utterances undercovers: the test can tell.
    assert coverage(rng, 200, 4, 0.5, owners_are_frames=True) < 0.9


def test_interval_narrows_with_more_utterances_and_p_is_nan_without_permutations():
    rng = np.random.default_rng(4)
    widths = []
    for n in (40, 400):
        x = rng.normal(size=(n, 6))
        y = x[:, :3] + rng.normal(size=(n, 3))
        stats = with_controls(DEBIASED, [x], [y], (["x"], ["y"]), np.arange(n), Controls())
        assert stats.ci_low[0, 0] < stats.value[0, 0] < stats.ci_high[0, 0]
        widths.append(stats.ci_high[0, 0] - stats.ci_low[0, 0])
        assert np.isnan(stats.p).all() and np.isnan(stats.p_fwer).all()
    assert widths[1] < widths[0] / 2
    none = with_controls(DEBIASED, [x], [y], (["x"], ["y"]), np.arange(n), Controls(groups=0))
    assert np.isnan(none.ci_low).all() and np.isnan(none.ci_high).all()


def test_controls_are_reproducible_from_the_seed():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    runs = [
        with_controls(
            get_measure("linear_cka"),
            [x],
            [y],
            (["x"], ["y"]),
            np.arange(30),
            Controls(groups=10, permutations=20, seed=seed),
        )  # fmt: skip
        for seed in (5, 5, 6)
    ]
    for field in ("ci_low", "ci_high", "p", "p_fwer"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))
    assert runs[0].ci_low[0, 0] != runs[2].ci_low[0, 0]


def test_streaming_controls_permute_utterance_blocks_within_batches():
    """Frames correlated within utterances, A and B independent: permuting whole utterances
    inside each minibatch keeps p off its floor; treating frames as utterances does not."""
    rng = np.random.default_rng(6)
    m = MinibatchCKA(batch_size=250)  # four batches of ten utterances
    owners = np.repeat(np.arange(40), 25)
    floor = {"utterances": 0, "frames": 0}
    for i in range(20):
        x, y = correlated_frames(rng, 40, 25, 4, 0.7), correlated_frames(rng, 40, 25, 4, 0.7)
        for key, own in (("utterances", owners), ("frames", np.arange(1000))):
            controls = Controls(groups=0, permutations=19, seed=i)
            p = with_controls(m, [x], [y], (["x"], ["y"]), own, controls).p[0, 0]
            floor[key] += p == pytest.approx(1 / 20)
    assert floor["utterances"] <= 4 and floor["frames"] >= 18
