"""A toy task kind: classification by the nearest class centroid (no training, no learning
rate), scored like classification. In the package it would be ``strata/probes/centroid.py``,
one line in ``TASK_KINDS`` and its name in the schema's task-kind enum (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from strata.features.shards import read_utterance_vectors
from strata.probes.classify import test_accuracy
from strata.probes.kinds import ClassificationKind
from strata.probes.metrics import ProbeOutcome
from strata.probes.tasks import SPLITS, classification_data


@dataclass(frozen=True)
class CentroidKind(ClassificationKind):
    """Labels and checks as classification; fitted by class means (weighted sum: the layers'
    rows side by side)."""

    fit_layer: str = "strata_toys.tasks:fit_layer"
    fit_weighted: str = "strata_toys.tasks:fit_weighted"


CENTROID = CentroidKind("nearest_centroid", "accuracy", True, False, None)


def fit_layer(path, manifest, trials, task: dict[str, Any], probe: dict) -> ProbeOutcome:
    ids, x = read_utterance_vectors(path)
    return nearest_centroid(x, ids, manifest, task, probe)


def fit_weighted(features, layers, manifest, trials, task, probe) -> ProbeOutcome:
    from strata.features.shards import read_layers

    ids, by_layer = read_layers(features, layers)
    x = np.hstack(list(by_layer.values()))
    return nearest_centroid(x, ids, manifest, task, probe)


def nearest_centroid(x, ids, manifest, task, probe) -> ProbeOutcome:
    data = classification_data(manifest, ids, x, task)
    centroids = np.stack(
        [data.x["train"][data.y["train"] == c].mean(0) for c in range(len(data.classes))]
    )

    def predict(rows: np.ndarray) -> np.ndarray:
        distances = ((rows[:, None, :] - centroids[None]) ** 2).sum(-1)
        return distances.argmin(1)

    scores = {s: float((predict(data.x[s]) == data.y[s]).mean()) for s in SPLITS}
    test, chance = test_accuracy(predict(data.x["test"]), data.y["test"], probe)
    state = {"centroids": centroids.astype(np.float32)}
    n = {s: len(data.y[s]) for s in SPLITS}
    return ProbeOutcome("accuracy", test, chance, True, scores, None, {}, n, {}, state)
