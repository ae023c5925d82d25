"""Training seeds: ``seeds: [...]`` on a random-init or trained model is one model per seed,
``<name>_s<seed>``, each exactly what ``seed: <seed>`` configures."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml
from defaults import default_config

from strata.config import ConfigError, validate_config
from strata.models.seeds import (
    expand_models,
    families,
    member_roles,
    pair_members,
    seed_member,
    with_seeds,
)
from strata.models.twins import twin_of
from strata.plan.study import Study
from strata.training import SUMMARY
from strata.training.shipped import SHIPPED, check_shipped, main

ROOT = Path(__file__).resolve().parents[2]
SEEDED = ["wavlm_mp", "wavlm_random", "ecapa_dino", "ecapa_aam", "ecapa_random"]


DEFAULT = default_config(seeds=False)


def seeded(config: dict, seeds: list[int], names: list[str] = SEEDED) -> dict:
    """``config`` with ``seed`` replaced by ``seeds`` (in its place) on ``names``."""
    config = copy.deepcopy(config)
    for name in names:
        model = config["models"][name]
        config["models"][name] = {
            ("seeds" if k == "seed" else k): (seeds if k == "seed" else v) for k, v in model.items()
        }
    return config


def single(name: str, seed: int) -> dict:
    """The default model ``name`` configured with one ``seed``."""
    return DEFAULT["models"][name] | {"seed": seed}


def test_a_seeded_model_is_one_model_per_seed_in_seed_order():
    models = with_seeds(seeded(DEFAULT, [2, 0])["models"])
    assert list(models) == [
        "wavlm_mp_s2",
        "wavlm_mp_s0",
        "wavlm_random_s2",
        "wavlm_random_s0",
        "ecapa_dino_s2",
        "ecapa_dino_s0",
        "ecapa_aam_s2",
        "ecapa_aam_s0",
        "ecapa_random_s2",
        "ecapa_random_s0",
        "ge2e",
    ]
    for name in SEEDED:
        for seed in (0, 2):
            # The very slice a single-seed config gives, key order included.
            member = models[f"{name}_s{seed}"]
            assert member == single(name, seed)
            assert list(member) == list(single(name, seed))
    assert models["ge2e"] == DEFAULT["models"]["ge2e"]


def test_families_map_configured_names_to_members_without_twins():
    config = seeded(DEFAULT, [0, 1], ["wavlm_mp"])
    config["models"]["wavlm_mp"]["random_twin"] = {"seed": 5}
    assert families(config["models"]) == {
        "wavlm_mp": ["wavlm_mp_s0", "wavlm_mp_s1"],
        "wavlm_random": ["wavlm_random"],
        "ecapa_dino": ["ecapa_dino"],
        "ecapa_aam": ["ecapa_aam"],
        "ecapa_random": ["ecapa_random"],
        "ge2e": ["ge2e"],
    }
    assert Study(config).families == families(config["models"])


def test_twins_expand_after_seeds_and_roles_carry_to_every_member():
    config = seeded(DEFAULT, [0, 1], ["wavlm_mp"])
    config["models"]["wavlm_mp"] |= {"random_twin": {"seed": 5}, "role": "speech_ssl"}
    models = expand_models(config["models"])
    assert list(models)[:4] == [
        "wavlm_mp_s0",
        "wavlm_mp_s0_twin",
        "wavlm_mp_s1",
        "wavlm_mp_s1_twin",
    ]
    assert (
        models["wavlm_mp_s1_twin"]["seed"] == 5 and models["wavlm_mp_s1_twin"]["init"] == "random"
    )
    assert "role" not in models["wavlm_mp_s1"] and "random_twin" not in models["wavlm_mp_s1"]
    roles = {m: cfg["role"] for m, cfg in config["models"].items() if "role" in cfg}
    del roles["wavlm_mp"]
    assert member_roles(config["models"]) == roles | {
        "wavlm_mp_s0": "speech_ssl",
        "wavlm_mp_s1": "speech_ssl",
    }
    assert Study(config).models == models


def test_a_member_named_like_a_configured_model_is_refused():
    config = seeded(DEFAULT, [0, 1], ["wavlm_random"])
    config["models"]["wavlm_random_s1"] = single("wavlm_random", 7)
    with pytest.raises(ConfigError) as err:
        with_seeds(config["models"])
    assert err.value.key == "models.wavlm_random.seeds"
    assert "'wavlm_random_s1' is taken" in str(err.value)
    with pytest.raises(ConfigError, match=r"'models\.wavlm_random\.seeds'"):
        validate_config(config)


@pytest.mark.parametrize(
    ("name", "change", "key"),
    [
        ("wavlm_random", {"seed": 0, "seeds": [0, 1]}, "models.wavlm_random.seeds"),
        ("ecapa_aam", {"seed": 0, "seeds": [1]}, "models.ecapa_aam.seeds"),
        ("ge2e", {"seeds": [0, 1]}, "models.ge2e.seeds"),
        ("wavlm_random", {"seeds": []}, "models.wavlm_random.seeds"),
        ("wavlm_random", {"seeds": [1, 1]}, "models.wavlm_random.seeds"),
        ("wavlm_random", {"seeds": [-1]}, "models.wavlm_random.seeds.0"),
    ],
)
def test_seeds_is_instead_of_seed_and_for_random_or_trained_models(name, change, key):
    config = copy.deepcopy(DEFAULT)
    config["models"][name] |= change
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert err.value.key == key, str(err.value)


def test_a_seeded_config_is_valid():
    validate_config(seeded(DEFAULT, [0, 1, 2]))


def test_a_trained_members_control_is_the_random_member_of_its_seed():
    models = expand_models(seeded(DEFAULT, [0, 1, 2])["models"])
    for seed in (0, 1, 2):
        assert twin_of(f"wavlm_mp_s{seed}", models) == f"wavlm_random_s{seed}"
        # DINO and AAM of one seed start from the same weights: the criteria contrast.
        assert twin_of(f"ecapa_dino_s{seed}", models) == f"ecapa_random_s{seed}"
        assert twin_of(f"ecapa_aam_s{seed}", models) == f"ecapa_random_s{seed}"
    # An unseeded random model of the same seed is a member's control too.
    models = expand_models(seeded(DEFAULT, [0, 1], ["wavlm_mp"])["models"])
    assert twin_of("wavlm_mp_s0", models) == "wavlm_random"
    assert twin_of("wavlm_mp_s1", models) == "wavlm_mp_s1"  # no random model of seed 1


def test_a_pair_naming_seeded_models_is_one_pair_per_seed():
    models = seeded(DEFAULT, [0, 1], ["wavlm_mp", "ecapa_aam"])["models"]
    assert pair_members("wavlm_mp", "ecapa_aam", models) == [
        ("wavlm_mp_s0", "ecapa_aam_s0"),
        ("wavlm_mp_s1", "ecapa_aam_s1"),
    ]
    assert pair_members("wavlm_mp", "ge2e", models) == [
        ("wavlm_mp_s0", "ge2e"),
        ("wavlm_mp_s1", "ge2e"),
    ]
    assert pair_members("ge2e", "ecapa_aam", models) == [
        ("ge2e", "ecapa_aam_s0"),
        ("ge2e", "ecapa_aam_s1"),
    ]
    assert pair_members("wavlm_mp_s1", "ge2e", models) == [("wavlm_mp_s1", "ge2e")]  # a member
    assert pair_members("wavlm_mp", "wavlm_mp", models) == [
        ("wavlm_mp_s0", "wavlm_mp_s0"),
        ("wavlm_mp_s1", "wavlm_mp_s1"),
    ]
    models["ecapa_aam"]["seeds"] = [0, 2]
    with pytest.raises(ValueError, match="wavlm_mp has seeds"):
        pair_members("wavlm_mp", "ecapa_aam", models)


def test_similarity_pairs_expand_pair_by_pair_seed_by_seed_each_followed_by_its_control():
    config = seeded(DEFAULT, [0, 1])
    config["similarity"]["pairs"] = [
        ["wavlm_mp", "ecapa_aam"],
        ["ecapa_dino", "ge2e"],
        ["wavlm_mp_s1", "ge2e"],
    ]
    validate_config(config)
    assert Study(config).model_pairs() == [
        ("wavlm_mp_s0", "ecapa_aam_s0"),
        ("wavlm_random_s0", "ecapa_random_s0"),
        ("wavlm_mp_s1", "ecapa_aam_s1"),
        ("wavlm_random_s1", "ecapa_random_s1"),
        ("ecapa_dino_s0", "ge2e"),
        ("ecapa_random_s0", "ge2e"),
        ("ecapa_dino_s1", "ge2e"),
        ("ecapa_random_s1", "ge2e"),
        ("wavlm_mp_s1", "ge2e"),
        ("wavlm_random_s1", "ge2e"),
    ]


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([["ge2e", "wavlm_mp"], ["wavlm_mp_s2", "ge2e"]], "unknown model 'wavlm_mp_s2'"),
        ([["ge2e", "wavlm_mp_twin"]], "unknown model 'wavlm_mp_twin'"),
        ([["wavlm_mp", "ecapa_dino"]], "wavlm_mp has seeds"),
    ],
)
def test_a_bad_pair_of_seeded_models_names_the_pair(pairs, message):
    config = seeded(DEFAULT, [0, 1], ["wavlm_mp", "wavlm_random"])
    config = seeded(config, [0, 1, 2], ["ecapa_dino", "ecapa_random"])
    config["models"]["wavlm_mp"]["random_twin"] = {"seed": 0}
    config["similarity"]["pairs"] = pairs
    with pytest.raises(ConfigError, match=message) as err:
        validate_config(config)
    assert err.value.key == f"similarity.pairs.{len(pairs) - 1}"


def second_iteration(config: dict, seeds: list[int]) -> dict:
    """``config`` with wavlm_mp2, a second masked-prediction iteration on wavlm_mp's layer."""
    config = copy.deepcopy(config)
    mp2 = copy.deepcopy(config["models"]["wavlm_mp"])
    mp2.pop("seed", None)
    mp2["seeds"] = seeds
    mp2["train"]["targets"] = {"source": "wavlm_mp", "layer": "layer_04", "clusters": 50}
    config["models"]["wavlm_mp2"] = mp2
    return config


def test_a_second_iteration_on_a_seeded_model_reads_its_member_of_the_same_seed():
    config = second_iteration(seeded(DEFAULT, [0, 1], ["wavlm_mp"]), [1, 0])
    validate_config(config)
    models = with_seeds(config["models"])
    assert models["wavlm_mp2_s1"]["train"]["targets"]["source"] == "wavlm_mp"  # as configured
    assert seed_member("wavlm_mp", 1, models) == "wavlm_mp_s1"
    assert seed_member("wavlm_mp_s0", 1, models) == "wavlm_mp_s0"  # a member named directly
    assert seed_member("ge2e", 1, models) == "ge2e"  # an unseeded model
    with pytest.raises(KeyError):
        seed_member("wavlm_mp", 2, models)
    # A seed the source lacks is an error naming the source.
    config = second_iteration(seeded(DEFAULT, [0, 1], ["wavlm_mp"]), [1, 2])
    with pytest.raises(ConfigError, match="wavlm_mp has no seed 2") as err:
        validate_config(config)
    assert err.value.key == "models.wavlm_mp2.train.targets.source"
    # Its own family is no source: each member would read itself.
    config = second_iteration(DEFAULT, [0, 1])
    config["models"]["wavlm_mp2"]["train"]["targets"]["source"] = "wavlm_mp2"
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert err.value.key == "models.wavlm_mp2.train.targets.source"


def test_a_checkpoint_shipped_under_one_seed_is_a_seeded_models_member(tmp_path):
    """The shipped wavlm_mp_s0 (seed 0) is wavlm_mp_s0 of ``seeds: [0, 1]``, not its seed 1."""
    models = with_seeds(seeded(DEFAULT, [0, 1], ["wavlm_mp"])["models"])
    dataset = DEFAULT["datasets"][DEFAULT["models"]["wavlm_mp"]["train"]["dataset"]]
    for member in models:
        if member.startswith("wavlm_mp_s"):
            (tmp_path / member).mkdir()
            for name in (SUMMARY, SHIPPED):
                shutil.copy(ROOT / "checkpoints" / "wavlm_mp_s0" / name, tmp_path / member / name)
    check_shipped(tmp_path, "wavlm_mp_s0", models["wavlm_mp_s0"], dataset)
    with pytest.raises(ConfigError, match=r"models\.wavlm_mp_s1\.seed: 1 in the config, 0"):
        check_shipped(tmp_path, "wavlm_mp_s1", models["wavlm_mp_s1"], dataset)


def test_shipping_a_seeded_model_ships_each_member(tmp_path):
    config = seeded(DEFAULT, [0, 1], ["ecapa_aam"])
    config["models"] = {"ecapa_aam": config["models"]["ecapa_aam"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    for member in ("ecapa_aam_s0", "ecapa_aam_s1"):
        (tmp_path / "trained" / member).mkdir(parents=True)
        summary = {"provenance": {"code_version": "0.1.0+18ce3fb8d402"}}  # a commit
        (tmp_path / "trained" / member / SUMMARY).write_text(json.dumps(summary))
    # No model named: every trained one, each member of the seeded model.
    main(
        [
            str(tmp_path / "trained"),
            str(tmp_path / "ckpt"),
            "--config",
            str(tmp_path / "config.yaml"),
        ]
    )
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["ecapa_aam_s0", "ecapa_aam_s1"]
    shipped = json.loads((tmp_path / "ckpt" / "ecapa_aam_s1" / SHIPPED).read_text())
    assert shipped["model"] == "ecapa_aam_s1"
    assert shipped["dataset_config"] == DEFAULT["datasets"]["pretrain"]
