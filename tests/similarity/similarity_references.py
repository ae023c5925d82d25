"""Straightforward references the similarity tests compare against: each measure written out
from its paper's definition, with explicit n × n matrices and no shared code with strata."""

import numpy as np


def hsic_biased(k: np.ndarray, lm: np.ndarray) -> float:
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(k @ h @ lm @ h) / (n - 1) ** 2


def hsic_unbiased(k: np.ndarray, lm: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, written out term by term."""
    n = len(k)
    k, lm = k.copy(), lm.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(lm, 0)
    one = np.ones(n)
    term = np.trace(k @ lm) + (one @ k @ one) * (one @ lm @ one) / ((n - 1) * (n - 2))
    term -= 2 / (n - 2) * one @ k @ lm @ one
    return term / (n * (n - 3))


def cka(k: np.ndarray, lm: np.ndarray, hsic) -> float:
    return hsic(k, lm) / np.sqrt(hsic(k, k) * hsic(lm, lm))


def linear_cka(x, y, debiased=False) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    return cka(x @ x.T, y @ y.T, hsic_unbiased if debiased else hsic_biased)


def rbf_cka(x, y, sigma) -> float:
    def kernel(z):
        d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
        width = sigma * np.median(d[np.triu_indices(len(z), 1)])
        return np.exp(-(d**2) / (2 * width**2))

    return cka(kernel(np.asarray(x, float)), kernel(np.asarray(y, float)), hsic_biased)


def _inv_sqrt(c):
    w, v = np.linalg.eigh(c)
    return v @ np.diag(w**-0.5) @ v.T


def cca(x, y):
    """Canonical correlations and X's canonical variates from covariance matrices."""
    x, y = x - x.mean(0), y - y.mean(0)
    sxx, syy, sxy = x.T @ x, y.T @ y, x.T @ y
    a, b = _inv_sqrt(sxx), _inv_sqrt(syy)
    u, rho, _ = np.linalg.svd(a @ sxy @ b)
    k = min(x.shape[1], y.shape[1])
    variates = x @ a @ u[:, :k]  # unit-norm columns
    return rho[:k], variates, x


def pwcca(x, y) -> float:
    """Morcos et al. (2018): weights α_i = Σ_j |⟨h_i, x_j⟩| over X's units x_j."""
    rho, h, xc = cca(x, y)
    alpha = np.abs(h.T @ xc).sum(axis=1)
    return float((alpha * rho).sum() / alpha.sum())


def mutual_knn(x, y, k) -> float:
    def neighbours(z):
        d = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        return [set(np.argsort(row, kind="stable")[:k]) for row in d]

    nx, ny = neighbours(np.asarray(x, float)), neighbours(np.asarray(y, float))
    return float(np.mean([len(a & b) / k for a, b in zip(nx, ny, strict=True)]))


def procrustes(x, y) -> float:
    """min over orthogonal R of ‖X − YR‖_F for centred, unit-norm X and Y (solved by SVD)."""
    x, y = x - x.mean(0), y - y.mean(0)
    x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
    pad = max(x.shape[1], y.shape[1])
    x = np.pad(x, ((0, 0), (0, pad - x.shape[1])))
    y = np.pad(y, ((0, 0), (0, pad - y.shape[1])))
    u, _, vt = np.linalg.svd(y.T @ x)
    return float(np.linalg.norm(x - y @ u @ vt))
