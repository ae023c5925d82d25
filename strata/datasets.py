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

from strata.corpus import build_corpus
from strata.corpus.manifest import REQUIRED_COLUMNS, manifest_checksum
from strata.io import atomic_dir, write_parquet
from strata.provenance import code_version, sha256_file

SPLITS = {"train", "dev", "test", "verification"}


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


def check_manifest(df: pd.DataFrame, source: Path, audio_root: Path) -> pd.DataFrame:
    """Validate a user manifest; returns it with absolute audio paths and durations."""
    required = [c for c in REQUIRED_COLUMNS if c != "duration"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: manifest is missing column {missing[0]!r}")
    duplicated = df["utt_id"][df["utt_id"].duplicated()].astype(str).tolist()
    if duplicated:
        raise ValueError(f"{source}: duplicate utt_id values {duplicated[:5]}")
    bad_splits = sorted(set(df["split"].astype(str)) - SPLITS)
    if bad_splits:
        raise ValueError(f"{source}: unknown split values {bad_splits}; use {sorted(SPLITS)}")
    paths = [(audio_root / str(p)).resolve() for p in df["path"]]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{source}: {len(absent)} audio files missing, e.g. {absent[:3]}")
    df = df.assign(utt_id=df["utt_id"].astype(str), path=[str(p) for p in paths])
    if "duration" not in df.columns:
        df["duration"] = [_duration(p) for p in paths]
    return df


def import_manifest(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    """``kind: manifest``: check the user's table and write it as ``out_dir/manifest.parquet``."""
    source = Path(cfg["path"]).expanduser().resolve()
    audio_root = Path(cfg.get("audio_root", source.parent)).expanduser()
    df = check_manifest(_read_table(source), source, audio_root)
    meta = {
        "manifest_sha256": manifest_checksum(df, list(df.columns)),
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
