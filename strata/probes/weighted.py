"""Weighted-sum probes (SUPERB): every layer at once, Σ_l w_l · A_l x_l, then the task's head.

Each layer is standardised on train and mapped by its own linear projection A_l to a common
width (layer widths differ, e.g. ECAPA's); softmax weights w over layers are learnt with the
rest. Layer usage is read as w_l · ‖A_l‖_F (normalised to sum to 1), the paper's measure.
Classification trains a softmax head; verification trains one on the training speakers and
scores trials by the cosine of the weighted sum; phoneme recognition trains a CTC head on
every frame (frame-level layers only, all at the model's one frame rate;
:mod:`strata.probes.phonemes`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.features.shards import read_utterance_vectors, shard_path
from strata.probes.kinds import TASK_KINDS
from strata.probes.linear import best_lr
from strata.probes.metrics import ProbeOutcome, accuracy, bootstrap, eer, eer_and_min_dcf
from strata.probes.nets import WeightedSum, train
from strata.probes.tasks import SPLITS, Columns, classification_data, split_column_of


def _standardise(arrays: list[np.ndarray], train_rows: np.ndarray):
    """Each layer standardised by its train rows' statistics; also the statistics."""
    stats = [(x[train_rows].mean(0), x[train_rows].std(0) + 1e-6) for x in arrays]
    scaled = [((x - m) / s).astype(np.float32) for x, (m, s) in zip(arrays, stats, strict=True)]
    return scaled, stats


def _pooled(features, layers: list[str]) -> tuple[list[str], list[np.ndarray]]:
    arrays, ids = [], None
    for layer in layers:
        layer_ids, x = read_utterance_vectors(shard_path(features, layer))
        if ids is not None and layer_ids != ids:
            raise ValueError(f"{features}: layer {layer!r} holds other utterances")
        ids = layer_ids
        arrays.append(x)
    return ids, arrays


def _verification_manifest(manifest, trials, task):
    from strata.probes.verify import without_trial_speakers

    label = task.get("label", "speaker")
    return without_trial_speakers(manifest, trials, label, split_column_of(task))


def fit_weighted(
    features,
    layers: list[str],
    manifest: Columns,
    trials: Columns | None,
    task: dict[str, Any],
    probe: dict,
) -> ProbeOutcome:
    kind = TASK_KINDS[task["kind"]]
    if kind.frames:
        from strata.probes.phonemes import fit_weighted_phonemes

        return fit_weighted_phonemes(features, layers, manifest, task, probe)
    ids, arrays = _pooled(features, layers)
    verification = kind.name == "verification"
    labelled = _verification_manifest(manifest, trials, task) if verification else manifest
    label = task.get("label", "speaker")
    # Row numbers stand in for the features: every layer is split by the same rows.
    labels = {"label": label, "split": split_column_of(task)}
    data = classification_data(labelled, ids, np.arange(len(ids)), labels)
    scaled, stats = _standardise(arrays, data.x["train"])
    xs = {s: [x[data.x[s]] for x in scaled] for s in SPLITS}
    dims, width = [x.shape[1] for x in arrays], probe["projection_width"]

    def fit(lr: float):
        net = WeightedSum(np.random.default_rng(probe["seed"]), dims, width, len(data.classes))
        return net, train(net, xs, data.y, probe, lr)

    fits = {lr: fit(lr) for lr in probe["lrs"]}
    dev_by_lr = {str(k): f.accuracy["dev"] for k, (_, f) in fits.items()}
    lr = best_lr({k: f.accuracy["dev"] for k, (_, f) in fits.items()}, higher_is_better=True)
    net, result = fits[lr]
    extra = {"layers": layers, **net.usage(), "best_epoch": result.best_epoch}
    state = dict(net.params) | {"lr": lr, "layers": layers, "classes": data.classes}
    state |= {f"mean_{i}": m.astype(np.float32) for i, (m, _) in enumerate(stats)}
    state |= {f"std_{i}": s.astype(np.float32) for i, (_, s) in enumerate(stats)}
    seed, resamples, confidence = probe["seed"], probe["bootstrap"], probe["confidence"]
    if verification:
        from strata.probes.verify import cosine, trial_rows

        enrol, test = trial_rows(trials, ids)
        summed = net.embed(scaled).astype(np.float64)
        scores = cosine(summed[enrol], summed[test])
        target = np.asarray(trials["target"], dtype=bool)
        value, min_dcf = eer_and_min_dcf(scores, target)
        estimate = bootstrap(eer(scores, target), len(target), resamples, confidence, seed)
        nan = float("nan")
        extra |= {"min_dcf": min_dcf, "speaker_dev_accuracy": result.accuracy["dev"]}
        return ProbeOutcome(
            "eer", estimate, 0.5, False, {"train": nan, "dev": nan, "test": value}, lr,
            dev_by_lr, {"trials": len(target)}, extra, state,
        )  # fmt: skip
    correct = net.forward(xs["test"]).argmax(1) == data.y["test"]
    estimate = bootstrap(accuracy(correct), len(correct), resamples, confidence, seed)
    chance = float(np.bincount(data.y["test"]).max() / len(data.y["test"]))
    n = {s: len(data.y[s]) for s in SPLITS}
    return ProbeOutcome(
        "accuracy", estimate, chance, True, result.accuracy, lr, dev_by_lr, n, extra, state
    )
