"""Interval coverage on simulations with known truth, at the default number of resamples.

Nominal 95 % intervals must cover the truth in 93–97 % of 400 simulated data sets (binomial
standard error 1.1 %): accuracy over utterances, and EER over trials that share their
enrolment speaker (a random speaker effect shifts all of a speaker's scores). A plain
percentile interval over trials, the previous method, undercovers the latter badly.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.special import ndtr

from strata.probes.metrics import accuracy, bootstrap, eer

DATASETS = 400
PROBE = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text())["probe"]
RESAMPLES, CONFIDENCE = PROBE["bootstrap"], PROBE["confidence"]


def covered(estimates, truth):
    return np.mean([e.ci_low <= truth <= e.ci_high for e in estimates])


def test_accuracy_interval_covers_the_true_accuracy():
    rng = np.random.default_rng(0)
    truth, n = 0.7, 150
    estimates = [
        bootstrap(accuracy(rng.random(n) < truth), np.arange(n), RESAMPLES, CONFIDENCE, seed)
        for seed in range(DATASETS)
    ]
    assert 0.93 <= covered(estimates, truth) <= 0.97


def trials(rng, speakers=16, per_speaker=20, tau=0.5, separation=1.5):
    """Per enrolment speaker, half target and half non-target trials; each speaker shifts its
    target and its non-target scores by its own N(0, tau²) effects."""
    speaker = np.repeat(np.arange(speakers), per_speaker)
    target = np.tile(np.arange(per_speaker) < per_speaker // 2, speakers)
    shift_target, shift_other = rng.normal(0, tau, (2, speakers))
    scores = np.where(target, separation + shift_target[speaker], shift_other[speaker])
    return scores + rng.normal(size=len(speaker)), target, speaker


@pytest.mark.parametrize("tau", [0.3, 0.7])
def test_clustered_eer_interval_covers_the_population_eer(tau):
    # Marginally targets ~ N(1.5, 1 + tau²) and non-targets ~ N(0, 1 + tau²): the population
    # EER is where their tails meet, Φ(-1.5 / (2 √(1 + tau²))).
    truth = float(ndtr(-1.5 / (2 * np.sqrt(1 + tau**2))))
    rng = np.random.default_rng(1)
    estimates, naive = [], []
    for seed in range(DATASETS):
        scores, target, speaker = trials(rng, tau=tau)
        statistic = eer(scores, target)
        estimates.append(bootstrap(statistic, speaker, RESAMPLES, CONFIDENCE, seed))
        if tau > 0.5 and seed < 100:  # strong speaker effects, trials as if independent
            naive.append(bootstrap(statistic, np.arange(len(scores)), 300, CONFIDENCE, seed))
    assert 0.93 <= covered(estimates, truth) <= 0.97
    if tau > 0.5:  # strong speaker effects: the old interval (trials as if independent) undercovers
        assert covered(naive, truth) < 0.9
