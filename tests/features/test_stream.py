"""Frame shards read by row group: the same rows as reading the whole shard, from row groups
that cut utterances in two, and blocks that respect the budget."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from strata.features import shards
from strata.features.shards import ShardWriter, read_shard
from strata.features.stream import blocks, index_frames, read_utterances

META = {"model": "m", "dataset": "d", "layer": "l", "layer_index": 0, "num_layers": 1}


def write_frames(path, lengths, dim=5, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(int(sum(lengths)), dim)).astype(np.float32)
    ids = [f"u{i:03d}" for i, n in enumerate(lengths) for _ in range(n)]
    frames = np.concatenate([np.arange(n) for n in lengths])
    writer = ShardWriter(path, dim, "frame", META, dtype)
    writer.write(ids, x, frames)
    writer.close()
    return x


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_utterances_read_by_row_group_equal_the_whole_shard(tmp_path, monkeypatch, dtype):
    monkeypatch.setattr(shards, "ROW_GROUP_ROWS", 7)  # utterances straddle row groups
    lengths = np.random.default_rng(1).integers(1, 20, size=40)
    path = tmp_path / "l.frames.parquet"
    write_frames(path, lengths, dtype=dtype)
    assert pq.ParquetFile(path).num_row_groups == -(-int(lengths.sum()) // 7)
    ids, whole = read_shard(path)
    index = index_frames(path)
    assert index.ids == list(dict.fromkeys(ids)) and index.lengths.tolist() == lengths.tolist()
    assert index.largest_group == 7 and index.frames == len(whole)
    picked = np.array([0, 3, 4, 17, 30, 39])
    expected = np.concatenate([whole[np.asarray(ids) == index.ids[u]] for u in picked])
    np.testing.assert_array_equal(read_utterances(index, picked), expected)


def test_reading_out_of_order_is_refused(tmp_path):
    path = tmp_path / "l.frames.parquet"
    write_frames(path, [3, 4, 5])
    with pytest.raises(ValueError, match="shard order"):
        read_utterances(index_frames(path), np.array([2, 1]))


def test_non_contiguous_utterances_are_named(tmp_path):
    path = tmp_path / "l.frames.parquet"
    writer = ShardWriter(path, 2, "frame", META)
    writer.write(["a", "b", "a"], np.zeros((3, 2)), np.array([0, 0, 1]))
    writer.close()
    with pytest.raises(ValueError, match="l.frames.parquet.*not contiguous"):
        index_frames(path)


def test_blocks_cover_the_rows_in_order_within_budget():
    lengths = np.random.default_rng(2).integers(1, 30, size=200)
    rows = np.sort(np.random.default_rng(3).choice(200, 120, replace=False))
    parts = blocks(lengths, rows, 100)
    assert np.array_equal(np.concatenate(parts), rows)
    for part in parts:  # within budget, or one utterance alone
        assert lengths[part].sum() <= 100 or len(part) == 1
    for a, b in zip(parts, parts[1:]):  # each block full: the next utterance would not fit
        assert lengths[a].sum() + lengths[b[0]] > 100
