"""Linear probes on standardised features, early-stopped on dev: a softmax classifier, and a
projection (linear map to a smaller space, then a softmax classifier) for verification."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from strata.probes.tasks import SPLITS, ClassificationData


@dataclass
class ProbeResult:
    accuracy: dict[str, float]
    best_epoch: int
    epochs_run: int
    state: dict[str, Any] = field(repr=False)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_linear_probe(
    data: ClassificationData, cfg: dict[str, Any], lr: float, width: int | None = None
) -> ProbeResult:
    """Train with AdamW minibatches at ``lr``; keep the epoch with the best dev accuracy.

    ``cfg``: weight_decay, batch_size, max_epochs, patience, seed. Deterministic given seed.
    With ``width``, the probe is a projection to ``width`` dims followed by the classifier
    (its state keeps both: ``projection`` maps features into the space verification scores).
    """
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    mean = data.x["train"].mean(0)
    std = data.x["train"].std(0) + 1e-6  # constant dims (e.g. dead units) stay finite
    x = {s: torch.from_numpy(((data.x[s] - mean) / std).astype(np.float32)) for s in SPLITS}
    y = {s: torch.tensor(data.y[s]) for s in SPLITS}
    dim = x["train"].shape[1]
    if width is None:
        model: nn.Module = nn.Linear(dim, len(data.classes))
    else:
        model = nn.Sequential(nn.Linear(dim, width), nn.Linear(width, len(data.classes)))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg["weight_decay"])
    loss_fn = nn.CrossEntropyLoss()
    best_acc, best_epoch, best_state, epoch = -1.0, 0, None, 0
    for epoch in range(1, cfg["max_epochs"] + 1):
        for batch in torch.randperm(len(y["train"]), generator=gen).split(cfg["batch_size"]):
            opt.zero_grad()
            loss_fn(model(x["train"][batch]), y["train"][batch]).backward()
            opt.step()
        dev_acc = _accuracy(model, x["dev"], y["dev"])
        if dev_acc > best_acc:
            best_acc, best_epoch, best_state = dev_acc, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= cfg["patience"]:
            break
    model.load_state_dict(best_state)
    accuracy = {s: _accuracy(model, x[s], y[s]) for s in SPLITS}
    head = model if width is None else model[1]
    state = {
        "weight": head.weight.detach().clone(),
        "bias": head.bias.detach().clone(),
        "mean": torch.from_numpy(mean.astype(np.float32)),
        "std": torch.from_numpy(std.astype(np.float32)),
        "classes": list(data.classes),
        "lr": lr,
    }
    if width is not None:
        state["projection_weight"] = model[0].weight.detach().clone()
        state["projection_bias"] = model[0].bias.detach().clone()
    return ProbeResult(accuracy, best_epoch, epoch, state)


def _standardised(state: dict[str, Any], features: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(features.astype(np.float32)) - state["mean"]) / state["std"]


def logits(state: dict[str, Any], features: np.ndarray) -> torch.Tensor:
    x = project(state, features) if "projection_weight" in state else _standardised(state, features)
    return x @ state["weight"].T + state["bias"]


def project(state: dict[str, Any], features: np.ndarray) -> torch.Tensor:
    """Features in a projection probe's learnt space."""
    x = _standardised(state, features)
    return x @ state["projection_weight"].T + state["projection_bias"]


def predict(state: dict[str, Any], features: np.ndarray) -> list[str]:
    """Class names predicted by a saved probe state (as loaded with weights_only=True)."""
    return [state["classes"][i] for i in logits(state, features).argmax(1).tolist()]


def best_lr(dev_scores: dict[float, float], higher_is_better: bool) -> float:
    """The learning rate with the best dev score; ties go to the one listed first."""
    sign = 1 if higher_is_better else -1
    return max(dev_scores, key=lambda lr: sign * dev_scores[lr])
