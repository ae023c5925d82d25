"""The snapshots a training run keeps: its random init is the init: random model of the same
seed, its last epoch is the final checkpoint byte for byte, and the summary gives each one's
step and loss from the loss table."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from training_setup import EPOCHS, SNAPSHOTS

from strata.io import read_json
from strata.models.card import load_model
from strata.models.registry import get_family
from strata.training import LOSSES, SUMMARY, snapshot_dir


def test_the_summary_gives_each_snapshot_its_step_and_mean_loss(trained_run):
    objective, _, trained, _, _ = trained_run
    losses = pd.read_parquet(trained / LOSSES)
    steps = losses.groupby("epoch")["step"].max()
    means = losses.groupby("epoch")["loss"].mean()
    expected = [
        {"epoch": e, "step": int(steps[e]) if e else 0, "loss": means[e] if e else None}
        for e in SNAPSHOTS[objective]
    ]
    kept = read_json(trained / SUMMARY)["snapshots"]
    assert [s["epoch"] for s in kept] == [e["epoch"] for e in expected]
    for got, want in zip(kept, expected, strict=True):
        assert got["step"] == want["step"]
        assert got["loss"] == pytest.approx(want["loss"])
    assert sorted(p.name for p in (trained / "snapshots").iterdir()) == sorted(
        f"e{e}" for e in SNAPSHOTS[objective]
    )


def test_the_last_snapshot_is_the_final_checkpoint_byte_for_byte(trained_run):
    objective, _, trained, _, _ = trained_run
    last = snapshot_dir(trained, EPOCHS[objective]) / "checkpoint"
    final = trained / "checkpoint"
    files = sorted(p.relative_to(final) for p in final.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(last) for p in last.rglob("*") if p.is_file())
    for name in files:
        assert (last / name).read_bytes() == (final / name).read_bytes(), name


def test_snapshot_zero_is_the_random_init_of_the_same_seed(trained_run, corpus):
    _, cfg, trained, _, init_dir = trained_run
    init = {k: v for k, v in cfg.items() if k != "train"} | {"init": "random"}
    first = get_family(cfg["family"]).load(cfg, snapshot_dir(trained, 0) / "checkpoint")
    random_init = load_model(init_dir, init)[0]
    after_one = get_family(cfg["family"]).load(cfg, snapshot_dir(trained, 1) / "checkpoint")
    wave = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([16000])
    with torch.inference_mode():
        a, b, c = (e(wave, lengths) for e in (first, random_init, after_one))
    for layer in a:
        torch.testing.assert_close(a[layer].hidden, b[layer].hidden, rtol=0, atol=0)
    # and training moved it: the first epoch's weights give other outputs
    assert any(not torch.equal(a[layer].hidden, c[layer].hidden) for layer in a)
