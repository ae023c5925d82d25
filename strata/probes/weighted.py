"""Weighted-sum probes (SUPERB): every layer at once, Σ_l w_l · A_l x_l, then the task's head.

Each layer is standardised on train and mapped by its own linear projection A_l to a common
width (layer widths differ, e.g. ECAPA's); softmax weights w over layers are learnt with the
rest. Layer usage is read as w_l · ‖A_l‖_F (normalised to sum to 1), the paper's measure.
Classification trains a softmax head; verification trains one on the training speakers and
scores trials by the cosine of the weighted sum; phoneme recognition trains a CTC head on
every frame (frame-level layers only, all at the model's one frame rate).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from strata.features.shards import read_utterance_vectors, shard_path
from strata.probes.kinds import TASK_KINDS
from strata.probes.linear import best_lr
from strata.probes.metrics import ProbeOutcome, accuracy, bootstrap, eer, eer_and_min_dcf
from strata.probes.tasks import SPLITS, classification_data


class WeightedSum(nn.Module):
    """Σ_l softmax(w)_l · A_l((x_l - μ_l) / σ_l), each x_l (..., D_l)."""

    def __init__(self, stats: list[tuple[np.ndarray, np.ndarray]], width: int):
        super().__init__()
        for i, (mean, std) in enumerate(stats):
            self.register_buffer(f"mean_{i}", torch.from_numpy(mean.astype(np.float32)))
            self.register_buffer(f"std_{i}", torch.from_numpy(std.astype(np.float32)))
        self.projections = nn.ModuleList(nn.Linear(len(mean), width) for mean, _ in stats)
        self.logits = nn.Parameter(torch.zeros(len(stats)))

    def forward(self, layers: list[torch.Tensor]) -> torch.Tensor:
        weights = self.logits.softmax(0)
        total = 0
        for i, (x, projection) in enumerate(zip(layers, self.projections, strict=True)):
            mean, std = getattr(self, f"mean_{i}"), getattr(self, f"std_{i}")
            total = total + weights[i] * projection((x - mean) / std)
        return total

    def usage(self) -> dict[str, list[float]]:
        weights = self.logits.softmax(0).detach()
        norms = torch.stack([p.weight.detach().norm() for p in self.projections])
        usage = weights * norms
        return {
            "weights": weights.tolist(),
            "projection_norms": norms.tolist(),
            "usage": (usage / usage.sum()).tolist(),
        }


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(0), x.std(0) + 1e-6


def _train_classifier(xs, y, n_classes, probe, lr, width):
    """WeightedSum → linear head, minibatch AdamW, best dev accuracy kept."""
    torch.manual_seed(probe["seed"])
    gen = torch.Generator().manual_seed(probe["seed"])
    model = nn.ModuleDict(
        {
            "sum": WeightedSum([_stats(x) for x in xs["train"]], width),
            "head": nn.Linear(width, n_classes),
        }
    )
    tensors = {s: [torch.from_numpy(x.astype(np.float32)) for x in xs[s]] for s in xs}
    labels = {s: torch.tensor(y[s]) for s in y}
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=probe["weight_decay"])

    def predict(split: str) -> torch.Tensor:
        with torch.no_grad():
            return model["head"](model["sum"](tensors[split])).argmax(1)

    best, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, probe["max_epochs"] + 1):
        for batch in torch.randperm(len(labels["train"]), generator=gen).split(probe["batch_size"]):
            opt.zero_grad()
            logits = model["head"](model["sum"]([x[batch] for x in tensors["train"]]))
            nn.functional.cross_entropy(logits, labels["train"][batch]).backward()
            opt.step()
        dev = float((predict("dev") == labels["dev"]).float().mean())
        if dev > best:
            best, best_epoch, best_state = dev, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= probe["patience"]:
            break
    model.load_state_dict(best_state)
    scores = {s: float((predict(s) == labels[s]).float().mean()) for s in labels}
    return model, scores, best_epoch


def _pooled(features, layers: list[str], manifest: pd.DataFrame) -> tuple[list[str], list]:
    arrays, ids = [], None
    for layer in layers:
        layer_ids, x = read_utterance_vectors(shard_path(features, layer))
        if ids is not None and layer_ids != ids:
            raise ValueError(f"{features}: layer {layer!r} holds other utterances")
        ids = layer_ids
        arrays.append(x)
    return ids, arrays


def fit_weighted(
    features,
    layers: list[str],
    manifest: pd.DataFrame,
    trials: pd.DataFrame | None,
    task: dict[str, Any],
    probe: dict,
) -> ProbeOutcome:
    kind = TASK_KINDS[task["kind"]]
    if kind.frames:
        from strata.probes.phonemes import fit_weighted_phonemes

        return fit_weighted_phonemes(features, layers, manifest, task, probe)
    ids, arrays = _pooled(features, layers, manifest)
    label = task.get("label", "speaker")
    data = [classification_data(manifest, ids, x, {"label": label}) for x in arrays]
    xs = {s: [d.x[s] for d in data] for s in SPLITS}
    y, classes = data[0].y, data[0].classes
    width = probe["projection_width"]
    fits = {lr: _train_classifier(xs, y, len(classes), probe, lr, width) for lr in probe["lrs"]}
    lr = best_lr({lr: fit[1]["dev"] for lr, fit in fits.items()}, higher_is_better=True)
    model, scores, best_epoch = fits[lr]
    extra = {"layers": layers, **model["sum"].usage(), "best_epoch": best_epoch}
    state = {k: v.clone() for k, v in model.state_dict().items()} | {"lr": lr, "layers": layers}
    dev_by_lr = {str(k): fit[1]["dev"] for k, fit in fits.items()}
    seed, resamples, confidence = probe["seed"], probe["bootstrap"], probe["confidence"]
    if kind.name == "verification":
        from strata.probes.verify import cosine, trial_rows

        enrol, test = trial_rows(trials, ids)
        with torch.no_grad():
            summed = model["sum"]([torch.from_numpy(x.astype(np.float32)) for x in arrays])
        scores_t = cosine(summed.numpy()[enrol], summed.numpy()[test])
        target = trials["target"].to_numpy(bool)
        value, min_dcf = eer_and_min_dcf(scores_t, target)
        estimate = bootstrap(eer(scores_t, target), len(target), resamples, confidence, seed)
        nan = float("nan")
        return ProbeOutcome(
            "eer", estimate, 0.5, False, {"train": nan, "dev": nan, "test": value}, lr,
            dev_by_lr, {"trials": len(target)}, {**extra, "min_dcf": min_dcf}, state,
        )  # fmt: skip
    with torch.no_grad():
        tensors = [torch.from_numpy(x.astype(np.float32)) for x in xs["test"]]
        correct = model["head"](model["sum"](tensors)).argmax(1).numpy() == y["test"]
    estimate = bootstrap(accuracy(correct), len(correct), resamples, confidence, seed)
    chance = float(np.bincount(y["test"]).max() / len(y["test"]))
    n = {s: len(y[s]) for s in SPLITS}
    return ProbeOutcome("accuracy", estimate, chance, True, scores, lr, dev_by_lr, n, extra, state)
