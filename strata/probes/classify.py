"""Classification probes (SID, KS, IC, ER) are scored here: test accuracy with a bootstrap
interval over test utterances, and the per-utterance outcomes behind it. They are fitted as the
weighted-sum probe, restricted to one layer for a single-layer probe
(:func:`strata.probes.weighted.fit_classification`)."""

from __future__ import annotations

import numpy as np

from strata.probes.metrics import Estimate, accuracy, bootstrap


def test_accuracy(predicted: np.ndarray, y: np.ndarray, probe: dict) -> tuple[Estimate, float]:
    """Test accuracy with its bootstrap interval over utterances, and chance: the best constant
    guess on test, what a probe that learned nothing can score."""
    correct = predicted == y
    utterances = np.arange(len(correct))
    test = bootstrap(
        accuracy(correct), utterances, probe["bootstrap"], probe["confidence"], probe["seed"], True
    )
    return test, float(np.bincount(y).max() / len(y))


def utterance_units(ids: list[str], predicted: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The rows :func:`test_accuracy` scores, in its order: each test utterance is its own
    resampled cluster (there by position, here by id: the same partition)."""
    key = np.asarray(ids, dtype=object)
    return {"key": key, "unit": key.copy(), "correct": (predicted == y).astype(np.float64)}
