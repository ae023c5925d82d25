"""Registry of layer-similarity measures; each declares its properties as data.

A measure prepares each layer once (:meth:`LinearCKA.prepare`) and then scores any pair of
prepared layers (:meth:`LinearCKA.pair`), so an L_A × L_B matrix costs L_A + L_B preparations.
Linear CKA is exact in two forms: n × n Gram matrices, or d × d feature space where nothing
n × n is ever formed; a matrix uses the form with less arithmetic that fits in memory
(:meth:`LinearCKA.space_for`), the same on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from strata.similarity.cka import center_gram, gram, unbias_gram

SPACES = ("gram", "features")


@dataclass
class Prepared:
    """One layer, ready to be paired: its space, data and the statistics pairs reuse."""

    space: str
    n: int
    data: np.ndarray  # gram: the unit-norm transformed Gram; features: centred (n, d)
    self_hsic: float = 1.0
    row_norms: np.ndarray | None = None  # debiased features: ‖x_i‖²
    k_ones: np.ndarray | None = None  # debiased features: K̃1 (K with a zero diagonal)
    k_sum: float = 0.0  # debiased features: 1ᵀK̃1


@dataclass(frozen=True)
class LinearCKA:
    """Linear CKA (Kornblith et al., 2019); ``debiased`` uses the unbiased HSIC estimator
    (Song et al., 2012), which can be negative and needs n >= 4."""

    name: str
    debiased: bool
    symmetric: bool = True
    invariant_to: tuple[str, ...] = field(
        default=("orthogonal transforms", "isotropic scaling", "translation")
    )

    def space_for(
        self, n: int, dims_a: list[int], dims_b: list[int], gram_bytes: float = 2e9
    ) -> str:
        """The exact form with less arithmetic for an L_A × L_B matrix: Gram matrices cost
        n²·d per layer plus n² per pair, feature space n·d_a·d_b per pair. Gram matrices are
        held for one side (L_B·n² floats), so beyond ``gram_bytes`` feature space is used."""
        gram_flops = n * n * (sum(dims_a) + sum(dims_b)) + n * n * len(dims_a) * len(dims_b)
        feature_flops = n * sum(dims_a) * sum(dims_b)
        fits = 8 * n * n * len(dims_b) <= gram_bytes
        return "gram" if fits and gram_flops <= feature_flops else "features"

    def prepare(self, x: np.ndarray, name: str = "x", space: str = "gram") -> Prepared:
        x = np.asarray(x, dtype=np.float64)
        n = len(x)
        if self.debiased and n < 4:
            raise ValueError(f"{self.name} needs at least 4 samples, got {n} ({name})")
        if space == "gram":
            k = (unbias_gram if self.debiased else center_gram)(gram(x))
            prepared = Prepared(space, n, k)
            norm = np.sqrt(np.vdot(k, k))
        else:
            prepared = self._features(x - x.mean(axis=0))
            norm = np.sqrt(max(self._hsic(prepared, prepared), 0.0))
        if norm == 0.0:
            raise ValueError(f"{self.name} undefined for {name}: constant across samples")
        if space == "gram":
            prepared.data = prepared.data / norm
        prepared.self_hsic = norm
        return prepared

    def _features(self, x: np.ndarray) -> Prepared:
        prepared = Prepared("features", len(x), x)
        if self.debiased:
            prepared.row_norms = np.einsum("ij,ij->i", x, x)
            prepared.k_ones = x @ x.sum(axis=0) - prepared.row_norms
            prepared.k_sum = float(prepared.k_ones.sum())
        return prepared

    def _hsic(self, a: Prepared, b: Prepared) -> float:
        """⟨T(K), T(L)⟩ in feature space (T: centring, or the unbiased transform)."""
        cross = float(np.linalg.norm(a.data.T @ b.data) ** 2)  # tr(KL) = ‖XᵀY‖²_F
        if not self.debiased:
            return cross
        n = a.n
        trace = cross - float(a.row_norms @ b.row_norms)  # tr(K̃L̃)
        value = trace + a.k_sum * b.k_sum / ((n - 1) * (n - 2))
        value -= 2 / (n - 2) * float(a.k_ones @ b.k_ones)
        return value / (n * (n - 3))

    def pair(self, a: Prepared, b: Prepared) -> float:
        if a.n != b.n or a.space != b.space:
            raise ValueError("paired layers need the same samples and the same space")
        if a.space == "gram":
            return float(np.vdot(a.data, b.data))
        return self._hsic(a, b) / (a.self_hsic * b.self_hsic)


MEASURES: dict[str, LinearCKA] = {
    "linear_cka": LinearCKA("linear_cka", debiased=False),
    "linear_cka_debiased": LinearCKA("linear_cka_debiased", debiased=True),
}


def get_measure(name: str) -> LinearCKA:
    try:
        return MEASURES[name]
    except KeyError:
        raise KeyError(f"unknown similarity measure {name!r}; known: {sorted(MEASURES)}") from None
