"""Datasets: each config ``kind`` prepares ``results/data/{dataset}/`` around a manifest.parquet.

``embedded`` synthesises the offline TTS corpus (:mod:`strata.corpus`); ``manifest`` imports a
user's table of existing audio (CSV, TSV or Parquet), checked and checksummed, so the same
analysis runs on any corpus. A new kind is one function and one line in ``DATASET_KINDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import soundfile as sf

from strata.corpus.build import build_corpus
from strata.io import atomic_dir, write_parquet
from strata.manifest import REQUIRED_COLUMNS, check_manifest, manifest_checksum
from strata.provenance import code_version, sha256_file


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


def _duration(path: Path) -> float:
    try:
        return sf.info(path).duration
    except (RuntimeError, sf.LibsndfileError) as err:
        raise ValueError(f"cannot read audio {path}: {err}") from err


def resolve_audio(df: pd.DataFrame, source: Path, audio_root: Path) -> pd.DataFrame:
    """A checked user manifest with absolute audio paths, audio hashes and durations."""
    check_manifest(df, source, required=[c for c in REQUIRED_COLUMNS if c != "duration"])
    paths = [(audio_root / str(p)).resolve() for p in df["path"]]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{source}: {len(absent)} audio files missing, e.g. {absent[:3]}")
    df = df.assign(
        utt_id=df["utt_id"].astype(str),
        path=[str(p) for p in paths],
        # Provenance of the audio itself: replacing a file changes the manifest checksum.
        audio_sha256=[sha256_file(p) for p in paths],
    )
    if "duration" not in df.columns:
        df["duration"] = [_duration(p) for p in paths]
    return df


def import_manifest(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    """``kind: manifest``: check the user's table and write it as ``out_dir/manifest.parquet``."""
    source = Path(cfg["path"]).expanduser().resolve()
    audio_root = Path(cfg.get("audio_root", source.parent)).expanduser()
    df = resolve_audio(_read_table(source), source, audio_root)
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
