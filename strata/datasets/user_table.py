"""``kind: manifest``: a user's own table of audio (CSV, TSV or Parquet), checked and copied.

Columns: ``utt_id``, ``path`` (relative to the table, or to ``audio_root``), ``split``
(train/dev/test/verification) and any label columns; ``duration`` is measured. Missing files,
duplicate ids, unknown splits and unusable audio are errors that name them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from strata.datasets.common import with_audio, write_manifest
from strata.datasets.listing import audio_root
from strata.manifest import REQUIRED_COLUMNS, check_manifest
from strata.provenance import sha256_file


def read_table(path: Path) -> pd.DataFrame:
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
    df = df.assign(utt_id=df["utt_id"].astype(str), path=[str(p) for p in paths])
    return with_audio(df, threads)


def import_manifest(cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> pd.DataFrame:
    """Check the user's table and write it as ``out_dir/manifest.parquet``."""
    source = Path(cfg["path"]).expanduser().resolve()
    df = resolve_audio(read_table(source), source, audio_root(cfg), threads)
    write_manifest(df, out_dir, cfg, source=str(source), source_sha256=sha256_file(source))
    return df
