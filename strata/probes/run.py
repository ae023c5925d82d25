"""One probe job end to end (features → metrics JSON + checkpoint) and the per-task summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from strata.features.shards import read_shard_metadata, read_utterance_vectors
from strata.io import atomic_path, read_json, write_json
from strata.probes.linear import train_linear_probe
from strata.probes.tasks import SPLITS, classification_data
from strata.provenance import provenance

SUMMARY_COLUMNS = [
    "model", "layer", "layer_index", "num_layers", "task", "metric",
    "train", "dev", "test", "chance", "num_classes", "best_epoch",
]  # fmt: skip


def run_probe(
    features: Path,
    manifest: pd.DataFrame,
    task_name: str,
    task: dict[str, Any],
    probe: dict[str, Any],
    metrics_path: Path,
    checkpoint_path: Path,
) -> dict[str, Any]:
    """Train a probe on one layer shard; write the checkpoint and metrics JSON atomically."""
    shard_meta = read_shard_metadata(features)
    utt_ids, x = read_utterance_vectors(features)  # frame-level shards are mean-pooled
    data = classification_data(manifest, utt_ids, x, task)
    result = train_linear_probe(data, probe)
    metrics = {
        "model": shard_meta["model"],
        "dataset": shard_meta["dataset"],
        "layer": shard_meta["layer"],
        "layer_index": shard_meta["layer_index"],
        "num_layers": shard_meta["num_layers"],
        "task": task_name,
        "metric": "accuracy",
        **result.accuracy,
        # The best constant guess on test: what a probe that learned nothing can score.
        "chance": float(np.bincount(data.y["test"]).max() / len(data.y["test"])),
        "num_classes": len(data.classes),
        "n": {split: len(data.y[split]) for split in SPLITS},
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "provenance": provenance(
            {"task": task, "probe": probe},
            features=shard_meta,
        ),
    }
    with atomic_path(checkpoint_path) as tmp:
        # The checkpoint carries the same provenance as its metrics (plain types: loads with
        # weights_only=True).
        torch.save({**result.state, "provenance": metrics["provenance"]}, tmp)
    write_json(metrics_path, metrics)
    return metrics


def summarise(metric_files: list[Path], out: Path) -> pd.DataFrame:
    """One TSV row per metrics file, in the given (model, layer) order."""
    rows = [read_json(path) for path in metric_files]
    table = pd.DataFrame(rows)[SUMMARY_COLUMNS]
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6f")
    return table
