"""Classification probes (SID, KS, IC, ER): the weighted-sum probe restricted to one layer
(:func:`strata.probes.weighted.fit_rows`: standardised, projected, a softmax head per learning
rate, chosen on dev), scored on test with a bootstrap interval over test utterances."""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.features.shards import read_utterance_vectors
from strata.probes.metrics import Estimate, ProbeOutcome, accuracy, bootstrap
from strata.probes.tasks import Columns


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


def fit_layer(path, manifest: Columns, trials, task: dict[str, Any], probe: dict) -> ProbeOutcome:
    """The classification kind's single-layer fitting: the shard's pooled rows."""
    ids, x = read_utterance_vectors(path)
    return fit_classification(x, ids, manifest, task, probe)


def fit_classification(
    x: np.ndarray, ids: list[str], manifest: Columns, task: dict[str, Any], probe: dict
) -> ProbeOutcome:
    """One layer's rows (``x`` is left as it is): the weighted-sum probe restricted to it."""
    from strata.probes.weighted import fit_rows

    layer = [np.array(x, dtype=np.float32)]  # a copy: the probe standardises it in place
    return fit_rows(ids, layer, ["layer"], manifest, None, task, probe)
