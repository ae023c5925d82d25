"""Each objective lowers its loss, and its checkpoint reloads through the family's adapter
giving exactly the trained network's outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from training_setup import EPOCHS, trained_config

from strata.io import read_json
from strata.models.card import read_card
from strata.models.hf import normalise_waves
from strata.models.registry import get_family
from strata.training import LOSSES, OBJECTIVES, SUMMARY
from strata.training.data import training_set
from strata.training.loop import fit
from strata.training.run import LOOP_DEFAULTS, objective_class


def test_loss_decreases_and_the_table_says_so(trained_run, corpus):
    objective, _, trained, model_dir, _ = trained_run
    losses = pd.read_parquet(trained / LOSSES)
    means = losses.groupby("epoch")["loss"].mean()
    assert list(means.index) == list(range(1, EPOCHS[objective] + 1))
    assert means.iloc[-1] < 0.9 * means.iloc[0], (objective, means.tolist())
    summary = read_json(trained / SUMMARY)
    assert summary["first_epoch_loss"] == pytest.approx(means.iloc[0])
    assert summary["last_epoch_loss"] == pytest.approx(means.iloc[-1])
    assert summary["steps"] == len(losses) == losses["step"].max()
    manifest = pd.read_parquet(Path(corpus) / "manifest.parquet")
    assert summary["utterances"] == (manifest["split"] == "train").sum()
    assert read_card(model_dir)["training"]["objective"] == objective


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_checkpoint_reloads_through_its_adapter_with_identical_outputs(name, corpus, tmp_path):
    torch.set_num_threads(1)
    cfg = trained_config(name, 1)
    settings = LOOP_DEFAULTS | cfg["train"] | {"seed": cfg["seed"]}
    init = {k: v for k, v in cfg.items() if k != "train"}
    data = training_set(corpus, "small")
    objective = objective_class(name)(init, settings, data)
    fit(objective, settings, tmp_path / "state", "digest", progress=False)
    encoder = get_family(cfg["family"]).load(cfg, objective.save(tmp_path))
    for i in (0, 7):
        wave = data.wave(i)[None]
        outputs = encoder(wave, torch.tensor([wave.shape[1]]))
        with torch.no_grad():
            if name == "masked_prediction":
                mask = torch.ones_like(wave, dtype=torch.bool)
                hidden = objective.model(
                    normalise_waves(wave, mask),
                    attention_mask=mask.long(),
                    output_hidden_states=True,
                ).hidden_states
                expected = dict(zip([s.name for s in encoder.layers], hidden, strict=True))
            else:
                network = objective.teacher if name == "dino" else objective.net.encoder
                expected = {"embedding": objective.net.embed(wave, network)[:, None]}
        for layer, value in expected.items():
            torch.testing.assert_close(outputs[layer].hidden, value, atol=1e-5, rtol=1e-4)


def test_only_the_train_split_is_read(corpus):
    data = training_set(corpus, "small")
    manifest = pd.read_parquet(Path(corpus) / "manifest.parquet")
    train = manifest[manifest["split"] == "train"]
    assert sorted(data.utt_ids) == sorted(train["utt_id"]) and len(data) < len(manifest)
