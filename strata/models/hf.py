"""HF transformers self-supervised audio encoders (WavLM, HuBERT, wav2vec 2.0, data2vec-audio).

Layers are ``hidden_states`` from ``output_hidden_states=True``: ``layer_00`` is the CNN feature
encoder output after projection (and positional convolution), ``layer_NN`` the NN-th transformer
block. Random-init models are saved with ``save_pretrained`` so they load through exactly the
same ``AutoModel.from_pretrained`` path as real local checkpoints.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata.config import ConfigError
from strata.io import atomic_dir
from strata.models.base import (
    SAMPLE_RATE,
    Encoder,
    LayerOutput,
    LayerSpec,
    ModelFamily,
    batch_for,
    require,
)

if TYPE_CHECKING:
    import torch

# arch -> (config class, model class) in transformers, for random init.
ARCHS: dict[str, tuple[str, str]] = {
    "wavlm": ("WavLMConfig", "WavLMModel"),
    "hubert": ("HubertConfig", "HubertModel"),
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
    "data2vec_audio": ("Data2VecAudioConfig", "Data2VecAudioModel"),
}

# The defaults layer_specs and check_config need, identical in all four Config classes (a test
# checks this): importing transformers pulls in torch, which parse time must not do.
CONFIG_DEFAULTS: dict[str, Any] = {
    "num_hidden_layers": 12,
    "hidden_size": 768,
    "num_attention_heads": 12,
    "num_conv_pos_embedding_groups": 16,
    "conv_dim": [512, 512, 512, 512, 512, 512, 512],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
}
# Config keys an arch's Config class does not have (transformers would keep them unused).
UNSUPPORTED_KEYS: dict[str, frozenset[str]] = {
    "data2vec_audio": frozenset({"feat_extract_norm", "do_stable_layer_norm"}),
}

# HF's zero-mean unit-variance epsilon (Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm).
_NORM_EPS = 1e-7


def _require(cfg: dict[str, Any], key: str) -> Any:
    return require(cfg, key, "hf_transformers")


def _model_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The architecture config as JSON (no torch): cfg overrides, or the checkpoint's."""
    init = _require(cfg, "init")
    if init == "random":
        arch = _require(cfg, "arch")
        if arch not in ARCHS:
            raise ValueError(f"hf_transformers: unknown arch {arch!r}; known: {sorted(ARCHS)}")
        return {**CONFIG_DEFAULTS, **cfg.get("config", {})}
    if init == "pretrained":
        path = pretrained_dir(_require(cfg, "path")) / "config.json"
        return {**CONFIG_DEFAULTS, **json.loads(path.read_text())}
    raise ValueError(f"hf_transformers: 'init' must be 'random' or 'pretrained', got {init!r}")


def pretrained_dir(path: str) -> Path:
    """A local checkpoint directory, or a hub id (``org/name``) already in the local Hugging
    Face cache. Never downloads: runs must be reproducible offline."""
    local = Path(path).expanduser()
    if not local.exists() and path.count("/") == 1:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            local = Path(snapshot_download(path, local_files_only=True))
        except LocalEntryNotFoundError:
            raise FileNotFoundError(
                f"hf_transformers: 'path' {path!r} is neither a local directory nor in the local "
                f"Hugging Face cache; fetch it first (`hf download {path}`)"
            ) from None
    if not (local / "config.json").is_file():
        raise FileNotFoundError(f"hf_transformers: pretrained 'path' has no config.json: {local}")
    return local


def layer_name(index: int) -> str:
    return f"layer_{index:02d}"


class HFTransformersFamily(ModelFamily):
    name = "hf_transformers"

    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        model_cfg = _model_config(cfg)
        return _specs(model_cfg["num_hidden_layers"], model_cfg["conv_stride"])

    def check_config(self, cfg: dict[str, Any]) -> None:
        if cfg["init"] != "random":
            return  # a checkpoint's own config.json, read by layer_specs
        given = cfg.get("config", {})
        for key in sorted(UNSUPPORTED_KEYS.get(cfg["arch"], frozenset()) & set(given)):
            raise ConfigError(f"config.{key}", f"not an argument of {cfg['arch']} models")
        c = _model_config(cfg)
        lengths = {k: len(c[k]) for k in ("conv_dim", "conv_stride", "conv_kernel")}
        if len(set(lengths.values())) > 1:
            raise ConfigError("config.conv_dim", f"conv lists differ in length: {lengths}")
        for key in ("num_attention_heads", "num_conv_pos_embedding_groups"):
            if c["hidden_size"] % c[key]:
                raise ConfigError(
                    f"config.{key}", f"{c[key]} does not divide hidden_size {c['hidden_size']}"
                )

    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        if _require(cfg, "init") == "pretrained":
            return pretrained_dir(_require(cfg, "path"))
        import torch
        import transformers

        _model_config(cfg)  # validates arch
        config_cls, model_cls = (getattr(transformers, n) for n in ARCHS[cfg["arch"]])
        torch.manual_seed(int(_require(cfg, "seed")))
        config = config_cls(**cfg.get("config", {}))
        model = model_cls(config)
        extractor = transformers.Wav2Vec2FeatureExtractor(
            feature_size=1,
            sampling_rate=SAMPLE_RATE,
            padding_value=0.0,
            do_normalize=True,
            return_attention_mask=_uses_attention_mask(config),
        )
        final = Path(out_dir) / "checkpoint"
        with atomic_dir(final) as tmp:
            model.save_pretrained(tmp)
            extractor.save_pretrained(tmp)
        return final

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
        model = AutoModel.from_pretrained(
            checkpoint, layerdrop=0.0, dtype=torch.float32, local_files_only=True
        )
        model.eval()
        # Layers come from the loaded config, so they match what the model returns.
        layers = _specs(model.config.num_hidden_layers, model.config.conv_stride)
        return HFEncoder(model, layers, _do_normalize(checkpoint))


def _specs(num_hidden_layers: int, conv_stride: list[int]) -> list[LayerSpec]:
    rate = SAMPLE_RATE / math.prod(conv_stride)
    return [LayerSpec(layer_name(i), rate) for i in range(num_hidden_layers + 1)]


def _do_normalize(checkpoint: Path) -> bool:
    """``do_normalize`` from preprocessor_config.json; without that file the raw wave is used."""
    path = checkpoint / "preprocessor_config.json"
    if not path.is_file():
        return False
    # A file without the key gets Wav2Vec2FeatureExtractor's default, True.
    return bool(json.loads(path.read_text()).get("do_normalize", True))


def _uses_attention_mask(config: Any) -> bool:
    # Group-norm feature encoders (wav2vec2-base, hubert-base) were trained without a mask and
    # HF documents they must not get one; data2vec-audio always uses layer norm (no attribute).
    return getattr(config, "feat_extract_norm", "layer") == "layer"


def _batch_with_mask(config: Any) -> bool:
    """Whether a masked, zero-padded batch leaves valid frames exactly as if run alone.

    Not for group-norm encoders (GroupNorm normalises over time, and they get no mask), nor for
    data2vec-audio: its positional embedding is a stack of convolutions and HF zeroes padded
    frames only before the first, so padding leaks into valid frames from the second on.
    """
    return _uses_attention_mask(config) and config.model_type != "data2vec-audio"


def normalise_waves(waves: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-variance per utterance over valid samples; padding stays zero."""
    n = mask.sum(dim=1, keepdim=True)
    mean = (waves * mask).sum(dim=1, keepdim=True) / n
    var = (((waves - mean) * mask) ** 2).sum(dim=1, keepdim=True) / n
    return (waves - mean) / (var + _NORM_EPS).sqrt() * mask


class HFEncoder(Encoder):
    """Runs an HF audio model and returns every hidden state.

    Layer-norm WavLM/HuBERT/wav2vec2 run batched with an attention mask, which is padding-invariant
    up to float noise. Models where padding would leak (see :func:`_batch_with_mask`) run one
    batch per distinct utterance length instead, unpadded and unmasked, which keeps the padding
    invariance the contract requires at the cost of smaller batches.
    """

    def __init__(self, model: Any, layers: list[LayerSpec], do_normalize: bool) -> None:
        self.model = model
        self.layers = layers
        self.do_normalize = do_normalize
        self.use_mask = _batch_with_mask(model.config)

    def to(self, device: str | torch.device) -> HFEncoder:
        self.model.to(device)
        return self

    def _hidden_states(self, waves: torch.Tensor, mask: torch.Tensor | None) -> list[torch.Tensor]:
        out = self.model(
            waves, attention_mask=None if mask is None else mask.long(), output_hidden_states=True
        )
        if len(out.hidden_states) != len(self.layers):
            raise RuntimeError(
                f"hf_transformers: model returned {len(out.hidden_states)} hidden states, "
                f"expected {len(self.layers)}"
            )
        return list(out.hidden_states)

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerOutput]:
        import torch

        with torch.inference_mode():
            waves, lengths = batch_for(self.model, waves, lengths)
            device = waves.device
            mask = torch.arange(waves.shape[1], device=device)[None, :] < lengths[:, None]
            waves = normalise_waves(waves, mask) if self.do_normalize else waves * mask
            frames = self.model._get_feat_extract_output_lengths(lengths).long()
            short = (frames < 1).nonzero().flatten().tolist()
            if short:
                raise ValueError(
                    f"hf_transformers: utterances {short} are shorter than one frame "
                    f"(lengths {lengths[short].tolist()} samples)"
                )
            if self.use_mask:
                hidden = self._hidden_states(waves, mask)
            else:
                hidden = self._by_length(waves, lengths)
            valid = torch.arange(hidden[0].shape[1], device=device)[None, :] < frames[:, None]
            return {
                spec.name: LayerOutput(h * valid[..., None], frames)
                for spec, h in zip(self.layers, hidden, strict=True)
            }

    def _by_length(self, waves: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Run each group of equal-length utterances unpadded; zero-pad results to one batch."""

        n_frames = int(self.model._get_feat_extract_output_lengths(waves.shape[1]))
        hidden: list[torch.Tensor] | None = None
        for length in lengths.unique().tolist():
            idx = (lengths == length).nonzero().flatten()
            group = self._hidden_states(waves[idx, :length], None)
            if hidden is None:
                hidden = [h.new_zeros(len(lengths), n_frames, h.shape[2]) for h in group]
            for full, part in zip(hidden, group, strict=True):
                full[idx, : part.shape[1]] = part
        assert hidden is not None
        return hidden
