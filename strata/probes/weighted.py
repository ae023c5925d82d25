"""Weighted-sum probes (SUPERB): every layer at once, Σ_l w_l · A_l x_l, then the task's head.

Each layer is standardised on train and mapped by its own linear projection A_l to a common
width (layer widths differ, e.g. ECAPA's); softmax weights w over layers are learnt with the
rest. Layer usage is measured: each layer's share of the weighted sum on the dev split,
‖w_l A_l X_l‖_F / Σ_k ‖w_k A_k X_k‖_F (``usage``); the softmax weights and w_l·‖A_l‖_F (the
paper's reading, equal to the measured share only when a layer's standardised dimensions are
uncorrelated) are kept beside it. Classification trains a softmax head; verification trains one
on the training speakers (learning rate chosen on dev trials) and scores trials by the cosine of
the weighted sum; phoneme recognition trains a CTC head on
every frame (frame-level layers only, all at the model's one frame rate;
:mod:`strata.probes.phonemes`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.features.shards import read_layers, read_utterance_vectors
from strata.probes.classify import test_accuracy, utterance_units
from strata.probes.linear import best_lr
from strata.probes.metrics import ProbeOutcome
from strata.probes.nets import WeightedSum, at_cap, train
from strata.probes.tasks import SPLITS, Columns, classification_data


def _standardise(arrays: list[np.ndarray], train_rows: np.ndarray) -> list[tuple]:
    """Standardise each float32 layer in place by its train rows' statistics (no second copy
    of the corpus); returns the statistics."""
    stats = []
    for x in arrays:
        train = x[train_rows]
        mean, std = train.mean(0), train.std(0) + 1e-6
        x -= mean
        x /= std
        stats.append((mean, std))
    return stats


def _by_split(arrays: list, rows: dict[str, np.ndarray], keep: bool) -> dict[str, list]:
    """Each split's rows of every layer. Unless ``keep``, each layer's whole array is let go
    once split, so the corpus is in memory once, not twice."""
    xs: dict[str, list] = {s: [] for s in SPLITS}
    for i, x in enumerate(arrays):
        for split in SPLITS:
            xs[split].append(x[rows[split]])
        if not keep:
            arrays[i] = None
    return xs


def fit_weighted(
    features,
    layers: list[str],
    manifest: Columns,
    trials: Columns | None,
    task: dict[str, Any],
    probe: dict,
    verification: bool = False,
) -> ProbeOutcome:
    """The weighted sum of pooled rows: classification, or (``verification``) a speaker
    projection scored on the trials."""
    ids, by_layer = read_layers(features, layers)
    arrays = [x.astype(np.float32, copy=False) for x in by_layer.values()]
    del by_layer  # the list holds the only reference: _by_split can let layers go
    return fit_rows(ids, arrays, layers, manifest, trials, task, probe, verification)


def fit_rows(
    ids: list[str],
    arrays: list[np.ndarray],
    layers: list[str],
    manifest: Columns,
    trials: Columns | None,
    task: dict[str, Any],
    probe: dict,
    verification: bool = False,
) -> ProbeOutcome:
    """The weighted-sum probe on in-memory layers (float32 ``arrays``, standardised in place
    and let go once split). A single-layer probe is this with one layer: the same front
    (standardisation, projection to ``projection_width``), head, optimiser and schedule, so a
    layer's score and its share of a weighted sum are measured alike."""
    # Row numbers stand in for the features: every layer is split by the same rows.
    rows = np.arange(len(ids))
    if verification:
        from strata.probes.verify import training_speakers

        data = classification_data(*training_speakers(manifest, trials, task, ids, rows))
    else:
        data = classification_data(manifest, ids, rows, task)
    stats = _standardise(arrays, data.x["train"])
    dims, width = [x.shape[1] for x in arrays], probe["projection_width"]
    scaled = arrays  # verification embeds every utterance (trials), so keeps them
    xs = _by_split(scaled, data.x, keep=verification)

    def fit(lr: float):
        net = WeightedSum(np.random.default_rng(probe["seed"]), dims, width, len(data.classes))
        return net, train(net, xs, data.y, probe, lr)

    fits = {lr: fit(lr) for lr in probe["lrs"]}
    dev_accuracy = {k: f.accuracy["dev"] for k, (_, f) in fits.items()}
    if verification:  # chosen on dev trials where there are some
        from strata.probes.verify import Trials, choose_lr

        scored = Trials(trials, ids, manifest, task.get("label", "speaker"))
        spaces = {k: net.embed(scaled).astype(np.float64) for k, (net, _) in fits.items()}
        lr, dev_by_lr = choose_lr(scored, spaces, dev_accuracy)
    else:
        lr = best_lr(dev_accuracy, higher_is_better=True)
        dev_by_lr = {str(k): v for k, v in dev_accuracy.items()}
    net, result = fits[lr]
    extra = {
        "layers": layers,
        **net.usage(xs["dev"]),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "at_cap": at_cap(result.best_epoch, result.epochs_run, probe["max_epochs"]),
    }
    state = dict(net.params) | {"lr": lr, "layers": layers, "classes": data.classes}
    state |= {f"mean_{i}": m.astype(np.float32) for i, (m, _) in enumerate(stats)}
    state |= {f"std_{i}": s.astype(np.float32) for i, (_, s) in enumerate(stats)}
    if verification:
        from strata.probes.verify import trial_outcome

        extra |= {"scoring": "projection", "speaker_dev_accuracy": result.accuracy["dev"]}
        return trial_outcome(spaces[lr], scored, probe, lr, dev_by_lr, extra, state)
    predicted = net.forward(xs["test"]).argmax(1)
    estimate, chance = test_accuracy(predicted, data.y["test"], probe)
    n = {s: len(data.y[s]) for s in SPLITS}
    units = utterance_units(data.ids["test"], predicted, data.y["test"])
    return ProbeOutcome(
        "accuracy", estimate, chance, True, result.accuracy, lr, dev_by_lr, n, extra, state, units
    )


def fit_weighted_trials(features, layers, manifest, trials, task, probe) -> ProbeOutcome:
    """Verification's weighted sum: a projection trained on the training speakers, scored on
    the dataset's trials."""
    if trials is None:
        raise ValueError("verification needs the dataset's trials.parquet")
    return fit_weighted(features, layers, manifest, trials, task, probe, verification=True)


def fit_classification(
    x: np.ndarray, ids: list[str], manifest: Columns, task: dict[str, Any], probe: dict
) -> ProbeOutcome:
    """One layer's rows (``x`` is left as it is): the weighted-sum probe restricted to it."""
    layer = [np.array(x, dtype=np.float32)]  # a copy: the probe standardises it in place
    return fit_rows(ids, layer, ["layer"], manifest, None, task, probe)


def fit_classification_layer(path, manifest: Columns, trials, task, probe) -> ProbeOutcome:
    """The classification kind's single-layer fitting: the shard's pooled rows."""
    ids, x = read_utterance_vectors(path)
    return fit_classification(x, ids, manifest, task, probe)


def fit_verification(
    x: np.ndarray,
    ids: list[str],
    manifest: Columns,
    trials: Columns,
    task: dict[str, Any],
    probe: dict,
) -> ProbeOutcome:
    """Cosine scoring of the layer's own rows (parameter-free); ``scoring: projection``: the
    weighted-sum probe restricted to this layer, its space trained on the training speakers."""
    from strata.probes.verify import Trials, trial_outcome

    if task.get("scoring", "cosine") == "projection":
        layer = [np.array(x, dtype=np.float32)]  # a copy: standardised in place
        return fit_rows(ids, layer, ["layer"], manifest, trials, task, probe, verification=True)
    scored = Trials(trials, ids, manifest, task.get("label", "speaker"))
    extra = {"scoring": "cosine"}
    return trial_outcome(x.astype(np.float64), scored, probe, None, {}, extra, {})


def fit_verification_layer(path, manifest: Columns, trials, task, probe) -> ProbeOutcome:
    """The verification kind's single-layer fitting: the shard's pooled rows, on the trials."""
    if trials is None:
        raise ValueError("verification needs the dataset's trials.parquet")
    ids, x = read_utterance_vectors(path)
    return fit_verification(x, ids, manifest, trials, task, probe)
