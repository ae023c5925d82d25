"""A toy similarity measure: how much of layer B a least-squares map from layer A explains.

Config: ``similarity: {measures: [strata_toys.measures:LinearR2]}`` (tables are named
``strata_toys.measures.LinearR2.parquet``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strata.similarity.base import INVERTIBLE, SCALING, TRANSLATION, Properties
from strata.similarity.measures import PairwiseMeasure


@dataclass(frozen=True)
class LinearR2(PairwiseMeasure):
    """R² of regressing B's centred units on A's (ordinary least squares): 1 when B is a linear
    map of A, near 0 when they share nothing. Not symmetric; any invertible linear map of A
    leaves it unchanged (same column space)."""

    name: str = "linear_r2"
    properties = Properties(
        symmetric=False,
        invariant_to=(INVERTIBLE, SCALING, TRANSLATION),
        value_range=(0.0, 1.0),
        reference="ordinary least squares",
    )

    def prepare_one(self, x, name):
        basis, _ = np.linalg.qr(x)  # x arrives centred; an orthonormal basis of its columns
        return basis, x

    def pair(self, a, b):
        basis, (_, y) = a[0], b
        fitted = basis @ (basis.T @ y)
        return float((fitted**2).sum() / (y**2).sum())
