"""Task kinds (a registry): what a probe predicts, and which labelled utterances make a task.

Light on purpose (no torch, no pandas): the Snakefile runs :meth:`check_labels` on every
embedded corpus's plan at parse time, and the probe runs the same check on the real manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class ClassificationKind:
    """One label per utterance; accuracy. Utterances without the label are outside the task."""

    name: ClassVar[str] = "classification"
    metric: ClassVar[str] = "accuracy"
    min_classes: ClassVar[int] = 2

    def check_labels(self, rows: Iterable[tuple[str, Any]], task: Mapping[str, Any]) -> None:
        """``rows``: (split, label or None) per utterance. Raise ValueError naming the split and
        classes when the task cannot be trained and scored (a class unseen in train included)."""
        label = task["label"]
        classes: dict[str, set[Any]] = {split: set() for split in SPLITS}
        for split, value in rows:
            if split in classes and value is not None:
                classes[split].add(value)
        for split in SPLITS:
            if not classes[split]:
                raise ValueError(f"label {label!r}: no labelled utterances in split {split!r}")
            unseen = sorted(map(str, classes[split] - classes["train"]))
            if unseen:
                raise ValueError(
                    f"label {label!r}: {split} classes absent from train: {unseen[:5]}"
                )
        if len(classes["train"]) < self.min_classes:
            raise ValueError(
                f"label {label!r}: {len(classes['train'])} class in train; "
                f"classification needs at least {self.min_classes}"
            )


TASK_KINDS: dict[str, ClassificationKind] = {"classification": ClassificationKind()}
