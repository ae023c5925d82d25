"""Which utterances keep their frames when ``features.frame_hours`` caps a split: a seeded
random subset of the split, in manifest order, up to its hours. The same for every model (it
depends only on the manifest), so frame-level jobs compare the same utterances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SEED = 0


def frame_utterances(
    splits: Sequence[str], seconds: np.ndarray, hours: Mapping[str, float] | None
) -> np.ndarray:
    """A boolean mask over utterances: all of them, or within each capped split those whose
    running total (in a seeded random order) stays within its cap."""
    splits = np.asarray(splits, dtype=object)
    keep = np.ones(len(splits), bool)
    rng = np.random.default_rng(SEED)
    for split, cap in sorted((hours or {}).items()):
        members = np.nonzero(splits == split)[0]
        order = members[rng.permutation(len(members))]
        keep[order] = np.cumsum(seconds[order]) <= cap * 3600
    return keep
