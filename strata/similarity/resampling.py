"""Resampling over utterances: whole-utterance permutations and jackknife group assignment.

Frames of one utterance are correlated, so every control moves an utterance's rows together:
the permutation null pairs A's utterance u with B's utterance π(u), frame j with frame j, and
the jackknife leaves out whole utterances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def block_permutation(owners: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices ``idx`` such that ``y[idx]`` gives row j of group u the j-th row of group
    π(u) (rows of a group in their original order); π permutes groups within strata of equal
    size, so the permutation is exact when sizes differ. One row per group: a plain shuffle."""
    order = np.argsort(owners, kind="stable")  # rows grouped, original order within a group
    _, starts, sizes = np.unique(owners[order], return_index=True, return_counts=True)
    target = np.arange(len(starts))
    for size in np.unique(sizes):
        same = np.flatnonzero(sizes == size)
        target[same] = same[rng.permutation(len(same))]
    within = np.arange(len(owners)) - np.repeat(starts, sizes)
    out = np.empty(len(owners), dtype=np.int64)
    out[order] = order[np.repeat(starts[target], sizes) + within]
    return out


@dataclass(frozen=True)
class Jackknife:
    """Jackknife groups of utterances: ``units`` (sorted utterance ids) and each one's group."""

    units: np.ndarray
    group: np.ndarray
    count: int  # groups; fewer than asked when there are fewer utterances

    @classmethod
    def assign(cls, owners: np.ndarray, groups: int, seed: int) -> Jackknife:
        """Utterances dealt round robin, in a seeded random order, into ``groups`` groups."""
        units = np.unique(owners)
        count = min(groups, len(units))
        if count < 2:
            raise ValueError(f"a jackknife needs ≥ 2 groups of utterances, got {count}")
        group = np.empty(len(units), dtype=np.int64)
        group[np.random.default_rng([seed, 2]).permutation(len(units))] = (
            np.arange(len(units)) % count
        )
        return cls(units, group, count)

    def of(self, owners: np.ndarray) -> np.ndarray:
        """The group of each row, from its utterance."""
        return self.group[np.searchsorted(self.units, owners)]
