"""A checkpoint series expands into one model per checkpoint, in training order, sharing the
models the config already has; what it cannot load is an error naming the key."""

from __future__ import annotations

import copy

import pytest
import torch
import yaml
from defaults import default_config

from strata.config import validate_config
from strata.models.seeds import expand_models, with_seeds
from strata.models.series import EPOCH, identity, series_of
from strata.plan.study import Study
from strata.schema import ConfigError


@pytest.fixture
def config():
    return default_config()


def test_a_trained_series_is_its_init_its_kept_epochs_and_itself(config):
    config["models"]["ecapa_dino"]["snapshots"] = [8, 0, 1, 24]
    validate_config(config)
    series = series_of(with_seeds(config["models"]))["ecapa_dino_s1"]
    assert series == [
        ("e0", 0, "ecapa_random_s1"),  # the configured random init of that seed, not a copy
        ("e1", 1, "ecapa_dino_s1@e1"),
        ("e8", 8, "ecapa_dino_s1@e8"),
        ("e24", 24, "ecapa_dino_s1"),  # the default run's model, cached once
    ]
    models = expand_models(config["models"])
    assert models["ecapa_dino_s1@e8"] == {**models["ecapa_dino_s1"], EPOCH: 8}
    plain = expand_models(default_config()["models"])
    assert models["ecapa_dino_s1"] == plain["ecapa_dino_s1"]
    assert not any(name.endswith("@e0") for name in models)


def test_without_a_configured_init_the_series_has_its_own(config):
    del config["models"]["ecapa_random"]
    config["models"]["ecapa_aam"]["snapshots"] = [0, 12]
    models = expand_models(config["models"])
    start = models["ecapa_aam_s2@e0"]
    assert start["init"] == "random" and start["seed"] == 2 and "train" not in start
    assert {k: v for k, v in start.items() if k != "init"} == {
        k: v for k, v in models["ecapa_aam_s2"].items() if k not in ("init", "train")
    }


def test_an_epoch_training_does_not_keep_is_named(config):
    config["models"]["ecapa_aam"]["snapshots"] = [0, 5, 12]
    with pytest.raises(ConfigError, match=r"models\.ecapa_aam_s0\.snapshots.*\[5\].*retrain"):
        validate_config(config)


def test_which_snapshots_training_keeps_is_not_part_of_the_model(config):
    model = expand_models(config["models"])["ecapa_aam_s0"]
    other = copy.deepcopy(model)
    other["train"]["snapshots"] = [3]
    assert identity(model) == identity(other)
    assert "snapshots" not in identity(model)["train"]


def test_each_checkpoint_is_compared_with_the_first_and_the_last(config):
    config["models"]["wavlm_mp"]["snapshots"] = [0, 2, 6]
    pairs = Study(config).series_pairs()
    assert pairs[:3] == [
        ("wavlm_random_s0", "wavlm_mp_s0"),
        ("wavlm_random_s0", "wavlm_mp_s0@e2"),
        ("wavlm_mp_s0@e2", "wavlm_mp_s0"),
    ]
    assert set(Study(config).model_pairs()) >= set(pairs)


def _state_dicts(folder, names):
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

    folder.mkdir()
    for name in names:
        net = ECAPA_TDNN(40, channels=[16, 16, 16, 16, 48], lin_neurons=8)
        torch.save(net.state_dict(), folder / name)


USER = {
    "family": "speechbrain_ecapa",
    "init": "pretrained",
    "config": {"n_mels": 40, "channels": [16, 16, 16, 16, 48], "lin_neurons": 8},
    "frontend": "speechbrain_fbank",
}


def test_a_folder_of_state_dicts_named_by_step_is_a_series_in_step_order(config, tmp_path):
    _state_dicts(tmp_path / "ckpts", ["step_900.pt", "step_1000.pt", "step_50.pt"])
    config["models"]["mine"] = {**USER, "snapshots": {"files": str(tmp_path / "ckpts/*.pt")}}
    validate_config(config)
    series = series_of(with_seeds(config["models"]))["mine"]
    assert series == [
        ("s50", 50, "mine@s50"),
        ("s900", 900, "mine@s900"),
        ("s1000", 1000, "mine@s1000"),
    ]
    models = expand_models(config["models"])
    assert models["mine@s900"]["path"] == str(tmp_path / "ckpts/step_900.pt")
    assert "mine" not in models and "snapshots" not in models["mine@s50"]
    specs = Study(config).specs  # each loads its layers like any state-dict model
    assert specs["mine@s50"] == specs["mine@s1000"] and len(specs["mine@s50"]) > 3


def test_a_file_without_a_step_or_two_with_the_same_are_named(config, tmp_path):
    _state_dicts(tmp_path / "a", ["final.pt", "step_1.pt"])
    config["models"]["mine"] = {**USER, "snapshots": {"files": str(tmp_path / "a/*.pt")}}
    with pytest.raises(ConfigError, match=r"models\.mine\.snapshots\.files.*'final'"):
        validate_config(copy.deepcopy(config))
    _state_dicts(tmp_path / "b", ["run1_step_10.pt", "run2_step_10.pt"])
    config["models"]["mine"]["snapshots"]["files"] = str(tmp_path / "b/*.pt")
    with pytest.raises(ConfigError, match=r"same step: \[10, 10\]"):
        validate_config(copy.deepcopy(config))
    config["models"]["mine"]["snapshots"]["files"] = str(tmp_path / "none/*.pt")
    with pytest.raises(ConfigError, match="no file matches"):
        validate_config(config)


def test_a_list_of_epochs_on_a_pretrained_model_is_refused(config):
    config["models"]["ge2e"]["snapshots"] = [0, 1]
    with pytest.raises(ConfigError, match=r"models\.ge2e\.snapshots.*init: trained"):
        validate_config(config)


def test_the_schema_documents_the_key(config):
    config["models"]["ecapa_aam"]["snapshots"] = [0]
    with pytest.raises(ConfigError, match="snapshots"):
        validate_config(config)
    assert yaml.safe_dump(config)
