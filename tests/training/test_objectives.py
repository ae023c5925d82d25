"""Each objective lowers its loss, and its checkpoint reloads through the family's adapter
giving exactly the trained network's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from training_setup import EPOCHS, trained_config

from strata.io import read_json
from strata.models.card import read_card
from strata.models.hf import normalise_waves
from strata.models.registry import get_family
from strata.training import LOSSES, OBJECTIVES, SUMMARY
from strata.training.data import training_set
from strata.training.loop import fit
from strata.training.run import LOOP_DEFAULTS, objective_class, train_model


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


def test_min_seconds_leaves_out_exactly_the_shorter_utterances(corpus):
    manifest = pd.read_parquet(Path(corpus) / "manifest.parquet")
    train = manifest[manifest["split"] == "train"]
    cut = float(train["duration"].median())
    data = training_set(corpus, "small", min_seconds=cut)
    assert sorted(data.utt_ids) == sorted(train.loc[train["duration"] >= cut, "utt_id"])
    assert 0 < len(data) < len(train)
    with pytest.raises(ValueError, match="no training utterance lasts min_seconds 60"):
        training_set(corpus, "small", min_seconds=60)


def test_a_second_iteration_clusters_the_first_models_layer(trained_run, corpus, tmp_path):
    objective, cfg, _, model_dir, _ = trained_run
    if objective != "masked_prediction":
        pytest.skip("a second iteration is masked prediction's")
    from strata.models.card import load_model
    from strata.training.masked import MaskedPrediction

    torch.set_num_threads(1)
    targets = {"source": "first", "layer": "layer_03", "clusters": 12}
    second = trained_config(objective, 2, targets=targets)
    settings = LOOP_DEFAULTS | second["train"] | {"seed": 0}
    init = {k: v for k, v in second.items() if k != "train"}
    data = training_set(corpus, "small")
    encoder, _ = load_model(model_dir, cfg)
    from_layer = MaskedPrediction(init, settings, data, encoder)
    from_mfcc = MaskedPrediction(init, settings | {"targets": {"clusters": 12}}, data)
    for a, b in zip(from_layer.labels, from_mfcc.labels, strict=True):
        assert len(a) == len(b)  # both at the model's 20 ms frames
    assert len({int(x) for row in from_layer.labels for x in row}) == 12
    # Another partition of the frames, not the MFCC one relabelled.
    flat = [np.concatenate(m.labels) for m in (from_layer, from_mfcc)]
    assert adjusted_rand_score(*flat) < 0.8
    summary = train_model("second", second, corpus, tmp_path / "second", (model_dir, cfg))
    assert summary["steps"] > 0 and (tmp_path / "second" / "checkpoint").is_dir()
