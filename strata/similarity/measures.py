"""Registry of layer-similarity measures computed from per-layer Gram matrices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from strata.similarity.cka import center_gram, gram, unbias_gram


@dataclass(frozen=True)
class GramMeasure:
    """A measure of the form ⟨T(K), T(L)⟩ / (‖T(K)‖ ‖T(L)‖) for a Gram transform T."""

    name: str
    transform: Callable[[np.ndarray], np.ndarray]

    def prepare(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        """Per-layer unit-norm transformed Gram matrix, computed once and shared by all pairs."""
        k = self.transform(gram(x))
        norm = np.sqrt(np.vdot(k, k))
        if norm == 0.0:
            raise ValueError(f"{self.name} undefined for {name}: constant across samples")
        return k / norm


MEASURES: dict[str, GramMeasure] = {
    "linear_cka": GramMeasure("linear_cka", center_gram),
    "linear_cka_debiased": GramMeasure("linear_cka_debiased", unbias_gram),
}


def get_measure(name: str) -> GramMeasure:
    try:
        return MEASURES[name]
    except KeyError:
        raise KeyError(f"unknown similarity measure {name!r}; known: {sorted(MEASURES)}") from None
