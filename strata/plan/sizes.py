"""How much audio each dataset holds, per split: read from its prepared manifest when there is
one, else from a table of the standard corpora (so a study can be planned before a corpus is
downloaded). Table figures are the corpora's published counts under the splits strata's
recipes use; hours are approximate (± a few %)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from strata.features.selection import frame_utterances

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class DatasetSize:
    """Utterances and seconds per split; ``durations`` (seconds, every utterance) when read
    from a manifest, so frame counts are exact per utterance."""

    utterances: dict[str, int]
    seconds: dict[str, float]
    longest: float  # seconds: the longest utterance (sets a padded batch's length)
    source: str  # "manifest" or "table"
    durations: np.ndarray | None = None
    splits: np.ndarray | None = None  # each utterance's split, with durations

    @property
    def total_utterances(self) -> int:
        return sum(self.utterances.values())

    @property
    def hours(self) -> float:
        return sum(self.seconds.values()) / 3600

    def frames(self, rate: float, hours: dict[str, float] | None = None) -> int:
        """Frames at ``rate`` over every utterance (each utterance's count floored), or only
        over those that keep their frames under ``features.frame_hours``."""
        if self.durations is not None:
            keep = frame_utterances(self.splits, self.durations, hours)
            return int(np.floor(self.durations[keep] * rate).sum())
        caps = hours or {}
        return int(sum(min(s, caps.get(k, np.inf) * 3600) for k, s in self.seconds.items()) * rate)


def _table(splits: dict[str, tuple[int, float]], longest: float) -> DatasetSize:
    return DatasetSize(
        utterances={s: n for s, (n, _) in splits.items()},
        seconds={s: h * 3600 for s, (_, h) in splits.items()},
        longest=longest,
        source="table",
    )


# kind -> split -> (utterances, hours); the longest utterance in seconds.
KNOWN_CORPORA: dict[str, DatasetSize] = {
    # train-clean-100, dev-clean, test-clean
    "librispeech": _table({"train": (28539, 100.6), "dev": (2703, 5.4), "test": (2620, 5.4)}, 35),
    # the identification split (1,251 speakers, 352 h); trial utterances are among them
    "voxceleb1": _table({"train": (138361, 317.3), "dev": (6904, 15.8), "test": (8251, 18.9)}, 145),
    # v0.01, SUPERB's 10 commands + unknown + silence; clips of at most 1 s
    "speech_commands": _table({"train": (51088, 14.2), "dev": (6798, 1.9), "test": (3081, 0.9)}, 1),
    "fluent_speech_commands": _table(
        {"train": (23132, 14.7), "dev": (3118, 1.9), "test": (3793, 2.4)}, 10
    ),
    # the four-class subset (happy and excited merged), one fold: Session 1 tested
    "iemocap": _table({"train": (3556, 4.5), "dev": (890, 1.1), "test": (1085, 1.3)}, 35),
}


def dataset_size(cfg: dict[str, Any], data_dir: Path) -> DatasetSize | None:
    """The prepared manifest's sizes, else the table's for a standard corpus, else None."""
    manifest = Path(data_dir) / "manifest.parquet"
    if manifest.is_file():
        return read_size(manifest, manifest.stat().st_mtime_ns)
    return KNOWN_CORPORA.get(cfg["kind"])


@lru_cache(maxsize=16)
def read_size(manifest: Path, mtime_ns: int) -> DatasetSize:
    """Read once per version of the manifest: every job's resources ask for its sizes while
    Snakemake builds the DAG."""
    import pyarrow.parquet as pq

    table = pq.read_table(manifest, columns=["split", "duration"])  # every manifest has both
    splits = np.asarray(table.column("split").to_pylist(), dtype=object)
    seconds = table.column("duration").to_numpy()
    names = sorted(set(splits.tolist()))
    return DatasetSize(
        utterances={s: int((splits == s).sum()) for s in names},
        seconds={s: float(seconds[splits == s].sum()) for s in names},
        longest=float(seconds.max(initial=0.0)),
        source="manifest",
        durations=seconds,
        splits=splits,
    )


def longest_frames(size: DatasetSize, rate: float) -> int:
    return max(1, math.ceil(size.longest * rate))
