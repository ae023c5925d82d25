"""What is noise: a permutation null (p per cell) and bootstrap intervals (CI per cell).

Permutation: B's rows are shuffled (one permutation shared by all of B's layers, so B keeps its
own structure) K times; p = (1 + #{null at least as similar as observed}) / (K + 1), which is
exact under exchangeable rows. Bootstrap: groups of rows (utterances; at the frame level an
utterance's frames move together) are resampled with replacement; the interval is the percentile
interval re-centred on the estimate (shifted by the bootstrap mean's bias), because duplicated
rows inflate kernel statistics such as CKA and a plain percentile interval can then miss the
estimate altogether. Streaming measures resample minibatches and permute within them instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strata.similarity.measures import Measure
from strata.similarity.streaming import HSICAccumulator


@dataclass(frozen=True)
class Controls:
    bootstrap: int = 0  # resamples for each interval; 0: no interval
    permutations: int = 0  # null draws; 0: no p-value
    confidence: float = 0.95
    seed: int = 0


@dataclass
class CellStats:
    """L_A × L_B arrays; intervals and p are NaN where the control was not asked for."""

    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p: np.ndarray


def with_controls(
    measure: Measure,
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray] | None,
    names: tuple[Sequence[str], Sequence[str]],
    groups: np.ndarray,
    controls: Controls,
) -> CellStats:
    """Values of ``measure`` on in-memory layers (``ys`` None: A against itself) with controls;
    ``groups[i]`` is the resampling unit of row i."""
    if measure.properties.streaming:
        acc = measure.accumulate(  # type: ignore[attr-defined]
            (xs, names[0]), None if ys is None else (ys, names[1]), controls.permutations
        )
        return accumulator_stats(acc, measure, controls)
    draws = _draws(groups, controls)
    a = measure.prepare(xs, names[0])
    value = measure.compare(a, None if ys is None else measure.prepare(ys, names[1]))
    side_b = xs if ys is None else ys
    null = [
        measure.compare(a, measure.prepare([y[perm] for y in side_b], names[1]))
        for perm in draws[0]
    ]
    boot = [_resampled(measure, xs, ys, names, rows) for rows in draws[1]]
    return _stats(value, np.array(null), np.array(boot), measure, controls)


def _draws(groups: np.ndarray, controls: Controls):
    """The permutations of B's rows and the bootstrap resamples, from the seed alone. (A
    permutation null re-prepares only B: A's prepared state, e.g. its Gram blocks, is kept.)"""
    rng = np.random.default_rng([controls.seed, 1])
    perms = [rng.permutation(len(groups)) for _ in range(controls.permutations)]
    return perms, bootstrap_rows(groups, controls.bootstrap, controls.seed)


def _resampled(measure, xs, ys, names, rows):
    a = measure.prepare([x[rows] for x in xs], names[0])
    b = None if ys is None else measure.prepare([y[rows] for y in ys], names[1])
    return measure.compare(a, b)


def bootstrap_rows(groups: np.ndarray, draws: int, seed: int) -> list[np.ndarray]:
    """Row indices of ``draws`` resamples of whole groups, with replacement."""
    rng = np.random.default_rng([seed, 2])
    order = np.argsort(groups, kind="stable")
    _, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    resamples = []
    for _ in range(draws):
        picked = rng.integers(len(starts), size=len(starts))
        resamples.append(np.concatenate([order[starts[g] : starts[g] + counts[g]] for g in picked]))
    return resamples


def accumulator_stats(acc: HSICAccumulator, measure: Measure, controls: Controls) -> CellStats:
    """A streaming estimate's controls: minibatches resampled, null permuted within batches."""
    rng = np.random.default_rng([controls.seed, 2])
    batches = len(acc.cross)
    boot = [acc.cka(rng.integers(batches, size=batches)) for _ in range(controls.bootstrap)]
    null = acc.null_cka() if controls.permutations else np.empty((0, 0, 0))
    return _stats(acc.cka(), null, np.array(boot), measure, controls)


def _stats(value, null, boot, measure: Measure, controls: Controls) -> CellStats:
    nan = np.full_like(value, np.nan)
    if len(null):
        higher = measure.properties.higher_is_similar
        extreme = (null >= value) if higher else (null <= value)
        p = (1 + extreme.sum(axis=0)) / (len(null) + 1)
    else:
        p = nan
    if len(boot):
        tail = (1 - controls.confidence) / 2 * 100
        shift = boot.mean(axis=0) - value  # the resampling bias
        low, high = np.percentile(boot, [tail, 100 - tail], axis=0) - shift
    else:
        low, high = nan, nan
    return CellStats(value, low, high, p)
