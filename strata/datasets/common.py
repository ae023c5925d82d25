"""What every dataset recipe shares: audio checks, deterministic caps, the manifest writer."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import soundfile as sf

from strata.io import write_parquet
from strata.manifest import manifest_checksum
from strata.models.base import SAMPLE_RATE
from strata.provenance import provenance, sha256_file

log = logging.getLogger(__name__)
# The shortest audio every model adapter can take: one 25 ms analysis window at 16 kHz.
MIN_SAMPLES = SAMPLE_RATE * 25 // 1000


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds; ``problem`` is why it cannot be used, else None."""

    sample_rate: int = 0
    channels: int = 0
    duration: float = 0.0
    problem: str | None = None


def inspect_audio(path: Path) -> AudioInfo:
    """Decode ``path`` fully: unreadable, empty, non-finite or too-short audio is a problem."""
    try:
        wave, rate = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        return AudioInfo(problem=f"unreadable ({err})")
    info = AudioInfo(rate, wave.shape[1], len(wave) / rate)
    if len(wave) == 0:
        return AudioInfo(rate, wave.shape[1], 0.0, "empty")
    if not np.isfinite(wave).all():
        return AudioInfo(info.sample_rate, info.channels, info.duration, "non-finite samples")
    if info.duration * SAMPLE_RATE < MIN_SAMPLES:
        short = f"shorter than one 25 ms frame ({info.duration * 1000:.1f} ms)"
        return AudioInfo(info.sample_rate, info.channels, info.duration, short)
    return info


def check_audio(ids: list[str], paths: list[Path], threads: int = 1) -> list[AudioInfo]:
    """Inspect every file (in parallel); raise naming each bad one by utterance id and path;
    log how many will be mixed down to mono or resampled when read."""
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        infos = list(pool.map(inspect_audio, paths))
    bad = [
        f"{u} ({p}): {i.problem}" for u, p, i in zip(ids, paths, infos, strict=True) if i.problem
    ]
    if bad:
        raise ValueError(f"{len(bad)} unusable audio files: " + "; ".join(bad[:10]))
    multi = sum(i.channels > 1 for i in infos)
    rates = Counter(i.sample_rate for i in infos if i.sample_rate != SAMPLE_RATE)
    if multi:
        log.info("%d of %d files have several channels: mixed to mono when read", multi, len(ids))
    for rate, count in sorted(rates.items()):
        log.info("%d files at %d Hz: resampled to %d Hz when read", count, rate, SAMPLE_RATE)
    return infos


def with_audio(df: pd.DataFrame, threads: int = 1, base: Path | None = None) -> pd.DataFrame:
    """``df`` with each file's hash, duration, sample rate and channels, every file checked
    (:func:`check_audio`). A relative ``path`` is inside the dataset folder ``base``."""
    paths = [Path(p) if base is None else base / p for p in df["path"]]
    infos = check_audio(df["utt_id"].tolist(), paths, threads)
    return df.assign(
        # Provenance of the audio itself: replacing a file changes the manifest checksum.
        audio_sha256=[sha256_file(p) for p in paths],
        duration=[i.duration for i in infos],
        sample_rate=[i.sample_rate for i in infos],
        channels=[i.channels for i in infos],
    )


def capped(df: pd.DataFrame, caps: Mapping[str, int] | None, seed: int) -> pd.DataFrame:
    """At most ``caps[split]`` utterances per split, the same ones for the same seed (a hash
    of seed and utt_id orders them), manifest order kept."""
    if not caps:
        return df
    key = [hashlib.sha256(f"{seed}:{u}".encode()).hexdigest() for u in df["utt_id"]]
    ranked = df.assign(_key=key).sort_values("_key")
    kept = pd.concat(
        group.head(caps.get(split, len(group))) for split, group in ranked.groupby("split")
    )
    return df.loc[sorted(kept.index)].reset_index(drop=True)


def require_file(path: Path, what: str) -> Path:
    """``path``, or a FileNotFoundError naming the file a corpus layout should have there."""
    if not path.exists():
        raise FileNotFoundError(f"expected {what} at {path}: is the root in the corpus's layout?")
    return path


def write_manifest(df: pd.DataFrame, out_dir: Path, cfg: Mapping[str, Any], **extra) -> None:
    """``out_dir/manifest.parquet`` with the content checksum (paths excluded: moving the
    corpus keeps it) and provenance in the Parquet metadata."""
    df = df.reset_index(drop=True)
    meta = {
        "manifest_sha256": manifest_checksum(df, [c for c in df.columns if c != "path"]),
        **provenance(dict(cfg)),
        **extra,
    }
    write_parquet(
        pa.Table.from_pandas(df, preserve_index=False), out_dir / "manifest.parquet", meta
    )
