"""Permutation p-values and bootstrap intervals per cell."""

import numpy as np
import pytest
from scipy.stats import chisquare

from strata.similarity.controls import Controls, bootstrap_rows, with_controls
from strata.similarity.measures import get_measure


def test_permutation_p_values_are_uniform_under_the_null():
    """Independent X and Y, exchangeable rows: p takes the values k/20, each with chance 1/20."""
    rng = np.random.default_rng(0)
    m, controls = get_measure("linear_cka_debiased"), Controls(permutations=19, seed=0)
    ps = []
    for i in range(400):
        x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
        stats = with_controls(
            m, [x], [y], (["x"], ["y"]), np.arange(12), Controls(permutations=19, seed=i)
        )
        ps.append(stats.p[0, 0])
    counts = np.bincount(np.rint(np.array(ps) * 20).astype(int), minlength=21)[1:]
    assert counts.sum() == 400 and controls.permutations == 19
    assert chisquare(counts).pvalue > 0.001
    assert abs(np.mean(np.array(ps) <= 0.1) - 0.1) < 0.05


def test_related_layers_get_the_smallest_p_and_distances_are_oriented():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 5))
    y = x @ rng.normal(size=(5, 4)) + 0.1 * rng.normal(size=(60, 4))
    for name in ("linear_cka", "procrustes", "mutual_knn"):
        stats = with_controls(
            get_measure(name), [x], [y], (["x"], ["y"]), np.arange(60), Controls(permutations=49)
        )
        assert stats.p[0, 0] == pytest.approx(1 / 50), name


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_utterances():
    rng = np.random.default_rng(2)
    widths = []
    for n in (40, 400):
        x = rng.normal(size=(n, 6))
        y = x[:, :3] + rng.normal(size=(n, 3))
        stats = with_controls(
            get_measure("linear_cka_debiased"),
            [x],
            [y],
            (["x"], ["y"]),
            np.arange(n),
            Controls(bootstrap=200),
        )
        assert stats.ci_low[0, 0] <= stats.value[0, 0] <= stats.ci_high[0, 0]
        widths.append(stats.ci_high[0, 0] - stats.ci_low[0, 0])
        assert np.isnan(stats.p).all()  # no permutations asked for
    assert widths[1] < widths[0] / 2


def test_bootstrap_moves_whole_groups():
    groups = np.repeat([10, 11, 12, 13], [3, 1, 4, 2])
    for rows in bootstrap_rows(groups, draws=30, seed=0):
        picked = groups[rows]
        for g in np.unique(picked):
            # every occurrence of a group brings all of its rows
            assert np.sum(picked == g) % np.sum(groups == g) == 0
        assert len(set(np.unique(picked))) <= 4


def test_controls_are_reproducible_from_the_seed():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    runs = [
        with_controls(
            get_measure("linear_cka"),
            [x],
            [y],
            (["x"], ["y"]),
            np.arange(30),
            Controls(bootstrap=20, permutations=20, seed=5),
        )
        for _ in range(2)
    ]
    for field in ("ci_low", "ci_high", "p"):
        np.testing.assert_array_equal(getattr(runs[0], field), getattr(runs[1], field))


def test_streaming_controls_resample_minibatches():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 5))
    y = x[:, :2] + rng.normal(size=(2000, 2))
    m = get_measure("linear_cka_minibatch")
    stats = with_controls(
        m, [x], [y], (["x"], ["y"]), np.arange(2000), Controls(bootstrap=100, permutations=9)
    )
    assert stats.ci_low[0, 0] < stats.value[0, 0] < stats.ci_high[0, 0]
    assert stats.p[0, 0] == pytest.approx(0.1)
