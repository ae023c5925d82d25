"""Train one configured model (``init: trained``) and write its checkpoint, loss table and
summary atomically; a killed run resumes from its last finished epoch."""

from __future__ import annotations

import importlib
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata.io import atomic_dir, write_json, write_parquet
from strata.provenance import config_digest, provenance
from strata.training import LOSSES, OBJECTIVES, SNAPSHOTS, SUMMARY, snapshot_dir
from strata.training.data import training_set
from strata.training.loop import fit

log = logging.getLogger(__name__)
# Keys of the train block every objective shares (the rest are the objective's own).
LOOP_DEFAULTS: dict[str, Any] = {
    "lr": 0.001,
    "weight_decay": 0.01,
    "warmup_fraction": 0.1,
    "grad_clip": 5.0,
    "device": "auto",
    "min_seconds": 0.0,
}


def objective_class(name: str) -> type:
    module, cls = OBJECTIVES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def state_dir_of(out_dir: Path) -> Path:
    """Where a run keeps its resumable state: beside its output, which a scheduler deletes
    when a job fails."""
    out_dir = Path(out_dir)
    return out_dir.parent / ".resume" / out_dir.name


def train_model(
    name: str,
    model_cfg: dict[str, Any],
    data_dir: Path,
    out_dir: Path,
    targets: tuple[Path, dict[str, Any]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``model_cfg`` (its ``train`` block) on ``data_dir``'s training split into
    ``out_dir``: ``checkpoint/`` in the family's layout, ``losses.parquet``, ``training.json``,
    and ``snapshots/e<k>/checkpoint/`` for each epoch the train block's ``snapshots`` keeps.
    ``targets`` is a trained model (card dir, config) whose layer a second masked-prediction
    iteration clusters."""
    run = _setup(model_cfg, data_dir, targets)
    began = time.perf_counter()
    losses = fit(run.objective, run.settings, state_dir_of(out_dir), run.digest, progress)
    summary = _summary(name, run.settings, run.data, losses, run.device) | {
        "seconds_this_run": round(time.perf_counter() - began, 1),
        "provenance": run.record,
    }
    with atomic_dir(out_dir) as tmp:
        for epoch in run.settings.get("snapshots", []):
            snapshot_dir(tmp, epoch).parent.mkdir(exist_ok=True)
            snapshot_dir(state_dir_of(out_dir), epoch).rename(snapshot_dir(tmp, epoch))
        run.objective.to("cpu").save(tmp)
        write_parquet(_table(losses), tmp / LOSSES, summary["provenance"])
        write_json(tmp / SUMMARY, summary)
    shutil.rmtree(state_dir_of(out_dir), ignore_errors=True)
    return summary


def first_steps(
    model_cfg: dict[str, Any],
    data_dir: Path,
    steps: int,
    targets: tuple[Path, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The loss rows of a run's first ``steps`` steps, exactly as :func:`train_model` takes
    them (a shipped checkpoint's ``losses.parquet`` starts with these)."""
    run = _setup(model_cfg, data_dir, targets)
    with tempfile.TemporaryDirectory(prefix="strata-first-steps-") as tmp:
        return fit(run.objective, run.settings, Path(tmp), run.digest, False, stop_after=steps)


@dataclass
class _Run:
    objective: Any
    settings: dict[str, Any]
    data: Any
    device: Any
    record: dict[str, Any]
    digest: str


def _setup(model_cfg: dict[str, Any], data_dir: Path, targets) -> _Run:
    """The objective (seeded random init), settings, data and provenance of a training run."""
    from strata.manifest import read_dataset
    from strata.models.card import load_model, read_card
    from strata.workflow import resolve_device

    train = model_cfg["train"]
    settings = {**LOOP_DEFAULTS, **train, "seed": int(model_cfg["seed"])}
    data = training_set(Path(data_dir), train["dataset"], settings["min_seconds"])
    device = resolve_device(settings["device"])
    teacher = load_model(*targets)[0].to(device) if targets else None
    init = {k: v for k, v in model_cfg.items() if k not in ("train", "random_twin")}
    objective = objective_class(train["objective"])(init, settings, data, teacher).to(device)
    _, manifest_sha = read_dataset(data_dir)
    target_weights = read_card(targets[0])["weights_sha256"] if targets else None
    record = provenance(model_cfg, manifest_sha256=manifest_sha, targets_sha256=target_weights)
    # A resumable state is only ever continued under this very config, data and targets.
    digest = config_digest([record[k] for k in ("config", "manifest_sha256", "targets_sha256")])
    return _Run(objective, settings, data, device, record, digest)


def _summary(name: str, settings: dict[str, Any], data, losses: list[dict], device) -> dict:
    return {
        "model": name,
        "objective": settings["objective"],
        "dataset": settings["dataset"],
        "utterances": len(data),
        "min_seconds": settings["min_seconds"],
        "speakers": len(data.speaker_names),
        "epochs": settings["epochs"],
        "steps": len(losses),
        "first_epoch_loss": _epoch_mean(losses, 1),
        "last_epoch_loss": _epoch_mean(losses, settings["epochs"]),
        SNAPSHOTS: [_snapshot(losses, epoch) for epoch in sorted(settings.get(SNAPSHOTS, []))],
        "device": str(device),
    }


def _snapshot(losses: list[dict[str, Any]], epoch: int) -> dict[str, Any]:
    """A kept snapshot's epoch, step (steps taken) and mean loss over its epoch."""
    steps = [r["step"] for r in losses if r["epoch"] <= epoch]
    loss = _epoch_mean(losses, epoch) if epoch else None
    return {"epoch": epoch, "step": max(steps, default=0), "loss": loss}


def _epoch_mean(losses: list[dict[str, Any]], epoch: int) -> float:
    values = [r["loss"] for r in losses if r["epoch"] == epoch]
    return sum(values) / len(values)


def _table(losses: list[dict[str, Any]]):
    import pyarrow as pa

    return pa.table({key: [r[key] for r in losses] for key in losses[0]})
