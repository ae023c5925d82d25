"""Reading a fitted probe back: class predictions from a saved state, and the learning-rate
choice every kind shares.

Every trained probe on pooled rows is the weighted-sum probe (:mod:`strata.probes.weighted`),
one layer or several: each layer standardised by its train statistics (``mean_i``, ``std_i``),
projected (``projection_i_weight``, ``projection_i_bias``), mixed by softmax(``layer_logits``),
then the head (``weight``, ``bias``). A probe's state is plain data: numpy arrays (saved as
tensors) and JSON-able values (class names, learning rate), as :mod:`strata.probes.checkpoint`
writes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from strata.probes.nets import softmax


def embed(state: dict[str, Any], layers: Sequence[np.ndarray]) -> np.ndarray:
    """Rows of ``layers`` (one array per layer the probe read) in the probe's mixed space."""
    weights = softmax(np.asarray(state["layer_logits"], np.float64))
    total = 0.0
    for i, x in enumerate(layers):
        z = (x - state[f"mean_{i}"]) / state[f"std_{i}"]
        total = total + weights[i] * (z @ state[f"projection_{i}_weight"].T)
        total = total + weights[i] * state[f"projection_{i}_bias"]
    return np.asarray(total)


def logits(state: dict[str, Any], layers: Sequence[np.ndarray]) -> np.ndarray:
    return embed(state, layers) @ state["weight"].T + state["bias"]


def predict(state: dict[str, Any], features: np.ndarray | Sequence[np.ndarray]) -> list[str]:
    """Class names predicted by a saved probe state (as :func:`checkpoint.read_probe` loads it)
    for one layer's rows, or a list of every layer's."""
    layers = [features] if isinstance(features, np.ndarray) else list(features)
    return [state["classes"][i] for i in logits(state, layers).argmax(1).tolist()]


def best_lr(dev_scores: dict[float, float], higher_is_better: bool) -> float:
    """The learning rate with the best dev score; ties go to the one listed first."""
    sign = 1 if higher_is_better else -1
    return max(dev_scores, key=lambda lr: sign * dev_scores[lr])
