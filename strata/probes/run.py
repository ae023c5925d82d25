"""One probe job end to end (features → metrics JSON, checkpoint and per-unit test outcomes)
and the per-task table."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from strata.features.shards import read_shard_metadata, shard_path
from strata.io import (
    MANIFEST,
    TRIAL_COLUMNS,
    TRIALS,
    atomic_path,
    read_columns,
    read_json,
    write_json,
    write_parquet,
)
from strata.probes.checkpoint import write_probe
from strata.probes.kinds import TASK_KINDS
from strata.probes.metrics import ProbeOutcome
from strata.probes.tasks import Columns, restrict
from strata.probes.units import write_units
from strata.provenance import provenance
from strata.workflow import STARTUP, seconds_since_start

# A probe job's files: metrics JSON, checkpoint, per-unit test outcomes (test_units.parquet).
Outputs = tuple[Path, Path, Path]
UNITS_METADATA = ("model", "dataset", "task", "layer", "metric", "kind")

SUMMARY_COLUMNS = [
    "model", "layer", "layer_index", "num_layers", "task", "kind", "metric",
    "test", "ci_low", "ci_high", "chance", "below_chance", "train", "dev", "lr", "at_cap",
]  # fmt: skip


def fit(
    features: Path,
    layer: str,
    manifest: Columns,
    trials: Columns | None,
    task: dict[str, Any],
    probe: dict[str, Any],
) -> tuple[ProbeOutcome, dict[str, Any]]:
    """Train and score the task's probe on one layer; also returns the shard's metadata."""
    kind = TASK_KINDS[task["kind"]]
    path = shard_path(features, layer, "frame" if kind.frames else "utterance")
    if not path.is_file():
        level = "features.level: frame" if kind.frames else "the extractor"
        raise FileNotFoundError(f"{path} is missing ({task['kind']} needs it: {level})")
    meta = read_shard_metadata(path)
    return kind.fitter()(path, manifest, trials, task, probe), meta


def _plain(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def metrics_record(outcome: ProbeOutcome, meta: dict, task_name: str, task: dict, probe: dict):
    return {
        "model": meta["model"],
        "dataset": meta["dataset"],
        "layer": meta["layer"],
        "layer_index": meta["layer_index"],
        "num_layers": meta["num_layers"],
        "task": task_name,
        "kind": task["kind"],
        "metric": outcome.metric,
        "test": outcome.test.value,
        "ci_low": outcome.test.ci_low,
        "ci_high": outcome.test.ci_high,
        "confidence": probe["confidence"],
        "chance": outcome.chance,
        "below_chance": outcome.below_chance,
        # Stopped by the epoch cap while still improving (False for a probe with no training).
        "at_cap": bool(outcome.extra.get("at_cap", False)),
        "train": _plain(outcome.scores["train"]),
        "dev": _plain(outcome.scores["dev"]),
        "lr": outcome.lr,
        "dev_by_lr": outcome.dev_by_lr,
        "n": outcome.n,
        **outcome.extra,
        "provenance": provenance({"task": task, "probe": probe}, features=meta),
    }


def run_probe(
    features: Path,
    layer: str,
    manifest: Columns,
    trials: Columns | None,
    task_name: str,
    task: dict[str, Any],
    probe: dict[str, Any],
    outputs: Outputs,
) -> dict[str, Any]:
    """Train a probe on one layer; write its ``outputs`` atomically."""
    outcome, meta = fit(features, layer, manifest, trials, task, probe)
    return write_outputs(outcome, meta, task_name, task, probe, outputs)


def write_outputs(
    outcome: ProbeOutcome,
    meta: dict,
    task_name: str,
    task: dict[str, Any],
    probe: dict[str, Any],
    outputs: Outputs,
) -> dict[str, Any]:
    """The checkpoint and the per-unit test outcomes (both with the metrics' provenance), then
    the metrics JSON; returns the metrics."""
    metrics_path, checkpoint_path, units_path = outputs
    metrics = metrics_record(outcome, meta, task_name, task, probe)
    write_probe(checkpoint_path, outcome.state, metrics["provenance"])
    identity = {key: metrics[key] for key in UNITS_METADATA}
    write_units(units_path, outcome.units, {**metrics["provenance"], **identity})
    write_json(metrics_path, metrics)
    return metrics


WEIGHTED = "weighted_sum"


def run_weighted(
    features: Path,
    layers: list[str],
    manifest: Columns,
    trials: Columns | None,
    task_name: str,
    task: dict[str, Any],
    probe: dict[str, Any],
    outputs: Outputs,
) -> dict[str, Any]:
    """The weighted-sum probe over ``layers``; its row sits after the model's last layer."""
    kind = TASK_KINDS[task["kind"]]
    outcome = kind.fitter(weighted=True)(features, layers, manifest, trials, task, probe)
    meta = read_shard_metadata(
        shard_path(features, layers[0], "frame" if kind.frames else "utterance")
    )
    meta = {**meta, "layer": WEIGHTED, "layer_index": meta["num_layers"]}
    return write_outputs(outcome, meta, task_name, task, probe, outputs)


def summarise(metric_files: list[Path], parquet: Path, csv: Path):
    """One row per metrics file, in the given (model, layer) order, as Parquet (with the
    provenance of the run that summarised them) and CSV."""
    import pandas as pd
    import pyarrow as pa

    records = [read_json(path) for path in metric_files]
    table = pd.DataFrame(records)[SUMMARY_COLUMNS]
    meta = provenance(None, metrics=[str(path) for path in metric_files])
    if records and all("min_dcf" in r for r in records):  # verification: say which minDCF it is
        point = records[0]["min_dcf_operating_point"]
        table[min_dcf_column(point)] = [r["min_dcf"] for r in records]
        meta["min_dcf"] = {"normalised": "NIST SRE / VoxSRC", **point}
    write_parquet(pa.Table.from_pandas(table, preserve_index=False), parquet, meta)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    return table


def min_dcf_column(point: dict[str, float]) -> str:
    """The summary column of the normalised minDCF, named by its operating point."""
    name = f"min_dcf_p{point['p_target']:g}"
    if point["c_miss"] != 1 or point["c_fa"] != 1:
        name += f"_cmiss{point['c_miss']:g}_cfa{point['c_fa']:g}"
    return name


def read_task_inputs(data: Path, frames: bool) -> tuple[Columns, Columns | None]:
    """The dataset's manifest and trials (None without a trial list): as a DataFrame for the
    CTC probes, which import torch anyway; as plain columns for the rest (no pandas import)."""
    trials_path = data / TRIALS
    trials = read_columns(trials_path, TRIAL_COLUMNS) if trials_path.is_file() else None
    if frames:
        from strata.manifest import read_dataset

        return read_dataset(data)[0], trials
    return read_columns(data / MANIFEST, ("utt_id", "split")), trials


def _inputs(data: Path, task: dict[str, Any], threads: int) -> tuple[Columns, Columns | None]:
    """The task's rows, read once per job; CTC runs in torch on ``threads``, the rest in
    numpy."""
    frames = TASK_KINDS[task["kind"]].frames
    if frames:
        import torch

        torch.set_num_threads(threads)
    logging.getLogger(__name__).info(STARTUP, seconds_since_start())
    return restrict(*read_task_inputs(data, frames), task)


def _log_score(m: dict[str, Any]) -> None:
    logging.getLogger(__name__).info(
        "%s: test %s = %.4f [%.4f, %.4f], lr %s",
        m["layer"], m["metric"], m["test"], m["ci_low"], m["ci_high"], m["lr"],
    )  # fmt: skip


def probe_job(
    features: Path,
    data: Path,
    task_name: str,
    task: dict[str, Any],
    probe: dict[str, Any],
    outputs: Outputs,
    threads: int = 1,
    layers: list[str] | None = None,
    layer: str | None = None,
) -> dict[str, Any]:
    """A per-layer probe rule's body: the weighted sum over ``layers``, or ``layer`` alone,
    written to ``outputs`` (metrics, checkpoint, per-unit test outcomes)."""
    manifest, trials = _inputs(data, task, threads)
    common = {"features": features, "manifest": manifest, "trials": trials,
              "task_name": task_name, "task": task, "probe": probe, "outputs": outputs}  # fmt: skip
    if layers is not None:
        m = run_weighted(layers=layers, **common)
    else:
        m = run_probe(layer=layer, **common)
    _log_score(m)
    return m


def probe_outputs(folder: Path) -> Outputs:
    """A probe's files in its folder (``<layer>/`` or ``weighted/``)."""
    return folder / "metrics.json", folder / "probe.safetensors", folder / "test_units.parquet"


def probe_set_job(
    features: Path,
    data: Path,
    task_name: str,
    task: dict[str, Any],
    probe: dict[str, Any],
    layers: list[str],
    out_dir: Path,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """A per-model probe rule's body (``probe.jobs: model``): every layer's probe, then the
    weighted sum of ``layers``, each in its folder under ``out_dir`` as a per-layer job writes
    it; the task's rows are read once."""
    manifest, trials = _inputs(data, task, threads)
    common = {"features": features, "manifest": manifest, "trials": trials,
              "task_name": task_name, "task": task, "probe": probe}  # fmt: skip
    written = []
    for layer in layers:
        written.append(run_probe(layer=layer, outputs=probe_outputs(out_dir / layer), **common))
        _log_score(written[-1])
    outputs = probe_outputs(out_dir / "weighted")
    written.append(run_weighted(layers=layers, outputs=outputs, **common))
    _log_score(written[-1])
    return written
