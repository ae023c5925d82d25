"""Paired comparisons, family-wise control and intervals at the boundary.

Two probes scored on the same test units (utterances; enrolment speakers for trials) make
correlated errors, so they are compared on their *difference*, resampled with one set of
cluster draws for both sides: Δ = metric(A) − metric(B) on every row, and Δ* on each resample.
The interval is Δ ± t_{G−1} · se with se² = G/(G − 1) · var(Δ*) for G units (the bootstrap
variance is (G − 1)/G times too small), and the two-sided p is read from the same t, so the
interval excludes 0 exactly when p < α. A simulation in the tests holds the type-I error at 5 %.

A report states many verdicts at once: :func:`holm` adjusts their p-values so that the chance
of any false "reproduced" among them stays at α (Holm 1979, valid under any dependence).

An accuracy of 1 (or an EER of 0) has no resampling spread, and a percentile interval collapses
to the point: :func:`wilson` gives the score interval over the effective number of independent
units instead (:func:`strata.probes.metrics.wilson`, used by its bootstrap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strata.probes.metrics import MIN_UNITS, Weighted, unit_weights

REPRODUCED, WITHIN_NOISE, NOT_REPRODUCED, REVERSED, UNTESTED = (
    "reproduced",
    "within noise",
    "not reproduced",
    "reversed",
    "not testable here",
)


@dataclass(frozen=True)
class Difference:
    """A − B with its interval and two-sided p over ``units`` shared clusters."""

    value: float
    ci_low: float
    ci_high: float
    p: float
    units: int

    def verdict(self, sign: int, alpha: float, p: float | None = None) -> str:
        """The claim "A is better" (``sign`` +1: higher is better, −1: lower) at level
        ``alpha``, on this p or an adjusted one: reproduced when significant in the claimed
        direction, reversed when significant against it, within noise when only the point
        estimate is in the claimed direction; not testable without a p (too few units)."""
        p = self.p if p is None else p
        better = sign * self.value
        if not np.isfinite(p):
            return UNTESTED
        if p < alpha:
            return REPRODUCED if better > 0 else REVERSED
        return WITHIN_NOISE if better > 0 else NOT_REPRODUCED


def t_test(value: float, se: float, units: int, confidence: float) -> Difference:
    """Δ ± t_{G−1}·se and its two-sided p (se 0: p is 0 unless Δ is 0)."""
    from scipy.special import stdtr, stdtrit

    if units < MIN_UNITS or not np.isfinite(se):
        return Difference(value, np.nan, np.nan, np.nan, units)
    half = float(stdtrit(units - 1, 1 - (1 - confidence) / 2)) * se
    # se 0: every resample gives the same Δ, a difference that no draw of units changes.
    p = float(2 * stdtr(units - 1, -abs(value) / se)) if se > 0 else float(value == 0)
    return Difference(value, value - half, value + half, p, units)


def paired_difference(
    a: Weighted,
    b: Weighted,
    units: Sequence,
    resamples: int,
    confidence: float,
    seed: int,
) -> Difference:
    """metric ``a`` − metric ``b`` over the same rows (``units[i]``: row i's cluster), each
    resample drawing the same clusters for both sides."""
    units = np.asarray(units)
    ones = np.ones((1, len(units)))
    value = float(a(ones)[0] - b(ones)[0])
    count = len(np.unique(units))
    draws = [a(w) - b(w) for w in unit_weights(units, resamples, seed)]
    deltas = np.concatenate(draws) if draws else np.empty(0)
    deltas = deltas[np.isfinite(deltas)]
    if count < MIN_UNITS or len(deltas) < 2:
        return Difference(value, np.nan, np.nan, np.nan, count)
    se = float(np.std(deltas) * np.sqrt(count / (count - 1)))
    return t_test(value, se, count, confidence)


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted)."""
    p = np.asarray(p, np.float64)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
