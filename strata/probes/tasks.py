"""Task data: a task's labelled utterances joined to a layer's features, per split.

A task config names its ``kind`` (:data:`strata.probes.kinds.TASK_KINDS`) and the manifest
``label`` column it predicts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from strata.probes.labels import SPLITS, check_classes

# A manifest or trial table as columns of values. A pandas DataFrame is one; probe jobs read
# Parquet into plain lists, as importing pandas would cost them half a second each.
Columns = Mapping[str, Sequence[Any]]


def split_column_of(task: Mapping[str, Any]) -> str:
    """The manifest column holding the task's train/dev/test (``split`` unless it names one,
    e.g. the embedded corpus's speaker-disjoint ``speaker_split`` for intents, as FSC)."""
    return task.get("split", "split")


OUTSIDE = "outside"  # the split a task's ``where`` gives the utterances it leaves out


def restrict(
    manifest: Columns, trials: Columns | None, task: Mapping[str, Any]
) -> tuple[Columns, Columns | None]:
    """The task's ``where`` (column -> value) applied: other utterances leave its splits (the
    feature rows stay aligned) and trials naming one are dropped; without ``where``, as given.
    E.g. speaker tasks on the embedded corpus's sentences, not its one-word keyword clips."""
    where = task.get("where")
    if not where:
        return manifest, trials
    for column in where:
        if column not in manifest:
            raise KeyError(f"task where: column {column!r} not in manifest")
    matches = ([v == want for v in manifest[c]] for c, want in where.items())
    keep = [all(row) for row in zip(*matches, strict=True)]
    if not any(keep):
        raise ValueError(f"task where {dict(where)} selects no utterance")
    split = split_column_of(task)
    splits = [s if k else OUTSIDE for s, k in zip(manifest[split], keep, strict=True)]
    if hasattr(manifest, "assign"):  # a DataFrame (the CTC probes read one)
        manifest = manifest.assign(**{split: splits})
    else:
        manifest = {**_lists(manifest), split: splits}
    if trials is not None:
        chosen = {u for u, k in zip(manifest["utt_id"], keep, strict=True) if k}
        pairs = zip(trials["enrollment"], trials["test"], strict=True)
        rows = [i for i, (e, t) in enumerate(pairs) if e in chosen and t in chosen]
        trials = {c: [values[i] for i in rows] for c, values in _lists(trials).items()}
    return manifest, trials


def _lists(columns: Columns) -> dict[str, list[Any]]:
    return {c: list(columns[c]) for c in columns}


def present(value: Any) -> bool:
    """Not a missing cell (None, or NaN as pandas reads a missing label)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


@dataclass
class ClassificationData:
    """Features and integer labels per split, with the class names (train order)."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    ids: dict[str, list[str]]
    classes: list[str]


def classification_data(
    manifest: Columns, utt_ids: list[str], features: np.ndarray, task: dict[str, Any]
) -> ClassificationData:
    """Join features (row i: ``utt_ids[i]``, the manifest's order) to manifest labels and split
    them.

    Utterances without the label (e.g. intent for keyword utterances) are outside the task;
    a dev/test class never seen in training is an error, not something to drop.
    """
    label, split_column = task["label"], split_column_of(task)
    for column in (label, split_column):
        if column not in manifest:
            raise KeyError(f"task column {column!r} not in manifest")
    if list(manifest["utt_id"]) != list(utt_ids):
        raise ValueError("feature shard and manifest disagree on utterance ids or their order")
    values, splits = list(manifest[label]), list(manifest[split_column])
    used = [
        i for i, (s, v) in enumerate(zip(splits, values, strict=True)) if s in SPLITS and present(v)
    ]
    check_classes(((splits[i], values[i]) for i in used), label)
    classes = sorted({values[i] for i in used if splits[i] == "train"})
    index = {c: i for i, c in enumerate(classes)}
    data = ClassificationData({}, {}, {}, [str(c) for c in classes])
    for split in SPLITS:
        rows = np.array([i for i in used if splits[i] == split], dtype=np.int64)
        data.x[split] = features[rows]
        data.y[split] = np.array([index[values[i]] for i in rows], dtype=np.int64)
        data.ids[split] = [utt_ids[i] for i in rows]
    return data
