"""One similarity job at the utterance level: the long-form table, its reader, its checks."""

import numpy as np
import pandas as pd
import pytest
import similarity_references as ref
from toy_shards import write_model

from strata.similarity import read_similarity, read_similarity_table, similarity_matrix
from strata.similarity.matrix import COLUMNS, matrix_of
from strata.similarity.run import run_similarity

CONTROLS = {"groups": 10, "permutations": 19, "confidence": 0.9, "seed": 0}


def _layers(seed: int, n: int = 30) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6))
    return {
        f"l{i}": base @ rng.normal(size=(6, 4 + i)) + i * rng.normal(size=(n, 4 + i))
        for i in range(3)
    }


def test_run_writes_the_long_form_table_with_controls_and_provenance(tmp_path):
    ids = [f"u{i:02d}" for i in range(30)]
    dir_a = write_model(tmp_path, "aa", _layers(0), ids)
    dir_b = write_model(tmp_path, "bb", _layers(1), ids)
    out = tmp_path / "sim.parquet"
    returned = run_similarity(
        dir_a,
        dir_b,
        (["l0", "l1", "l2"], ["l0", "l2"]),
        "linear_cka_debiased",
        "utterance",
        out,
        CONTROLS,
    )
    table = read_similarity_table(out)
    assert tuple(table.columns) == COLUMNS
    assert list(zip(table["layer_a"], table["layer_b"], strict=True)) == [
        (a, b) for a in ("l0", "l1", "l2") for b in ("l0", "l2")
    ]
    assert set(table["n"]) == {30} and set(table["level"]) == {"utterance"}
    assert set(table["measure"]) == {"linear_cka_debiased"}
    expected = ref.linear_cka(_layers(0)["l1"], _layers(1)["l2"], debiased=True)
    cell = table[(table.layer_a == "l1") & (table.layer_b == "l2")].iloc[0]
    assert cell["value"] == pytest.approx(expected, abs=1e-6)
    assert cell["ci_low"] < cell["value"] < cell["ci_high"]
    for column in ("p", "p_fwer"):  # multiples of 1/(K + 1)
        assert set(np.rint(table[column] * 20)) <= set(range(1, 21))
    assert (table["p_fwer"] >= table["p"]).all()
    assert "max-T over the K utterance permutations" in table.attrs["methods"]["p_fwer"]
    meta = table.attrs
    assert meta["provenance"]["weights_sha256"] == {"aa": "aaaaaaaa", "bb": "bbbbbbbb"}
    assert meta["controls"]["permutations"] == 19 and meta["properties"]["symmetric"]
    assert meta["n_utterances"] == 30 and len(meta["utt_ids_sha256"]) == 64

    matrix = read_similarity(out)
    assert matrix.index.name == "aa" and matrix.columns.name == "bb"
    assert list(matrix.index) == ["l0", "l1", "l2"] and list(matrix.columns) == ["l0", "l2"]
    assert matrix.loc["l1", "l2"] == cell["value"]
    assert read_similarity(out, "p").loc["l1", "l2"] == cell["p"]
    assert read_similarity(out, "p_fwer").loc["l1", "l2"] == cell["p_fwer"]
    # The table a job returns (as the rule logs it) gives the same matrix as the file.
    pd.testing.assert_frame_equal(matrix_of(returned), matrix, check_like=False)


def test_a_self_pair_prepares_once_and_is_symmetric_with_unit_diagonal(tmp_path):
    ids = [f"u{i:02d}" for i in range(30)]
    dir_a = write_model(tmp_path, "aa", _layers(0), ids)
    names = ["l0", "l1", "l2"]
    run_similarity(
        dir_a, dir_a, (names, names), "linear_cka", "utterance", tmp_path / "self.parquet", CONTROLS
    )
    matrix = read_similarity(tmp_path / "self.parquet").to_numpy()
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-9)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-9)


def test_run_refuses_a_different_utterance_order(tmp_path):
    ids = [f"u{i:02d}" for i in range(30)]
    dir_a = write_model(tmp_path, "aa", _layers(0), ids)
    dir_b = write_model(tmp_path, "bb", _layers(1), ids[::-1])
    with pytest.raises(ValueError, match="not on identical utterances"):
        run_similarity(
            dir_a,
            dir_b,
            (["l0"], ["l0"]),
            "linear_cka",
            "utterance",
            tmp_path / "x.parquet",
            CONTROLS,
        )
    assert not (tmp_path / "x.parquet").exists()


def test_the_in_memory_matrix_is_labelled():
    a, b = _layers(0), _layers(1)
    matrix = similarity_matrix(a, b, "svcca")
    assert list(matrix.index) == list(a) and list(matrix.columns) == list(b)
    assert np.all((matrix.to_numpy() > 0) & (matrix.to_numpy() <= 1))
