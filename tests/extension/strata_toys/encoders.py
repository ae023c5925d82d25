"""A toy encoder family: 20 ms frames of the waveform through two fixed random projections,
and (``spread: true``) an utterance-level layer, the spread of the second over valid frames.

Config: ``{family: strata_toys.encoders:ProjectionFamily, init: random, seed: 0,
config: {dim: 16, spread: true}}``. The weights are drawn from the seed and saved, so the card
hashes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from strata.config import ConfigError
from strata.models.base import Encoder, LayerSpec, ModelFamily, batch_for, layer_outputs

HOP = 320  # samples per frame at 16 kHz: 50 frames per second
WEIGHTS = "projections.safetensors"


class ProjectionFamily(ModelFamily):
    name = "toy_projection"
    config_schema = {
        "type": "object",
        "additionalProperties": False,  # a misspelt key is an error, not a default
        "properties": {
            "dim": {"type": "integer", "minimum": 1},
            "spread": {"type": "boolean", "description": "add the utterance-level layer"},
        },
    }

    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        options = cfg.get("config", {})
        dim, rate = options.get("dim", 16), 16_000 / HOP
        layers = [LayerSpec("frames", rate, dim), LayerSpec("mixed", rate, dim)]
        if options.get("spread", False):
            layers.append(LayerSpec("spread", None, dim))  # utterance level: no frame rate
        return layers

    def check_config(self, cfg: dict[str, Any]) -> None:
        if cfg["init"] != "random":
            raise ConfigError("init", "the toy's weights are drawn from its seed: init random")

    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        import torch
        from safetensors.torch import save_file

        dim = cfg.get("config", {}).get("dim", 16)
        generator = torch.Generator().manual_seed(cfg["seed"])
        weights = {
            "frames": torch.randn(HOP, dim, generator=generator) / HOP**0.5,
            "mixed": torch.randn(dim, dim, generator=generator) / dim**0.5,
        }
        path = Path(out_dir) / WEIGHTS
        save_file(weights, path)
        return path

    def weight_files(self, checkpoint: Path) -> list[Path]:
        return [checkpoint]

    def load(self, cfg: dict[str, Any], checkpoint: Path) -> Encoder:
        from safetensors.torch import load_file

        return ProjectionEncoder(load_file(checkpoint), self.layer_specs(cfg))


class ProjectionEncoder(Encoder):
    def __init__(self, weights: dict[str, Any], layers: list[LayerSpec]) -> None:
        import torch

        self.module = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(v, requires_grad=False) for k, v in weights.items()}
        )
        self.layers = layers

    def to(self, device) -> ProjectionEncoder:
        self.module.to(device)
        return self

    def __call__(self, waves, lengths):
        import torch

        waves, lengths = batch_for(self.module, waves, lengths)
        waves = torch.nn.functional.pad(waves, (0, max(0, HOP - waves.shape[1])))  # 1 frame
        steps = waves.shape[1] // HOP
        frames = waves[:, : steps * HOP].reshape(len(waves), steps, HOP)
        first = torch.log1p((frames @ self.module["frames"]).abs())
        second = torch.tanh(first @ self.module["mixed"])
        # Valid: whole frames of the utterance's own samples. Later ones may hold padding.
        count = (lengths // HOP).clamp(min=1)
        valid = (torch.arange(steps, device=waves.device)[None, :] < count[:, None])[..., None]
        mean = (second * valid).sum(1, keepdim=True) / count[:, None, None]
        spread = (((second - mean) * valid) ** 2).sum(1, keepdim=True) / count[:, None, None]
        hidden = [first, second, spread.sqrt()]  # spread: (batch, 1, dim)
        return layer_outputs(self.layers, hidden[: len(self.layers)], count)
