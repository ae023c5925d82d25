"""All layer × layer similarities between two models, stored as a labelled matrix."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from strata.io import read_parquet_metadata, write_parquet
from strata.similarity.measures import get_measure


def ids_digest(utt_ids: list[str]) -> str:
    return hashlib.sha256("\n".join(utt_ids).encode()).hexdigest()


def similarity_matrix(
    layers_a: dict[str, np.ndarray], layers_b: dict[str, np.ndarray], measure: str
) -> pd.DataFrame:
    """Rows: layers of A, columns: layers of B; each layer is prepared once (its Gram matrix,
    or its feature-space statistics, whichever form is cheaper here), then every pair reuses
    it."""
    m = get_measure(measure)
    n = len(next(iter(layers_a.values())))
    space = m.space_for(
        n, [x.shape[1] for x in layers_a.values()], [x.shape[1] for x in layers_b.values()]
    )
    prepared_b = {name: m.prepare(x, name, space) for name, x in layers_b.items()}
    values = np.empty((len(layers_a), len(layers_b)))
    for i, (name_a, x) in enumerate(layers_a.items()):
        # Reuse B's state when A is the same array (self-pairs): no second preparation.
        a = prepared_b[name_a] if layers_a is layers_b else m.prepare(x, name_a, space)
        for j, b in enumerate(prepared_b.values()):
            values[i, j] = m.pair(a, b)
    return pd.DataFrame(values, index=list(layers_a), columns=list(layers_b))


def write_similarity(matrix: pd.DataFrame, path: Path, metadata: dict[str, Any]) -> None:
    """Parquet: a ``layer`` column with A's layer names, then one column per layer of B."""
    table = pa.Table.from_pandas(matrix.rename_axis("layer").reset_index(), preserve_index=False)
    meta = {**metadata, "rows": list(matrix.index), "columns": list(matrix.columns)}
    write_parquet(table, path, meta)


def read_similarity(path: str | Path) -> pd.DataFrame:
    """A similarity matrix as a DataFrame (index: layers of A, columns: layers of B).

    Its metadata (models, measure, n, utterance-id digest, provenance) is in ``df.attrs``.
    """
    meta = read_parquet_metadata(path)
    df = pq.read_table(path).to_pandas().set_index("layer")
    df.index.name = meta.get("model_a")
    df.columns.name = meta.get("model_b")
    df.attrs.update(meta)
    return df
