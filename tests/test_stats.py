"""Paired differences, Holm's adjustment and boundary intervals, on simulations with known
truth (``strata.stats``; the figures are quoted in docs/statistics.md by make docs).

Two classifiers (or two verification systems) share their test units: each utterance has its
own difficulty (each trial speaker its own score shifts), so their errors are correlated. Under
the null both are equally good; the paired test must then reject at most 5 % of the time (plus
Monte Carlo error), and it must be more powerful than the old rule (two separate intervals that
do not overlap)."""

import numpy as np
import pytest
from scipy.special import ndtr, ndtri

from strata.probes.metrics import accuracy, bootstrap, eer
from strata.stats import NOT_REPRODUCED, REPRODUCED, REVERSED, WITHIN_NOISE, holm, paired_difference

SIMS, RESAMPLES, CONFIDENCE = 400, 1000, 0.95
MC = 3 * np.sqrt(0.05 * 0.95 / SIMS)  # three Monte Carlo standard errors at 5 %


def classifiers(rng, n=150, base=0.75, effect=0.0, shared=1.5):
    """Per utterance a difficulty d ~ N(0, shared²); each model is right when its own N(0, 1)
    noise falls below offset − d (accuracy ``base`` on average), A's offset raised by
    ``effect``: the two models' errors are correlated through d."""
    difficulty = rng.normal(0, shared, n)
    offset = np.sqrt(1 + shared**2) * float(ndtri(base))
    a = rng.normal(size=n) < offset + effect - difficulty
    b = rng.normal(size=n) < offset - difficulty
    return a, b


def paired(a, b, seed, resamples=RESAMPLES):
    units = np.arange(len(a))
    return paired_difference(accuracy(a), accuracy(b), units, resamples, CONFIDENCE, seed)


def overlap_rule(a, b, seed):
    """The previous verdict: A's and B's separate intervals do not overlap."""
    units = np.arange(len(a))
    ea = bootstrap(accuracy(a), units, RESAMPLES, CONFIDENCE, seed)
    eb = bootstrap(accuracy(b), units, RESAMPLES, CONFIDENCE, seed + 10_000)
    return ea.ci_low > eb.ci_high or eb.ci_low > ea.ci_high


def test_paired_test_holds_its_level_with_shared_units():
    rng = np.random.default_rng(0)
    rejections = [paired(*classifiers(rng), s).p < 0.05 for s in range(SIMS)]
    assert np.mean(rejections) <= 0.05 + MC


@pytest.mark.parametrize("effect", [0.3, 0.5, 0.8])  # accuracy gaps ~0.045, 0.075, 0.115
def test_paired_test_beats_the_overlap_rule(effect):
    rng = np.random.default_rng(1)
    data = [classifiers(rng, effect=effect) for _ in range(SIMS // 2)]
    power = np.mean([paired(a, b, s).p < 0.05 for s, (a, b) in enumerate(data)])
    old = np.mean([overlap_rule(a, b, s) for s, (a, b) in enumerate(data)])
    assert power > old + 0.2


def trials(rng, speakers=16, per_speaker=20, tau=0.5, effect=0.0):
    """Two systems' scores on the same trials; each enrolment speaker shifts both systems'
    target and non-target scores alike (shared units), A separates by ``effect`` more."""
    speaker = np.repeat(np.arange(speakers), per_speaker)
    target = np.tile(np.arange(per_speaker) < per_speaker // 2, speakers)
    shift_t, shift_n = rng.normal(0, tau, (2, speakers))
    shift = np.where(target, shift_t[speaker], shift_n[speaker])
    a = np.where(target, 1.5 + effect, 0) + shift + rng.normal(size=len(speaker))
    b = np.where(target, 1.5, 0) + shift + rng.normal(size=len(speaker))
    return a, b, target, speaker


def test_paired_eer_test_holds_its_level_over_few_speakers():
    rng = np.random.default_rng(2)
    rejections = []
    for s in range(SIMS):
        a, b, target, speaker = trials(rng)
        d = paired_difference(eer(a, target), eer(b, target), speaker, RESAMPLES, CONFIDENCE, s)
        rejections.append(d.p < 0.05)
    assert np.mean(rejections) <= 0.05 + MC


def test_holm_controls_the_family_wise_error_of_a_report_sized_family():
    """30 null contrasts at once: unadjusted, some verdict is falsely 'reproduced' in most
    reports; Holm-adjusted, in at most 5 % (plus Monte Carlo error). Fewer resamples keep it
    quick: p comes from the resampled standard error, not from counting resamples."""
    rng = np.random.default_rng(3)
    family, any_single, any_holm = 30, [], []
    for s in range(SIMS // 2):
        p = [paired(*classifiers(rng, n=100), s * family + k, 200).p for k in range(family)]
        any_single.append(min(p) < 0.05)
        any_holm.append(np.nanmin(holm(p)) < 0.05)
    assert np.mean(any_single) > 0.5
    assert np.mean(any_holm) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / (SIMS // 2))


def test_holm_matches_its_definition_on_a_known_case():
    # sorted p 0.01, 0.02, 0.03, 0.5 (m = 4): 0.04, 0.06, 0.06 (monotone), 0.5
    adjusted = holm([0.03, 0.5, 0.01, np.nan, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, 0.5, 0.04, np.nan, 0.06])


@pytest.mark.parametrize("truth", [0.99, 0.995, 0.999])
def test_accuracy_interval_covers_near_one(truth):
    """A plain percentile interval collapses to [1, 1] whenever every test utterance is right
    (a third of data sets at 0.99 and n = 100): it covers 0.99 in ~60 %."""
    rng = np.random.default_rng(4)
    n, hits = 100, 0
    for s in range(SIMS):
        correct = rng.random(n) < truth
        e = bootstrap(accuracy(correct), np.arange(n), RESAMPLES, CONFIDENCE, s, proportion=True)
        hits += e.ci_low <= truth <= e.ci_high
    assert hits / SIMS >= 0.93


def test_eer_interval_covers_near_zero():
    """Well-separated systems: EER is often exactly 0 on 16 speakers' trials; the interval
    over the speakers must still cover the population EER."""
    rng = np.random.default_rng(5)
    tau, separation = 0.3, 5.5  # EER 0.4 %: exactly 0 in about half the data sets
    truth = float(ndtr(-separation / (2 * np.sqrt(1 + tau**2))))
    hits, zeros = 0, 0
    for s in range(SIMS):
        a, _, target, speaker = trials(rng, tau=tau, effect=separation - 1.5)
        e = bootstrap(eer(a, target), speaker, RESAMPLES, CONFIDENCE, s, proportion=True)
        zeros += e.value == 0
        hits += e.ci_low <= truth <= e.ci_high
    assert zeros > SIMS // 4  # the boundary case is common here
    assert hits / SIMS >= 0.93


@pytest.mark.parametrize(
    ("value", "p", "expected"),
    [(0.1, 0.01, REPRODUCED), (0.1, 0.2, WITHIN_NOISE), (-0.1, 0.2, NOT_REPRODUCED),
     (-0.1, 0.01, REVERSED), (0.0, 1.0, NOT_REPRODUCED)],
)  # fmt: skip
def test_verdict_reads_the_difference(value, p, expected):
    from strata.stats import Difference

    assert Difference(value, value - 1, value + 1, p, 20).verdict(+1, 0.05) == expected
    # lower is better: the same difference read for a metric like EER flips the claim
    flipped = {REPRODUCED: REVERSED, REVERSED: REPRODUCED}.get(expected, expected)
    if value != 0 and expected in (REPRODUCED, REVERSED):
        assert Difference(value, value - 1, value + 1, p, 20).verdict(-1, 0.05) == flipped
