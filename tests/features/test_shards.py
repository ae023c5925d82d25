import numpy as np
import pyarrow.parquet as pq
import pytest

from strata.features import ShardWriter, read_shard, read_shard_metadata


def test_utterance_shard_round_trip_keeps_order_and_metadata(tmp_path):
    path = tmp_path / "layer.parquet"
    writer = ShardWriter(path, 3, "utterance", {"model": "m", "layer": "layer_01"})
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(1, 3))
    writer.write(["z", "a"], a)
    writer.write(["m"], b)
    assert not path.exists()  # only complete shards appear at the final path
    writer.close()
    ids, x = read_shard(path)
    assert ids == ["z", "a", "m"]
    np.testing.assert_allclose(x, np.vstack([a, b]).astype(np.float32))
    meta = read_shard_metadata(path)
    assert meta == {
        "model": "m",
        "layer": "layer_01",
        "level": "utterance",
        "dim": 3,
        "dtype": "float32",
    }
    assert pq.ParquetFile(path).metadata.num_row_groups == 2  # streamed, not buffered


def test_frame_shard_stores_frame_indices(tmp_path):
    path = tmp_path / "f.parquet"
    writer = ShardWriter(path, 2, "frame", {})
    writer.write(["u", "u", "v"], np.arange(6).reshape(3, 2), frames=np.array([0, 1, 0]))
    writer.close()
    ids, x = read_shard(path)
    assert ids == ["u", "u", "v"] and x.shape == (3, 2)
    assert pq.read_table(path).column("frame").to_pylist() == [0, 1, 0]


@pytest.mark.parametrize(
    ("ids", "vectors", "message"),
    [
        (["a"], np.zeros((1, 4)), "expected \\(1, 3\\)"),
        (["a", "b"], np.zeros((1, 3)), "expected \\(2, 3\\)"),
        (["a"], np.array([[0.0, np.inf, 1.0]]), "non-finite"),
    ],
)
def test_bad_rows_are_rejected_naming_the_shard(tmp_path, ids, vectors, message):
    writer = ShardWriter(tmp_path / "bad.parquet", 3, "utterance", {})
    with pytest.raises(ValueError, match=message):
        writer.write(ids, vectors)
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_unknown_level_and_foreign_file(tmp_path):
    with pytest.raises(ValueError, match="level"):
        ShardWriter(tmp_path / "x.parquet", 3, "segment", {})
    import pandas as pd

    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "foreign.parquet")
    with pytest.raises(ValueError, match="foreign.parquet: not a strata file"):
        read_shard_metadata(tmp_path / "foreign.parquet")
