"""Linear CKA against independent references (explicit HSIC with the centring matrix H)."""

import numpy as np
import pytest
from scipy.stats import ortho_group
from similarity_references import cka, hsic_biased, hsic_unbiased

from strata.similarity import linear_cka, linear_cka_debiased
from strata.similarity.cka import center_gram, gram, unbias_gram


def reference_cka(x, y, hsic):
    k, lm = x @ x.T, y @ y.T
    return cka(k, lm, hsic)


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 12))
    y = np.tanh(x @ rng.normal(size=(12, 7))) + 0.3 * rng.normal(size=(40, 7))
    return x, y


def test_linear_cka_matches_hsic_reference(xy):
    x, y = xy
    assert linear_cka(x, y) == pytest.approx(reference_cka(x, y, hsic_biased), rel=1e-10)


def test_debiased_cka_matches_song_estimator(xy):
    x, y = xy
    expected = reference_cka(x, y, hsic_unbiased)
    assert linear_cka_debiased(x, y) == pytest.approx(expected, rel=1e-10)


def test_unbias_gram_inner_product_is_scaled_unbiased_hsic(xy):
    x, y = xy
    k, lm = gram(x), gram(y)
    n = len(k)
    inner = np.vdot(unbias_gram(k), unbias_gram(lm))
    assert inner == pytest.approx(hsic_unbiased(k, lm) * n * (n - 3), rel=1e-10)


def test_self_similarity_is_one_and_symmetric(xy):
    x, y = xy
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka_debiased(y, y) == pytest.approx(1.0)
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))


def test_invariant_to_rotation_scale_and_offset(xy):
    x, y = xy
    q = ortho_group.rvs(x.shape[1], random_state=1)
    assert linear_cka(3.0 * x @ q + 5.0, y) == pytest.approx(linear_cka(x, y), rel=1e-9)


def test_not_invariant_to_arbitrary_linear_maps(xy):
    x, y = xy
    stretch = np.diag(np.linspace(0.1, 10, x.shape[1]))
    assert abs(linear_cka(x @ stretch, y) - linear_cka(x, y)) > 1e-3


def test_biased_cka_is_inflated_for_independent_data_at_small_n():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(20, 50)), rng.normal(size=(20, 50))
    assert linear_cka(x, y) > 0.5  # the known small-n bias of the biased estimator
    assert abs(linear_cka_debiased(x, y)) < 0.2


def test_center_gram_matches_explicit_centering(xy):
    x, _ = xy
    xc = x - x.mean(0)
    np.testing.assert_allclose(center_gram(gram(x)), xc @ xc.T, atol=1e-9)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.ones((5, 3)), np.ones((4, 3)), "same samples"),
        (np.ones(5), np.ones((5, 3)), "must be \\(n, d\\)"),
        (np.full((5, 3), np.nan), np.ones((5, 3)), "non-finite"),
        (np.ones((5, 3)), np.random.default_rng(0).normal(size=(5, 2)), "constant"),
    ],
)
def test_bad_input_is_rejected(x, y, message):
    with pytest.raises(ValueError, match=message):
        linear_cka(x, y)
