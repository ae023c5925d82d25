"""Parquet feature shards: per (model, dataset, layer), rows in manifest order.

Files in ``results/features/{model}/{dataset}/``:

- ``{layer}.parquet``: one row per utterance, always: ``utt_id`` (string), ``vector``
  (fixed-size list of float32 or float16, ``dim`` long). Frame-level layers are pooled
  (``pooling``, over valid frames only), so probes and CKA read these directly.
- ``{layer}.frames.parquet`` (``features.level: frame``, frame-level layers only): one row per
  frame, ``utt_id``, ``frame`` (int32, 0-based, at the layer's ``frame_rate``), ``vector``;
  each utterance's frames contiguous and in order.

The provenance record is JSON in the Parquet schema metadata under ``b"strata"``: model,
weights hash, config slice, code version, and ``layer``, ``layer_index``, ``num_layers``,
``frame_rate``, ``level``, ``dim``, ``dtype``, ``pooling``. The extractor writes rows in any
order into a spill file and :meth:`SpillWriter.close` rewrites them in manifest order a chunk
at a time, so memory stays bounded by a batch and a chunk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from strata.io import parquet_metadata, read_parquet_metadata, read_table

LEVELS = ("utterance", "frame")
# Rows per Parquet row group at most: a streaming reader decodes one row group at a time
# (decoding a row group of float16 list values peaks near 25 bytes a value: ~100 MiB at 1024 dims).
ROW_GROUP_ROWS = 4096
DTYPES = {"float32": pa.float32(), "float16": pa.float16()}


def shard_path(directory: Path, layer: str, level: str = "utterance") -> Path:
    return Path(directory) / (
        f"{layer}.parquet" if level == "utterance" else f"{layer}.frames.parquet"
    )


def _schema(dim: int, level: str, metadata: dict[str, Any], dtype: str) -> pa.Schema:
    fields = [pa.field("utt_id", pa.string())]
    if level == "frame":
        fields.append(pa.field("frame", pa.int32()))
    fields.append(pa.field("vector", pa.list_(DTYPES[dtype], dim)))
    meta = {**metadata, "level": level, "dim": dim, "dtype": dtype}
    return pa.schema(fields, metadata=parquet_metadata(meta))


class ShardWriter:
    """Stream rows of one layer, in order, into a Parquet shard, renamed into place on ``close``.

    Memory stays bounded by the batch: each ``write`` becomes row groups on disk.
    """

    def __init__(
        self,
        path: str | Path,
        dim: int,
        level: str,
        metadata: dict[str, Any],
        dtype: str = "float32",
    ):
        if level not in LEVELS:
            raise ValueError(f"shard level must be one of {LEVELS}, got {level!r}")
        if dtype not in DTYPES:
            raise ValueError(f"shard dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.path, self.dim, self.level, self.dtype = Path(path), dim, level, dtype
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        # Vectors in plain, uncompressed pages: their values hardly repeat, a dictionary made
        # reads 4x slower (and small shards up to 1.5x larger), and a shard's size is then
        # its values plus a few bytes a row (what strata.plan counts).
        self._writer = pq.ParquetWriter(
            self._tmp,
            _schema(dim, level, metadata, dtype),
            use_dictionary=["utt_id", "frame"],
            compression={"utt_id": "snappy", "frame": "snappy", "vector": "none"},
        )
        self.rows = 0

    def write(self, utt_ids: list[str], vectors: np.ndarray, frames: np.ndarray | None = None):
        """Append rows: utterance level takes (n, dim); frame level also per-row frame indices."""
        vectors = np.ascontiguousarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(vectors) != len(utt_ids):
            raise ValueError(
                f"{self.path}: expected ({len(utt_ids)}, {self.dim}) vectors, got {vectors.shape}"
            )
        if not np.isfinite(vectors).all():
            finite = np.isfinite(vectors).all(1)
            bad = sorted({u for u, ok in zip(utt_ids, finite, strict=True) if not ok})
            raise ValueError(f"{self.path}: non-finite values for utterances {bad[:5]}")
        columns = [pa.array(utt_ids, pa.string())]
        if self.level == "frame":
            if frames is None:
                raise ValueError(f"{self.path}: frame-level shards need frame indices")
            columns.append(pa.array(frames, pa.int32()))
        values = vectors.astype(DTYPES[self.dtype].to_pandas_dtype(), copy=False).reshape(-1)
        columns.append(pa.FixedSizeListArray.from_arrays(pa.array(values), self.dim))
        table = pa.Table.from_arrays(columns, schema=self._writer.schema)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows += len(utt_ids)

    def close(self) -> None:
        """Finish the file and move it to its final path."""
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        self._writer.close()
        self._tmp.unlink(missing_ok=True)


class SpillWriter:
    """Rows of one layer in any order (e.g. length-sorted batches), written out in manifest
    order on ``close``. ``write`` takes manifest indices and, per utterance, its (frames, dim)
    array (frame level) or (dim,) vector; they are appended to a raw float32 file, and ``close``
    reads each utterance back by offset, a chunk at a time (plain reads, no memory map, so the
    process holds one chunk whatever the file's size)."""

    def __init__(self, path: Path, ids: list[str], dim: int, level: str, metadata, dtype: str):
        self.shard = ShardWriter(path, dim, level, metadata, dtype)
        self.ids, self.dim, self.level = ids, dim, level
        self._spill = path.with_name(f".{path.name}.spill")
        self._file = open(self._spill, "wb")  # noqa: SIM115 - closed in close()
        self._where: dict[int, tuple[int, int]] = {}  # utterance -> (first row, rows)
        self._rows = 0

    def write(self, indices: list[int], arrays: list[np.ndarray]) -> None:
        for index, array in zip(indices, arrays, strict=True):
            rows = np.ascontiguousarray(array, dtype=np.float32).reshape(-1, self.dim)
            rows.tofile(self._file)
            self._where[index] = (self._rows, len(rows))
            self._rows += len(rows)

    def close(self, chunk_size: int) -> int:
        """Write the shard in manifest order, ``chunk_size`` utterances at a time; rows written."""
        self._file.close()
        missing = [self.ids[i] for i in range(len(self.ids)) if i not in self._where][:5]
        if missing:
            raise ValueError(f"{self.shard.path}: no rows for utterances {missing}")
        row_bytes = self.dim * 4
        with open(self._spill, "rb") as spill:
            for first in range(0, len(self.ids), chunk_size):
                chunk = range(first, min(first + chunk_size, len(self.ids)))
                parts, counts = [], []
                for index in chunk:
                    start, rows = self._where[index]
                    spill.seek(start * row_bytes)
                    parts.append(np.fromfile(spill, np.float32, rows * self.dim))
                    counts.append(rows)
                ids = [self.ids[i] for i, n in zip(chunk, counts, strict=True) for _ in range(n)]
                frames = (
                    np.concatenate([np.arange(n) for n in counts])
                    if self.level == "frame"
                    else None
                )
                self.shard.write(ids, np.concatenate(parts).reshape(-1, self.dim), frames)
        self._spill.unlink()
        self.shard.close()
        return self.shard.rows


def read_shard_metadata(path: str | Path) -> dict[str, Any]:
    """The provenance record of a shard."""
    return read_parquet_metadata(path)


def read_shard(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read a shard as (utt_ids, float32 array). Utterance level: (n, dim); frame level:
    (frames, dim) with utt_ids repeated per frame."""
    table = read_table(path)
    dim = table.schema.field("vector").type.list_size
    vectors = table.column("vector").combine_chunks().values.to_numpy(zero_copy_only=False)
    return table.column("utt_id").to_pylist(), vectors.astype(np.float32).reshape(-1, dim)


def read_utterance_vectors(path: str | Path) -> tuple[list[str], np.ndarray]:
    """An utterance-level view of any shard: (utt_ids, (n, dim)).

    The extractor writes pooled ``{layer}.parquet`` rows, read as they are; a frame-level shard
    given here is mean-pooled over each utterance's (contiguous) frames, as the extractor pools.
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


def read_layers(
    feature_dir: str | Path, layers: list[str]
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Utterance-level vectors of ``layers`` (frame-level shards are mean-pooled); all layers
    must hold the same ids in the same order."""
    arrays: dict[str, np.ndarray] = {}
    ids: list[str] | None = None
    for layer in layers:
        path = shard_path(Path(feature_dir), layer)
        layer_ids, arrays[layer] = read_utterance_vectors(path)
        if ids is None:
            ids = layer_ids
        else:
            check_same_ids(ids, layer_ids, f"{path} vs {feature_dir}/{layers[0]}.parquet")
    return ids or [], arrays


def check_same_ids(ids_a: list[str], ids_b: list[str], where: str) -> None:
    """Fail unless both sides hold exactly the same utterance ids in the same order."""
    if ids_a == ids_b:
        return
    missing = sorted(set(ids_a) ^ set(ids_b))[:5]
    detail = f"ids differ, e.g. {missing}" if missing else "same ids in a different order"
    raise ValueError(f"{where}: representations are not on identical utterances ({detail})")
