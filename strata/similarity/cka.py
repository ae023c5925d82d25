"""Linear CKA (Kornblith et al., 2019), biased and debiased, for one pair of (n, d) arrays.

Convenience functions for notebooks and small data, in float64; the all-pairs matrices of the
workflow come from :mod:`strata.similarity.linear`, which never forms n × n matrices.
"""

from __future__ import annotations

import numpy as np


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (n, d), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} has non-finite values")
    return x


def gram(x: np.ndarray) -> np.ndarray:
    """Linear-kernel Gram matrix X Xᵀ in float64."""
    x = _as_2d(x, "x")
    return x @ x.T


def center_gram(k: np.ndarray) -> np.ndarray:
    """H K H with H = I - 11ᵀ/n (biased HSIC centring)."""
    k = k - k.mean(axis=0, keepdims=True)
    return k - k.mean(axis=1, keepdims=True)


def unbias_gram(k: np.ndarray) -> np.ndarray:
    """Gram matrix transformed so that ⟨U(K), U(L)⟩ is the unbiased HSIC (Song et al., 2012).

    Needs n ≥ 4. The debiased estimator can be negative at small n; it is reported as is.
    """
    n = k.shape[0]
    if n < 4:
        raise ValueError(f"debiased CKA needs at least 4 samples, got {n}")
    k = k.copy()
    np.fill_diagonal(k, 0.0)
    means = k.sum(axis=0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    k -= means[None, :]
    k -= means[:, None]
    np.fill_diagonal(k, 0.0)
    return k


def cka_from_grams(k: np.ndarray, k2: np.ndarray) -> float:
    """CKA between two already centred (or unbiased) Gram matrices."""
    hsic = float(np.vdot(k, k2))
    denom = np.sqrt(float(np.vdot(k, k)) * float(np.vdot(k2, k2)))
    if denom == 0.0:
        raise ValueError("CKA undefined: a representation is constant across samples")
    return hsic / denom


def _check_pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y need the same samples: {x.shape[0]} vs {y.shape[0]} rows")
    return x, y


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Biased linear CKA between (n, d1) and (n, d2) arrays whose rows are the same samples."""
    x, y = _check_pair(x, y)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    # Feature-space form: ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F), cheaper than n × n when d < n.
    cross = np.linalg.norm(y.T @ x) ** 2
    denom = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if denom == 0.0:
        raise ValueError("CKA undefined: a representation is constant across samples")
    return float(cross / denom)


def linear_cka_debiased(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA (unbiased HSIC estimator); may be slightly negative."""
    x, y = _check_pair(x, y)
    return cka_from_grams(unbias_gram(gram(x)), unbias_gram(gram(y)))
