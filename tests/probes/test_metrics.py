"""Metrics against answers worked out by hand and against SpeechBrain and scikit-learn, and the
bootstrap's behaviour."""

import numpy as np
import pytest

from strata.probes.metrics import (
    DCF,
    accuracy,
    bootstrap,
    eer,
    eer_and_min_dcf,
    error_rate,
    per,
    unit_weights,
)
from strata.probes.phonemes import edit_counts


def test_eer_and_min_dcf_on_a_hand_built_score_set():
    # Targets 0.9 0.8 0.7 0.3, non-targets 0.6 0.2 0.1 0.0: between 0.3 and 0.6 one target is
    # missed and one non-target accepted, so misses = false alarms = 1/4. With p_target 0.01
    # the cheapest threshold accepts no non-target: 0.01 x 1/4 = 0.0025, normalised by
    # min(C_miss p, C_fa (1 - p)) = 0.01: 0.25.
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.0])
    target = np.array([True] * 4 + [False] * 4)
    value, dcf = eer_and_min_dcf(scores, target)
    assert value == pytest.approx(0.25)
    assert dcf == pytest.approx(0.25)
    assert eer_and_min_dcf(np.array([0.9, 0.1]), np.array([True, False]))[0] == 0.0
    with pytest.raises(ValueError, match="both target and non-target"):
        eer_and_min_dcf(np.array([0.9]), np.array([True]))


def test_phone_error_rate_sums_edits_over_reference_length():
    counts = edit_counts([["a", "x", "c"], ["p", "q"]], [["a", "b", "c", "d"], ["p", "q"]])
    assert counts.tolist() == [[2, 4], [0, 2]]  # b→x substituted, d deleted; second exact
    assert per(counts) == pytest.approx(2 / 6)
    # A resample drawing the second utterance twice: 2 edits over 4 + 2 + 2 phones.
    assert error_rate(counts)(np.array([[1.0, 2.0]]))[0] == pytest.approx(2 / 8)


def test_edit_counts_equal_torchaudios_edit_distance():
    from torchaudio.functional import edit_distance

    rng = np.random.default_rng(0)
    phones = ["aa", "b", "ch", "d", "eh"]
    refs = [list(rng.choice(phones, rng.integers(0, 25))) for _ in range(300)]
    hyps = [list(rng.choice(phones, rng.integers(0, 25))) for _ in range(300)]
    counts = edit_counts(hyps, refs)
    assert counts[:, 0].tolist() == [edit_distance(r, h) for r, h in zip(refs, hyps)]
    assert counts[:, 1].tolist() == [len(r) for r in refs]


def test_bootstrap_interval_brackets_the_value_and_narrows_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.random(50) < 0.7, rng.random(5000) < 0.7
    a = bootstrap(accuracy(small), np.arange(50), 500, 0.95, seed=0)
    b = bootstrap(accuracy(large), np.arange(5000), 500, 0.95, seed=0)
    assert a.ci_low <= a.value <= a.ci_high and b.ci_low <= b.value <= b.ci_high
    assert (b.ci_high - b.ci_low) < (a.ci_high - a.ci_low) / 5
    assert b.ci_low < 0.7 < b.ci_high
    assert bootstrap(accuracy(small), np.arange(50), 0, 0.95, 0).ci_low == a.value


def test_too_few_units_give_no_interval_rather_than_a_narrow_one():
    correct = np.arange(40) % 3 > 0
    two_speakers = np.repeat(["a", "b"], 20)
    few = bootstrap(accuracy(correct), two_speakers, 200, 0.95, seed=0)
    assert few.value == pytest.approx(correct.mean()) and np.isnan([few.ci_low, few.ci_high]).all()
    enough = bootstrap(accuracy(correct), np.repeat(list("abcde"), 8), 200, 0.95, seed=0)
    assert enough.ci_low < enough.value < enough.ci_high


def test_cluster_resamples_move_whole_units():
    units = np.repeat(["a", "b", "c", "d"], [1, 2, 3, 4])
    for w in unit_weights(units, 250, seed=3, chunk=64):
        assert w.shape[1] == len(units)
        for unit in "abcd":  # every row of a unit drawn the same number of times
            assert (w[:, units == unit] == w[:, units == unit][:, :1]).all()
        per_unit = np.stack([w[:, units == u][:, 0] for u in "abcd"], axis=1)
        assert (per_unit.sum(axis=1) == 4).all()  # four units drawn per resample


def test_weighted_eer_equals_eer_of_the_resampled_trials():
    rng = np.random.default_rng(4)
    target = rng.random(200) < 0.4
    scores = np.round(rng.normal(size=200) + target, 1)  # many ties
    weights = rng.integers(0, 3, size=(20, 200)).astype(float)
    weighted = eer(scores, target)(weights)
    for w, value in zip(weights, weighted):
        rows = np.repeat(np.arange(200), w.astype(int))
        assert value == pytest.approx(eer_and_min_dcf(scores[rows], target[rows])[0], abs=1e-12)
    only_targets = np.where(target, 1.0, 0.0)[None]
    assert np.isnan(eer(scores, target)(only_targets)[0])


@pytest.mark.parametrize("seed", range(5))
def test_eer_and_min_dcf_equal_speechbrains_on_random_scores(seed):
    import torch
    from speechbrain.utils.metric_stats import EER, minDCF

    rng = np.random.default_rng(seed)
    target = rng.random(300) < 0.3
    scores = np.round(rng.normal(size=300) + target * rng.uniform(0.5, 2), 2)  # ties included
    positive, negative = torch.tensor(scores[target]), torch.tensor(scores[~target])
    value, dcf = eer_and_min_dcf(scores, target)
    assert value == pytest.approx(EER(positive, negative)[0], abs=1e-6)
    # SpeechBrain's minDCF is the unnormalised one: ours is it over min(C_miss p, C_fa (1 - p)).
    unnormalised = minDCF(positive, negative, p_target=DCF["p_target"])[0]
    assert dcf == pytest.approx(unnormalised / DCF["p_target"], abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_min_dcf_equals_a_normalised_dcf_from_scikit_learns_det_curve(seed):
    from sklearn.metrics import det_curve

    rng = np.random.default_rng(seed)
    target = rng.random(500) < 0.2
    scores = rng.normal(size=500) + 1.5 * target
    fpr, fnr, _ = det_curve(target, scores)
    p = DCF["p_target"]
    # det_curve omits the threshold above every score (nothing accepted: fnr 1, fpr 0).
    dcf = np.append(p * fnr + (1 - p) * fpr, p)
    assert eer_and_min_dcf(scores, target)[1] == pytest.approx(dcf.min() / min(p, 1 - p))
