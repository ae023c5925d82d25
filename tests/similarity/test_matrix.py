"""All-pairs matrices: equal to pairwise CKA, labelled, id-checked, round-tripped."""

import numpy as np
import pytest

from strata.features.shards import ShardWriter
from strata.similarity import linear_cka, linear_cka_debiased, read_similarity, similarity_matrix
from strata.similarity.run import run_similarity


def _layers(seed: int, n: int = 30) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6))
    return {
        f"l{i}": base @ rng.normal(size=(6, 4 + i)) + i * rng.normal(size=(n, 4 + i))
        for i in range(3)
    }


MEASURES = [("linear_cka", linear_cka), ("linear_cka_debiased", linear_cka_debiased)]


@pytest.mark.parametrize(("measure", "pairwise"), MEASURES)
def test_matrix_equals_pairwise_measure(measure, pairwise):
    a, b = _layers(0), _layers(1)
    matrix = similarity_matrix(a, b, measure)
    assert list(matrix.index) == list(a) and list(matrix.columns) == list(b)
    for name_a, x in a.items():
        for name_b, y in b.items():
            assert matrix.loc[name_a, name_b] == pytest.approx(pairwise(x, y), rel=1e-9)


def test_self_matrix_has_unit_diagonal_and_is_symmetric():
    a = _layers(0)
    matrix = similarity_matrix(a, a, "linear_cka").to_numpy()
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)


def _write_model(root, model, layers, ids):
    for index, (name, x) in enumerate(layers.items()):
        meta = {
            "model": model,
            "dataset": "toy",
            "layer": name,
            "layer_index": index,
            "weights_sha256": model * 4,
            "manifest_sha256": "m",
        }
        writer = ShardWriter(root / model / f"{name}.parquet", x.shape[1], "utterance", meta)
        writer.write(ids, x)
        writer.close()
    return root / model


def test_run_similarity_writes_labelled_matrix_with_provenance(tmp_path):
    ids = [f"u{i:02d}" for i in range(30)]
    dir_a = _write_model(tmp_path, "aa", _layers(0), ids)
    dir_b = _write_model(tmp_path, "bb", _layers(1), ids)
    out = tmp_path / "sim.parquet"
    run_similarity(dir_a, dir_b, ["l0", "l1", "l2"], ["l0", "l2"], "linear_cka", out)
    matrix = read_similarity(out)
    assert matrix.index.name == "aa" and matrix.columns.name == "bb"
    assert list(matrix.index) == ["l0", "l1", "l2"] and list(matrix.columns) == ["l0", "l2"]
    assert matrix.attrs["n"] == 30 and matrix.attrs["measure"] == "linear_cka"
    assert matrix.attrs["provenance"]["weights_sha256"] == {"aa": "aaaaaaaa", "bb": "bbbbbbbb"}
    expected = linear_cka(_layers(0)["l1"], _layers(1)["l2"])
    assert matrix.loc["l1", "l2"] == pytest.approx(expected)


def test_run_similarity_refuses_different_utterance_order(tmp_path):
    ids = [f"u{i:02d}" for i in range(30)]
    dir_a = _write_model(tmp_path, "aa", _layers(0), ids)
    dir_b = _write_model(tmp_path, "bb", _layers(1), ids[::-1])
    with pytest.raises(ValueError, match="not on identical utterances"):
        run_similarity(dir_a, dir_b, ["l0"], ["l0"], "linear_cka", tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.parametrize("measure", ["linear_cka", "linear_cka_debiased"])
@pytest.mark.parametrize("n", [8, 60])  # fewer and more samples than dimensions
def test_gram_and_feature_space_forms_agree(measure, n):
    """The two exact forms of one measure: n × n Gram matrices, and d × d feature space that
    never forms anything n × n; the matrix picks by shape, each must give the same values."""
    from strata.similarity.measures import get_measure

    m = get_measure(measure)
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 12)) + 5.0  # off-centre: both forms must centre
    y = np.tanh(x @ rng.normal(size=(12, 9))) + 0.5 * rng.normal(size=(n, 9))
    by_space = {
        space: m.pair(m.prepare(x, "x", space), m.prepare(y, "y", space))
        for space in ("gram", "features")
    }
    assert by_space["features"] == pytest.approx(by_space["gram"], rel=1e-9, abs=1e-12)
    same = m.prepare(x, "x", "features")
    assert m.pair(same, same) == pytest.approx(1.0, rel=1e-12)
    # One pair: Gram costs n²(d_a + d_b + 1), feature space n·d_a·d_b.
    assert m.space_for(n, [12], [9]) == ("gram" if n * (12 + 9 + 1) <= 12 * 9 else "features")
    assert m.space_for(8, [12], [9], gram_bytes=8 * 8 * 8 - 1) == "features"  # no room


def test_the_cheaper_form_is_chosen_for_a_whole_matrix():
    from strata.similarity.measures import get_measure

    m = get_measure("linear_cka")
    # 25 × 25 layers of width 768 at n = 4,096: Gram 5.6e11 vs feature space 1.5e12 flops.
    assert m.space_for(4096, [768] * 25, [768] * 25, gram_bytes=4e9) == "gram"
    # The same at n = 20,000 would hold 80 GB of Gram matrices: feature space instead.
    assert m.space_for(20_000, [768] * 25, [768] * 25, gram_bytes=4e9) == "features"
    assert m.space_for(100_000, [96], [96]) == "features"  # few dims, many samples


def test_a_constant_layer_is_named():
    from strata.similarity.measures import get_measure

    with pytest.raises(ValueError, match="undefined for layer_07"):
        get_measure("linear_cka").prepare(np.ones((20, 3)), "layer_07", "features")
