"""Batch planning: bounded padded size, manifest order preserved chunk by chunk."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def plan_batches(
    num_samples: np.ndarray, max_batch_samples: int, chunk_size: int
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Yield (chunk indices in manifest order, batches of those indices).

    Within a chunk utterances are sorted by length so padding is small; every batch's padded
    size (count × longest) stays within ``max_batch_samples`` unless one utterance alone exceeds
    it, in which case it forms a batch on its own.
    """
    num_samples = np.asarray(num_samples)
    for start in range(0, len(num_samples), chunk_size):
        chunk = np.arange(start, min(start + chunk_size, len(num_samples)))
        order = chunk[np.argsort(num_samples[chunk], kind="stable")]
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
        yield chunk, batches
