"""Linear probe: standardised features → softmax classifier, early-stopped on dev."""

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


def train_linear_probe(data: ClassificationData, cfg: dict[str, Any]) -> ProbeResult:
    """Train with AdamW minibatches; keep the epoch with the best dev accuracy.

    ``cfg``: lr, weight_decay, batch_size, max_epochs, patience, seed. Deterministic given seed.
    """
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    mean = data.x["train"].mean(0)
    std = data.x["train"].std(0) + 1e-6  # constant dims (e.g. dead units) stay finite
    x = {s: torch.from_numpy(((data.x[s] - mean) / std).astype(np.float32)) for s in SPLITS}
    y = {s: torch.tensor(data.y[s]) for s in SPLITS}
    model = nn.Linear(x["train"].shape[1], len(data.classes))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
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
    state = {
        "weight": model.weight.detach().clone(),
        "bias": model.bias.detach().clone(),
        "mean": torch.from_numpy(mean.astype(np.float32)),
        "std": torch.from_numpy(std.astype(np.float32)),
        "classes": list(data.classes),
    }
    return ProbeResult(accuracy, best_epoch, epoch, state)


def predict(state: dict[str, Any], features: np.ndarray) -> list[str]:
    """Class names predicted by a saved probe state (as loaded with weights_only=True)."""
    x = (torch.from_numpy(features.astype(np.float32)) - state["mean"]) / state["std"]
    logits = x @ state["weight"].T + state["bias"]
    return [state["classes"][i] for i in logits.argmax(1).tolist()]
