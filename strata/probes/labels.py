"""Label checks every task kind and the probes' data joins share: which utterances carry a
label in each split, and whether a classification task can be trained and scored. Below both
:mod:`strata.probes.kinds` and :mod:`strata.probes.tasks` (no cycle through the registry)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SPLITS = ("train", "dev", "test")
Rows = Iterable[tuple[str, Any]]  # (split, label or None) per utterance


def labelled_splits(rows: Rows, splits: tuple[str, ...] = SPLITS) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {split: [] for split in splits}
    for split, value in rows:
        if split in found and value is not None and not empty(value):
            found[split].append(value)
    return found


def empty(value: Any) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, str) and len(value) == 0


def check_classes(rows: Rows, label: str | None, min_classes: int = 2) -> None:
    """Raise ValueError naming the split and classes when a classification task cannot be
    trained and scored (a dev/test class unseen in train included)."""
    classes = {s: set(values) for s, values in labelled_splits(rows).items()}
    for split in SPLITS:
        if not classes[split]:
            raise ValueError(f"label {label!r}: no labelled utterances in split {split!r}")
        unseen = sorted(map(str, classes[split] - classes["train"]))
        if unseen:
            raise ValueError(f"label {label!r}: {split} classes absent from train: {unseen[:5]}")
    if len(classes["train"]) < min_classes:
        raise ValueError(
            f"label {label!r}: {len(classes['train'])} class in train; "
            f"classification needs at least {min_classes}"
        )
