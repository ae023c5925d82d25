"""Verification probes (ASV): score each trial by the cosine of its two utterances' vectors,
either the layer's own (parameter-free) or a projection trained to classify the training
speakers; EER and normalised minDCF.

Trials come in two speaker-disjoint sets (the trial table's ``split``): dev trials choose the
learning rate (and, in the summary, the best layer), test trials are reported, with a cluster
bootstrap over their enrolment speakers. Without dev trials the learning rate is chosen on the
training speakers' dev utterances and the dev column stays empty. No speaker of either set
trains the projection. The fitting is the weighted-sum probe's
(:func:`strata.probes.weighted.fit_verification`); this module scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.probes.linear import best_lr
from strata.probes.metrics import DCF, ProbeOutcome, bootstrap, eer, eer_and_min_dcf
from strata.probes.tasks import Columns, split_column_of

TRIAL_SPLITS = ("dev", "test")


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(1)


def trial_rows(trials: Columns, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of each trial's two utterances; a trial naming an absent one is an error."""
    index = {u: i for i, u in enumerate(ids)}
    enrolment, test = list(trials["enrollment"]), list(trials["test"])
    absent = sorted(set(enrolment).union(test) - set(index))
    if absent:
        raise ValueError(f"trials name utterances without features: {absent[:5]}")
    return np.array([index[u] for u in enrolment]), np.array([index[u] for u in test])


def trial_splits(trials: Columns) -> dict[str, np.ndarray]:
    """Row positions of the dev and test trials; any other split is an error naming it."""
    splits = np.asarray(trials["split"], dtype=object)
    unknown = sorted(set(splits) - set(TRIAL_SPLITS))
    if unknown:
        raise ValueError(f"trials: split must be dev or test, got {unknown[:3]}")
    found = {s: np.flatnonzero(splits == s) for s in TRIAL_SPLITS}
    if not len(found["test"]):
        raise ValueError("trials: no test trials")
    return found


def without_trial_speakers(
    manifest: Columns, trials: Columns, label: str, split: str = "split"
) -> dict[str, list]:
    """The manifest with every utterance of a speaker who occurs in a trial (dev or test) taken
    out of the ``split`` column's splits (VoxCeleb1's identification splits include them)."""
    in_trials = set(trials["enrollment"]) | set(trials["test"])
    labels = list(manifest[label])
    speakers = {s for u, s in zip(manifest["utt_id"], labels, strict=True) if u in in_trials}
    held = [
        "verification" if s in speakers else old
        for old, s in zip(manifest[split], labels, strict=True)
    ]
    return {column: list(manifest[column]) for column in manifest} | {split: held}


def training_speakers(manifest: Columns, trials: Columns, task: dict[str, Any], ids, x):
    """:func:`classification_data`'s arguments for a projection trained to tell the speakers
    apart: the manifest without the trial speakers, and the task's label and split columns."""
    label, split = task.get("label", "speaker"), split_column_of(task)
    held_out = without_trial_speakers(manifest, trials, label, split)
    return held_out, ids, x, {"label": label, "split": split}


class Trials:
    """A dataset's trials against one set of utterance rows: scores any embedding of them."""

    def __init__(self, trials: Columns, ids: list[str], manifest: Columns, label: str):
        self.enrol, self.test = trial_rows(trials, ids)
        self.target = np.asarray(trials["target"], dtype=bool)
        self.splits = trial_splits(trials)
        if label not in manifest:
            raise KeyError(f"verification: speaker column {label!r} not in manifest")
        speaker = dict(zip(manifest["utt_id"], manifest[label], strict=True))
        self.speaker = np.array([str(speaker[u]) for u in trials["enrollment"]], dtype=object)
        pairs = zip(trials["enrollment"], trials["test"], strict=True)
        self.keys = np.array([f"{e}|{t}" for e, t in pairs], dtype=object)

    @property
    def has_dev(self) -> bool:
        return len(self.splits["dev"]) > 0

    def scores(self, embedded: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.splits[split]
        return cosine(embedded[self.enrol[rows]], embedded[self.test[rows]]), self.target[rows]

    def dev_eer(self, embedded: np.ndarray) -> float:
        return eer_and_min_dcf(*self.scores(embedded, "dev"))[0] if self.has_dev else np.nan


def choose_lr(
    scored: Trials, spaces: dict[float, np.ndarray], speaker_dev: dict[float, float]
) -> tuple[float, dict[str, float]]:
    """The learning rate with the lowest dev-trial EER; without dev trials, the highest
    speaker accuracy on the training speakers' dev utterances. Also every candidate's score."""
    if scored.has_dev:
        by_lr = {lr: scored.dev_eer(space) for lr, space in spaces.items()}
        return best_lr(by_lr, higher_is_better=False), {str(k): v for k, v in by_lr.items()}
    lr = best_lr(speaker_dev, higher_is_better=True)
    return lr, {str(k): v for k, v in speaker_dev.items()}


def trial_outcome(
    embedded: np.ndarray,
    scored: Trials,
    probe: dict,
    lr: float | None,
    dev_by_lr: dict[str, float],
    extra: dict[str, Any],
    state: dict[str, Any],
) -> ProbeOutcome:
    """Trials scored by the cosine of ``embedded`` rows: test EER with its interval over
    enrolment speakers, dev EER, normalised minDCF on test, and each test trial's score."""
    scores, target = scored.scores(embedded, "test")
    value, min_dcf = eer_and_min_dcf(scores, target)
    speakers = scored.speaker[scored.splits["test"]]
    estimate = bootstrap(
        eer(scores, target), speakers, probe["bootstrap"], probe["confidence"], probe["seed"], True
    )
    counts = {f"{s}_trials": len(rows) for s, rows in scored.splits.items()}
    units = {
        "key": scored.keys[scored.splits["test"]],
        "unit": speakers,
        "score": np.asarray(scores, np.float64),
        "target": np.asarray(target, bool),
    }
    return ProbeOutcome(
        metric="eer",
        test=estimate,
        chance=0.5,  # scores unrelated to the speaker: misses and false alarms balance at 50 %
        higher_is_better=False,
        scores={"train": np.nan, "dev": scored.dev_eer(embedded), "test": value},
        lr=lr,
        dev_by_lr=dev_by_lr,
        n={**counts, "target": int(target.sum()), "test_speakers": len(set(speakers))},
        extra={"min_dcf": min_dcf, "min_dcf_operating_point": DCF, **extra},
        state=state,
        units=units,
    )
