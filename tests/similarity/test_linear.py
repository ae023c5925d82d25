"""All-pairs linear CKA: the blocked Gram path and the feature-space path are exact."""

import numpy as np
import pytest
import similarity_references as ref

from strata.similarity import linear


def model_layers(seed, n, widths, offset=3.0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 10))
    return [base @ rng.normal(size=(10, w)) + rng.normal(size=(n, w)) + offset for w in widths]


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("path", ["gram", "features"])
@pytest.mark.parametrize("n", [9, 70])  # fewer and more samples than the widths
def test_every_path_equals_the_pairwise_reference(debiased, path, n):
    xs, ys = model_layers(0, n, [4, 12, 30]), model_layers(1, n, [6, 25])
    a = linear.centre_layers(xs, ["a0", "a1", "a2"])
    b = linear.centre_layers(ys, ["b0", "b1"])
    got = linear.linear_cka_matrix(a, b, debiased, path)
    want = [[ref.linear_cka(x, y, debiased) for y in ys] for x in xs]
    np.testing.assert_allclose(got, want, atol=1e-6)
    itself = linear.linear_cka_matrix(a, None, debiased, path)
    np.testing.assert_allclose(itself, itself.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(itself), 1.0, atol=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_gram_blocks_sum_to_the_whole_gram(debiased):
    """Blocks of 7 rows over n = 50 (uneven last block) give the one-block sums."""
    a = linear.centre_layers(model_layers(2, 50, [5, 8]), ["x", "y"])
    b = linear.centre_layers(model_layers(3, 50, [6]), ["z"])
    whole = linear.block_inner_products(a, b, debiased, block=50)
    pieces = linear.block_inner_products(a, b, debiased, block=7)
    for w, p in zip(whole, pieces, strict=True):
        np.testing.assert_allclose(p, w, rtol=1e-6)  # float32 GEMMs, summed differently


def test_float32_grams_agree_with_float64_to_1e6_at_scale():
    """The Gram GEMMs run in float32 (the shards' precision); the result must still agree
    with a float64 feature-space computation to 1e-6 at a realistic size."""
    xs = model_layers(4, 3000, [256, 256], offset=50.0)  # far off-centre on purpose
    ys = [np.tanh(x) for x in model_layers(5, 3000, [192], offset=0.0)]
    for debiased in (False, True):
        a, b = linear.centre_layers(xs, ["0", "1"]), linear.centre_layers(ys, ["0"])
        gram = linear.linear_cka_matrix(a, b, debiased, "gram")
        exact = linear.linear_cka_matrix(a, b, debiased, "features")
        np.testing.assert_allclose(gram, exact, atol=1e-6)


def test_the_path_with_less_arithmetic_is_chosen():
    # 25 × 25 layers of width 768 at n = 4,096: Gram blocks win by sharing each layer's work.
    assert linear.choose_path(4096, [768] * 25, [768] * 25) == "gram"
    assert linear.choose_path(100_000, [96] * 3, [96] * 3) == "features"
    flops = linear.gram_flops(2048, [768], [768], block=1024)
    assert flops == 2 * 3 * 1024 * 1024 * (768 + 768 + 1)  # 3 of 4 blocks (one mirrored)


def test_mismatched_rows_and_constant_layers_are_named():
    a = linear.centre_layers(model_layers(0, 20, [3]), ["a"])
    b = linear.centre_layers(model_layers(0, 21, [3]), ["b"])
    with pytest.raises(ValueError, match="same samples"):
        linear.linear_cka_matrix(a, b, False)
    flat = linear.centre_layers([np.ones((20, 4))], ["layer_05"])
    with pytest.raises(ValueError, match="layer_05"):
        linear.linear_cka_matrix(a, flat, True)
    with pytest.raises(ValueError, match="layer_09 has non-finite"):
        linear.centre_layers([np.full((20, 2), np.nan)], ["layer_09"])
