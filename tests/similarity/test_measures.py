"""Every registered measure against its declared properties and an independent reference."""

import numpy as np
import pytest
import similarity_references as ref
from scipy.stats import ortho_group

from strata.similarity.measures import (
    INVERTIBLE,
    MEASURES,
    ORTHOGONAL,
    SCALING,
    SVCCA,
    TRANSLATION,
    MutualKNN,
    RbfCKA,
    get_measure,
)


def related(n=80, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)) + 2.0
    y = np.tanh(x @ rng.normal(size=(8, 6))) + 0.3 * rng.normal(size=(n, 6))
    return x, y


def value(name, x, y):
    return float(get_measure(name).matrix([x], [y])[0, 0])


@pytest.mark.parametrize("name", MEASURES)
def test_a_layer_against_itself_is_identical(name):
    m = get_measure(name)
    x, _ = related()
    identical = 0.0 if not m.properties.higher_is_similar else 1.0
    assert value(name, x, x) == pytest.approx(identical, abs=1e-6)
    self_matrix = m.matrix([x, x[:, :5]])  # the self path (one side prepared once)
    np.testing.assert_allclose(np.diag(self_matrix), identical, atol=1e-6)


@pytest.mark.parametrize("name", MEASURES)
def test_symmetry_is_as_declared(name):
    x, y = related()
    forward, backward = value(name, x, y), value(name, y, x)
    if get_measure(name).properties.symmetric:
        assert forward == pytest.approx(backward, rel=1e-6, abs=1e-9)
    else:
        assert abs(forward - backward) > 1e-4  # declared asymmetric, and it is


TRANSFORMS = {
    ORTHOGONAL: lambda x: x @ ortho_group.rvs(x.shape[1], random_state=4),
    SCALING: lambda x: 7.5 * x,
    TRANSLATION: lambda x: x - 3.0,
    INVERTIBLE: lambda x: x @ (np.eye(x.shape[1]) + np.triu(np.ones((x.shape[1],) * 2), 1)),
}


@pytest.mark.parametrize("name", MEASURES)
@pytest.mark.parametrize("invariance", TRANSFORMS)
def test_declared_invariances_hold(name, invariance):
    m = get_measure(name)
    if invariance not in m.properties.invariant_to:
        pytest.skip(f"{name} does not declare invariance to {invariance}")
    x, y = related()
    assert value(name, TRANSFORMS[invariance](x), y) == pytest.approx(
        value(name, x, y), rel=1e-6, abs=1e-9
    )


def test_cca_without_truncation_is_invariant_to_invertible_maps():
    cca = SVCCA(variance=1.0)
    x, y = related(n=200)
    mapped = TRANSFORMS[INVERTIBLE](x)
    assert cca.matrix([mapped], [y])[0, 0] == pytest.approx(cca.matrix([x], [y])[0, 0], rel=1e-9)
    rho, _, _ = ref.cca(x, y)
    assert cca.matrix([x], [y])[0, 0] == pytest.approx(rho.mean(), rel=1e-9)


def test_values_stay_in_the_declared_range():
    rng = np.random.default_rng(1)
    for name, m in MEASURES.items():
        low, high = m.properties.value_range
        for seed in range(3):
            x, y = related(n=60, seed=seed)
            v = m.matrix([x, rng.normal(size=(60, 4))], [y])
            assert np.all((v >= low - 1e-9) & (v <= high + 1e-9)), name


@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_matches_hsic_reference(debiased):
    x, y = related()
    name = "linear_cka_debiased" if debiased else "linear_cka"
    assert value(name, x, y) == pytest.approx(ref.linear_cka(x, y, debiased), abs=1e-6)


def test_debiased_cka_of_independent_gaussians_is_near_zero_where_biased_is_not():
    rng = np.random.default_rng(3)
    biased, debiased = [], []
    for _ in range(20):
        x, y = rng.normal(size=(30, 60)), rng.normal(size=(30, 60))
        biased.append(value("linear_cka", x, y))
        debiased.append(value("linear_cka_debiased", x, y))
    assert np.mean(biased) > 0.5  # the small-n bias of the biased estimator
    assert abs(np.mean(debiased)) < 0.02
    assert min(debiased) < 0  # negative values are reported as they are


def test_rbf_cka_matches_reference():
    x, y = related(n=50)
    m = RbfCKA(sigma=0.8)
    assert m.matrix([x], [y])[0, 0] == pytest.approx(ref.rbf_cka(x, y, 0.8), rel=1e-9)


def test_pwcca_matches_the_weighted_canonical_correlations():
    x, y = related(n=300)
    assert value("pwcca", x, y) == pytest.approx(ref.pwcca(x, y), rel=1e-8)
    assert value("pwcca", y, x) == pytest.approx(ref.pwcca(y, x), rel=1e-8)


def test_mutual_knn_matches_brute_force():
    x, y = related(n=70)
    for k in (1, 5, 10):
        m = MutualKNN(k=k)
        assert m.matrix([x], [y])[0, 0] == pytest.approx(ref.mutual_knn(x, y, k))


def test_procrustes_distance_is_zero_for_rotated_copies_and_matches_reference():
    x, y = related()
    rotated = 4.0 * x @ ortho_group.rvs(8, random_state=2) + 1.0
    assert value("procrustes", x, rotated) == pytest.approx(0.0, abs=1e-6)
    assert value("procrustes", x, y) == pytest.approx(ref.procrustes(x, y), rel=1e-7)


def test_svcca_keeps_the_directions_that_explain_the_variance():
    rng = np.random.default_rng(5)
    signal = rng.normal(size=(400, 3))
    noise = 1e-3 * rng.normal(size=(400, 20))  # 20 near-empty directions
    x = np.hstack([signal * [10, 5, 3], noise])
    y = signal @ rng.normal(size=(3, 3))
    assert value("svcca", x, y) == pytest.approx(1.0, abs=1e-3)  # truncated: 3 shared dims
    assert SVCCA(variance=1.0).matrix([x], [y])[0, 0] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("name", MEASURES)
def test_a_constant_layer_is_named(name):
    m = get_measure(name)
    with pytest.raises(ValueError, match="layer_07"):
        m.compare(m.prepare([np.ones((80, 3))], ["layer_07"]), None)


def test_unknown_measure_lists_the_known_ones():
    with pytest.raises(KeyError, match="linear_cka_debiased"):
        get_measure("cka")
