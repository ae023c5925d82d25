"""Frame shards read by row group, so a job's memory is set by a buffer, not by the corpus.

:func:`index_frames` reads only the ``utt_id`` column, a row group at a time, to find each
utterance's rows; :func:`read_utterances` gathers the rows of chosen utterances from the row
groups that hold them (one row group decoded at a time); :func:`blocks` cuts a split's
utterances into runs that fit a byte budget. Peak memory: the block, plus one decoded row
group (:data:`strata.features.shards.ROW_GROUP_ROWS` rows for shards this project writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strata.io import parquet_file, reading


@dataclass(frozen=True)
class FrameIndex:
    """Where each utterance's frames are in a frame shard (utterances in shard order)."""

    path: Path
    ids: list[str]
    starts: np.ndarray  # first row of each utterance
    lengths: np.ndarray  # its frames
    dim: int
    group_starts: np.ndarray  # first row of each row group, then the row count

    @property
    def frames(self) -> int:
        return int(self.lengths.sum())

    @property
    def largest_group(self) -> int:
        return int(np.diff(self.group_starts).max(initial=0))


def index_frames(path: str | Path) -> FrameIndex:
    """Run-length encode the ``utt_id`` column, one row group at a time."""
    path = Path(path)
    shard = parquet_file(path)
    ids: list[str] = []
    starts: list[int] = []
    row = 0
    for group in range(shard.num_row_groups):
        with reading(path):
            column = shard.read_row_group(group, columns=["utt_id"]).column(0).to_pylist()
        for i, utt in enumerate(column):
            if not ids or utt != ids[-1]:
                ids.append(utt)
                starts.append(row + i)
        row += len(column)
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: an utterance's frames are not contiguous")
    begins = np.asarray(starts, np.int64)
    groups = [shard.metadata.row_group(g).num_rows for g in range(shard.num_row_groups)]
    return FrameIndex(
        path=path,
        ids=ids,
        starts=begins,
        lengths=np.diff([*begins, row]).astype(np.int64),
        dim=shard.schema_arrow.field("vector").type.list_size,
        group_starts=np.cumsum([0, *groups]).astype(np.int64),
    )


def read_utterances(index: FrameIndex, utterances: np.ndarray) -> np.ndarray:
    """The frames of ``utterances`` (positions in ``index.ids``, ascending), concatenated in
    that order as float32 (frames, dim)."""
    utterances = np.asarray(utterances, np.int64)
    if len(utterances) and np.any(np.diff(utterances) <= 0):
        raise ValueError(f"{index.path}: utterances must be read in shard order")
    out = np.empty((int(index.lengths[utterances].sum()), index.dim), np.float32)
    first, last = index.starts[utterances], index.starts[utterances] + index.lengths[utterances]
    where = np.concatenate([[0], np.cumsum(index.lengths[utterances])])
    shard = parquet_file(index.path)
    wanted = np.unique(
        np.concatenate(
            [
                np.arange(a, b + 1)
                for a, b in zip(
                    np.searchsorted(index.group_starts, first, "right") - 1,
                    np.searchsorted(index.group_starts, last - 1, "right") - 1,
                    strict=True,
                )
            ]
            or [np.empty(0, np.int64)]
        )
    )
    for group in wanted:
        lo, hi = index.group_starts[group], index.group_starts[group + 1]
        with reading(index.path):
            column = shard.read_row_group(int(group), columns=["vector"]).column(0)
        x = column.combine_chunks().values.to_numpy(zero_copy_only=False).reshape(-1, index.dim)
        del column
        # Utterances overlapping this row group: copy their rows inside it.
        for u in np.nonzero((first < hi) & (last > lo))[0]:
            a, b = max(first[u], lo), min(last[u], hi)
            offset = where[u] + (a - first[u])
            out[offset : offset + (b - a)] = x[a - lo : b - lo]
    return out


def blocks(lengths: np.ndarray, rows: np.ndarray, frames_per_block: int) -> list[np.ndarray]:
    """``rows`` (ascending) in consecutive runs of at most ``frames_per_block`` frames (an
    utterance longer than that is a block alone)."""
    out, current, total = [], [], 0
    for row in rows:
        n = int(lengths[row])
        if current and total + n > frames_per_block:
            out.append(np.asarray(current, np.int64))
            current, total = [], 0
        current.append(int(row))
        total += n
    if current:
        out.append(np.asarray(current, np.int64))
    return out
