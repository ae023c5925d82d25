"""One similarity job: all layers of model A × all layers of model B on the same utterances."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from strata.features.shards import check_same_ids, read_layers, read_shard_metadata
from strata.provenance import provenance
from strata.similarity.matrix import ids_digest, similarity_matrix, write_similarity


def run_similarity(
    dir_a: Path, dir_b: Path, layers_a: list[str], layers_b: list[str], measure: str, out: Path
) -> pd.DataFrame:
    """Compute and write the matrix; returns it with its metadata in ``attrs``."""
    ids_a, arrays_a = read_layers(dir_a, layers_a)
    same_model = Path(dir_a).resolve() == Path(dir_b).resolve()
    ids_b, arrays_b = (ids_a, arrays_a) if same_model else read_layers(dir_b, layers_b)
    check_same_ids(ids_a, ids_b, f"{dir_a} vs {dir_b}")
    matrix = similarity_matrix(arrays_a, arrays_b, measure)
    meta_a = read_shard_metadata(Path(dir_a) / f"{layers_a[0]}.parquet")
    meta_b = read_shard_metadata(Path(dir_b) / f"{layers_b[0]}.parquet")
    metadata = {
        "model_a": meta_a["model"],
        "model_b": meta_b["model"],
        "measure": measure,
        "n": len(ids_a),
        "utt_ids_sha256": ids_digest(ids_a),
        "dataset": meta_a["dataset"],
        "provenance": provenance(
            {"measure": measure, "layers_a": layers_a, "layers_b": layers_b},
            weights_sha256={meta_a["model"]: meta_a["weights_sha256"],
                            meta_b["model"]: meta_b["weights_sha256"]},
            manifest_sha256=meta_a["manifest_sha256"],
        ),
    }  # fmt: skip
    write_similarity(matrix, out, metadata)
    matrix.attrs.update(metadata)
    return matrix
