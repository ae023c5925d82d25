"""Task metrics and bootstrap confidence intervals.

EER and minDCF follow SpeechBrain's definitions exactly (``speechbrain.utils.metric_stats``:
the same candidate thresholds, miss = target score <= threshold, false alarm = non-target >
threshold, EER = (FAR + FRR) / 2 where they are closest), computed from sorted scores in
O(n log n): SpeechBrain's own loops are O(n²) in time (EER) and memory (minDCF), too slow for
VoxCeleb1-O's 37k trials, let alone a thousand bootstrap resamples. A test holds them equal to
SpeechBrain's. Edit distance is torchaudio's. A bootstrap resamples the test set's units
(utterances or trials) with replacement and recomputes the metric; the interval is the
percentile interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A test metric with its bootstrap percentile interval."""

    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


def bootstrap(
    statistic: Callable[[np.ndarray], float],
    n: int,
    resamples: int,
    confidence: float,
    seed: int,
) -> Estimate:
    """``statistic(indices)`` on all ``n`` units, and its interval over ``resamples`` draws."""
    rng = np.random.default_rng(seed)
    value = statistic(np.arange(n))
    draws = [statistic(rng.integers(0, n, n)) for _ in range(resamples)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(draws, [tail, 100 - tail]) if draws else (value, value)
    return Estimate(float(value), float(low), float(high))


def accuracy(correct: np.ndarray) -> Callable[[np.ndarray], float]:
    return lambda idx: float(correct[idx].mean())


def det_rates(scores: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False rejection and false acceptance rates at SpeechBrain's candidate thresholds (every
    distinct score and the midpoints between neighbours), in increasing threshold order."""
    positive, negative = np.sort(scores[target]), np.sort(scores[~target])
    if len(positive) == 0 or len(negative) == 0:
        raise ValueError("verification needs both target and non-target trials")
    distinct = np.unique(scores)
    thresholds = np.sort(np.concatenate([distinct, (distinct[:-1] + distinct[1:]) / 2]))
    frr = np.searchsorted(positive, thresholds, side="right") / len(positive)
    far = 1 - np.searchsorted(negative, thresholds, side="right") / len(negative)
    return frr, far


def eer_and_min_dcf(
    scores: np.ndarray, target: np.ndarray, p_target: float = 0.01
) -> tuple[float, float]:
    """EER and minDCF (c_miss = c_fa = 1) of trial scores; both in [0, 1]."""
    frr, far = det_rates(np.asarray(scores, np.float64), np.asarray(target, bool))
    closest = int(np.argmin(np.abs(far - frr)))  # the first, as SpeechBrain's loop keeps it
    dcf = p_target * frr + (1 - p_target) * far
    return float((far[closest] + frr[closest]) / 2), float(dcf.min())


def eer(scores: np.ndarray, target: np.ndarray) -> Callable[[np.ndarray], float]:
    def statistic(idx: np.ndarray) -> float:
        t = target[idx]
        if t.all() or not t.any():  # a resample without both kinds has no EER
            return float("nan")
        return eer_and_min_dcf(scores[idx], t)[0]

    return statistic


def edit_counts(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]):
    """Per utterance (edits, reference length), for a phone error rate over any subset."""
    from torchaudio.functional import edit_distance

    return np.array(
        [[edit_distance(r, h), len(r)] for h, r in zip(hypotheses, references, strict=True)],
        dtype=np.float64,
    )


def error_rate(counts: np.ndarray) -> Callable[[np.ndarray], float]:
    """PER: total edits over total reference length of the selected utterances."""
    return lambda idx: float(counts[idx, 0].sum() / max(counts[idx, 1].sum(), 1))


@dataclass
class ProbeOutcome:
    """What a probe job reports: the test estimate with its interval, the chosen learning rate
    and every candidate's dev score, scores per split, chance, and the state to save."""

    metric: str
    test: Estimate
    chance: float
    higher_is_better: bool
    scores: dict[str, float]  # the metric on train/dev/test (NaN where it does not apply)
    lr: float | None
    dev_by_lr: dict[str, float]
    n: dict[str, int]
    extra: dict[str, object]
    state: dict[str, object]

    @property
    def below_chance(self) -> bool:
        """Chance lies outside the interval on the better side: the probe does worse than it."""
        if self.higher_is_better:
            return self.test.ci_high < self.chance
        return self.test.ci_low > self.chance
