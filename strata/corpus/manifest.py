"""The embedded corpus's manifest schema and trial table (generic manifest I/O: strata.manifest)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from strata.io import TRIAL_COLUMNS, write_parquet
from strata.manifest import manifest_checksum

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
        ("speaker_split", pa.string()),
        ("audio_sha256", pa.string()),
    ]
)
MANIFEST_COLUMNS = tuple(MANIFEST_SCHEMA.names)

TRIALS_SCHEMA = pa.schema(
    [(name, pa.bool_() if name == "target" else pa.string()) for name in TRIAL_COLUMNS]
)


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


def read_trials(path: str | os.PathLike[str]) -> pd.DataFrame:
    table = pq.read_table(path)
    missing = [c for c in TRIALS_SCHEMA.names if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: trials table is missing column {missing[0]!r}")
    return table.select(TRIALS_SCHEMA.names).to_pandas()
