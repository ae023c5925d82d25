"""Task data: a task's labelled utterances joined to a layer's features, per split.

A task config names its ``kind`` (:data:`strata.probes.kinds.TASK_KINDS`) and the manifest
``label`` column it predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from strata.probes.kinds import SPLITS, TASK_KINDS


@dataclass
class ClassificationData:
    """Features and integer labels per split, with the class names (train order)."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    ids: dict[str, list[str]]
    classes: list[str]


def classification_data(
    manifest: pd.DataFrame, utt_ids: list[str], features: np.ndarray, task: dict[str, Any]
) -> ClassificationData:
    """Join features to manifest labels and split them.

    Utterances without the label (e.g. intent for keyword utterances) are outside the task;
    a dev/test class never seen in training is an error, not something to drop.
    """
    label = task["label"]
    if label not in manifest.columns:
        raise KeyError(f"task label column {label!r} not in manifest")
    if list(manifest["utt_id"]) != list(utt_ids):
        raise ValueError("feature shard and manifest disagree on utterance ids or their order")
    used = manifest[manifest[label].notna() & manifest["split"].isin(SPLITS)]
    TASK_KINDS["classification"].check_labels(zip(used["split"], used[label], strict=True), task)
    classes = sorted(used.loc[used["split"] == "train", label].unique())
    index = {c: i for i, c in enumerate(classes)}
    data = ClassificationData({}, {}, {}, [str(c) for c in classes])
    for split in SPLITS:
        rows = used[used["split"] == split]
        positions = rows.index.to_numpy()
        data.x[split] = features[manifest.index.get_indexer(positions)]
        data.y[split] = rows[label].map(index).to_numpy(dtype=np.int64)
        data.ids[split] = rows["utt_id"].tolist()
    return data
