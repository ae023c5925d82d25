"""Registry of layer-similarity measures; each declares its properties as data.

Every measure turns a list of layers into a prepared state once (:meth:`Measure.prepare`) and
compares two states into an L_A × L_B matrix (:meth:`Measure.compare`), so a layer's own work is
never repeated per pair, and controls (permutations, jackknife) re-prepare only the side they
change. Measures that compare one pair at a time say so in :meth:`PairwiseMeasure.pair`.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from strata.plugins import is_import_path, load_object
from strata.similarity import linear, on_device
from strata.similarity.base import (  # noqa: F401 - re-exported: the registry's vocabulary
    INVERTIBLE,
    ORTHOGONAL,
    SCALING,
    TRANSLATION,
    Measure,
    Properties,
)
from strata.similarity.streaming import MinibatchCKA


@dataclass(frozen=True)
class LinearCKA(Measure):
    """Linear CKA (Kornblith et al., 2019), exact; ``debiased`` uses the unbiased HSIC
    estimator (Song et al., 2012), which can be negative and needs n ≥ 4."""

    name: str
    debiased: bool
    device: str | None = None  # a torch device for the GEMMs; None: numpy

    @property
    def properties(self) -> Properties:
        low = -1.0 if self.debiased else 0.0
        return Properties(
            True,
            (ORTHOGONAL, SCALING, TRANSLATION),
            (low, 1.0),
            gpu=True,
            reference="Kornblith et al. 2019",
        )

    def prepare(self, layers, names):
        return linear.centre_layers(layers, names)

    def compare(self, a, b):
        on = linear.numpy_products if self.device is None else on_device.products(self.device)
        return linear.linear_cka_matrix(a, b, self.debiased, products=on)


class PairwiseMeasure(Measure):
    """A measure computed pair by pair from per-layer prepared values."""

    @abstractmethod
    def prepare_one(self, x: np.ndarray, name: str) -> Any: ...

    @abstractmethod
    def pair(self, a: Any, b: Any) -> float: ...

    def prepare(self, layers, names):
        pairs = zip(layers, names, strict=True)
        return [self.prepare_one(_checked(x, name), name) for x, name in pairs]

    def compare(self, a, b):
        b = a if b is None else b
        values = np.empty((len(a), len(b)))
        for i, p in enumerate(a):
            for j, q in enumerate(b):
                values[i, j] = self.pair(p, q)
        return values


def _checked(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError(f"{name}: expected finite (n, d) values, got shape {x.shape}")
    x = x - x.mean(axis=0)
    if not np.any(x):
        raise ValueError(f"similarity undefined for {name}: constant across samples")
    return x


def _basis(x: np.ndarray, variance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD of centred x, kept to the leading directions that explain ``variance`` of it
    (1.0: every direction above numerical rank tolerance)."""
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    rank = int((s > s[0] * max(x.shape) * np.finfo(float).eps).sum())
    if variance < 1.0:
        share = np.cumsum(s**2) / np.sum(s**2)
        rank = min(rank, int(np.searchsorted(share, variance) + 1))
    return u[:, :rank], s[:rank], vt[:rank]


@dataclass(frozen=True)
class RbfCKA(PairwiseMeasure):
    """CKA with a Gaussian kernel, bandwidth ``sigma`` × the layer's median pairwise distance;
    holds one n × n kernel per layer."""

    name: str = "rbf_cka"
    sigma: float = 0.8
    properties = Properties(
        True, (ORTHOGONAL, SCALING, TRANSLATION), (0.0, 1.0), reference="Kornblith et al. 2019"
    )

    def prepare_one(self, x, name):
        sq = np.einsum("ij,ij->i", x, x)
        dist2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
        median = np.sqrt(np.median(dist2[np.triu_indices(len(x), 1)]))
        k = np.exp(-dist2 / (2 * (self.sigma * median) ** 2))
        k -= k.mean(axis=0, keepdims=True)
        k -= k.mean(axis=1, keepdims=True)
        return k / np.linalg.norm(k)

    def pair(self, a, b):
        return float(np.vdot(a, b))


@dataclass(frozen=True)
class SVCCA(PairwiseMeasure):
    """Mean canonical correlation after keeping the directions that explain ``variance`` of each
    layer (Raghu et al., 2017). With ``variance=1`` it is plain CCA, invariant to any invertible
    linear map; CCA needs n well above the kept dimensions or it overfits towards 1."""

    name: str = "svcca"
    variance: float = 0.99
    properties = Properties(
        True, (ORTHOGONAL, SCALING, TRANSLATION), (0.0, 1.0), reference="Raghu et al. 2017"
    )

    def prepare_one(self, x, name):
        return _basis(x, self.variance)[0]

    def pair(self, a, b):
        return float(np.linalg.svd(a.T @ b, compute_uv=False).mean())


@dataclass(frozen=True)
class PWCCA(PairwiseMeasure):
    """Projection-weighted CCA (Morcos et al., 2018): canonical correlations weighted by how
    much of the row layer's units each canonical variate accounts for; not symmetric."""

    name: str = "pwcca"
    properties = Properties(
        False, (SCALING, TRANSLATION), (0.0, 1.0), reference="Morcos et al. 2018"
    )

    def prepare_one(self, x, name):
        return _basis(x, 1.0)

    def pair(self, a, b):
        (qa, sa, va), qb = a, b[0]
        u, rho, _ = np.linalg.svd(qa.T @ qb, full_matrices=False)
        # Variates h = Q_a u; their projections onto the units are hᵀX = uᵀ diag(s) Vᵀ.
        weights = np.abs(u.T @ (sa[:, None] * va)).sum(axis=1)[: len(rho)]
        return float(weights @ rho / weights.sum())


@dataclass(frozen=True)
class Procrustes(PairwiseMeasure):
    """Orthogonal Procrustes distance between centred, unit-Frobenius-norm layers:
    √(2 − 2‖XᵀY‖_*) (Ding et al., 2021); 0 for rotated copies."""

    name: str = "procrustes"
    properties = Properties(
        True,
        (ORTHOGONAL, SCALING, TRANSLATION),
        (0.0, np.sqrt(2.0)),
        higher_is_similar=False,
        reference="Ding et al. 2021",
    )

    def prepare_one(self, x, name):
        return x / np.linalg.norm(x)

    def pair(self, a, b):
        nuclear = np.linalg.svd(a.T @ b, compute_uv=False).sum()
        return float(np.sqrt(max(2.0 - 2.0 * nuclear, 0.0)))


@dataclass(frozen=True)
class MutualKNN(PairwiseMeasure):
    """Mutual k-nearest-neighbour alignment (Huh et al., 2024): the mean share of each sample's
    k Euclidean neighbours that both layers agree on; chance is about k / (n − 1)."""

    name: str = "mutual_knn"
    k: int = 10
    properties = Properties(
        True, (ORTHOGONAL, SCALING, TRANSLATION), (0.0, 1.0), reference="Huh et al. 2024"
    )

    def prepare_one(self, x, name):
        if len(x) <= self.k:
            raise ValueError(f"{self.name} needs more than k={self.k} samples ({name})")
        return knn(x, self.k)

    def pair(self, a, b):
        return float((a[:, :, None] == b[:, None, :]).any(axis=2).mean())


def knn(x: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """(n, k) indices of each row's k nearest other rows, in blocks of rows (never n × n)."""
    sq = np.einsum("ij,ij->i", x, x)
    out = np.empty((len(x), k), dtype=np.int64)
    for start in range(0, len(x), block):
        rows = slice(start, min(start + block, len(x)))
        dist = sq[rows, None] + sq[None, :] - 2 * x[rows] @ x.T
        dist[np.arange(dist.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
        out[rows] = np.argpartition(dist, k - 1, axis=1)[:, :k]
    return out


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        LinearCKA("linear_cka", debiased=False),
        LinearCKA("linear_cka_debiased", debiased=True),
        MinibatchCKA(),
        RbfCKA(),
        SVCCA(),
        PWCCA(),
        Procrustes(),
        MutualKNN(),
    )
}


def get_measure(name: str, device: str | None = None) -> Measure:
    """The registered measure, or the :class:`Measure` (instance or class) an import path
    names; on torch ``device`` when it can compute there (``gpu``)."""
    if is_import_path(name):
        measure = load_object(name, "similarity measure")
        measure = measure() if isinstance(measure, type) else measure
        if not isinstance(measure, Measure):
            raise TypeError(f"similarity measure {name!r} is not a strata Measure")
        return measure
    try:
        measure = MEASURES[name]
    except KeyError:
        raise KeyError(f"unknown similarity measure {name!r}; known: {sorted(MEASURES)}") from None
    if device is not None and measure.properties.gpu:
        return replace(measure, device=device)  # type: ignore[type-var]
    return measure
