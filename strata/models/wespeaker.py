"""wespeaker's ECAPA-TDNN (``ECAPA_TDNN_[GLOB_]c512`` / ``_c1024``), the backbone of its DINO
speaker model, written here from the published architecture and computed on padded batches.

Architecture (parameter names as in wespeaker's checkpoints): ``layer1`` conv(k5)+ReLU+BN;
``layer2..4`` SE-Res2 blocks (1x1 conv, Res2 convs with k3 and dilation 2/3/4 in 8 scales, 1x1
conv, squeeze-excitation, residual); ``conv`` 1x1 to 1536 channels (MFA) then ReLU; ``pool``
attentive statistics (ASTP, optionally with global context: the utterance's mean and std
concatenated to every frame); ``bn``; ``linear`` to the embedding; ``bn2`` when ``emb_bn``.
Layers: ``tdnn``, ``seres2net_1..3``, ``mfa``, ``asp`` (pooled statistics), ``embedding``.

Front end: Kaldi fbank + CMN (:class:`strata.models.frontends.KaldiFbank`), as wespeaker's.
Checkpoints: a wespeaker model directory (``avg_model.pt`` + ``config.yaml``, whose ``model`` and
``model_args`` give the architecture) or a state-dict file with the architecture in ``config``.
DINO training checkpoints load their teacher (``t_model.``) unless ``branch: student``;
``projection_head.*`` (DINO) and ``projection.*`` (classifier) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from strata.io import atomic_dir
from strata.models.base import Encoder, LayerSpec, ModelFamily, batch_for, layer_outputs
from strata.models.checkpoints import backbone_state, load_exact, read_state
from strata.models.frontends import KaldiFbank
from strata.models.ragged import masked_mean, masked_var, time_mask
from strata.schema import ConfigError

if TYPE_CHECKING:
    import torch

WEIGHTS = "avg_model.pt"
CONFIG = "config.yaml"
MFA_CHANNELS = 512 * 3  # fixed in wespeaker, whatever the block width
VARIANT = re.compile(r"^ECAPA_TDNN(_GLOB)?_c(512|1024)$")
DEFAULTS = {"channels": 512, "global_context": True, "feat_dim": 80, "embed_dim": 192}
LAYERS = [
    *(LayerSpec(n, 100.0) for n in ("tdnn", "seres2net_1", "seres2net_2", "seres2net_3", "mfa")),
    LayerSpec("asp", None),
    LayerSpec("embedding", None),
]


def architecture(cfg: dict[str, Any], checkpoint: Path | None = None) -> dict[str, Any]:
    """channels, global_context, feat_dim, embed_dim, emb_bn: from a wespeaker directory's
    config.yaml (``checkpoint`` once materialised, else the pretrained ``path``), else config."""
    directory = checkpoint if checkpoint is not None else cfg.get("path")
    if directory is not None and Path(directory).is_dir():
        return read_architecture(Path(directory))
    return {**DEFAULTS, "emb_bn": False, **cfg.get("config", {})}


def read_architecture(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"wespeaker_ecapa: no {CONFIG} in {directory}")
    conf = yaml.safe_load(path.read_text()) or {}
    match = VARIANT.match(str(conf.get("model", "")))
    if not match:
        raise ValueError(f"{path}: model {conf.get('model')!r} is not ECAPA_TDNN_[GLOB_]c512/c1024")
    args = conf.get("model_args", {})
    if args.get("pooling_func", "ASTP") != "ASTP":
        raise ValueError(f"{path}: pooling_func {args['pooling_func']!r} (only ASTP is supported)")
    return {
        "channels": int(match[2]),
        "global_context": bool(match[1]),
        "feat_dim": int(args.get("feat_dim", 80)),
        "embed_dim": int(args.get("embed_dim", 192)),
        "emb_bn": bool(args.get("emb_bn", False)),
    }


def _model(arch: dict[str, Any]) -> Any:
    """The network with wespeaker's parameter names (built on demand: it needs torch)."""
    from torch import nn

    def conv_bn(c_in: int, c_out: int, kernel: int = 1, dilation: int = 1) -> nn.Module:
        block = nn.Module()
        block.conv = nn.Conv1d(
            c_in, c_out, kernel, padding=dilation * (kernel // 2), dilation=dilation
        )
        block.bn = nn.BatchNorm1d(c_out)
        return block

    def se_res2(channels: int, dilation: int) -> nn.Module:
        width, res2 = channels // 8, nn.Module()
        res2.convs = nn.ModuleList(
            nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation) for _ in range(7)
        )
        res2.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(7))
        se = nn.Module()
        se.linear1, se.linear2 = nn.Linear(channels, 128), nn.Linear(128, channels)
        block = nn.Module()
        block.se_res2block = nn.Sequential(
            conv_bn(channels, channels), res2, conv_bn(channels, channels), se
        )
        return block

    c, model = arch["channels"], nn.Module()
    model.layer1 = conv_bn(arch["feat_dim"], c, kernel=5)
    model.layer2, model.layer3, model.layer4 = (se_res2(c, d) for d in (2, 3, 4))
    model.conv = nn.Conv1d(3 * c, MFA_CHANNELS, 1)
    model.pool = nn.Module()
    context = 3 if arch["global_context"] else 1
    model.pool.linear1 = nn.Conv1d(MFA_CHANNELS * context, 128, 1)
    model.pool.linear2 = nn.Conv1d(128, MFA_CHANNELS, 1)
    model.bn = nn.BatchNorm1d(2 * MFA_CHANNELS)
    model.linear = nn.Linear(2 * MFA_CHANNELS, arch["embed_dim"])
    if arch["emb_bn"]:
        model.bn2 = nn.BatchNorm1d(arch["embed_dim"])
    return model.eval()


class WespeakerFamily(ModelFamily):
    name = "wespeaker_ecapa"
    config_schema = {"$ref": "#/definitions/wespeaker_config"}

    def check_config(self, cfg: dict[str, Any]) -> None:
        if cfg["init"] == "pretrained" and "config" in cfg and Path(cfg["path"]).is_dir():
            raise ConfigError(
                "config",
                f"comes from {cfg['path']}/{CONFIG}, not config: (remove it, or point path at "
                f"the {WEIGHTS} state dict to declare the architecture here)",
            )

    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        arch = architecture(cfg)  # a directory's config.yaml must be readable at parse time
        c = arch["channels"]
        dims = [c, c, c, c, MFA_CHANNELS, 2 * MFA_CHANNELS, arch["embed_dim"]]
        return [replace(s, dim=d) for s, d in zip(LAYERS, dims, strict=True)]

    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        if cfg["init"] == "pretrained":
            path = Path(cfg["path"])
            self.weight_files(path)
            return path
        import torch

        arch = architecture(cfg)
        torch.manual_seed(int(cfg["seed"]))
        model = _model(arch)
        variant = f"ECAPA_TDNN{'_GLOB' if arch['global_context'] else ''}_c{arch['channels']}"
        conf = {
            "model": variant,
            "model_args": {
                "feat_dim": arch["feat_dim"],
                "embed_dim": arch["embed_dim"],
                "pooling_func": "ASTP",
                "emb_bn": arch["emb_bn"],
            },
        }
        final = Path(out_dir) / "checkpoint"
        with atomic_dir(final) as tmp:
            torch.save(model.state_dict(), tmp / WEIGHTS)
            (tmp / CONFIG).write_text(yaml.safe_dump(conf, sort_keys=False))
        return final

    def weight_files(self, checkpoint: Path) -> list[Path]:
        path = Path(checkpoint)
        weights = path / WEIGHTS if path.is_dir() else path
        if not weights.is_file():
            raise FileNotFoundError(f"wespeaker_ecapa: missing {weights}")
        return [weights]

    def load(self, cfg: dict[str, Any], checkpoint: Path) -> Encoder:
        arch = architecture(cfg, Path(checkpoint))
        model = _model(arch)
        weights = self.weight_files(checkpoint)[0]
        state = backbone_state(read_state(weights), cfg.get("branch"), weights)
        load_exact(model, state, weights, " (check config: channels, global_context, emb_bn)")
        return WespeakerEncoder(model, KaldiFbank(n_mels=arch["feat_dim"]), arch)


class WespeakerEncoder(Encoder):
    """The network above, length-aware: every convolution sees zeros past its row's end (as its
    zero padding gives alone), and every mean, variance and softmax over time is masked."""

    layers = LAYERS

    def __init__(self, model: Any, frontend: KaldiFbank, arch: dict[str, Any]) -> None:
        self.model, self.frontend, self.arch = model, frontend, arch

    def to(self, device: str | torch.device) -> WespeakerEncoder:
        self.model.to(device)
        return self

    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor):
        import torch

        with torch.inference_mode():
            waves, lengths = batch_for(self.model, waves, lengths)
            feats, frames = self.frontend(waves, lengths)
            mask = time_mask(frames, feats.shape[-1])
            hidden = self._walk(feats, mask)
            return layer_outputs(self.layers, [h.transpose(1, 2) for h in hidden], frames)

    def _walk(self, x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        import torch
        import torch.nn.functional as F

        def conv_bn(block: Any, h: torch.Tensor) -> torch.Tensor:
            return block.bn(F.relu(block.conv(h * mask)))

        def se_res2(block: Any, h: torch.Tensor) -> torch.Tensor:
            first, res2, last, se = block.se_res2block
            out = conv_bn(first, h)
            splits, pieces = torch.split(out, out.shape[1] // 8, dim=1), []
            for i, (conv, bn) in enumerate(zip(res2.convs, res2.bns, strict=True)):
                piece = splits[i] if i == 0 else pieces[-1] + splits[i]
                pieces.append(bn(F.relu(conv(piece * mask))))
            out = conv_bn(last, torch.cat([*pieces, splits[-1]], dim=1))
            scale = torch.sigmoid(se.linear2(F.relu(se.linear1(masked_mean(out, mask)[..., 0]))))
            return h + out * scale[..., None]

        m = self.model
        tdnn = conv_bn(m.layer1, x)
        blocks = [tdnn]
        for layer in (m.layer2, m.layer3, m.layer4):
            blocks.append(se_res2(layer, blocks[-1]))
        mfa = F.relu(m.conv(torch.cat(blocks[1:], dim=1)))
        asp = self._pool(mfa, mask)
        embedding = m.linear(m.bn(asp))
        if self.arch["emb_bn"]:
            embedding = m.bn2(embedding)
        return [*blocks, mfa, asp[..., None], embedding[..., None]]

    def _pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ASTP over valid frames; global context uses torch.var's unbiased variance."""
        import torch

        pool = self.model.pool
        x_in = x
        if self.arch["global_context"]:
            mean = masked_mean(x, mask).expand_as(x)
            std = (masked_var(x, mask, correction=1) + 1e-7).sqrt().expand_as(x)
            x_in = torch.cat([x, mean, std], dim=1)
        logits = pool.linear2(torch.tanh(pool.linear1(x_in))).masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(logits, dim=2)
        mean = (alpha * x).sum(2)
        var = (alpha * x**2).sum(2) - mean**2
        return torch.cat([mean, var.clamp(min=1e-7).sqrt()], dim=1)
