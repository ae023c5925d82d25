"""Manifest and trial tables: schema, checksum, Parquet I/O with provenance metadata."""

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
import pyarrow as pa
import pyarrow.parquet as pq

from strata.io import write_parquet

MANIFEST_SCHEMA = pa.schema(
    [
        ("utt_id", pa.string()),
        ("path", pa.string()),
        ("speaker", pa.string()),
        ("engine", pa.string()),
        ("voice", pa.string()),
        ("text", pa.string()),
        ("words", pa.list_(pa.string())),
        ("phones", pa.list_(pa.string())),
        ("kind", pa.string()),
        ("keyword", pa.string()),
        ("intent", pa.string()),
        ("style", pa.string()),
        ("sample_rate", pa.int64()),
        ("num_samples", pa.int64()),
        ("duration", pa.float64()),
        ("split", pa.string()),
        ("audio_sha256", pa.string()),
    ]
)
MANIFEST_COLUMNS = tuple(MANIFEST_SCHEMA.names)
# What every dataset's manifest needs (features and probes read these); label columns vary.
REQUIRED_COLUMNS = ("utt_id", "path", "duration", "split")
LIST_COLUMNS = ("words", "phones")

TRIALS_SCHEMA = pa.schema(
    [("enrollment", pa.string()), ("test", pa.string()), ("target", pa.bool_())]
)


def _canonical(value: Any) -> Any:
    """JSON-able form that is the same whether a cell came from Python or from Parquet."""
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def manifest_checksum(df: pd.DataFrame, columns: Sequence[str] = MANIFEST_COLUMNS) -> str:
    """sha256 over one compact JSON array per row (``columns`` in order, rows by utt_id).

    JSON rather than a pandas hash so the value is independent of dtypes and pandas version.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"manifest lacks column {missing[0]!r}")
    digest = hashlib.sha256()
    for row in df.sort_values("utt_id")[list(columns)].itertuples(index=False):
        cells = [_canonical(v) for v in row]
        digest.update(json.dumps(cells, separators=(",", ":")).encode() + b"\n")
    return digest.hexdigest()


def write_manifest(df: pd.DataFrame, path: Path, meta: dict[str, Any]) -> str:
    """Write sorted ``df``; metadata gets ``manifest_sha256`` plus ``meta``. Returns the sha."""
    df = df.sort_values("utt_id", ignore_index=True)[list(MANIFEST_COLUMNS)]
    checksum = manifest_checksum(df)
    table = pa.Table.from_pandas(df, schema=MANIFEST_SCHEMA, preserve_index=False)
    write_parquet(table, path, {"manifest_sha256": checksum, **meta})
    return checksum


def write_trials(trials: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    table = pa.Table.from_pandas(trials, schema=TRIALS_SCHEMA, preserve_index=False)
    write_parquet(table, path, meta)


def read_manifest(
    path: str | os.PathLike[str], required: tuple[str, ...] = REQUIRED_COLUMNS
) -> pd.DataFrame:
    """Load a manifest, checking ``required`` columns and unique ids; keeps every column.

    List cells (words, phones) come back as Python lists.
    """
    table = pq.read_table(path)
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: manifest is missing column {missing[0]!r}")
    df = table.to_pandas()
    duplicated = df["utt_id"][df["utt_id"].duplicated()].tolist()
    if duplicated:
        raise ValueError(f"{path}: duplicate utt_id values {duplicated[:5]}")
    for column in LIST_COLUMNS:
        if column in df:
            df[column] = [list(v) for v in df[column]]
    return df


def read_trials(path: str | os.PathLike[str]) -> pd.DataFrame:
    table = pq.read_table(path)
    missing = [c for c in TRIALS_SCHEMA.names if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: trials table is missing column {missing[0]!r}")
    return table.select(TRIALS_SCHEMA.names).to_pandas()
