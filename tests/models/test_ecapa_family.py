"""speechbrain_ecapa family: a tiny random ECAPA-TDNN against SpeechBrain's own forward."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from model_checks import (
    check_cuda_matches_cpu,
    check_outputs,
    check_padding_invariance,
    check_round_trip,
)
from speechbrain.lobes.features import Fbank
from speechbrain.processing.features import InputNormalization

from strata.models.ecapa import EcapaFamily

CONFIG = {
    "n_mels": 40,
    "channels": [32, 32, 32, 32, 96],
    "lin_neurons": 16,
    "attention_channels": 16,
    "se_channels": 16,
    "res2net_scale": 4,
}
LAYER_NAMES = ["tdnn", "seres2net_1", "seres2net_2", "seres2net_3", "mfa", "asp", "embedding"]


def cfg(seed: int = 0) -> dict:
    return {"family": "speechbrain_ecapa", "init": "random", "seed": seed, "config": CONFIG}


@pytest.fixture(scope="module")
def family() -> EcapaFamily:
    return EcapaFamily()


@pytest.fixture(scope="module")
def ckpt(family: EcapaFamily, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return family.materialise(cfg(), tmp_path_factory.mktemp("ecapa"))


def test_layer_specs(family: EcapaFamily) -> None:
    specs = family.layer_specs(cfg())
    assert [s.name for s in specs] == LAYER_NAMES
    assert [s.frame_rate for s in specs] == [100.0] * 5 + [None, None]
    two_blocks = family.layer_specs({"init": "random", "seed": 0, "config": {"channels": [8] * 4}})
    assert [s.name for s in two_blocks][:4] == ["tdnn", "seres2net_1", "seres2net_2", "mfa"]
    with pytest.raises(ValueError, match="'kernel'"):
        family.layer_specs({"init": "random", "seed": 0, "config": {"kernel": 3}})


def test_outputs_and_padding_invariance(family: EcapaFamily, ckpt: Path, waves) -> None:
    encoder = family.load(cfg(), ckpt)
    out = check_outputs(encoder, family.layer_specs(cfg()), *waves)
    assert out["asp"].hidden.shape[2] == 2 * CONFIG["channels"][-1]
    assert out["embedding"].hidden.shape[2] == CONFIG["lin_neurons"]
    # Exact: each distinct length runs unpadded (see EcapaEncoder).
    check_padding_invariance(encoder, *waves, atol=1e-5)


def test_matches_speechbrain_forward(family: EcapaFamily, ckpt: Path, waves) -> None:
    """Features match Fbank + sentence mean norm; layers match ECAPA_TDNN.forward and its hooks."""
    encoder = family.load(cfg(), ckpt)
    wav, lengths = waves
    short = wav[1:, : int(lengths[1])]
    out = encoder(wav, lengths)
    feats = InputNormalization(norm_type="sentence", std_norm=False).eval()(
        Fbank(n_mels=CONFIG["n_mels"])(short)
    )
    torch.testing.assert_close(encoder.features(short), feats, atol=0, rtol=0)

    model = encoder.model
    captured: dict[str, torch.Tensor] = {}
    modules = {"tdnn": model.blocks[0], "mfa": model.mfa, "asp": model.asp}
    modules |= {f"seres2net_{i}": model.blocks[i] for i in range(1, 4)}
    hooks = [
        module.register_forward_hook(
            lambda _m, _i, output, name=name: captured.__setitem__(name, output.transpose(1, 2))
        )
        for name, module in modules.items()
    ]
    with torch.inference_mode():
        captured["embedding"] = model(feats)
    for hook in hooks:
        hook.remove()
    for name in LAYER_NAMES:
        n = int(out[name].lengths[1])
        assert captured[name].shape[1] == n, name
        torch.testing.assert_close(out[name].hidden[1, :n], captured[name][0], atol=1e-5, rtol=0)


def test_round_trip_and_seed(family: EcapaFamily, ckpt: Path, tmp_path: Path, waves) -> None:
    files = check_round_trip(family, cfg, ckpt, tmp_path, waves)
    assert [f.name for f in files] == ["embedding_model.ckpt"]


def test_pretrained_dir(family: EcapaFamily, ckpt: Path, tmp_path: Path, waves) -> None:
    pretrained = {"family": "speechbrain_ecapa", "init": "pretrained", "path": str(ckpt)}
    assert family.materialise(pretrained, tmp_path) == ckpt
    assert family.layer_specs(pretrained) == family.layer_specs(cfg())
    with pytest.raises(FileNotFoundError, match="hyperparams.json"):
        family.layer_specs({"init": "pretrained", "path": str(tmp_path)})
    with pytest.raises(KeyError, match="'path'"):
        family.materialise({"init": "pretrained"}, tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(family: EcapaFamily, ckpt: Path, waves) -> None:
    check_cuda_matches_cpu(lambda: family.load(cfg(), ckpt), waves)
