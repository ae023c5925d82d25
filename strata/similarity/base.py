"""What every similarity measure is: its properties as data and the prepare/compare contract.
The registry (:mod:`strata.similarity.measures`) and the measures in their own modules (e.g.
:mod:`strata.similarity.streaming`) build on this; it imports none of them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ORTHOGONAL, SCALING, TRANSLATION = "orthogonal transforms", "isotropic scaling", "translation"
INVERTIBLE = "invertible linear transforms"


@dataclass(frozen=True)
class Properties:
    """What a measure guarantees, as data (reports and tests read it)."""

    symmetric: bool  # m(X, Y) = m(Y, X)
    invariant_to: tuple[str, ...]
    value_range: tuple[float, float]
    higher_is_similar: bool = True  # False for distances
    streaming: bool = False  # memory independent of n (consumes minibatches)
    gpu: bool = False  # computes on a torch device when given one (get_measure's ``device``)
    reference: str = ""


class Measure(ABC):
    name: str
    properties: Properties

    @abstractmethod
    def prepare(self, layers: Sequence[np.ndarray], names: Sequence[str]) -> Any:
        """Each layer's own statistics, computed once."""

    @abstractmethod
    def compare(self, a: Any, b: Any | None) -> np.ndarray:
        """L_A × L_B values (``b`` None: A against itself)."""

    def matrix(self, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] | None = None):
        names = [f"layer {i}" for i in range(len(xs))]
        a = self.prepare(xs, names)
        return self.compare(a, None if ys is None else self.prepare(ys, names[: len(ys)]))
