"""Random-init twins: a pretrained model's exact architecture with freshly drawn weights.

``random_twin: {seed: S}`` on a configured model adds the model ``<name>_twin``. Its checkpoint
is the original's, loaded through the same adapter; then every module's ``reset_parameters``
runs under the seed (PyTorch's default initialisation for each layer type), and any weight
matrix it misses (weight-norm parametrisations, hooks) is drawn Kaiming-uniform. Non-learned
front ends (filterbanks, feature normalisation) are kept. The drawn weights are saved as
``twin.safetensors`` beside the card and hashed into provenance, so the twin is reproducible
and its features are not recomputed unless its seed or the original changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from strata.models.base import Encoder

SUFFIX = "_twin"
WEIGHTS = "twin.safetensors"


def with_twins(models: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The configured models plus each one's twin, right after it; ``random_twin`` is moved
    out of the original's slice (changing it re-runs only the twin), ``role`` dropped. A
    trained model's twin is its architecture at random init under the twin's seed (with the
    model's own seed: exactly the weights its training started from)."""
    out: dict[str, dict[str, Any]] = {}
    for name, cfg in models.items():
        # ``role`` only labels the model in the report: no job depends on it.
        out[name] = {k: v for k, v in cfg.items() if k not in ("random_twin", "role")}
        if "random_twin" not in cfg:
            continue
        seed = cfg["random_twin"]["seed"]
        if cfg["init"] == "trained":
            untrained = {k: v for k, v in out[name].items() if k != "train"}
            out[name + SUFFIX] = {**untrained, "init": "random", "seed": seed}
        else:
            out[name + SUFFIX] = {**out[name], "twin_seed": seed}
    return out


def initial_weights(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What fixes a random-init or trained model's starting weights (family, architecture,
    seed); empty for a pretrained model."""
    if cfg["init"] not in ("random", "trained"):
        return {}
    return {k: cfg.get(k) for k in ("family", "arch", "config", "frontend", "seed")}


def twin_of(model: str, models: Mapping[str, Mapping[str, Any]]) -> str:
    """A model's random-init control: its twin where ``models`` has one; for a trained model
    without one, the configured random-init model its training started from; else the model
    itself."""
    if model + SUFFIX in models:
        return model + SUFFIX
    cfg = models[model]
    if cfg["init"] == "trained":
        start = initial_weights(cfg)
        for name, other in models.items():
            if other["init"] == "random" and initial_weights(other) == start:
                return name
    return model


def original(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The config of the model a twin copies (unchanged for any other model)."""
    return {key: value for key, value in cfg.items() if key != "twin_seed"}


def encoder_modules(encoder: Encoder) -> torch.nn.ModuleList:
    """The torch modules an encoder holds, in attribute order."""
    import torch

    found: list[torch.nn.Module] = []
    for value in vars(encoder).values():
        items = value if isinstance(value, list | tuple) else [value]
        found += [item for item in items if isinstance(item, torch.nn.Module)]
    if not found:
        raise ValueError(f"{type(encoder).__name__} holds no torch modules to re-draw")
    return torch.nn.ModuleList(found)


def redraw(modules: torch.nn.Module, seed: int) -> None:
    """Re-initialise every learnable weight in place, deterministically for ``seed``."""
    import torch

    before = {name: p.detach().clone() for name, p in modules.named_parameters()}
    torch.manual_seed(seed)
    with torch.no_grad():
        for module in modules.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        for name, p in modules.named_parameters():
            if p.ndim >= 2 and torch.equal(p, before[name]):
                torch.nn.init.kaiming_uniform_(p, a=math.sqrt(5))


def save_twin(encoder: Encoder, seed: int, path: Any) -> None:
    from safetensors.torch import save_file

    modules = encoder_modules(encoder)
    redraw(modules, seed)
    save_file(
        {k: v.detach().contiguous().clone() for k, v in modules.state_dict().items()}, str(path)
    )


def load_twin(encoder: Encoder, path: Any) -> None:
    from safetensors.torch import load_file

    encoder_modules(encoder).load_state_dict(load_file(str(path)))
