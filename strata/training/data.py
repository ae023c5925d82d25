"""Training utterances: a prepared dataset's training split, read lazily and cropped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from strata.models.base import SAMPLE_RATE

if TYPE_CHECKING:
    import torch

TRAIN_SPLIT = "train"


@dataclass(frozen=True)
class TrainingSet:
    """The training split's audio paths and speakers (probing splits are never read)."""

    name: str
    paths: list[Path]
    utt_ids: list[str]
    speakers: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def speaker_names(self) -> list[str]:
        return sorted(set(self.speakers))

    def speaker_index(self) -> np.ndarray:
        names = {s: i for i, s in enumerate(self.speaker_names)}
        return np.array([names[s] for s in self.speakers])

    def wave(self, i: int) -> torch.Tensor:
        from strata.features.extract import load_audio

        wave = load_audio(self.paths[i], SAMPLE_RATE)
        if wave.numel() == 0:
            raise ValueError(f"{self.name}: utterance {self.utt_ids[i]} ({self.paths[i]}) is empty")
        return wave


def training_set(data_dir: Path, name: str, min_seconds: float = 0.0) -> TrainingSet:
    """The ``train`` rows of a prepared dataset folder (``results/data/<name>``), less those
    shorter than ``min_seconds`` (as speaker recipes drop utterances shorter than their crops)."""
    from strata.manifest import read_dataset

    manifest, _ = read_dataset(data_dir)
    rows = manifest[manifest["split"] == TRAIN_SPLIT]
    if rows.empty:
        splits = sorted(manifest["split"].unique())
        raise ValueError(f"dataset {name!r} ({data_dir}) has no {TRAIN_SPLIT!r} split: {splits}")
    rows = rows[rows["duration"] >= min_seconds]
    if rows.empty:
        raise ValueError(f"dataset {name!r}: no training utterance lasts min_seconds {min_seconds}")
    return TrainingSet(
        name,
        [Path(data_dir) / p for p in rows["path"]],
        list(rows["utt_id"]),
        list(rows["speaker"]),
    )


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """A permutation of ``n`` items fixed by (seed, epoch): a resumed epoch repeats exactly."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batches_of(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Full batches only (a ragged last batch would change BatchNorm statistics)."""
    n = len(order) // batch_size * batch_size
    return [order[i : i + batch_size] for i in range(0, n, batch_size)] or [order]


def crop(wave: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
    """A random ``samples``-long window; a shorter wave is repeated to fill it."""
    import torch

    if len(wave) < samples:
        wave = wave.repeat(samples // len(wave) + 1)
    start = int(torch.randint(len(wave) - samples + 1, (1,), generator=generator))
    return wave[start : start + samples]
