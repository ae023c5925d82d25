"""Model cards: the materialised checkpoint of a configured model plus its provenance."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from strata.io import DamagedFileError, atomic_dir, read_json, write_json
from strata.models import series, twins
from strata.models.base import Encoder
from strata.models.registry import get_family
from strata.provenance import provenance, sha256_file, sha256_files
from strata.training import SNAPSHOTS, snapshot_dir
from strata.training import SUMMARY as TRAINING_SUMMARY

CARD = "card.json"


def prepare_model(
    name: str, cfg: dict[str, Any], out_dir: Path, trained: Path | None = None
) -> dict[str, Any]:
    """Materialise ``cfg`` under ``out_dir`` (atomically) and write its card; a random twin
    (``twin_seed``) also draws and saves its weights; a trained model's checkpoint is taken
    from its training output ``trained`` (hard-linked where the file system allows)."""
    family = get_family(cfg["family"])
    out_dir = Path(out_dir)
    if (cfg["init"] == "trained") != (trained is not None):
        raise ValueError(f"model {name}: a training output goes with init: trained only")
    origin = _training_origin(Path(trained)) if trained is not None else None
    epoch = cfg.get(series.EPOCH)  # a series' snapshot: the weights after this epoch
    with atomic_dir(out_dir) as tmp:
        if trained is not None:
            weights = Path(trained) if epoch is None else snapshot_dir(trained, epoch)
            checkpoint = _link_tree(weights / "checkpoint", tmp / "checkpoint")
        else:
            checkpoint = Path(family.materialise(twins.original(cfg), tmp))
        # Checkpoints inside the model dir, or elsewhere in the working directory, are recorded
        # relative to it, so the run can move (and the temp dir be renamed) without breaking
        # the card; checkpoints outside it (an HF cache, /data) stay where they are.
        resolved = checkpoint.resolve()
        inside = resolved.is_relative_to(Path.cwd().resolve()) or resolved.is_relative_to(
            tmp.resolve()
        )
        source = os.path.relpath(resolved, tmp.resolve()) if inside else str(resolved)
        weight_files = family.weight_files(checkpoint)
        if "twin_seed" in cfg:
            encoder = family.load(twins.original(cfg), checkpoint)
            twins.save_twin(encoder, cfg["twin_seed"], tmp / twins.WEIGHTS)
            weight_files = [tmp / twins.WEIGHTS]
        card = {
            "model": name,
            "family": cfg["family"],
            "init": "random_twin" if "twin_seed" in cfg else cfg["init"],
            "source": source,
            "weights_sha256": weights_digest(weight_files),
            "layers": [
                {"name": s.name, "frame_rate": s.frame_rate}
                for s in family.layer_specs(twins.original(cfg))
            ],
            "provenance": provenance(cfg),
        }
        if trained is not None:
            summary = read_json(Path(trained) / TRAINING_SUMMARY)
            card["training"] = {k: v for k, v in summary.items() if k != "provenance"}
            card["training"]["origin"] = origin
            if epoch is not None:
                kept = {s["epoch"]: s for s in summary.get(SNAPSHOTS, [])}
                card["training"]["snapshot"] = kept[epoch]
        write_json(tmp / CARD, card)
    return card


def _training_origin(trained: Path) -> dict[str, Any]:
    """Where a trained checkpoint came from; a shipped one is first checked against its sums."""
    from strata.training import shipped

    found = shipped.origin(trained)
    if found["source"] == "shipped":
        shipped.verify(trained)
        found["sha256_verified"] = True
    return found


def _link_tree(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose files are hard links when they can be (checkpoints of
    full-size models are large)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no trained checkpoint; run the train_model rule")
    shutil.copytree(source, target, copy_function=link)
    return target


def weights_digest(files: list[Path]) -> str:
    """A single weights file's plain sha256, checkable with ``sha256sum``; else one digest."""
    return sha256_file(files[0]) if len(files) == 1 else sha256_files(files)


def read_card(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / CARD
    if not path.exists():
        raise FileNotFoundError(f"{path}: no model card; run the prepare_model rule first")
    return read_json(path)


def _check_weights(model_dir: Path, card: dict[str, Any], files: list[Path]) -> None:
    """The weights are the bytes prepare_model hashed into the card: not truncated, not
    replaced (a checkpoint outside the run is named as such)."""
    if weights_digest(files) == card["weights_sha256"]:
        return
    where = files[0] if len(files) == 1 else files[0].parent
    inside = where.resolve().is_relative_to(model_dir.resolve())
    what = (
        ""
        if inside
        else (
            "; if you replaced it on purpose, remove "
            f"{model_dir} and run again (prepare_model hashes the new one)"
        )
    )
    raise DamagedFileError(
        where,
        f"its sha256 is not the weights_sha256 {model_dir / CARD} recorded: truncated or changed "
        f"since prepare_model hashed it{what}",
    )


def load_model(model_dir: Path, cfg: dict[str, Any]) -> tuple[Encoder, dict[str, Any]]:
    """Load the encoder a card describes; its layers must be the ones the DAG was built with."""
    card = read_card(model_dir)
    checkpoint = Path(model_dir) / card["source"]  # an absolute source stays absolute
    family = get_family(card["family"])
    twin = card["init"] == "random_twin"
    weights = [Path(model_dir) / twins.WEIGHTS] if twin else family.weight_files(checkpoint)
    _check_weights(Path(model_dir), card, weights)
    encoder = family.load(twins.original(cfg), checkpoint)
    if twin:
        twins.load_twin(encoder, Path(model_dir) / twins.WEIGHTS)
    expected = [layer["name"] for layer in card["layers"]]
    actual = [spec.name for spec in encoder.layers]
    if actual != expected:
        raise ValueError(f"{model_dir}: model exposes layers {actual}, card says {expected}")
    return encoder, card
