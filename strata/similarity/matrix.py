"""Similarity outputs: a long-form Parquet table per job, and readers for notebooks.

Columns: ``layer_a``, ``layer_b``, ``value``, ``ci_low``, ``ci_high`` (jackknife interval),
``p`` (per-cell permutation p), ``p_fwer`` (max-T adjusted over the matrix), ``n``, ``measure``,
``level``, ``jackknife`` (the cell with each group left out, for paired differences between
cells: empty without intervals), one row per pair of layers, A's layers outer, in model order.
The job's metadata (models, dataset, measure properties, controls and their methods, frame
rates, utterance-id digest, provenance) is JSON in the Parquet schema metadata;
:func:`read_similarity` gives the labelled matrix of values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from strata.io import read_parquet_metadata, read_table, write_parquet
from strata.similarity.controls import CellStats
from strata.similarity.measures import get_measure

COLUMNS = (
    "layer_a",
    "layer_b",
    "value",
    "ci_low",
    "ci_high",
    "p",
    "p_fwer",
    "n",
    "measure",
    "level",
    "jackknife",
)


def ids_digest(utt_ids: list[str]) -> str:
    return hashlib.sha256("\n".join(utt_ids).encode()).hexdigest()


def similarity_matrix(
    layers_a: dict[str, np.ndarray], layers_b: dict[str, np.ndarray], measure: str
) -> pd.DataFrame:
    """Rows: layers of A, columns: layers of B (in-memory arrays, no controls)."""
    m = get_measure(measure)
    same = layers_a is layers_b
    a = m.prepare(list(layers_a.values()), list(layers_a))
    values = m.compare(a, None if same else m.prepare(list(layers_b.values()), list(layers_b)))
    return pd.DataFrame(values, index=list(layers_a), columns=list(layers_b))


def long_form(
    stats: CellStats, layers: tuple[list[str], list[str]], measure: str, level: str, n: int
) -> pd.DataFrame:
    rows_a, rows_b = np.meshgrid(
        np.arange(len(layers[0])), np.arange(len(layers[1])), indexing="ij"
    )
    return pd.DataFrame(
        {
            "layer_a": np.asarray(layers[0])[rows_a.ravel()],
            "layer_b": np.asarray(layers[1])[rows_b.ravel()],
            "value": stats.value.ravel(),
            "ci_low": stats.ci_low.ravel(),
            "ci_high": stats.ci_high.ravel(),
            "p": stats.p.ravel(),
            "p_fwer": stats.p_fwer.ravel(),
            "n": np.full(rows_a.size, n, dtype=np.int64),
            "measure": measure,
            "level": level,
            "jackknife": _left_out_per_cell(stats.left_out, rows_a.size),
        }
    )


def _left_out_per_cell(left_out: np.ndarray | None, cells: int) -> list[list[float]]:
    if left_out is None:
        return [[] for _ in range(cells)]
    return left_out.reshape(len(left_out), cells).T.tolist()


def write_similarity(table: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> None:
    meta = {
        **metadata,
        "rows": list(dict.fromkeys(table["layer_a"])),
        "columns": list(dict.fromkeys(table["layer_b"])),
    }
    write_parquet(pa.Table.from_pandas(table[list(COLUMNS)], preserve_index=False), path, meta)


def read_similarity_table(path: str | Path) -> pd.DataFrame:
    """The long-form table, metadata in ``df.attrs``."""
    df = read_table(path).to_pandas()
    df.attrs.update(read_parquet_metadata(path))
    return df


def matrix_of(table: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    """One column of a long-form table as the labelled matrix, layers in the table's order."""
    meta = table.attrs
    matrix = table.pivot(index="layer_a", columns="layer_b", values=column)
    matrix = matrix.loc[
        list(dict.fromkeys(table["layer_a"])), list(dict.fromkeys(table["layer_b"]))
    ]
    matrix.index.name, matrix.columns.name = meta.get("model_a"), meta.get("model_b")
    matrix.attrs.update(meta)
    return matrix


def read_similarity(path: str | Path, column: str = "value") -> pd.DataFrame:
    """One column (``value``, ``ci_low``, ``ci_high``, ``p`` or ``p_fwer``) as a labelled
    matrix: index the layers of A, columns the layers of B, metadata in ``df.attrs``."""
    return matrix_of(read_similarity_table(path), column)
