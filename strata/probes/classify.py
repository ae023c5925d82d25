"""Classification probes (SID, KS, IC, ER): a linear classifier per learning rate, chosen on dev,
scored on test with a bootstrap interval over test utterances."""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.features.shards import read_utterance_vectors
from strata.probes.linear import best_lr, logits, train_linear_probe
from strata.probes.metrics import Estimate, ProbeOutcome, accuracy, bootstrap
from strata.probes.tasks import SPLITS, Columns, classification_data


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
    data = classification_data(manifest, ids, x, task)
    fits = {lr: train_linear_probe(data, probe, lr) for lr in probe["lrs"]}
    lr = best_lr({lr: fit.accuracy["dev"] for lr, fit in fits.items()}, higher_is_better=True)
    result = fits[lr]
    predicted = logits(result.state, data.x["test"]).argmax(1)
    test, chance = test_accuracy(predicted, data.y["test"], probe)
    return ProbeOutcome(
        metric="accuracy",
        test=test,
        chance=chance,
        higher_is_better=True,
        scores=dict(result.accuracy),
        lr=lr,
        dev_by_lr={str(k): fit.accuracy["dev"] for k, fit in fits.items()},
        n={split: len(data.y[split]) for split in SPLITS},
        extra={
            "num_classes": len(data.classes),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
        },
        state=result.state,
        units=utterance_units(data.ids["test"], predicted, data.y["test"]),
    )
