"""Verification probes (ASV): score each trial by the cosine of its two utterances' vectors,
either the layer's own (parameter-free) or a projection trained to classify the training
speakers (learning rate chosen on their dev utterances); EER and minDCF (p_target 0.01), with a
bootstrap interval over trials."""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.probes.linear import best_lr, project, train_linear_probe
from strata.probes.metrics import ProbeOutcome, bootstrap, eer, eer_and_min_dcf
from strata.probes.tasks import Columns, classification_data, split_column_of


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


def without_trial_speakers(
    manifest: Columns, trials: Columns, label: str, split: str = "split"
) -> dict[str, list]:
    """The manifest with every utterance of a speaker who occurs in a trial taken out of the
    ``split`` column's splits (VoxCeleb1's identification splits include the verification
    speakers)."""
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


def fit_verification(
    x: np.ndarray,
    ids: list[str],
    manifest: Columns,
    trials: Columns,
    task: dict[str, Any],
    probe: dict,
) -> ProbeOutcome:
    lr, dev_by_lr, state, extra, embedded = None, {}, {}, {}, x.astype(np.float64)
    if task.get("scoring", "cosine") == "projection":
        data = classification_data(*training_speakers(manifest, trials, task, ids, x))
        width = min(probe["projection_width"], x.shape[1])
        fits = {lr: train_linear_probe(data, probe, lr, width) for lr in probe["lrs"]}
        dev_by_lr = {str(k): fit.accuracy["dev"] for k, fit in fits.items()}
        lr = best_lr({k: fit.accuracy["dev"] for k, fit in fits.items()}, higher_is_better=True)
        state = fits[lr].state
        embedded = project(state, x).astype(np.float64)
        extra = {"projection_width": width, "speaker_dev_accuracy": fits[lr].accuracy["dev"]}
    extra = {"scoring": task.get("scoring", "cosine"), **extra}
    return trial_outcome(embedded, ids, trials, probe, lr, dev_by_lr, extra, state)


def trial_outcome(
    embedded: np.ndarray,
    ids: list[str],
    trials: Columns,
    probe: dict,
    lr: float | None,
    dev_by_lr: dict[str, float],
    extra: dict[str, Any],
    state: dict[str, Any],
) -> ProbeOutcome:
    """Trials scored by the cosine of ``embedded`` rows (one per id): EER with its bootstrap
    interval over trials, and minDCF."""
    enrol, test = trial_rows(trials, ids)
    scores = cosine(embedded[enrol], embedded[test])
    target = np.asarray(trials["target"], dtype=bool)
    value, min_dcf = eer_and_min_dcf(scores, target)
    estimate = bootstrap(
        eer(scores, target), len(scores), probe["bootstrap"], probe["confidence"], probe["seed"]
    )
    nan = float("nan")
    return ProbeOutcome(
        metric="eer",
        test=estimate,
        chance=0.5,  # scores unrelated to the speaker: misses and false alarms balance at 50 %
        higher_is_better=False,
        scores={"train": nan, "dev": nan, "test": value},
        lr=lr,
        dev_by_lr=dev_by_lr,
        n={"trials": len(scores), "target": int(target.sum())},
        extra={"min_dcf": min_dcf, **extra},
        state=state,
    )
