"""Strata's measures against repsim 0.1.5 (PyPI ``repsim``, Kisung You's C++/Eigen package), an
implementation that shares no code with strata, on the same layers.

Compared: linear CKA, biased and debiased (the registry's feature-space path and the Gram
path), minibatch CKA, RBF CKA, CCA (SVCCA without truncation) and PWCCA. repsim returns one
M × M matrix over all the layers it is given; the tests take its A × B block.

repsim defines these differently: its ``cka(estimator="song")`` divides the unbiased cross HSIC
by biased self HSICs (debiased CKA is formed here from ``repsim.hsic``); its RBF bandwidth is
fixed at 1 × the median distance (strata's registry uses 0.8 ×); its PWCCA is the mean of both
directions; its SVCCA truncates the whitened basis, not the layer (so it is not Raghu et al.'s
SVCCA). repsim has no Procrustes distance and no mutual k-NN.
"""

import numpy as np
import pytest

from strata.similarity import linear
from strata.similarity.measures import PWCCA, SVCCA, RbfCKA, get_measure
from strata.similarity.streaming import HSICAccumulator

repsim = pytest.importorskip("repsim")

# n(n − 1)/2 is odd, so the median distance is one entry: strata's sqrt(median d²) and repsim's
# median d then agree exactly (with an even count they differ by ~1e-12).
N = 150
LATENT = np.random.default_rng(0).normal(size=(N, 6))


def layers(shares, widths, seed):
    """Layers mixing a shared nonlinear signal (weight ``share``) with noise, offset per unit."""
    rng = np.random.default_rng(seed)
    out = []
    for share, d in zip(shares, widths):
        signal = np.tanh(LATENT @ rng.normal(size=(LATENT.shape[1], d)))
        x = share * signal + (1 - share) * rng.normal(size=(N, d))
        out.append(x + 3.0 * rng.normal(size=d))  # the means exercise both sides' centring
    return out


A = layers((0.9, 0.5, 0.2), (8, 12, 10), seed=1)
B = layers((0.8, 0.4, 0.1), (9, 7, 11), seed=2)
NAMES_A, NAMES_B = ["a0", "a1", "a2"], ["b0", "b1", "b2"]


def block(matrix):
    """repsim's A × B block of its matrix over A + B."""
    return np.asarray(matrix)[: len(A), len(A) :]


def debiased_cka(xs):
    """Debiased CKA from repsim's unbiased (Song) HSIC matrix, self terms included."""
    hsic = repsim.hsic(xs, "linear", "song")
    self_hsic = np.sqrt(np.diag(hsic))
    return hsic / np.outer(self_hsic, self_hsic)


def assert_agrees(values, reference, atol):
    # Pairs differ in shared signal, so matching the whole block is not matching a constant.
    assert np.ptp(reference) > 0.05
    np.testing.assert_allclose(values, reference, rtol=0, atol=atol)


REFERENCES = {
    "linear_cka": lambda: block(repsim.cka(A + B, "linear", "gretton")),
    "linear_cka_debiased": lambda: block(debiased_cka(A + B)),
    # One batch (batch_size 1024 > n) is the full unbiased estimator.
    "linear_cka_minibatch": lambda: block(debiased_cka(A + B)),
}


@pytest.mark.parametrize("name", REFERENCES)
def test_linear_cka_matches_repsim(name):
    # strata keeps the centred layers in float32; repsim works on the float64 input (~2e-9 off).
    assert_agrees(get_measure(name).matrix(A, B), REFERENCES[name](), atol=1e-6)


@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_gram_path_matches_repsim(debiased):
    """The registry picks the feature-space path at these widths; the Gram path too."""
    a, b = linear.centre_layers(A, NAMES_A), linear.centre_layers(B, NAMES_B)
    values = linear.linear_cka_matrix(a, b, debiased, path="gram")
    reference = REFERENCES["linear_cka_debiased" if debiased else "linear_cka"]()
    assert_agrees(values, reference, atol=1e-6)


def test_minibatch_cka_averages_repsim_unbiased_hsic_over_batches():
    """Over batches of unequal size: m(m − 3)-weighted mean HSICs, then CKA."""
    acc = HSICAccumulator(NAMES_A, NAMES_B)
    cross, self_a, self_b, total = 0.0, 0.0, 0.0, 0.0
    start = 0
    for m in (60, 50, 40):
        rows = slice(start, start + m)
        start += m
        xs, ys = [x[rows] for x in A], [y[rows] for y in B]
        acc.update(xs, ys, np.arange(m))
        hsic = repsim.hsic(xs + ys, "linear", "song")
        weight = m * (m - 3)
        total += weight
        cross = cross + weight * block(hsic)
        self_a = self_a + weight * np.diag(hsic)[: len(A)]
        self_b = self_b + weight * np.diag(hsic)[len(A) :]
    reference = cross / np.sqrt(np.outer(self_a, self_b))  # the weights' sum cancels
    assert_agrees(acc.cka(), reference, atol=1e-6)
    # Batching changes the estimate, so the full-sample reference would not pass.
    assert np.abs(acc.cka() - REFERENCES["linear_cka_debiased"]()).max() > 1e-3


def test_repsim_cka_with_the_song_estimator_is_not_debiased_cka():
    """repsim's cka(estimator="song") normalises the unbiased cross HSIC by the biased (Gretton)
    self HSICs; debiased CKA uses the unbiased ones throughout."""
    song, gretton = repsim.hsic(A + B, "linear", "song"), repsim.hsic(A + B, "linear", "gretton")
    mixed = song / np.sqrt(np.outer(np.diag(gretton), np.diag(gretton)))
    repsim_song = block(repsim.cka(A + B, "linear", "song"))
    np.testing.assert_allclose(repsim_song, block(mixed), rtol=1e-12)
    strata = get_measure("linear_cka_debiased").matrix(A, B)
    assert np.abs(repsim_song - strata).max() > 0.01


def test_rbf_cka_matches_repsim_at_its_bandwidth():
    """repsim's "rbf" kernel is exp(−d² / (2 median(d)²)): strata's with sigma = 1."""
    reference = block(repsim.cka(A + B, "rbf", "gretton"))
    assert_agrees(RbfCKA(sigma=1.0).matrix(A, B), reference, atol=1e-10)
    # The registry's 0.8 × median cannot be set in repsim; the comparison sees the difference.
    assert np.abs(get_measure("rbf_cka").matrix(A, B) - reference).max() > 0.01


def test_cca_matches_repsim_pillai():
    """Without truncation SVCCA is the mean canonical correlation; repsim's Pillai summary is
    their sum over min(rank X, rank Y), the same when centring keeps each layer's rank."""
    reference = block(repsim.cca(A + B, "pillai"))
    assert_agrees(SVCCA(variance=1.0).matrix(A, B), reference, atol=1e-10)


def test_repsim_svcca_truncates_the_whitened_basis():
    """repsim's SVCCA keeps 99% of the variance of the layer's orthonormal basis, where every
    direction has unit variance, so on centred layers under 100 wide it keeps all of them (plain
    CCA); strata, like Raghu et al. (2017), keeps 99% of the layer's own variance. On uncentred
    layers repsim drops the direction nearest the mean instead, so it depends on translation."""
    rng = np.random.default_rng(3)
    weak = 0.05 * rng.normal(size=(N, 5))  # low-variance directions unrelated to y
    x = np.hstack([LATENT[:, :3] * [5.0, 3.0, 2.0], weak])
    y = np.tanh(LATENT @ rng.normal(size=(6, 6))) + 0.5 * rng.normal(size=(N, 6))
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    repsim_value = repsim.svcca([x, y], "pillai")[0, 1]
    cca = SVCCA(variance=1.0).matrix([x], [y])[0, 0]
    svcca = get_measure("svcca").matrix([x], [y])[0, 0]
    assert repsim_value == pytest.approx(cca, abs=1e-10)
    assert svcca - repsim_value > 0.1  # strata dropped the weak directions, repsim did not
    shifted = repsim.svcca([x + 3.0 * rng.normal(size=x.shape[1]), y + 1.0], "pillai")[0, 1]
    assert abs(shifted - repsim_value) > 0.01


def test_pwcca_matches_repsim_averaged_over_both_directions():
    """repsim's PWCCA is the mean of the X- and Y-weighted values; strata's weights by the row
    layer, so the mean of strata's two directions is compared."""
    forward, backward = PWCCA().matrix(A, B), PWCCA().matrix(B, A).T
    assert np.abs(forward - backward).max() > 0.01  # the averaging is not vacuous
    reference = block(repsim.pwcca(A + B))
    assert_agrees((forward + backward) / 2, reference, atol=1e-10)
