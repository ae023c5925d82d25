"""Task kinds (a registry): what a probe predicts, how it is fitted and scored, what it needs,
and which of the report's contrasts read it. One entry per kind owns all of that, so a new kind
is its module (a :class:`TaskKind` subclass and its fitting functions), its line in
:data:`TASK_KINDS` and its name in the config schema's enum (docs/extending.md).

Light on purpose (no torch, no pandas): the Snakefile checks every task against its dataset at
parse time with :meth:`TaskKind.check` (on the embedded corpus's plan; the header of a user's
table), and the probe runs the same label checks on the real manifest. Fitting is named by
import path (``fit_layer``, ``fit_weighted``) and imported only when a probe runs.

=====================  ===========  ========  =======================================
kind                   metric       better    input
=====================  ===========  ========  =======================================
classification         accuracy     higher    pooled layer; a label per utterance
verification           eer          lower     pooled layer; the dataset's trial list
phoneme_recognition    per          lower     every frame of a frame-level layer; phones
=====================  ===========  ========  =======================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strata.plugins import load_object
from strata.probes.labels import SPLITS, Rows, check_classes, labelled_splits
from strata.schema import ConfigError

if TYPE_CHECKING:  # numpy only when a statistic is asked for: the Snakefile imports this
    import numpy as np

    from strata.probes.metrics import Weighted


@dataclass(frozen=True)
class TaskKind:
    name: str
    metric: str
    higher_is_better: bool
    frames: bool  # needs every frame (level: frame), not pooled rows
    default_label: str | None
    # Float32 copies of the probed rows a pooled-row probe holds at its peak (memory planning;
    # docs/scale.md): the weighted sum of every layer (1.33 measured on 20,000 x 13 x 768, plus
    # a few copies of one layer while it is read and split), and a single layer's probe (4.7
    # measured on 60,000 x 1,024: the split copies, the standardised ones, the minibatches).
    memory_copies: float = 1.5
    layer_memory_copies: float = 5.0
    # Fitting, by import path: one layer's shard (path, manifest, trials, task, probe), and the
    # weighted sum of layers (features dir, layers, manifest, trials, task, probe); each returns
    # a strata.probes.metrics.ProbeOutcome.
    fit_layer: str = "strata.probes.weighted:fit_classification_layer"
    fit_weighted: str = "strata.probes.weighted:fit_weighted"
    has_trials: bool = False  # scored on the dataset's trial list, not on labelled utterances
    layer_profile: str | None = None  # what the report's layer-profile claims call its content

    def label(self, task: Mapping[str, Any]) -> str | None:
        return task.get("label", self.default_label)

    def checked_label(self, task: Mapping[str, Any]) -> str | None:
        """The label column the dataset must have for this task (None: it needs none)."""
        return self.label(task)

    def report_group(self, task: Mapping[str, Any]) -> str | None:
        """Which side of the report's speaker-vs-content contrasts a task is on, if any."""
        return {"speaker": "speaker", "keyword": "content"}.get(self.label(task) or "")

    def fitter(self, weighted: bool = False) -> Any:
        """The fitting function (imported now)."""
        path = self.fit_weighted if weighted else self.fit_layer
        return load_object(path, f"task kind {self.name!r} fitting")

    def check(self, columns: Mapping[str, list], trials: int | None, task: Mapping[str, Any]):
        """Raise ValueError when the dataset cannot give this task: ``columns`` maps a label
        column to its (split, value) rows; ``trials`` counts verification trials (None:
        unknown until the dataset is built)."""
        label = self.label(task)
        if label is not None and label not in columns:
            raise ValueError(f"label {label!r} is not a column of the dataset: {sorted(columns)}")
        self.check_labels(columns.get(label, []), task)

    def check_labels(self, rows: Rows, task: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def statistic(self, units: Mapping[str, np.ndarray]) -> Weighted:
        """The test metric of a probe's per-unit test rows (``ProbeOutcome.units``, or
        test_units.parquet) as a function of (resamples, rows) multiplicities; all ones gives
        the reported test value."""
        raise NotImplementedError(f"task kind {self.name!r} gives no per-unit statistic")


@dataclass(frozen=True)
class ClassificationKind(TaskKind):
    """One label per utterance; accuracy. Utterances without the label are outside the task."""

    min_classes: int = 2

    def checked_label(self, task: Mapping[str, Any]) -> str | None:
        label = self.label(task)
        if label is None:
            raise ConfigError("label", f"a {self.name} task names the column it predicts")
        return label

    def check_labels(self, rows: Rows, task: Mapping[str, Any]) -> None:
        check_classes(rows, self.label(task), self.min_classes)

    def statistic(self, units: Mapping[str, np.ndarray]) -> Weighted:
        """Accuracy over the ``correct`` column."""
        from strata.probes.metrics import accuracy

        return accuracy(units["correct"])


@dataclass(frozen=True)
class VerificationKind(TaskKind):
    """Trials scored by cosine similarity of two utterances' vectors (parameter-free), or of a
    projection trained to classify the training speakers; EER (and minDCF)."""

    memory_copies: float = 3.0  # every utterance kept for the trials, besides the split rows
    layer_memory_copies: float = 8.0  # measured 7.8: float64 copies for the cosine scores
    fit_layer: str = "strata.probes.weighted:fit_verification_layer"
    fit_weighted: str = "strata.probes.weighted:fit_weighted_trials"
    has_trials: bool = True

    def checked_label(self, task: Mapping[str, Any]) -> str | None:
        """Trials carry the truth; a projection also trains on the speaker labels."""
        return self.label(task) if task.get("scoring", "cosine") == "projection" else None

    def report_group(self, task: Mapping[str, Any]) -> str | None:
        return "speaker"

    def check(self, columns: Mapping[str, list], trials: int | None, task: Mapping[str, Any]):
        if trials == 0:
            raise ConfigError("dataset", "has no verification trials (a trial list is needed)")
        if task.get("scoring", "cosine") == "projection":
            label = self.label(task)
            if label not in columns:
                raise ValueError(f"label {label!r} is not a column of the dataset")
            CLASSIFY.check_labels(columns[label], {**task, "label": label})

    def check_labels(self, rows: Rows, task: Mapping[str, Any]) -> None:
        return None  # trials carry the truth

    def statistic(self, units: Mapping[str, np.ndarray]) -> Weighted:
        """EER of the ``score`` and ``target`` columns (one row per test trial)."""
        from strata.probes.metrics import eer

        return eer(units["score"], units["target"])


@dataclass(frozen=True)
class PhonemeKind(TaskKind):
    """A linear CTC head on every frame of a layer; greedy decoding; phone error rate."""

    fit_layer: str = "strata.probes.phonemes:fit_layer"
    fit_weighted: str = "strata.probes.phonemes:fit_weighted_layers"
    layer_profile: str | None = "phones"

    def report_group(self, task: Mapping[str, Any]) -> str | None:
        return "content"

    def check_labels(self, rows: Rows, task: Mapping[str, Any]) -> None:
        found = labelled_splits(rows)
        for split in SPLITS:
            if not found[split]:
                raise ValueError(f"label {self.label(task)!r}: no phone sequences in {split!r}")

    def statistic(self, units: Mapping[str, np.ndarray]) -> Weighted:
        """Phone error rate: total ``edits`` over total reference ``length``."""
        import numpy as np

        from strata.probes.metrics import error_rate

        counts = np.column_stack([units["edits"], units["length"]]).astype(np.float64)
        return error_rate(counts)


CLASSIFY = ClassificationKind("classification", "accuracy", True, False, None)
TASK_KINDS: dict[str, TaskKind] = {
    kind.name: kind
    for kind in (
        CLASSIFY,
        VerificationKind("verification", "eer", False, False, "speaker"),
        PhonemeKind("phoneme_recognition", "per", False, True, "phones"),
    )
}
