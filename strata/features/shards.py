"""Parquet feature shards: one file per (model, dataset, layer).

Utterance-level shards hold one row per utterance (``utt_id``, ``vector``); frame-level shards
hold one row per frame (``utt_id``, ``frame``, ``vector``). Rows follow manifest order. The
provenance record is JSON in the schema metadata under ``b"strata"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from strata.io import parquet_metadata, read_parquet_metadata

LEVELS = ("utterance", "frame")


def _schema(dim: int, level: str, metadata: dict[str, Any]) -> pa.Schema:
    fields = [pa.field("utt_id", pa.string())]
    if level == "frame":
        fields.append(pa.field("frame", pa.int32()))
    fields.append(pa.field("vector", pa.list_(pa.float32(), dim)))
    return pa.schema(fields, metadata=parquet_metadata({**metadata, "level": level, "dim": dim}))


class ShardWriter:
    """Stream batches of one layer into a Parquet shard, renamed into place on ``close``.

    Memory stays bounded by the batch: each ``write`` becomes row groups on disk.
    """

    def __init__(self, path: str | Path, dim: int, level: str, metadata: dict[str, Any]):
        if level not in LEVELS:
            raise ValueError(f"shard level must be one of {LEVELS}, got {level!r}")
        self.path, self.dim, self.level = Path(path), dim, level
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._writer = pq.ParquetWriter(self._tmp, _schema(dim, level, metadata))
        self.rows = 0

    def write(self, utt_ids: list[str], vectors: np.ndarray, frames: np.ndarray | None = None):
        """Append rows: utterance level takes (n, dim); frame level also per-row frame indices."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(vectors) != len(utt_ids):
            raise ValueError(
                f"{self.path}: expected ({len(utt_ids)}, {self.dim}) vectors, got {vectors.shape}"
            )
        if not np.isfinite(vectors).all():
            raise ValueError(f"{self.path}: non-finite values for utterances {utt_ids[:5]}...")
        columns = [pa.array(utt_ids, pa.string())]
        if self.level == "frame":
            if frames is None:
                raise ValueError(f"{self.path}: frame-level shards need frame indices")
            columns.append(pa.array(frames, pa.int32()))
        flat = pa.array(vectors.reshape(-1), pa.float32())
        columns.append(pa.FixedSizeListArray.from_arrays(flat, self.dim))
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._writer.schema))
        self.rows += len(utt_ids)

    def close(self) -> None:
        """Finish the file and move it to its final path."""
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        self._writer.close()
        self._tmp.unlink(missing_ok=True)


def read_shard_metadata(path: str | Path) -> dict[str, Any]:
    """The provenance record of a shard."""
    return read_parquet_metadata(path)


def read_shard(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read a shard as (utt_ids, array). Utterance level: (n, dim); frame level: (frames, dim)
    with utt_ids repeated per frame."""
    table = pq.read_table(path)
    dim = table.schema.field("vector").type.list_size
    vectors = table.column("vector").combine_chunks().values.to_numpy(zero_copy_only=False)
    return table.column("utt_id").to_pylist(), vectors.reshape(-1, dim)


def read_utterance_vectors(path: str | Path) -> tuple[list[str], np.ndarray]:
    """An utterance-level view of any shard: (utt_ids, (n, dim)).

    Frame-level shards are mean-pooled over each utterance's frames, which the writer stores
    contiguously in manifest order; the pooling is exactly the extractor's ``mean``.
    """
    level = read_shard_metadata(path)["level"]
    ids, x = read_shard(path)
    if level == "utterance":
        return ids, x
    starts = [0] + [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]]
    utt_ids = [ids[i] for i in starts]
    if len(set(utt_ids)) != len(utt_ids):
        raise ValueError(f"{path}: an utterance's frames are not contiguous")
    counts = np.diff([*starts, len(ids)])
    sums = np.add.reduceat(x.astype(np.float64), starts, axis=0)
    return utt_ids, (sums / counts[:, None]).astype(np.float32)
