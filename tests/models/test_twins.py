"""Random-init twins: the original's architecture and front end, every weight re-drawn."""

from pathlib import Path

import pytest
import torch
from test_ecapa_family import spkrec_dir
from test_hf_family import tiny_cfg

from strata.models import ecapa
from strata.models.card import load_model, prepare_model
from strata.models.hf import HFTransformersFamily
from strata.models.twins import encoder_modules, twin_of, with_twins


def pretrained_models(tmp_path: Path) -> dict[str, dict]:
    wavlm = HFTransformersFamily().materialise(tiny_cfg(), tmp_path / "wavlm")
    return {
        "wavlm": {"family": "hf_transformers", "init": "pretrained", "path": str(wavlm)},
        "ecapa": {"family": "speechbrain_ecapa", "init": "pretrained",
                  "path": str(spkrec_dir(tmp_path / "spkrec"))},
        "ge2e": {"family": "resemblyzer", "init": "pretrained"},  # real GE2E weights
    }  # fmt: skip


def weights(encoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in encoder_modules(encoder).state_dict().items()}


@pytest.mark.parametrize("name", ["wavlm", "ecapa", "ge2e"])
def test_a_twin_redraws_every_weight_matrix_and_keeps_the_architecture(name, tmp_path, waves):
    config = with_twins({name: pretrained_models(tmp_path)[name] | {"random_twin": {"seed": 1}}})
    assert list(config) == [name, f"{name}_twin"] and "random_twin" not in config[name]
    cards = {m: prepare_model(m, cfg, tmp_path / "models" / m) for m, cfg in config.items()}
    twin = cards[f"{name}_twin"]
    assert twin["init"] == "random_twin" and twin["layers"] == cards[name]["layers"]
    assert twin["weights_sha256"] != cards[name]["weights_sha256"]

    original, _ = load_model(tmp_path / "models" / name, config[name])
    redrawn, _ = load_model(tmp_path / "models" / f"{name}_twin", config[f"{name}_twin"])
    before, after = weights(original), weights(redrawn)
    assert before.keys() == after.keys()
    matrices = [k for k, v in before.items() if v.ndim >= 2 and v.is_floating_point()]
    assert matrices and all(not torch.equal(before[k], after[k]) for k in matrices)
    out_a, out_b = original(*waves), redrawn(*waves)
    for layer, a in out_a.items():
        b = out_b[layer]
        assert a.hidden.shape == b.hidden.shape and torch.equal(a.lengths, b.lengths)
        assert not torch.allclose(a.hidden, b.hidden)


def test_a_twin_is_reproducible_from_its_seed(tmp_path):
    ge2e = {"family": "resemblyzer", "init": "pretrained", "random_twin": {"seed": 4}}
    twin = with_twins({"ge2e": ge2e})["ge2e_twin"]
    first = prepare_model("ge2e_twin", twin, tmp_path / "a")
    again = prepare_model("ge2e_twin", twin, tmp_path / "b")
    other = prepare_model("ge2e_twin", twin | {"twin_seed": 5}, tmp_path / "c")
    assert first["weights_sha256"] == again["weights_sha256"] != other["weights_sha256"]


TRAINED = {
    "family": "speechbrain_ecapa",
    "init": "trained",
    "seed": 3,
    "config": {"channels": [32, 32, 32, 32, 96]},
    "train": {"objective": "aam_softmax", "dataset": "embedded", "epochs": 1, "batch_size": 2},
}


def test_a_trained_models_twin_is_its_random_init_under_the_twin_seed(tmp_path):
    config = with_twins({"spk": TRAINED | {"random_twin": {"seed": 3}}})
    twin = config["spk_twin"]
    assert twin == {k: v for k, v in TRAINED.items() if k != "train"} | {"init": "random"}
    assert twin_of("spk", config) == "spk_twin"
    # With the model's own seed, the twin is exactly the weights training starts from.
    card = prepare_model("spk_twin", twin, tmp_path / "twin")
    model, _ = ecapa.build_random(TRAINED)
    state = torch.load(tmp_path / "twin" / card["source"] / ecapa.WEIGHTS, weights_only=True)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_a_trained_models_control_is_the_random_model_it_started_from():
    init = {k: v for k, v in TRAINED.items() if k != "train"} | {"init": "random"}
    models = {
        "other": init | {"seed": 4},
        "start": init,
        "spk": TRAINED,
        "ge2e": {"family": "resemblyzer", "init": "pretrained"},
    }
    assert twin_of("spk", models) == "start"
    assert twin_of("ge2e", models) == "ge2e"  # no twin, no control: itself
    assert twin_of("spk", {k: v for k, v in models.items() if k != "start"}) == "spk"
