"""Dataset manifests: the one table every stage reads, whatever built it.

Columns every manifest has: ``utt_id`` (unique), ``path`` (audio, relative to the manifest's
folder or absolute), ``duration`` (seconds) and ``split``; any other column is a label a task may
predict. Light on purpose (pandas + pyarrow): rule scripts import it in every stage's env.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strata.io import MANIFEST, read_parquet_metadata, read_table

REQUIRED_COLUMNS = ("utt_id", "path", "duration", "split")
SPLITS = ("train", "dev", "test", "verification")
LIST_COLUMNS = ("words", "phones")


def _canonical(value: Any) -> Any:
    """JSON-able form that is the same whether a cell came from Python or from Parquet."""
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def manifest_checksum(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """sha256 over one compact JSON array per row (``columns``, default all, rows by utt_id).

    JSON rather than a pandas hash so the value is independent of dtypes and pandas version.
    """
    columns = list(df.columns if columns is None else columns)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"manifest lacks column {missing[0]!r}")
    digest = hashlib.sha256()
    for row in df.sort_values("utt_id")[columns].itertuples(index=False):
        cells = [_canonical(v) for v in row]
        digest.update(json.dumps(cells, separators=(",", ":")).encode() + b"\n")
    return digest.hexdigest()


def check_manifest(df: pd.DataFrame, source: str | os.PathLike[str], required: Sequence[str]):
    """Required columns present, ids unique, splits known; errors name ``source``."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: manifest is missing column {missing[0]!r}")
    duplicated = df["utt_id"][df["utt_id"].duplicated()].astype(str).tolist()
    if duplicated:
        raise ValueError(f"{source}: duplicate utt_id values {duplicated[:5]}")
    if "split" in df.columns:
        unknown = sorted(set(df["split"].astype(str)) - set(SPLITS))
        if unknown:
            raise ValueError(f"{source}: unknown split values {unknown}; use {list(SPLITS)}")


def read_manifest(
    path: str | os.PathLike[str], required: Sequence[str] = REQUIRED_COLUMNS
) -> pd.DataFrame:
    """Load and check a manifest; keeps every column. List cells come back as Python lists."""
    df = read_table(path).to_pandas()
    check_manifest(df, path, required)
    for column in LIST_COLUMNS:
        if column in df:
            df[column] = [None if v is None else list(v) for v in df[column]]
    return df


def read_dataset(dataset_dir: str | os.PathLike[str]) -> tuple[pd.DataFrame, str]:
    """A prepared dataset folder's manifest and its checksum (from the provenance metadata)."""
    path = Path(dataset_dir) / MANIFEST
    return read_manifest(path), read_parquet_metadata(path)["manifest_sha256"]
