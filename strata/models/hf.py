"""HF transformers self-supervised audio encoders (WavLM, HuBERT, wav2vec 2.0, data2vec-audio)
and Whisper's encoder.

Layers are ``hidden_states`` from ``output_hidden_states=True``: ``layer_00`` is the input to
the first transformer block (CNN features after projection and positional convolution; for
Whisper the convolutional stem plus positions), ``layer_NN`` the NN-th block's output (Whisper's
last one after its final layer norm, as transformers returns it). Random-init models are saved
with ``save_pretrained`` so they load through exactly the same ``from_pretrained`` path as real
local checkpoints; input normalisation follows the checkpoint's feature-extractor config.

Padded batches are exact: waveform models get an attention mask, and the two places where
transformers would still let padding in are made length-aware (:class:`WaveformEncoder`).
Whisper always sees its 30 s window; frames past each utterance's audio are dropped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata.io import atomic_dir
from strata.models.base import SAMPLE_RATE, Encoder, LayerSpec, ModelFamily, layer_outputs
from strata.schema import ConfigError

if TYPE_CHECKING:
    import torch

# arch -> (config class, model class) in transformers, for random init.
ARCHS: dict[str, tuple[str, str]] = {
    "wavlm": ("WavLMConfig", "WavLMModel"),
    "hubert": ("HubertConfig", "HubertModel"),
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
    "data2vec_audio": ("Data2VecAudioConfig", "Data2VecAudioModel"),
    "whisper": ("WhisperConfig", "WhisperModel"),
}
WAVEFORM_ARCHS = ("wavlm", "hubert", "wav2vec2", "data2vec_audio")

# The defaults layer_specs and check_config need, identical in the four waveform Config classes
# (a test checks this; Whisper's are WHISPER_DEFAULTS): importing transformers pulls in torch,
# which parse time must not do.
CONFIG_DEFAULTS: dict[str, Any] = {
    "num_hidden_layers": 12,
    "hidden_size": 768,
    "num_attention_heads": 12,
    "num_conv_pos_embedding_groups": 16,
    "conv_dim": [512, 512, 512, 512, 512, 512, 512],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
}
WHISPER_DEFAULTS: dict[str, Any] = {
    "encoder_layers": 4,
    "d_model": 384,
    "encoder_attention_heads": 6,
}
WHISPER_FRAME_RATE = 50.0  # 10 ms mel hop, then the stem's stride-2 convolution
# Config keys an arch's Config class does not have (transformers would keep them unused).
UNSUPPORTED_KEYS: dict[str, frozenset[str]] = {
    "data2vec_audio": frozenset({"feat_extract_norm", "do_stable_layer_norm"}),
}

# Architectures of known hub checkpoints (their config.json), so a run can be planned before
# they are fetched; a fetched checkpoint is checked against its entry (test_paper_models.py).
_BASE = {"num_hidden_layers": 12, "hidden_size": 768}
_LARGE = {"num_hidden_layers": 24, "hidden_size": 1024}
KNOWN_HUB_CONFIGS: dict[str, dict[str, Any]] = {
    "microsoft/wavlm-base": {"model_type": "wavlm", **_BASE},
    "microsoft/wavlm-base-plus": {"model_type": "wavlm", **_BASE},
    "microsoft/wavlm-large": {"model_type": "wavlm", **_LARGE},
    "facebook/hubert-base-ls960": {"model_type": "hubert", **_BASE},
    "facebook/hubert-large-ll60k": {"model_type": "hubert", **_LARGE},
    "facebook/wav2vec2-base": {"model_type": "wav2vec2", **_BASE},
    "facebook/wav2vec2-large-lv60": {"model_type": "wav2vec2", **_LARGE},
    "facebook/data2vec-audio-base": {"model_type": "data2vec-audio", **_BASE},
}
_PLANNED_KEYS = ("num_hidden_layers", "hidden_size", "conv_stride")

# HF's zero-mean unit-variance epsilon (Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm).
_NORM_EPS = 1e-7


def _model_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The architecture config as JSON (no torch): config overrides, or the checkpoint's."""
    if cfg["init"] != "pretrained":  # random, or trained by strata from a random init
        defaults = WHISPER_DEFAULTS if cfg["arch"] == "whisper" else CONFIG_DEFAULTS
        model_type = "whisper" if cfg["arch"] == "whisper" else cfg["arch"]
        return {"model_type": model_type, **defaults, **cfg.get("config", {})}
    known = KNOWN_HUB_CONFIGS.get(cfg["path"])
    try:
        path = pretrained_dir(cfg["path"], cfg.get("revision")) / "config.json"
    except FileNotFoundError:
        if known is None:
            raise
        return {**CONFIG_DEFAULTS, **known}  # planned from the table; the job will need it
    checkpoint = json.loads(path.read_text())
    defaults = WHISPER_DEFAULTS if checkpoint.get("model_type") == "whisper" else CONFIG_DEFAULTS
    found = {**defaults, **checkpoint}
    if known is not None:
        expected = {**CONFIG_DEFAULTS, **known}
        for key in _PLANNED_KEYS:
            if found[key] != expected[key]:
                raise ConfigError(
                    "path",
                    f"{path}: {key} is {found[key]}, but strata's table of known checkpoints "
                    f"says {cfg['path']} has {expected[key]} (KNOWN_HUB_CONFIGS)",
                )
    return found


def pretrained_dir(path: str, revision: str | None = None) -> Path:
    """A local checkpoint directory, or a hub id (``org/name``, at ``revision``) already in the
    local Hugging Face cache. Never downloads: runs must be reproducible offline."""
    local = Path(path).expanduser()
    if not local.exists() and path.count("/") == 1:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            local = Path(snapshot_download(path, revision=revision, local_files_only=True))
        except LocalEntryNotFoundError:
            at = f" at revision {revision!r}" if revision else ""
            raise FileNotFoundError(
                f"hf_transformers: 'path' {path!r}{at} is neither a local directory nor in the "
                f"local Hugging Face cache; fetch it first (`hf download {path}"
                f"{f' --revision {revision}' if revision else ''}`)"
            ) from None
    if not (local / "config.json").is_file():
        raise FileNotFoundError(
            f"hf_transformers: pretrained 'path' {path!r} has no config.json ({local}); give a "
            "checkpoint directory (save_pretrained layout) or a hub id in the HF cache"
        )
    return local


def layer_name(index: int) -> str:
    return f"layer_{index:02d}"


def _specs(model_cfg: dict[str, Any]) -> list[LayerSpec]:
    if model_cfg.get("model_type") == "whisper":
        n, rate = model_cfg["encoder_layers"], WHISPER_FRAME_RATE
        dim = model_cfg["d_model"]
    else:
        n, rate = model_cfg["num_hidden_layers"], SAMPLE_RATE / math.prod(model_cfg["conv_stride"])
        dim = model_cfg["hidden_size"]
    return [LayerSpec(layer_name(i), rate, dim) for i in range(n + 1)]


def _check_divides(c: dict[str, Any], width: str, *keys: str) -> None:
    for key in keys:
        if c[width] % c[key]:
            raise ConfigError(f"config.{key}", f"{c[key]} does not divide {width} {c[width]}")


class HFTransformersFamily(ModelFamily):
    name = "hf_transformers"
    config_schema = {"$ref": "#/definitions/hf_config"}

    def config_schema_for(self, cfg: dict[str, Any]) -> dict[str, Any] | None:
        """Whisper's arguments are its own; a pretrained checkpoint carries its config.json."""
        if cfg["init"] == "pretrained":
            return None
        if cfg["arch"] == "whisper":
            return {"$ref": "#/definitions/whisper_config"}
        return self.config_schema

    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        return _specs(_model_config(cfg))

    def check_config(self, cfg: dict[str, Any]) -> None:
        if cfg["init"] == "pretrained":
            return  # a checkpoint's own config.json, read by layer_specs
        given = cfg.get("config", {})
        for key in sorted(UNSUPPORTED_KEYS.get(cfg["arch"], frozenset()) & set(given)):
            raise ConfigError(f"config.{key}", f"not an argument of {cfg['arch']} models")
        c = _model_config(cfg)
        if cfg["arch"] == "whisper":
            _check_divides(c, "d_model", "encoder_attention_heads")
            return
        lengths = {k: len(c[k]) for k in ("conv_dim", "conv_stride", "conv_kernel")}
        if len(set(lengths.values())) > 1:
            raise ConfigError("config.conv_dim", f"conv lists differ in length: {lengths}")
        _check_divides(c, "hidden_size", "num_attention_heads", "num_conv_pos_embedding_groups")

    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        if cfg["init"] == "pretrained":
            return pretrained_dir(cfg["path"], cfg.get("revision"))
        return save_checkpoint(build_random(cfg), Path(out_dir) / "checkpoint")

    def weight_files(self, checkpoint: Path) -> list[Path]:
        checkpoint = Path(checkpoint)
        # from_pretrained prefers safetensors; fall back to legacy pytorch_model*.bin.
        files = sorted(checkpoint.glob("*.safetensors")) or sorted(checkpoint.glob("*.bin"))
        if not files:
            raise FileNotFoundError(f"hf_transformers: no *.safetensors or *.bin in {checkpoint}")
        return files

    def load(self, cfg: dict[str, Any], checkpoint: Path) -> Encoder:
        import torch
        from transformers import AutoModel

        checkpoint = Path(checkpoint)
        if not (checkpoint / "config.json").is_file():
            raise FileNotFoundError(f"hf_transformers: no config.json in checkpoint {checkpoint}")
        # layerdrop=0 fixes the layer count (it only acts in training, but be explicit);
        # float32 because transformers 5 defaults to the checkpoint's dtype (often fp16).
        kwargs = {"dtype": torch.float32, "local_files_only": True}
        model_type = json.loads((checkpoint / "config.json").read_text()).get("model_type")
        if model_type == "whisper":
            model = AutoModel.from_pretrained(checkpoint, **kwargs)
            return WhisperEncoder(model.get_encoder().eval(), _whisper_extractor(checkpoint))
        model = AutoModel.from_pretrained(checkpoint, layerdrop=0.0, **kwargs).eval()
        # Layers come from the loaded config, so they match what the model returns.
        layers = _specs(model.config.to_dict())
        return WaveformEncoder(model, layers, _do_normalize(checkpoint))


def build_random(cfg: dict[str, Any]) -> Any:
    """The transformers model a random-init config describes, drawn under its seed."""
    import torch
    import transformers

    config_cls, model_cls = (getattr(transformers, n) for n in ARCHS[cfg["arch"]])
    torch.manual_seed(int(cfg["seed"]))
    return model_cls(config_cls(**cfg.get("config", {})))


def save_checkpoint(model: Any, final: Path) -> Path:
    """Write ``model`` atomically as a save_pretrained directory that :meth:`load` reads."""
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)
        _feature_extractor(model.config).save_pretrained(tmp)
    return final


def _feature_extractor(config: Any) -> Any:
    import transformers

    if config.model_type == "whisper":
        return transformers.WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    return transformers.Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=True,
        # HF's advice: group-norm encoders (wav2vec2-base, hubert-base) take no mask.
        return_attention_mask=getattr(config, "feat_extract_norm", "layer") == "layer",
    )


def _whisper_extractor(checkpoint: Path) -> Any:
    from transformers import WhisperFeatureExtractor

    if not (checkpoint / "preprocessor_config.json").is_file():
        raise FileNotFoundError(
            f"hf_transformers: Whisper needs preprocessor_config.json in {checkpoint}"
        )
    return WhisperFeatureExtractor.from_pretrained(checkpoint, local_files_only=True)


def _do_normalize(checkpoint: Path) -> bool:
    """``do_normalize`` from preprocessor_config.json; without that file the raw wave is used."""
    path = checkpoint / "preprocessor_config.json"
    if not path.is_file():
        return False
    # A file without the key gets Wav2Vec2FeatureExtractor's default, True.
    return bool(json.loads(path.read_text()).get("do_normalize", True))


def normalise_waves(waves: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-variance per utterance over valid samples; padding stays zero."""
    n = mask.sum(dim=1, keepdim=True)
    mean = (waves * mask).sum(dim=1, keepdim=True) / n
    var = (((waves - mean) * mask) ** 2).sum(dim=1, keepdim=True) / n
    return (waves - mean) / (var + _NORM_EPS).sqrt() * mask


class WaveformEncoder(Encoder):
    """A waveform model (WavLM, HuBERT, wav2vec2, data2vec-audio) with every hidden state.

    Always run with an attention mask (attention and the positional convolution then ignore
    padding). Two hooks close the remaining leaks: group-norm feature encoders normalise the
    first convolution's output over valid steps only (GroupNorm would pool over padding), and
    data2vec-audio's stacked positional convolutions see zeros past each row's end at every
    layer (transformers zeroes padding only before the first).
    """

    def __init__(self, model: Any, layers: list[LayerSpec], do_normalize: bool) -> None:
        self.model, self.layers, self.do_normalize = model, layers, do_normalize
        self._samples: torch.Tensor | None = None
        self._frames: torch.Tensor | None = None
        first = model.feature_extractor.conv_layers[0]
        if getattr(model.config, "feat_extract_norm", "layer") == "group":
            norm = first.layer_norm  # transformers: one group per channel, over time
            assert norm.num_groups == norm.num_channels, "expected per-channel GroupNorm"
            norm.register_forward_hook(self._masked_group_norm)
        if model.config.model_type == "data2vec-audio":
            for layer in model.encoder.pos_conv_embed.layers:
                layer.conv.register_forward_pre_hook(self._zero_padding)

    def to(self, device: str | torch.device) -> WaveformEncoder:
        self.model.to(device)
        return self

    def _masked_group_norm(self, module: Any, args: tuple, _output: Any) -> torch.Tensor | None:
        """GroupNorm of each row's valid steps alone (torch's own kernel, so exactly what the
        utterance gets unpadded); steps past them are zero."""
        import torch
        import torch.nn.functional as F

        if self._samples is None:  # the model called directly: transformers' own computation
            return None
        x = args[0]
        conv = self.model.feature_extractor.conv_layers[0].conv
        steps = ((self._samples - conv.kernel_size[0]) // conv.stride[0] + 1).tolist()
        out = torch.zeros_like(x)
        for row, n in enumerate(steps):
            part = x[row : row + 1, :, :n]
            out[row, :, :n] = F.group_norm(
                part, module.num_groups, module.weight, module.bias, module.eps
            )
        return out

    def _zero_padding(self, _module: Any, args: tuple) -> tuple | None:
        from strata.models.ragged import time_mask

        if self._frames is None:
            return None
        return (args[0] * time_mask(self._frames, args[0].shape[-1]), *args[1:])

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        import torch

        from strata.models.base import batch_for

        with torch.inference_mode():
            waves, lengths = batch_for(self.model, waves, lengths)
            mask = torch.arange(waves.shape[1], device=waves.device)[None, :] < lengths[:, None]
            waves = normalise_waves(waves, mask) if self.do_normalize else waves * mask
            frames = self.model._get_feat_extract_output_lengths(lengths).long()
            short = (frames < 1).nonzero().flatten().tolist()
            if short:
                raise ValueError(
                    f"hf_transformers: utterances {short} are shorter than one frame "
                    f"(lengths {lengths[short].tolist()} samples)"
                )
            self._samples, self._frames = lengths, frames
            try:
                out = self.model(waves, attention_mask=mask.long(), output_hidden_states=True)
            finally:
                self._samples = self._frames = None
            if len(out.hidden_states) != len(self.layers):
                raise RuntimeError(
                    f"hf_transformers: model returned {len(out.hidden_states)} hidden states, "
                    f"expected {len(self.layers)}"
                )
            return layer_outputs(self.layers, list(out.hidden_states), frames)


class WhisperEncoder(Encoder):
    """Whisper's encoder on its log-mel front end (the checkpoint's feature extractor).

    Every utterance is padded to the 30 s window, as Whisper was trained, so batching cannot
    change it; a frame is kept while its 20 ms span starts inside the audio.
    """

    def __init__(self, encoder: Any, extractor: Any) -> None:
        self.encoder, self.extractor = encoder, extractor
        n = encoder.config.encoder_layers
        self.layers = [LayerSpec(layer_name(i), WHISPER_FRAME_RATE) for i in range(n + 1)]
        self.hop = extractor.hop_length * 2  # samples per encoder frame

    def to(self, device: str | torch.device) -> WhisperEncoder:
        self.encoder.to(device)
        return self

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        import torch

        from strata.models.base import batch_for

        with torch.inference_mode():
            waves, lengths = batch_for(self.encoder, waves, lengths)
            long = (lengths > self.extractor.n_samples).nonzero().flatten().tolist()
            if long:
                raise ValueError(
                    f"whisper: utterances {long} are longer than its {self.extractor.chunk_length}"
                    f" s window ({lengths[long].tolist()} samples)"
                )
            audio = [w[:n].cpu().numpy() for w, n in zip(waves, lengths.tolist(), strict=True)]
            feats = self.extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
            inputs = feats.input_features.to(waves.device, torch.float32)
            out = self.encoder(inputs, output_hidden_states=True)
            frames = (lengths + self.hop - 1) // self.hop
            kept = [h[:, : int(frames.max())] for h in out.hidden_states]  # drop the window's rest
            return layer_outputs(self.layers, kept, frames)
