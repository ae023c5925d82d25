"""Batch planning: length buckets over the whole dataset, padded size bounded."""

from __future__ import annotations

import numpy as np


def plan_batches(num_samples: np.ndarray, max_batch_samples: int) -> list[np.ndarray]:
    """Manifest indices in batches of similar length, shortest first.

    Every batch's padded size (count × longest) stays within ``max_batch_samples`` unless one
    utterance alone exceeds it, in which case it forms a batch on its own. Sorting the whole
    dataset keeps padding small; the shard writers restore manifest order.
    """
    num_samples = np.asarray(num_samples)
    order = np.argsort(num_samples, kind="stable")
    batches: list[np.ndarray] = []
    current: list[int] = []
    for idx in order:
        # Sorted ascending, so the newest utterance is the longest of the batch.
        if current and (len(current) + 1) * num_samples[idx] > max_batch_samples:
            batches.append(np.array(current))
            current = []
        current.append(int(idx))
    if current:
        batches.append(np.array(current))
    return batches
