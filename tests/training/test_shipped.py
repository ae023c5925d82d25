"""The checkpoints shipped in checkpoints/: intact (sha256), trained with the default config,
loadable through the DAG's adapters, refused when damaged or trained otherwise, and reproduced
step for step by the training rule."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from strata.config import ConfigError
from strata.datasets.registry import prepare_dataset
from strata.io import read_json, write_json
from strata.models.card import load_model, prepare_model
from strata.models.seeds import expand_models
from strata.report.build import _origin
from strata.training import LOSSES, SUMMARY
from strata.training.run import first_steps
from strata.training.shipped import (
    SUMS,
    check_shipped,
    check_snapshot,
    require_committed,
    series_snapshots,
    ship,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())
SHIPPED = ROOT / "checkpoints"
# Every shipped checkpoint: each seed of the default config's trained models (<name>_s<seed>).
TRAINED = sorted(p.name for p in SHIPPED.iterdir() if p.is_dir())
MODELS = expand_models(DEFAULT["models"])  # seeds expanded: <name>_s<seed>


def config_of(model: str) -> dict:
    """The model config a shipped checkpoint was trained with."""
    return MODELS[model]


def dataset_of(model: str) -> dict:
    return DEFAULT["datasets"][config_of(model)["train"]["dataset"]]


def test_every_trained_model_of_the_default_config_is_shipped():
    assert {m for m, spec in MODELS.items() if spec["init"] == "trained"} == set(TRAINED)


@pytest.mark.parametrize("model", TRAINED)
def test_a_shipped_checkpoint_is_intact_matches_the_config_and_loads(model, tmp_path):
    verify(SHIPPED / model)
    check_shipped(SHIPPED, model, config_of(model), dataset_of(model))
    card = prepare_model(model, config_of(model), tmp_path / model, SHIPPED / model)
    assert card["training"]["origin"]["source"] == "shipped"
    assert card["training"]["origin"]["sha256_verified"] is True
    assert _origin(SHIPPED / model).startswith(f"shipped in checkpoints/{model}, trained 20")
    assert _origin(tmp_path / model) == "trained in this run"  # a card dir has no shipped.json
    losses = pd.read_parquet(SHIPPED / model / LOSSES)
    assert card["training"]["steps"] == len(losses)
    encoder, _ = load_model(tmp_path / model, config_of(model))
    wave = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        out = encoder(wave, torch.tensor([16000]))
    assert [name for name in out] == [spec.name for spec in encoder.layers]
    assert all(torch.isfinite(layer.hidden).all() for layer in out.values())


@pytest.mark.parametrize("model", TRAINED)
def test_a_shipped_checkpoint_was_trained_from_a_commit_of_this_repository(model):
    """Its code is recoverable: code_version names a commit in the history, not a dirty tree."""
    import subprocess

    version = read_json(SHIPPED / model / SUMMARY)["provenance"]["code_version"]
    require_committed(version, model)
    commit = version.split("+")[1]
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"])
    assert found.returncode == 0, f"{model}: {commit} is not a commit of this repository"


def test_a_training_output_from_a_dirty_tree_is_not_shipped(tmp_path):
    trained = tmp_path / "results" / "trained" / TRAINED[0]
    shutil.copytree(SHIPPED / TRAINED[0], trained)
    summary = read_json(trained / SUMMARY)
    summary["provenance"]["code_version"] = "0.1.0+56c8fc2187d9-dirty"
    write_json(trained / SUMMARY, summary)
    with pytest.raises(ValueError, match=r"0.1.0\+56c8fc2187d9-dirty is not a commit .* commit"):
        ship(trained, tmp_path / "checkpoints" / TRAINED[0], dataset_of(TRAINED[0]))
    assert not (tmp_path / "checkpoints").exists()


def test_a_damaged_checkpoint_or_another_config_is_refused(tmp_path):
    model = TRAINED[0]
    copy_dir = tmp_path / model
    shutil.copytree(SHIPPED / model, copy_dir)
    weights = max((p for p in copy_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=weights.name):
        verify(copy_dir)
    with pytest.raises(ValueError, match=weights.name):
        prepare_model(model, config_of(model), tmp_path / "card", copy_dir)
    (copy_dir / "stray.txt").write_text("not shipped")
    with pytest.raises(ValueError, match="stray.txt.*not listed"):
        verify(copy_dir)
    other = copy.deepcopy(config_of(model))
    other["train"]["lr"] *= 2
    with pytest.raises(ConfigError, match=rf"models\.{model}\.train\.lr"):
        check_shipped(SHIPPED, model, other, dataset_of(model))
    # The snapshots a run kept do not make it another model: a config keeping others matches.
    kept = copy.deepcopy(config_of(model))
    kept["train"]["snapshots"] = [0, 2]
    check_shipped(SHIPPED, model, kept, dataset_of(model))
    dataset = {**dataset_of(model), "seed": 7}
    with pytest.raises(ConfigError, match=r"datasets\.\w+\.seed"):
        check_shipped(SHIPPED, model, config_of(model), dataset)
    with pytest.raises(ConfigError, match="no shipped checkpoint"):
        check_shipped(tmp_path, "nothing_here", config_of(model), dataset_of(model))
    assert (SHIPPED / model / SUMS).read_text().count("\n") >= 3


@pytest.fixture(scope="module")
def pretrain_corpus(tmp_path_factory):
    """The pretraining corpus, synthesised again from its config."""
    out = tmp_path_factory.mktemp("pretrain") / "pretrain"
    datasets = {dataset_of(m)["seed"]: dataset_of(m) for m in TRAINED}
    assert len(datasets) == 1  # one pretraining corpus for the three families
    prepare_dataset(copy.deepcopy(next(iter(datasets.values()))), out, threads=2)
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("model", TRAINED)
def test_the_training_rule_reproduces_the_first_steps_of_a_shipped_checkpoint(
    model, pretrain_corpus
):
    """Same corpus (re-synthesised), same seed, same code: the first steps' losses are the
    shipped ones, so the checkpoint is what `make train` makes."""
    torch.set_num_threads(1)  # as the rule runs (threads: 1)
    shipped = pd.read_parquet(SHIPPED / model / LOSSES)
    rows = first_steps(config_of(model), pretrain_corpus, steps=3)
    np.testing.assert_allclose([r["loss"] for r in rows], shipped["loss"][:3], rtol=1e-5)
    assert [r["lr"] for r in rows] == pytest.approx(list(shipped["lr"][:3]))


def test_only_the_snapshots_a_series_reads_are_shipped_and_a_missing_one_is_named(tmp_path):
    model = TRAINED[0]
    trained = tmp_path / "results" / "trained" / model
    shutil.copytree(SHIPPED / model, trained)
    summary = read_json(trained / SUMMARY)
    summary["snapshots"] = [{"epoch": e, "step": 10 * e, "loss": None} for e in (0, 1, 2)]
    write_json(trained / SUMMARY, summary)
    shutil.rmtree(trained / "snapshots", ignore_errors=True)  # the shipped ones, if any
    for epoch in (0, 1, 2):
        shutil.copytree(trained / "checkpoint", trained / f"snapshots/e{epoch}/checkpoint")
    dest = tmp_path / "checkpoints"
    ship(trained, dest / model, dataset_of(model), snapshots=[2])
    assert sorted(p.name for p in (dest / model / "snapshots").iterdir()) == ["e2"]
    verify(dest / model)  # the sums cover the snapshot
    check_snapshot(dest, model, 2)
    with pytest.raises(ConfigError, match=rf"epoch 1 is not shipped in .*{model} \(epochs \[2\]"):
        check_snapshot(dest, model, 1)
    ship(trained, dest / model, dataset_of(model))
    assert not (dest / model / "snapshots").exists()
    with pytest.raises(ConfigError, match=rf"{model}: snapshots \[5\] were not kept"):
        ship(trained, tmp_path / "elsewhere", dataset_of(model), snapshots=[2, 5])
    assert not (tmp_path / "elsewhere").exists()  # nothing half-written


def test_make_train_ships_the_snapshots_of_the_dynamics_series():
    wanted = series_snapshots([ROOT / "configs/dynamics.yaml"])
    series = yaml.safe_load((ROOT / "configs/dynamics.yaml").read_text())["models"]
    expected = {
        f"{name}_s0": set(cfg["snapshots"]) - {0, cfg["train"]["epochs"]}
        for name, cfg in series.items()
        if "snapshots" in cfg
    }
    assert wanted == expected and len(expected) == 3
