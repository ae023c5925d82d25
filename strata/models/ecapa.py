"""SpeechBrain ECAPA-TDNN speaker encoder, layer by layer.

Layers follow the paper's blocks: ``tdnn`` (blocks[0]), ``seres2net_1..N`` (blocks[1..N]),
``mfa`` (multi-layer feature aggregation), all at 100 Hz; then two utterance-level layers:
``asp`` is the attentive statistics pooling output (weighted mean and std) *before* ``asp_bn``,
because asp_bn in eval mode is a fixed per-channel affine map whose effect the ``embedding``
layer (the final ``fc`` output) already includes; ``asp`` thus shows the pooled statistics as
the pooling computes them.

Features are SpeechBrain's ``Fbank(n_mels)`` at 16 kHz with per-utterance mean normalisation
(``InputNormalization(norm_type="sentence", std_norm=False)``), as in the SpeechBrain recipes.

Checkpoint layout (as SpeechBrain's pretrained ECAPA dirs): ``embedding_model.ckpt`` (a torch
state dict) and ``hyperparams.json`` (ECAPA_TDNN keyword arguments, ``n_mels`` for input_size).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata.config import ConfigError
from strata.io import atomic_dir, write_json
from strata.models.base import Encoder, LayerOutput, LayerSpec, ModelFamily, batch_for, require

if TYPE_CHECKING:
    import torch

WEIGHTS = "embedding_model.ckpt"
HYPERPARAMS = "hyperparams.json"
FRAME_RATE = 100.0  # Fbank hop of 10 ms
HOP = 160  # samples per frame at 16 kHz
# ECAPA_TDNN's defaults, needed without torch to count blocks and check a config (a test holds
# them equal to speechbrain's).
DEFAULT_CHANNELS = [512, 512, 512, 512, 1536]
DEFAULT_LISTS = {
    "channels": DEFAULT_CHANNELS,
    "kernel_sizes": [5, 3, 3, 3, 1],
    "dilations": [1, 2, 3, 4, 1],
    "groups": [1, 1, 1, 1, 1],
}
DEFAULT_RES2NET_SCALE = 8
DEFAULT_N_MELS = 80
# ECAPA_TDNN keyword arguments a JSON config may set (activation is a class, device unused).
ECAPA_KWARGS = frozenset(
    {
        "lin_neurons",
        "channels",
        "kernel_sizes",
        "dilations",
        "attention_channels",
        "res2net_scale",
        "se_channels",
        "global_context",
        "groups",
        "dropout",
    }
)


def _require(cfg: dict[str, Any], key: str) -> Any:
    return require(cfg, key, "speechbrain_ecapa")


def _hyperparams(cfg: dict[str, Any]) -> dict[str, Any]:
    """The ECAPA hyperparameters: cfg["config"] (random) or the checkpoint's hyperparams.json."""
    init = _require(cfg, "init")
    if init == "random":
        params = dict(cfg.get("config", {}))
    elif init == "pretrained":
        params = json.loads(_pretrained_file(cfg, HYPERPARAMS).read_text())
    else:
        raise ValueError(
            f"speechbrain_ecapa: 'init' must be 'random' or 'pretrained', got {init!r}"
        )
    unknown = sorted(set(params) - ECAPA_KWARGS - {"n_mels"})
    if unknown:
        raise ValueError(f"speechbrain_ecapa: unknown hyperparameters {unknown}")
    return params


def _pretrained_file(cfg: dict[str, Any], name: str) -> Path:
    path = Path(_require(cfg, "path")) / name
    if not path.is_file():
        raise FileNotFoundError(f"speechbrain_ecapa: pretrained 'path' lacks {name}: {path}")
    return path


def _specs(params: dict[str, Any]) -> list[LayerSpec]:
    n_blocks = len(params.get("channels", DEFAULT_CHANNELS)) - 2
    frame = ["tdnn", *(f"seres2net_{i}" for i in range(1, n_blocks + 1)), "mfa"]
    return [LayerSpec(n, FRAME_RATE) for n in frame] + [
        LayerSpec("asp", None),
        LayerSpec("embedding", None),
    ]


def _build(params: dict[str, Any]) -> Any:
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

    kwargs = {k: v for k, v in params.items() if k != "n_mels"}
    return ECAPA_TDNN(params.get("n_mels", DEFAULT_N_MELS), **kwargs)


def check_architecture(params: dict[str, Any]) -> None:
    """Raise ConfigError (key ``config.<arg>``) for arguments ECAPA_TDNN cannot build or run."""
    lists = {k: params.get(k, default) for k, default in DEFAULT_LISTS.items()}
    for key, value in lists.items():
        if len(value) != len(lists["channels"]):
            raise ConfigError(f"config.{key}", f"needs one entry per channels entry: {lists}")
    channels, groups = lists["channels"], lists["groups"]
    blocks = channels[1:-1]
    if sum(blocks) != channels[-2] * len(blocks):
        raise ConfigError(
            "config.channels",
            f"the SE-Res2Net blocks' channels {blocks} must sum to channels[-2] x {len(blocks)}, "
            "the MFA's input width (equal channels do)",
        )
    scale = params.get("res2net_scale", DEFAULT_RES2NET_SCALE)
    if any(c % scale for c in blocks):
        raise ConfigError("config.res2net_scale", f"{scale} does not divide {blocks}")
    n_mels = params.get("n_mels", DEFAULT_N_MELS)
    ins = [n_mels, *channels[:-2], sum(blocks)]
    for i, (c_in, c_out, g) in enumerate(zip(ins, channels, groups, strict=True)):
        if c_in % g or c_out % g:
            raise ConfigError("config.groups", f"groups[{i}] = {g} must divide {c_in} and {c_out}")


class EcapaFamily(ModelFamily):
    name = "speechbrain_ecapa"

    def check_config(self, cfg: dict[str, Any]) -> None:
        if cfg["init"] == "random":
            check_architecture(cfg.get("config", {}))

    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        return _specs(_hyperparams(cfg))

    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        params = _hyperparams(cfg)
        if cfg["init"] == "pretrained":
            _pretrained_file(cfg, WEIGHTS)
            return Path(cfg["path"])
        import torch

        torch.manual_seed(int(_require(cfg, "seed")))
        model = _build(params)
        final = Path(out_dir) / "checkpoint"
        with atomic_dir(final) as tmp:
            # torch.save like SpeechBrain's own checkpoints (byte-identical for equal weights).
            torch.save(model.state_dict(), tmp / WEIGHTS)
            write_json(tmp / HYPERPARAMS, {"n_mels": DEFAULT_N_MELS, **params})
        return final

    def weight_files(self, checkpoint: Path) -> list[Path]:
        path = Path(checkpoint) / WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"speechbrain_ecapa: missing {WEIGHTS} in {checkpoint}")
        return [path]

    def load(self, cfg: dict[str, Any], checkpoint: Path) -> Encoder:
        import torch

        checkpoint = Path(checkpoint)
        params_path, weights = checkpoint / HYPERPARAMS, self.weight_files(checkpoint)[0]
        if not params_path.is_file():
            raise FileNotFoundError(f"speechbrain_ecapa: missing {HYPERPARAMS} in {checkpoint}")
        params = json.loads(params_path.read_text())
        model = _build(params)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return EcapaEncoder(model, params.get("n_mels", DEFAULT_N_MELS), _specs(params))


class EcapaEncoder(Encoder):
    """ECAPA-TDNN returning every block.

    Utterances run in groups of equal length, unpadded: the "same"-padded (reflect) convolutions
    and the Fbank's centred STFT would otherwise let padding leak into the last ~0.65 s of valid
    frames (the blocks' receptive field), so batching over padding cannot be padding-invariant.
    """

    def __init__(self, model: Any, n_mels: int, layers: list[LayerSpec]) -> None:
        from speechbrain.lobes.features import Fbank
        from speechbrain.processing.features import InputNormalization

        self.model = model.eval()
        self.fbank = Fbank(n_mels=n_mels).eval()
        self.norm = InputNormalization(norm_type="sentence", std_norm=False).eval()
        self.layers = layers

    def to(self, device: str | torch.device) -> EcapaEncoder:
        self.model.to(device)
        self.fbank.to(device)
        self.norm.to(device)
        return self

    def features(self, waves: torch.Tensor) -> torch.Tensor:
        """Mean-normalised fbanks (B, T, n_mels) of unpadded, equal-length waves."""
        return self.norm(self.fbank(waves))

    def layer_outputs(self, feats: torch.Tensor) -> list[torch.Tensor]:
        """Every layer, each (B, T, D), walking the blocks as ``ECAPA_TDNN.forward`` does."""
        import torch
        from speechbrain.lobes.models.ECAPA_TDNN import TDNNBlock

        model = self.model
        x = feats.transpose(1, 2)
        blocks = []
        for block in model.blocks:
            x = block(x) if isinstance(block, TDNNBlock) else block(x, lengths=None)
            blocks.append(x)
        mfa = model.mfa(torch.cat(blocks[1:], dim=1))
        asp = model.asp(mfa, lengths=None)
        embedding = model.fc(model.asp_bn(asp))
        return [h.transpose(1, 2) for h in (*blocks, mfa, asp, embedding)]

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerOutput]:
        import torch

        with torch.inference_mode():
            waves, lengths = batch_for(self.model, waves, lengths)
            n_frames = waves.shape[1] // HOP + 1  # centred STFT
            hidden: list[torch.Tensor] | None = None
            for length in lengths.unique().tolist():
                idx = (lengths == length).nonzero().flatten()
                group = self.layer_outputs(self.features(waves[idx, :length]))
                if hidden is None:
                    hidden = [
                        h.new_zeros(len(lengths), n_frames if spec.frame_rate else 1, h.shape[2])
                        for spec, h in zip(self.layers, group, strict=True)
                    ]
                for full, part in zip(hidden, group, strict=True):
                    full[idx, : part.shape[1]] = part
            assert hidden is not None
            frames = lengths // HOP + 1
            ones = torch.ones_like(frames)
            return {
                spec.name: LayerOutput(h, frames if spec.frame_rate else ones)
                for spec, h in zip(self.layers, hidden, strict=True)
            }
