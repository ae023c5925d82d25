"""Metrics against answers worked out by hand, and the bootstrap's behaviour."""

import numpy as np
import pytest

from strata.probes.metrics import accuracy, bootstrap, edit_counts, eer_and_min_dcf, error_rate


def test_eer_and_min_dcf_on_a_hand_built_score_set():
    # Targets 0.9 0.8 0.7 0.3, non-targets 0.6 0.2 0.1 0.0: between 0.3 and 0.6 one target is
    # missed and one non-target accepted, so misses = false alarms = 1/4. With p_target 0.01
    # the cheapest threshold accepts no non-target: 0.01 x 1/4 = 0.0025.
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.0])
    target = np.array([True] * 4 + [False] * 4)
    eer, dcf = eer_and_min_dcf(scores, target)
    assert eer == pytest.approx(0.25)
    assert dcf == pytest.approx(0.0025)
    assert eer_and_min_dcf(scores, target, p_target=0.5)[1] == pytest.approx(0.125)
    assert eer_and_min_dcf(np.array([0.9, 0.1]), np.array([True, False]))[0] == 0.0
    with pytest.raises(ValueError, match="both target and non-target"):
        eer_and_min_dcf(np.array([0.9]), np.array([True]))


def test_phone_error_rate_sums_edits_over_reference_length():
    counts = edit_counts([["a", "x", "c"], ["p", "q"]], [["a", "b", "c", "d"], ["p", "q"]])
    assert counts.tolist() == [[2, 4], [0, 2]]  # b→x substituted, d deleted; second exact
    assert error_rate(counts)(np.arange(2)) == pytest.approx(2 / 6)


def test_bootstrap_interval_brackets_the_value_and_narrows_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.random(50) < 0.7, rng.random(5000) < 0.7
    a = bootstrap(accuracy(small), len(small), 500, 0.95, seed=0)
    b = bootstrap(accuracy(large), len(large), 500, 0.95, seed=0)
    assert a.ci_low <= a.value <= a.ci_high and b.ci_low <= b.value <= b.ci_high
    assert (b.ci_high - b.ci_low) < (a.ci_high - a.ci_low) / 5
    assert b.ci_low < 0.7 < b.ci_high
    assert bootstrap(accuracy(small), 50, 0, 0.95, 0).ci_low == a.value  # no resamples


@pytest.mark.parametrize("seed", range(5))
def test_eer_and_min_dcf_equal_speechbrains_on_random_scores(seed):
    import torch
    from speechbrain.utils.metric_stats import EER, minDCF

    rng = np.random.default_rng(seed)
    target = rng.random(300) < 0.3
    scores = np.round(rng.normal(size=300) + target * rng.uniform(0.5, 2), 2)  # ties included
    positive, negative = torch.tensor(scores[target]), torch.tensor(scores[~target])
    eer, dcf = eer_and_min_dcf(scores, target)
    assert eer == pytest.approx(EER(positive, negative)[0], abs=1e-6)
    assert dcf == pytest.approx(minDCF(positive, negative, p_target=0.01)[0], abs=1e-6)
