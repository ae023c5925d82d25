"""One similarity job: all layers of model A × all layers of model B, one level, one measure."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strata.features.shards import check_same_ids, read_layers, read_shard_metadata, shard_path
from strata.provenance import provenance
from strata.similarity.controls import (
    METHODS,
    CellStats,
    Controls,
    accumulator_stats,
    jackknife_groups,
    with_controls,
)
from strata.similarity.frames import FrameSide, aligned_chunks, plan_frames
from strata.similarity.matrix import ids_digest, long_form, write_similarity
from strata.similarity.measures import Measure, get_measure
from strata.workflow import resolve_device


def run_similarity(
    dir_a: Path,
    dir_b: Path,
    layers: tuple[list[str], list[str]],
    measure: str,
    level: str,
    out: Path,
    controls: dict[str, Any],
    frames: dict[str, Any] | None = None,
    device: str = "cpu",
) -> pd.DataFrame:
    """Compute and write the long-form table; returns it with its metadata in ``attrs``.
    ``device`` (auto, cpu, cuda[:k]): where measures that can (``Properties.gpu``) compute."""
    on = torch_device(device)
    m, ctl = get_measure(measure, on), Controls(**controls)
    same = Path(dir_a).resolve() == Path(dir_b).resolve()
    if level == "utterance":
        stats, info = _utterances(m, Path(dir_a), Path(dir_b), layers, same, ctl)
    elif level == "frame":
        stats, info = _frames(m, Path(dir_a), Path(dir_b), layers, same, ctl, frames or {})
    else:
        raise ValueError(f"unknown similarity level {level!r}")
    meta_a = read_shard_metadata(shard_path(Path(dir_a), layers[0][0], level))
    meta_b = read_shard_metadata(shard_path(Path(dir_b), layers[1][0], level))
    metadata = {
        "model_a": meta_a["model"],
        "model_b": meta_b["model"],
        "dataset": meta_a["dataset"],
        "measure": measure,
        "level": level,
        "properties": asdict(m.properties),
        "controls": asdict(ctl),
        "methods": METHODS,
        "device": getattr(m, "device", None) or "cpu",  # where it was computed
        **info,
        "provenance": provenance(
            {
                "measure": measure,
                "level": level,
                "layers_a": layers[0],
                "layers_b": layers[1],
                "controls": controls,
                "frames": frames if level == "frame" else None,
                "device": device,
            },
            weights_sha256={
                meta_a["model"]: meta_a["weights_sha256"],
                meta_b["model"]: meta_b["weights_sha256"],
            },
            manifest_sha256=meta_a["manifest_sha256"],
        ),
    }
    table = long_form(stats, layers, measure, level, info["n"])
    write_similarity(table, out, metadata)
    table.attrs.update(metadata)
    return table


def torch_device(name: str) -> str | None:
    """The torch device for the GEMMs, None for numpy on the CPU. ``auto`` takes a GPU when
    torch sees one; torch is imported only where a GPU device node exists, so a CPU machine's
    similarity jobs do not pay its start-up."""
    gpu_nodes = any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/kfd").exists()
    if name == "cpu" or (name == "auto" and not gpu_nodes):
        return None
    device = resolve_device(name)
    return None if device.type == "cpu" else str(device)


def _utterances(m: Measure, dir_a, dir_b, layers, same, ctl) -> tuple[CellStats, dict]:
    ids_a, arrays_a = read_layers(dir_a, layers[0])
    ids_b, arrays_b = (ids_a, arrays_a) if same else read_layers(dir_b, layers[1])
    check_same_ids(ids_a, ids_b, f"{dir_a} vs {dir_b}")
    xs = list(arrays_a.values())
    ys = None if same else list(arrays_b.values())
    stats = with_controls(m, xs, ys, layers, np.arange(len(ids_a)), ctl)
    return stats, {"n": len(ids_a), "n_utterances": len(ids_a), "utt_ids_sha256": ids_digest(ids_a)}


def _frames(m: Measure, dir_a, dir_b, layers, same, ctl, frames) -> tuple[CellStats, dict]:
    side_a = FrameSide.open(dir_a, layers[0])
    side_b = side_a if same else FrameSide.open(dir_b, layers[1])
    per_utterance = int(frames.get("per_utterance", 4))
    n = int(frames.get("n", 4000))
    plan = plan_frames(side_a, side_b, n, per_utterance, int(frames.get("seed", 0)))
    chunks = aligned_chunks(side_a, None if same else side_b, plan)
    owners = plan.owners
    info = {
        "n": len(plan.chosen),
        "n_utterances": len(np.unique(owners)),
        "per_utterance": per_utterance,
        "utt_ids_sha256": ids_digest(side_a.utt_ids),
        "frame_rate": min(side_a.rate, side_b.rate),
        "frame_rates": [side_a.rate, side_b.rate],
    }
    if m.properties.streaming:
        names_b = None if same else layers[1]
        jackknife = jackknife_groups(owners, ctl)
        acc = m.stream(chunks, layers[0], names_b, ctl.permutations, jackknife, ctl.seed)  # type: ignore[attr-defined]
        return accumulator_stats(acc, m, ctl), {**info, "minibatches": acc.batches}
    parts = list(chunks)
    xs = [np.concatenate(p) for p in zip(*(c[0] for c in parts), strict=True)]
    ys = None if same else [np.concatenate(p) for p in zip(*(c[1] for c in parts), strict=True)]
    return with_controls(m, xs, ys, layers, np.concatenate([c[2] for c in parts]), ctl), info
