"""Linear probes on standardised features, early-stopped on dev: a softmax classifier, and a
projection (linear map to a smaller space, then a softmax classifier) for verification.

A probe's state is plain data: numpy arrays (saved as tensors) and JSON-able values (class
names, learning rate), as :mod:`strata.probes.checkpoint` writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strata.probes.nets import Linear, Projection, train
from strata.probes.tasks import SPLITS, ClassificationData


@dataclass
class ProbeResult:
    accuracy: dict[str, float]
    best_epoch: int
    epochs_run: int
    state: dict[str, Any] = field(repr=False)


def train_linear_probe(
    data: ClassificationData, cfg: dict[str, Any], lr: float, width: int | None = None
) -> ProbeResult:
    """Train at ``lr``; keep the epoch with the best dev accuracy (:func:`nets.train`).

    ``cfg``: weight_decay, batch_size, max_epochs, patience, seed. Deterministic given seed.
    With ``width``, the probe is a projection to ``width`` dims followed by the classifier
    (its state keeps both: ``projection`` maps features into the space verification scores).
    """
    mean = data.x["train"].mean(0, dtype=np.float64)
    std = data.x["train"].std(0, dtype=np.float64) + 1e-6  # dead units stay finite
    state = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
    xs = {s: [_standardised(state, data.x[s])] for s in SPLITS}
    rng = np.random.default_rng(cfg["seed"])
    dim, classes = xs["train"][0].shape[1], len(data.classes)
    net = Linear(rng, dim, classes) if width is None else Projection(rng, dim, width, classes)
    fit = train(net, xs, data.y, cfg, lr)
    state |= {**net.params, "classes": list(data.classes), "lr": lr}
    return ProbeResult(fit.accuracy, fit.best_epoch, fit.epochs_run, state)


def _standardised(state: dict[str, Any], features: np.ndarray) -> np.ndarray:
    return ((features - state["mean"]) / state["std"]).astype(np.float32)


def logits(state: dict[str, Any], features: np.ndarray) -> np.ndarray:
    x = project(state, features) if "projection_weight" in state else _standardised(state, features)
    return x @ state["weight"].T + state["bias"]


def project(state: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """Features in a projection probe's learnt space."""
    x = _standardised(state, features)
    return x @ state["projection_weight"].T + state["projection_bias"]


def predict(state: dict[str, Any], features: np.ndarray) -> list[str]:
    """Class names predicted by a saved probe state (as :func:`checkpoint.read_probe` loads it)."""
    return [state["classes"][i] for i in logits(state, features).argmax(1).tolist()]


def best_lr(dev_scores: dict[float, float], higher_is_better: bool) -> float:
    """The learning rate with the best dev score; ties go to the one listed first."""
    sign = 1 if higher_is_better else -1
    return max(dev_scores, key=lambda lr: sign * dev_scores[lr])
