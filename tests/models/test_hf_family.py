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

from strata.models.hf import (
    ARCHS,
    CONFIG_DEFAULTS,
    WAVEFORM_ARCHS,
    WHISPER_DEFAULTS,
    HFTransformersFamily,
)

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [32] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}


TINY_WHISPER = {
    "d_model": 32,
    "encoder_layers": 2,
    "encoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_layers": 1,
    "decoder_attention_heads": 2,
    "decoder_ffn_dim": 32,
    "num_mel_bins": 80,
}


def tiny_cfg(arch: str = "wavlm", seed: int = 0, **config) -> dict:
    if arch == "whisper":
        base = TINY_WHISPER
    else:
        base = TINY | ({} if arch == "data2vec_audio" else {"feat_extract_norm": "layer"})
    return {
        "family": "hf_transformers",
        "init": "random",
        "seed": seed,
        "arch": arch,
        "config": {**base, **config},
    }


def conv_frames(config: dict):
    """Frames of a waveform model: the conv stack's arithmetic, layer by layer."""

    def frames(samples: int) -> int:
        kernels = config.get("conv_kernel", CONFIG_DEFAULTS["conv_kernel"])
        strides = config.get("conv_stride", CONFIG_DEFAULTS["conv_stride"])
        for kernel, stride in zip(kernels, strides, strict=True):
            samples = (samples - kernel) // stride + 1
        return samples

    return frames


def whisper_frames(samples: int) -> int:
    return -(-samples // 320)  # a 20 ms frame per started span


def frames_of(cfg: dict):
    return whisper_frames if cfg["arch"] == "whisper" else conv_frames(cfg["config"])


# Every waveform arch in both feature-encoder norms (data2vec-audio has layer norm only).
VARIANTS = [
    (arch, norm)
    for arch in sorted(WAVEFORM_ARCHS)
    for norm in (["layer"] if arch == "data2vec_audio" else ["layer", "group"])
] + [("whisper", None)]


def variant_cfg(arch: str, norm: str | None) -> dict:
    if norm == "group":
        return tiny_cfg(arch, feat_extract_norm="group", do_stable_layer_norm=False)
    return tiny_cfg(arch)


@pytest.fixture(scope="module")
def family() -> HFTransformersFamily:
    return HFTransformersFamily()


@pytest.fixture(scope="module")
def wavlm_ckpt(family: HFTransformersFamily, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return family.materialise(tiny_cfg(), tmp_path_factory.mktemp("wavlm"))


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_config_defaults_match_transformers(arch: str) -> None:
    config = getattr(transformers, ARCHS[arch][0])()
    defaults = WHISPER_DEFAULTS if arch == "whisper" else CONFIG_DEFAULTS
    for key, value in defaults.items():
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


@pytest.mark.parametrize(("arch", "norm"), VARIANTS)
def test_every_arch_matches_transformers_and_batches_exactly(
    arch: str, norm: str | None, family: HFTransformersFamily, tmp_path: Path, waves
) -> None:
    """Our layers equal hidden_states of the model and feature extractor loaded by transformers
    itself, each utterance run alone; in our padded batch too, with exact frame counts."""
    cfg = variant_cfg(arch, norm)
    checkpoint = family.materialise(cfg, tmp_path)
    encoder = family.load(cfg, checkpoint)
    out = check_outputs(encoder, family.layer_specs(cfg), *waves, frames=frames_of(cfg))
    model = transformers.AutoModel.from_pretrained(checkpoint).eval()
    if arch == "whisper":
        model = model.get_encoder()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(checkpoint)
    wav, lengths = waves
    for row, n in enumerate(lengths.tolist()):
        inputs = extractor(wav[row, :n].numpy(), sampling_rate=16000, return_tensors="pt")
        inputs = {k: v for k, v in inputs.items() if k in ("input_values", "input_features")}
        with torch.inference_mode():
            ref = model(**inputs, output_hidden_states=True).hidden_states
        assert len(ref) == len(out)
        for name, expected in zip(out, ref, strict=True):
            m = int(out[name].lengths[row])
            got = out[name].hidden[row, :m]
            torch.testing.assert_close(got, expected[0, :m], atol=2e-5, rtol=1e-4, msg=name)
            assert not out[name].hidden[row, m:].any()  # padded frames are zeroed
    if arch != "whisper":
        check_padding_invariance(encoder, *waves, atol=2e-5)


def test_round_trip_and_seed(family: HFTransformersFamily, wavlm_ckpt: Path, tmp_path: Path, waves):
    files = check_round_trip(family, tiny_cfg, wavlm_ckpt, tmp_path, waves)
    assert [f.suffix for f in files] == [".safetensors"]


def test_pretrained_path(family: HFTransformersFamily, wavlm_ckpt: Path, tmp_path: Path) -> None:
    cfg = {"family": "hf_transformers", "init": "pretrained", "path": str(wavlm_ckpt)}
    assert family.materialise(cfg, tmp_path) == wavlm_ckpt
    assert family.layer_specs(cfg) == family.layer_specs(tiny_cfg())
    with pytest.raises(FileNotFoundError, match="config.json"):
        family.materialise({"init": "pretrained", "path": str(tmp_path)}, tmp_path)


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
    # A tag pointing at another snapshot (here a deeper model) is honoured; an absent one fails.
    deeper = family.materialise(tiny_cfg(num_hidden_layers=3), tmp_path / "deeper")
    (repo / "refs" / "v2").write_text("1" * 40)
    shutil.copytree(deeper, repo / "snapshots" / ("1" * 40))
    assert len(family.layer_specs({**cfg, "revision": "v2"})) == 4
    pinned = family.materialise({**cfg, "revision": "1" * 40}, tmp_path)
    assert pinned == repo / "snapshots" / ("1" * 40)
    with pytest.raises(FileNotFoundError, match="at revision 'v9'.*--revision v9"):
        family.layer_specs({**cfg, "revision": "v9"})


def test_layerdrop_disabled(family: HFTransformersFamily, tmp_path: Path) -> None:
    model = transformers.WavLMConfig(**tiny_cfg()["config"], layerdrop=0.5)
    transformers.WavLMModel(model).save_pretrained(tmp_path)
    encoder = family.load(tiny_cfg(), tmp_path)
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
