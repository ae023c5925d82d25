"""Checkpoints shipped in the repository: trained ahead of time by the project's own rule, each
in ``checkpoints/<model>/`` exactly as ``train_model`` wrote it (``checkpoint/``, the loss
table, ``training.json``) plus ``SHA256SUMS`` and ``shipped.json`` (the training dataset's
config, machine, date).

With ``training: {checkpoints: shipped}`` the DAG loads them instead of training (each checked
against its sha256 and against the model's config); ``training: {checkpoints: train}``
(``make train``) retrains them with the same rule, and :func:`ship` writes them back.

    python -m strata.training.shipped results/trained checkpoints [model ...]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from strata.io import atomic_dir, read_json, write_json
from strata.models.seeds import expand_models
from strata.models.series import identity
from strata.provenance import code_version, sha256_file
from strata.schema import ConfigError
from strata.training import SNAPSHOTS, SUMMARY, snapshot_dir

SUMS = "SHA256SUMS"
SHIPPED = "shipped.json"
DIR = "checkpoints"  # beside the Snakefile


def _files(root: Path) -> list[Path]:
    skip = {SUMS, SHIPPED}
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in skip)


def write_sums(root: Path) -> None:
    """``sha256sum -c``-compatible sums of every file under ``root``."""
    lines = [f"{sha256_file(p)}  {p.relative_to(root).as_posix()}" for p in _files(root)]
    (root / SUMS).write_text("\n".join(lines) + "\n")


def verify(root: Path) -> None:
    """Every file ``SHA256SUMS`` lists has its recorded hash and none is missing or extra;
    raise naming the first that differs."""
    root = Path(root)
    sums = root / SUMS
    if not sums.is_file():
        raise FileNotFoundError(f"{sums}: a shipped checkpoint needs its sha256 sums")
    recorded = dict(reversed(line.split("  ", 1)) for line in sums.read_text().splitlines())
    present = {p.relative_to(root).as_posix() for p in _files(root)}
    unmatched = sorted(present ^ set(recorded))
    if unmatched:
        name = unmatched[0]
        state = "not listed in" if name in present else "missing, listed in"
        raise ValueError(f"{root / name}: {state} {sums}")
    for name, digest in sorted(recorded.items()):
        if sha256_file(root / name) != digest:
            raise ValueError(f"{root / name}: sha256 differs from {sums} (a damaged checkpoint)")


def origin(run: Path) -> dict[str, Any]:
    """Where a training output came from: shipped (with its machine and date) or this run."""
    run = Path(run)
    if not (run / SHIPPED).is_file():
        return {"source": "trained in this run", "path": str(run)}
    info = read_json(run / SHIPPED)
    return {"source": "shipped", "path": str(run)} | {
        k: info[k] for k in ("machine", "shipped", "reproduce")
    }


def _differences(a: Any, b: Any, key: str) -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{key}.{k}")
        ]
    return [] if a == b else [f"{key}: {b!r} in the config, {a!r} in the checkpoint"]


def check_shipped(
    root: Path, name: str, model: Mapping[str, Any], dataset: Mapping[str, Any]
) -> None:
    """The shipped checkpoint of model ``name`` exists and was trained with this very model and
    dataset config; else a ConfigError naming the key that differs."""
    folder = Path(root) / name
    key = f"models.{name}"
    if not (folder / SUMMARY).is_file() or not (folder / SHIPPED).is_file():
        raise ConfigError(
            key, f"no shipped checkpoint in {folder}: train it (training.checkpoints: train)"
        )
    record = read_json(folder / SUMMARY)["provenance"]["config"]
    shipped = read_json(folder / SHIPPED)["dataset_config"]
    diffs = _differences(identity(record), identity(model), key)
    diffs += _differences(shipped, dict(dataset), f"datasets.{model['train']['dataset']}")
    if diffs:
        raise ConfigError(
            key,
            f"the shipped checkpoint {folder} was trained otherwise ({'; '.join(diffs[:3])}): "
            "retrain with training.checkpoints: train (make train)",
        )


def check_snapshot(root: Path, name: str, epoch: int) -> None:
    """Model ``name``'s shipped checkpoint holds the snapshot after ``epoch`` epochs."""
    folder = Path(root) / name
    if not snapshot_dir(folder, epoch).is_dir():
        there = sorted(int(p.name[1:]) for p in (folder / SNAPSHOTS).glob("e*"))
        raise ConfigError(
            f"models.{name}.{SNAPSHOTS}",
            f"epoch {epoch} is not shipped in {folder} (epochs {there} and the last are); "
            "retrain with training.checkpoints: train and ship it (make train)",
        )


def require_committed(version: str, what: str) -> None:
    """A shipped checkpoint's code must be recoverable from the repository: trained from a
    committed tree (``code_version`` naming a commit, not ``-dirty`` or ``unknown``)."""
    commit = version.partition("+")[2]
    if not commit or commit == "unknown" or commit.endswith("-dirty"):
        raise ValueError(
            f"{what}: code_version {version} is not a commit of the repository (a dirty or "
            "unknown tree); commit your changes, then retrain (make train) and ship"
        )


def ship(
    trained: Path, dest: Path, dataset: Mapping[str, Any], snapshots: Collection[int] = ()
) -> dict[str, Any]:
    """Copy one training output ``trained`` to ``dest`` with its sums and ``shipped.json``,
    of its kept snapshots only ``snapshots`` (the repository stays small); refuse one trained
    from code that is not a commit."""
    trained = Path(trained)
    summary = read_json(trained / SUMMARY)
    version = summary.get("provenance", {}).get("code_version", "none recorded")
    require_committed(version, f"{trained}/{SUMMARY}")
    info = {
        "model": trained.name,
        "dataset_config": dict(dataset),
        "machine": f"{platform.node()} ({platform.machine()}, {platform.system()})",
        "shipped": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "reproduce": "make train (training.checkpoints: train)",
    }
    missing = [e for e in snapshots if not snapshot_dir(trained, e).is_dir()]
    if missing:
        raise ConfigError(
            f"models.{trained.name}.train.{SNAPSHOTS}",
            f"{trained}: snapshots {missing} were not kept by its training "
            "(add them to train.snapshots and retrain)",
        )

    def skip(folder: str, names: list[str]) -> set[str]:
        # Snakemake's marker of a directory output is not part of the checkpoint; the
        # snapshots are copied below, only those asked for.
        top = Path(folder) == trained
        return {n for n in names if n == ".snakemake_timestamp" or (top and n == SNAPSHOTS)}

    with atomic_dir(Path(dest)) as tmp:
        shutil.copytree(trained, tmp, dirs_exist_ok=True, ignore=skip)
        for epoch in snapshots:
            shutil.copytree(snapshot_dir(trained, epoch), snapshot_dir(tmp, epoch))
        write_json(tmp / SHIPPED, info)
        write_sums(tmp)
    return info


def series_snapshots(configs: list[Path]) -> dict[str, set[int]]:
    """Model → the snapshot epochs the series of ``configs`` read (to ship)."""
    import yaml

    from strata.models.series import EPOCH, base_of

    wanted: dict[str, set[int]] = {}
    for path in configs:
        models = expand_models(yaml.safe_load(Path(path).read_text())["models"])
        for name, cfg in models.items():
            if EPOCH in cfg:
                wanted.setdefault(base_of(name), set()).add(cfg[EPOCH])
    return wanted


def main(argv: list[str] | None = None) -> None:
    import yaml

    parser = argparse.ArgumentParser(description="Ship trained models into the repository.")
    parser.add_argument("trained", type=Path, help="train_model outputs (results/trained)")
    parser.add_argument("dest", type=Path, help="where shipped checkpoints live (checkpoints)")
    parser.add_argument("models", nargs="*", help="models to ship (default: every trained one)")
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument(
        "--series",
        type=Path,
        action="append",
        default=[],
        help="a config whose checkpoint series read snapshots: ship those too",
    )
    parser.add_argument(
        "--check-tree", action="store_true", help="only check the checkout is committed"
    )
    args = parser.parse_args(argv)
    if args.check_tree:  # before hours of training whose checkpoints could not be shipped
        require_committed(code_version(), "this checkout")
        return
    config = yaml.safe_load(args.config.read_text())
    models = expand_models(config["models"])  # a seeded model ships member by member
    trained = [m for m, spec in models.items() if "train" in spec and "snapshot" not in spec]
    for model in args.models or trained:
        dataset = config["datasets"][models[model]["train"]["dataset"]]
        snapshots = sorted(series_snapshots(args.series).get(model, ()))
        ship(args.trained / model, args.dest / model, dataset, snapshots)
        print(f"shipped {model} -> {args.dest / model} (snapshots {snapshots})")


if __name__ == "__main__":
    main()
