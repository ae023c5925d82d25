"""Datasets: each config ``kind`` prepares ``results/data/{dataset}/`` around a manifest.parquet.

``embedded`` synthesises the offline TTS corpus (:mod:`strata.corpus`); ``manifest`` imports a
user's table of existing audio (CSV, TSV or Parquet), checked and checksummed, so the same
analysis runs on any corpus. A new kind is one function and one line in ``DATASET_KINDS``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import soundfile as sf

from strata.corpus.build import build_corpus
from strata.io import atomic_dir, write_parquet
from strata.manifest import REQUIRED_COLUMNS, check_manifest, manifest_checksum
from strata.models.base import SAMPLE_RATE
from strata.provenance import code_version, sha256_file

log = logging.getLogger(__name__)
# The shortest audio every model adapter can take: one 25 ms analysis window at 16 kHz.
MIN_SAMPLES = SAMPLE_RATE * 25 // 1000


def _read_table(path: Path) -> pd.DataFrame:
    readers = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".tsv": lambda p: pd.read_csv(p, sep="\t"),
    }
    if path.suffix not in readers:
        raise ValueError(f"{path}: manifest must be .csv, .tsv or .parquet")
    if not path.is_file():
        raise FileNotFoundError(f"config key 'path': manifest {path} does not exist")
    return readers[path.suffix](path)


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


def resolve_audio(
    df: pd.DataFrame, source: Path, audio_root: Path, threads: int = 1
) -> pd.DataFrame:
    """A checked user manifest with absolute audio paths and the audio's hash, duration, rate
    and channel count, measured (a ``duration`` column in the table is replaced)."""
    check_manifest(df, source, required=[c for c in REQUIRED_COLUMNS if c != "duration"])
    paths = [(audio_root / str(p)).resolve() for p in df["path"]]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{source}: {len(absent)} audio files missing, e.g. {absent[:3]}")
    infos = check_audio(df["utt_id"].astype(str).tolist(), paths, threads)
    return df.assign(
        utt_id=df["utt_id"].astype(str),
        path=[str(p) for p in paths],
        # Provenance of the audio itself: replacing a file changes the manifest checksum.
        audio_sha256=[sha256_file(p) for p in paths],
        duration=[i.duration for i in infos],
        sample_rate=[i.sample_rate for i in infos],
        channels=[i.channels for i in infos],
    )


def import_manifest(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    """``kind: manifest``: check the user's table and write it as ``out_dir/manifest.parquet``."""
    source = Path(cfg["path"]).expanduser().resolve()
    audio_root = Path(cfg.get("audio_root", source.parent)).expanduser()
    df = resolve_audio(_read_table(source), source, audio_root, threads)
    meta = {
        # Content, not location: moving the corpus keeps its checksum.
        "manifest_sha256": manifest_checksum(df, [c for c in df.columns if c != "path"]),
        "source": str(source),
        "source_sha256": sha256_file(source),
        "config": cfg,
        "code_version": code_version(),
    }
    write_parquet(
        pa.Table.from_pandas(df, preserve_index=False), out_dir / "manifest.parquet", meta
    )
    return df


DATASET_KINDS: dict[str, Callable[[dict[str, Any], Path, int], pd.DataFrame]] = {
    "embedded": build_corpus,
    "manifest": import_manifest,
}


def prepare_dataset(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    """Build ``out_dir`` for a dataset config, atomically (complete or absent)."""
    builder = DATASET_KINDS.get(cfg["kind"])
    if builder is None:
        raise KeyError(f"unknown dataset kind {cfg['kind']!r}; known: {sorted(DATASET_KINDS)}")
    with atomic_dir(out_dir) as tmp:
        return builder(cfg, tmp, threads)
