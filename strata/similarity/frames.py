"""Frame-level comparison of two models on the same utterances, at a common frame rate.

Alignment: frame i of a model with rate r covers [i/r, (i+1)/r) seconds. Both sides are brought
to the slower rate r_s: slower frame k is paired with the mean of the faster model's frames whose
start i/r_f falls in [k/r_s, (k+1)/r_s) (WavLM 50 Hz frame k ↔ the mean of fbank frames 2k and
2k + 1 at 100 Hz). Slower frames past the end of the faster model's frames are dropped; equal
rates pair frames one to one. Model-specific offsets (receptive-field centres) are ignored: they
are under one frame of the slower model.

Sampling: ``n // k`` utterances are drawn (seeded, without replacement) among those with at
least ``k`` aligned frames (``k`` = ``per_utterance``; all of them when fewer), and ``k`` aligned
frames of each at random positions, kept in time order. Every sampled utterance then gives
exactly k rows, so the controls can permute and leave out whole utterances. The draw uses the
per-utterance counts alone, so every layer of both models gets the same frames. Shards are read
a chunk of utterances at a time, so memory holds the selection, not the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strata.features.shards import read_shard_metadata, shard_path
from strata.io import parquet_file, read_table, reading

_EPS = 1e-9  # frame-boundary products such as 3 × 0.5 are exact; keep k = floor from rounding


def aligned_counts(n_slow: np.ndarray, n_fast: np.ndarray, ratio: float) -> np.ndarray:
    """Aligned frames per utterance, ``ratio`` = r_slow / r_fast ≤ 1."""
    n_fast = np.asarray(n_fast)
    last = np.floor((n_fast - 1) * ratio + _EPS).astype(np.int64) + 1
    return np.where(n_fast > 0, np.minimum(np.asarray(n_slow), last), 0)


def slow_frame_of(n_fast: int, ratio: float) -> np.ndarray:
    """Index of the slower frame each faster frame falls in."""
    return np.floor(np.arange(n_fast) * ratio + _EPS).astype(np.int64)


def average_to_slow(
    fast: np.ndarray,
    counts: np.ndarray,
    keep: np.ndarray,
    ratio: float,
    picked: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of consecutive utterances (``counts`` frames each, faster rate) averaged into their
    first ``keep`` slower frames each: (Σ keep, d), or only the aligned frames ``picked``
    (sorted indices into those Σ keep), averaging nothing else."""
    frame = np.concatenate([slow_frame_of(c, ratio) for c in counts]) if len(counts) else []
    owner = np.repeat(np.arange(len(counts)), counts)
    group = np.concatenate([[0], np.cumsum(keep)[:-1]])[owner] + frame
    used = frame < keep[owner]
    if picked is not None:
        wanted = np.zeros(int(np.sum(keep)) + 1, dtype=bool)
        wanted[picked] = True
        used &= wanted[np.where(used, group, -1)]
    group = group[used]
    if not len(group):
        return np.empty((0, fast.shape[1]), dtype=np.float64)
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    sums = np.add.reduceat(fast[used].astype(np.float64), starts, axis=0)
    return sums / np.diff([*starts, len(group)])[:, None]


def first_frames(
    rows: np.ndarray, counts: np.ndarray, keep: np.ndarray, picked: np.ndarray | None = None
) -> np.ndarray:
    """The first ``keep`` of each utterance's ``counts`` rows (or the ``picked`` ones of
    those Σ keep)."""
    kept_starts = np.concatenate([[0], np.cumsum(keep)[:-1]])
    if picked is None:
        picked = np.arange(int(np.sum(keep)))
    utt = np.searchsorted(kept_starts, picked, side="right") - 1
    row_starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return rows[row_starts[utt] + picked - kept_starts[utt]]


def choose_frames(counts: np.ndarray, n: int, per_utterance: int, seed: int) -> np.ndarray:
    """Sorted global indices of ``per_utterance`` aligned frames from each of ``n //
    per_utterance`` utterances with at least that many (all such utterances when fewer)."""
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(counts >= per_utterance)
    if n // per_utterance < 1 or not len(eligible):
        raise ValueError(f"no {per_utterance} aligned frames of one utterance to draw {n} from")
    utts = np.sort(rng.choice(eligible, size=min(n // per_utterance, len(eligible)), replace=False))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    positions = [np.sort(rng.choice(counts[u], per_utterance, replace=False)) for u in utts]
    return (starts[utts, None] + np.array(positions)).ravel()


@dataclass
class FrameSide:
    """One model's frame-level layers: shard files, frame rate, frames per utterance."""

    directory: Path
    layers: list[str]
    rate: float
    utt_ids: list[str]
    counts: np.ndarray

    @classmethod
    def open(cls, directory: Path, layers: Sequence[str]) -> FrameSide:
        rates, ids, counts = set(), None, None
        for layer in layers:
            path = shard_path(Path(directory), layer, "frame")
            meta = read_shard_metadata(path)
            if meta.get("frame_rate") is None:
                raise ValueError(f"{path}: layer {layer} has no frame rate")
            rates.add(float(meta["frame_rate"]))
            layer_ids, layer_counts = _frame_counts(path)
            if ids is None:
                ids, counts = layer_ids, layer_counts
            elif layer_ids != ids or not np.array_equal(layer_counts, counts):
                raise ValueError(f"{path}: frames of layer {layer} differ from layer {layers[0]}")
        if len(rates) != 1:
            raise ValueError(f"{directory}: frame layers have several rates {sorted(rates)}")
        return cls(Path(directory), list(layers), rates.pop(), ids or [], counts)

    def reader(self, layer: str) -> _Rows:
        return _Rows(shard_path(self.directory, layer, "frame"))


def _frame_counts(path: Path) -> tuple[list[str], np.ndarray]:
    ids = read_table(path, columns=["utt_id"]).column("utt_id").to_numpy(zero_copy_only=False)
    if not len(ids):
        return [], np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    utt_ids = [str(u) for u in ids[starts]]
    if len(set(utt_ids)) != len(utt_ids):
        raise ValueError(f"{path}: an utterance's frames are not contiguous")
    return utt_ids, np.diff([*starts, len(ids)])


class _Rows:
    """Sequential reads of a frame shard's vectors, any number of rows at a time, one row
    group decoded at a time (copied out, so Arrow frees it)."""

    def __init__(self, path: Path):
        self._path, self._file = path, parquet_file(path)
        self._next_group = 0
        self._held: list[np.ndarray] = []
        self._count = 0

    def _read_group(self) -> np.ndarray:
        if self._next_group >= self._file.metadata.num_row_groups:
            raise ValueError(f"{self._path}: fewer rows than its frame counts")
        with reading(self._path):
            column = self._file.read_row_group(self._next_group, columns=["vector"]).column(0)
        self._next_group += 1
        dim = column.type.list_size
        return np.concatenate(
            [c.values.to_numpy(zero_copy_only=False) for c in column.chunks]
        ).reshape(-1, dim)

    def take(self, rows: int) -> np.ndarray:
        while self._count < rows:
            values = self._read_group()
            self._held.append(values)
            self._count += len(values)
        held = np.concatenate(self._held) if len(self._held) > 1 else self._held[0]
        out, rest = held[:rows], held[rows:].copy()
        self._held, self._count = [rest], len(rest)
        return out.astype(np.float32, copy=False)


def _align(rows, counts, keep, ratio, picked) -> np.ndarray:
    if ratio == 1:
        return first_frames(rows, counts, keep, picked)
    return average_to_slow(rows, counts, keep, ratio, picked)


@dataclass
class FramePlan:
    """Which aligned frames of which utterances are compared."""

    counts: np.ndarray  # aligned frames per utterance
    chosen: np.ndarray  # global aligned-frame indices
    ratio_a: float  # r_slow / r_A (1 when A is the slower side)
    ratio_b: float

    @property
    def owners(self) -> np.ndarray:
        """The utterance index of each chosen frame."""
        return np.searchsorted(np.cumsum(self.counts), self.chosen, side="right")


def plan_frames(a: FrameSide, b: FrameSide, n: int, per_utterance: int, seed: int) -> FramePlan:
    if a.utt_ids != b.utt_ids:
        raise ValueError(f"{a.directory} vs {b.directory}: frames not on identical utterances")
    slow = min(a.rate, b.rate)
    ratio_a, ratio_b = slow / a.rate, slow / b.rate
    if ratio_a == ratio_b:  # equal rates: frame i with frame i
        counts = np.minimum(a.counts, b.counts)
    elif ratio_a == 1:
        counts = aligned_counts(a.counts, b.counts, ratio_b)
    else:
        counts = aligned_counts(b.counts, a.counts, ratio_a)
    return FramePlan(counts, choose_frames(counts, n, per_utterance, seed), ratio_a, ratio_b)


def aligned_chunks(
    a: FrameSide, b: FrameSide | None, plan: FramePlan, chunk_utts: int = 256
) -> Iterator[tuple[list[np.ndarray], list[np.ndarray] | None, np.ndarray]]:
    """Per chunk of utterances: A's chosen aligned frames per layer, B's (None when B is A),
    and each row's utterance index."""
    sides = [(a, plan.ratio_a)] + ([] if b is None else [(b, plan.ratio_b)])
    readers = [[side.reader(layer) for layer in side.layers] for side, _ in sides]
    offsets = np.concatenate([[0], np.cumsum(plan.counts)])
    for first in range(0, len(plan.counts), chunk_utts):
        utts = np.arange(first, min(first + chunk_utts, len(plan.counts)))
        keep = plan.counts[utts]
        lo, hi = np.searchsorted(plan.chosen, [offsets[utts[0]], offsets[utts[-1] + 1]])
        picked = plan.chosen[lo:hi] - offsets[utts[0]]
        out = []
        for (side, ratio), layer_readers in zip(sides, readers, strict=True):
            counts = side.counts[utts]
            rows = [reader.take(int(counts.sum())) for reader in layer_readers]
            out.append([_align(r, counts, keep, ratio, picked) for r in rows])
        owner = np.repeat(utts, keep)[picked]
        yield out[0], (None if b is None else out[1]), owner
