"""What is noise: permutation p-values per cell, family-wise adjusted p, jackknife intervals.

Frames of one utterance are correlated, so every control moves whole utterances (a row is an
utterance at the utterance level; at the frame level each sampled utterance gives the same
number of frames).

- p: B's utterances are permuted (one permutation shared by all of B's layers, frames keeping
  their utterance and order), K times; p = (1 + #{null at least as similar}) / (K + 1), exact
  under exchangeable utterances.
- p_fwer: Westfall–Young single-step max-T over the matrix: each cell is standardised by the
  mean and sd of its K + 1 values (the observed one included, so exactness is kept), and a
  cell's p is the share of the K + 1 matrices whose largest standardised value reaches the
  cell's observed one. Controls the family-wise error over the L_A × L_B cells.
- interval: delete-a-group jackknife over utterances, dealt at random into G groups:
  value ± t_{G−1} · se, se² = (G − 1)/G · Σ_g (θ_(g) − mean)².

The streaming measure permutes utterances within each minibatch and leaves groups out of each
batch (:mod:`strata.similarity.streaming`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit

from strata.similarity.measures import Measure
from strata.similarity.resampling import Jackknife, block_permutation
from strata.similarity.streaming import HSICAccumulator

METHODS = {
    "p": "permutation p over K permutations of B's utterances (frames stay in their utterance)",
    "p_fwer": "max-T over the K utterance permutations (Westfall-Young single step, each cell "
    "standardised by the mean and sd of its K + 1 values)",
    "interval": "delete-a-group jackknife over G groups of utterances, value ± t(G-1) se",
    "streaming": "minibatches of whole utterances; permutations and groups within each batch",
}


@dataclass(frozen=True)
class Controls:
    groups: int = 20  # jackknife groups of utterances; 0: no interval
    permutations: int = 0  # null draws; 0: no p-values
    confidence: float = 0.95
    seed: int = 0


@dataclass
class CellStats:
    """L_A × L_B arrays; intervals and p are NaN where the control was not asked for."""

    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p: np.ndarray
    p_fwer: np.ndarray
    # (G, L_A, L_B): each cell with group g left out, so two cells (or two tables on the same
    # utterances and groups) can be compared on their paired difference; None without groups.
    left_out: np.ndarray | None = None


def with_controls(
    measure: Measure,
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray] | None,
    names: tuple[Sequence[str], Sequence[str]],
    owners: np.ndarray,
    controls: Controls,
) -> CellStats:
    """Values of ``measure`` on in-memory layers (``ys`` None: A against itself) with controls;
    ``owners[i]`` is the utterance of row i."""
    owners = np.asarray(owners)
    jackknife = jackknife_groups(owners, controls)
    if measure.properties.streaming:
        acc = measure.accumulate(  # type: ignore[attr-defined]
            (xs, names[0]),
            None if ys is None else (ys, names[1]),
            controls.permutations,
            jackknife,
            owners,
            controls.seed,
        )
        return accumulator_stats(acc, measure, controls)
    a = measure.prepare(xs, names[0])
    value = measure.compare(a, None if ys is None else measure.prepare(ys, names[1]))
    side_b = xs if ys is None else ys
    # A permutation null re-prepares only B: A's prepared state (e.g. its Gram blocks) is kept.
    rng = np.random.default_rng([controls.seed, 1])
    null = []
    for _ in range(controls.permutations):
        rows = block_permutation(owners, rng)
        null.append(measure.compare(a, measure.prepare([y[rows] for y in side_b], names[1])))
    left_out = []
    if jackknife is not None:
        group = jackknife.of(owners)
        for g in range(jackknife.count):
            keep = group != g
            kept_a = measure.prepare([x[keep] for x in xs], names[0])
            kept_b = None if ys is None else measure.prepare([y[keep] for y in ys], names[1])
            left_out.append(measure.compare(kept_a, kept_b))
    return _stats(value, np.array(null), np.array(left_out), measure, controls)


def jackknife_groups(owners: np.ndarray, controls: Controls) -> Jackknife | None:
    """The utterances' jackknife groups (None: no intervals asked for)."""
    return Jackknife.assign(owners, controls.groups, controls.seed) if controls.groups else None


def accumulator_stats(acc: HSICAccumulator, measure: Measure, controls: Controls) -> CellStats:
    """A streaming estimate's controls, from its per-batch null and leave-a-group-out HSICs."""
    null = acc.null_cka() if controls.permutations else np.empty(0)
    left_out = acc.jackknife_cka() if acc.jackknife is not None else np.empty(0)
    return _stats(acc.cka(), null, left_out, measure, controls)


def _stats(value, null, left_out, measure: Measure, controls: Controls) -> CellStats:
    nan = np.full_like(value, np.nan)
    p, p_fwer = (nan, nan) if not len(null) else _p_values(value, null, measure)
    low, high = (nan, nan) if not len(left_out) else _interval(value, left_out, controls)
    return CellStats(value, low, high, p, p_fwer, left_out if len(left_out) else None)


def _p_values(value, null, measure: Measure) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell permutation p and its max-T family-wise adjustment."""
    sign = 1.0 if measure.properties.higher_is_similar else -1.0
    every = sign * np.concatenate([value[None], null])  # (K + 1, L_A, L_B), larger = similar
    p = (1 + (every[1:] >= every[0]).sum(axis=0)) / len(every)
    sd = every.std(axis=0)
    t = (every - every.mean(axis=0)) / np.where(sd > 0, sd, 1.0)  # constant cell: 0 throughout
    largest = t[1:].reshape(len(null), -1).max(axis=1)
    p_fwer = (1 + (largest[:, None, None] >= t[0]).sum(axis=0)) / len(every)
    return p, p_fwer


def _interval(value, left_out, controls: Controls) -> tuple[np.ndarray, np.ndarray]:
    g = len(left_out)
    se = np.sqrt((g - 1) / g * ((left_out - left_out.mean(axis=0)) ** 2).sum(axis=0))
    half = stdtrit(g - 1, 1 - (1 - controls.confidence) / 2) * se
    return value - half, value + half
