"""hf_transformers family: tiny random WavLM/HuBERT/wav2vec2/data2vec-audio models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import transformers
from model_checks import (
    check_cuda_matches_cpu,
    check_outputs,
    check_padding_invariance,
    check_round_trip,
)

from strata.models.hf import ARCHS, CONFIG_DEFAULTS, HFTransformersFamily

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [32] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}


def tiny_cfg(arch: str = "wavlm", seed: int = 0, **config) -> dict:
    norm = {} if arch == "data2vec_audio" else {"feat_extract_norm": "layer"}
    return {
        "family": "hf_transformers",
        "init": "random",
        "seed": seed,
        "arch": arch,
        "config": {**TINY, **norm, **config},
    }


@pytest.fixture(scope="module")
def family() -> HFTransformersFamily:
    return HFTransformersFamily()


@pytest.fixture(scope="module")
def wavlm_ckpt(family: HFTransformersFamily, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return family.materialise(tiny_cfg(), tmp_path_factory.mktemp("wavlm"))


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_config_defaults_match_transformers(arch: str) -> None:
    config = getattr(transformers, ARCHS[arch][0])()
    for key, value in CONFIG_DEFAULTS.items():
        actual = getattr(config, key)
        assert (list(actual) if isinstance(value, list) else actual) == value, key


def test_layer_specs(family: HFTransformersFamily) -> None:
    specs = family.layer_specs(tiny_cfg())
    assert [s.name for s in specs] == ["layer_00", "layer_01", "layer_02"]
    assert all(s.frame_rate == 50.0 for s in specs)
    default = family.layer_specs({"init": "random", "arch": "hubert", "seed": 0})
    assert len(default) == 13 and default[-1].name == "layer_12"
    strided = family.layer_specs(tiny_cfg(conv_stride=[5, 2, 2, 2, 2, 2, 1]))
    assert strided[0].frame_rate == 100.0


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_arch_runs(arch: str, family: HFTransformersFamily, tmp_path: Path, waves) -> None:
    """Layer-norm variants of each arch are padding-invariant (data2vec-audio via per-length)."""
    cfg = tiny_cfg(arch)
    encoder = family.load(cfg, family.materialise(cfg, tmp_path))
    assert encoder.use_mask == (arch != "data2vec_audio")
    check_outputs(encoder, family.layer_specs(cfg), *waves)
    check_padding_invariance(encoder, *waves, atol=1e-5)


def test_matches_independent_from_pretrained(
    family: HFTransformersFamily, wavlm_ckpt: Path, waves
) -> None:
    """Our layers equal hidden_states of the model and feature extractor loaded by HF itself."""
    wav, lengths = waves
    out = check_outputs(family.load(tiny_cfg(), wavlm_ckpt), family.layer_specs(tiny_cfg()), *waves)
    model = transformers.AutoModel.from_pretrained(wavlm_ckpt).eval()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(wavlm_ckpt)
    inputs = extractor(
        [w[:n].numpy() for w, n in zip(wav, lengths.tolist(), strict=True)],
        sampling_rate=16000,
        padding=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    with torch.inference_mode():
        ref = model(**inputs, output_hidden_states=True).hidden_states
    assert len(ref) == len(out)
    for layer, expected in zip(out.values(), ref, strict=True):
        for i, n in enumerate(layer.lengths.tolist()):
            torch.testing.assert_close(layer.hidden[i, :n], expected[i, :n], atol=1e-5, rtol=1e-5)
            assert not layer.hidden[i, n:].any()  # padded frames are zeroed


def test_round_trip_and_seed(family: HFTransformersFamily, wavlm_ckpt: Path, tmp_path: Path, waves):
    files = check_round_trip(family, tiny_cfg, wavlm_ckpt, tmp_path, waves)
    assert [f.suffix for f in files] == [".safetensors"]


def test_padding_invariance_group_norm(family: HFTransformersFamily, tmp_path: Path, waves):
    """Group-norm models get no attention mask, so the encoder runs them unpadded per length."""
    cfg = tiny_cfg("hubert", feat_extract_norm="group", do_stable_layer_norm=False)
    encoder = family.load(cfg, family.materialise(cfg, tmp_path))
    assert not encoder.use_mask
    check_outputs(encoder, family.layer_specs(cfg), *waves)
    check_padding_invariance(encoder, *waves, atol=1e-5)


def test_pretrained_path(family: HFTransformersFamily, wavlm_ckpt: Path, tmp_path: Path) -> None:
    cfg = {"family": "hf_transformers", "init": "pretrained", "path": str(wavlm_ckpt)}
    assert family.materialise(cfg, tmp_path) == wavlm_ckpt
    assert family.layer_specs(cfg) == family.layer_specs(tiny_cfg())
    with pytest.raises(KeyError, match="'path'"):
        family.layer_specs({"init": "pretrained"})
    with pytest.raises(FileNotFoundError, match="config.json"):
        family.materialise({"init": "pretrained", "path": str(tmp_path)}, tmp_path)
    with pytest.raises(ValueError, match="arch"):
        family.layer_specs({"init": "random", "arch": "whisper", "seed": 0})


def test_pretrained_hub_id_resolves_from_local_cache_only(
    family: HFTransformersFamily, wavlm_ckpt: Path, tmp_path: Path, monkeypatch
) -> None:
    # The hub cache layout: models--{org}--{name}/refs/main → snapshots/{commit}/files.
    cache = tmp_path / "hub"
    repo = cache / "models--lab--tiny-wavlm"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    shutil.copytree(wavlm_ckpt, repo / "snapshots" / ("0" * 40))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    cfg = {"family": "hf_transformers", "init": "pretrained", "path": "lab/tiny-wavlm"}
    resolved = family.materialise(cfg, tmp_path)
    assert resolved == repo / "snapshots" / ("0" * 40)
    assert family.layer_specs(cfg) == family.layer_specs(tiny_cfg())
    with pytest.raises(FileNotFoundError, match="'lab/absent'.*local Hugging Face cache"):
        family.layer_specs({**cfg, "path": "lab/absent"})


def test_layerdrop_disabled(family: HFTransformersFamily, tmp_path: Path) -> None:
    cfg = tiny_cfg(layerdrop=0.5)
    encoder = family.load(cfg, family.materialise(cfg, tmp_path))
    assert encoder.model.config.layerdrop == 0.0
    assert not encoder.model.training


def test_raw_waves_and_fp16_checkpoint(
    family: HFTransformersFamily, wavlm_ckpt: Path, tmp_path: Path, waves
):
    """do_normalize false feeds raw waves; an fp16 checkpoint still runs in float32."""
    model = transformers.AutoModel.from_pretrained(wavlm_ckpt).eval()
    model.half().save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text('{"do_normalize": false}')
    encoder = family.load(tiny_cfg(), tmp_path)
    assert not encoder.do_normalize and encoder.model.dtype == torch.float32
    wav, lengths = waves
    mask = (torch.arange(wav.shape[1])[None] < lengths[:, None]).long()
    with torch.inference_mode():
        ref = encoder.model(wav, attention_mask=mask, output_hidden_states=True).hidden_states
    for layer, expected in zip(encoder(wav, lengths).values(), ref, strict=True):
        n = int(layer.lengths[1])
        torch.testing.assert_close(layer.hidden[1, :n], expected[1, :n], atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(family: HFTransformersFamily, wavlm_ckpt: Path, waves) -> None:
    check_cuda_matches_cpu(lambda: family.load(tiny_cfg(), wavlm_ckpt), waves)
