"""How many epochs a CTC probe needs: dev PER after every epoch, never stopped early, for the
first, middle and last frame-level layer of one model of each layer kind (transformer, TDNN,
LSTM), at several learning rates, under the configured batch size and ``lr_decay``, on a
finished default run's frame shards. The phones task's learning rate, schedule and epoch cap
are read off this table (``make bench``), not set by the time budget."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from strata.features.shards import read_shard_metadata
from strata.manifest import read_dataset

MODELS = ("wavlm_mp_s0", "ecapa_aam_s0", "ge2e")  # one of each layer kind in the default run
LRS = (0.005, 0.01, 0.02)
MAX_EPOCHS = 40
NEAR = 0.02  # "converged": within 2 % (relative) of the curve's best dev PER


def picked_layers(frames: Path) -> list[str]:
    """The first, middle and last frame-level layer of a model's frame shards."""
    shards = sorted(frames.glob("*.frames.parquet"))
    by_index = sorted((read_shard_metadata(p)["layer_index"], read_shard_metadata(p)["layer"])
                      for p in shards)  # fmt: skip
    names = [name for _, name in by_index]
    return list(dict.fromkeys([names[0], names[len(names) // 2], names[-1]]))


def stop_epoch(curve: list[float], patience: int) -> int:
    """The epoch at which patience would have stopped the probe (the curve's length if
    never): the schedule does not depend on patience, so the capped curve is a prefix."""
    best, best_epoch = float("inf"), 0
    for epoch, value in enumerate(curve, 1):
        if value < best:
            best, best_epoch = value, epoch
        elif epoch - best_epoch >= patience:
            return epoch
    return len(curve)


def convergence_table(workdir: Path, config: dict, task: str = "phones") -> pd.DataFrame:
    """Per (model, layer, learning rate): the best dev PER, its epoch, the first epoch within
    :data:`NEAR` of it, and dev PER at the configured cap."""
    from strata.probes.phonemes import dev_curves

    spec = config["tasks"][task]
    probe = config["probe"] | spec.get("probe", {})
    cap = probe["max_epochs"]
    manifest, _ = read_dataset(workdir / "results/data" / spec["dataset"])
    rows = []
    for model in MODELS:
        frames = workdir / "results/frames" / model / spec["dataset"]
        for layer in picked_layers(frames):
            study = probe | {"lrs": list(LRS), "max_epochs": MAX_EPOCHS}
            path = frames / f"{layer}.frames.parquet"
            for lr, curve in dev_curves(path, manifest, spec, study).items():
                best = min(curve)
                rows.append(
                    {
                        "model": model,
                        "layer": layer,
                        "lr": lr,
                        "best_dev_per": round(best, 4),
                        "best_epoch": curve.index(best) + 1,
                        "epochs_to_within_2pct": next(
                            i + 1 for i, v in enumerate(curve) if v <= best * (1 + NEAR)
                        ),
                        "patience_stops_at": stop_epoch(curve, probe["patience"]),
                        f"dev_per_at_epoch_{cap}": round(curve[min(cap, len(curve)) - 1], 4),
                    }
                )
    return pd.DataFrame(rows)


def convergence_section(stamp: str, workdir: Path, root: Path) -> list[str]:
    config = yaml.safe_load((root / "config.yaml").read_text())
    table = convergence_table(workdir, config)
    return [
        "## Phone-recognition probes: convergence",
        "",
        f"_{stamp}._ {__doc__.splitlines()[0]} {' '.join(__doc__.splitlines()[1:])}".strip(),
        f" Up to {MAX_EPOCHS} epochs, batch size and patience as configured; the run in "
        f"`{workdir}`.",
        "",
        table.to_markdown(index=False),
        "",
    ]
