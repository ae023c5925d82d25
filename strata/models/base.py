"""The adapter contract every model family implements.

A family knows, from its config alone and without importing torch, the ordered named layers
its encoder exposes (so the DAG can be built before any model is loaded); it can materialise a
checkpoint (random init, or resolve a local pretrained one) and load it as an :class:`Encoder`.
An encoder maps a padded waveform batch to every layer at once, each (batch, time, dim) with the
number of valid frames per utterance.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class LayerSpec:
    """One layer of an encoder.

    ``frame_rate`` is in frames per second; ``None`` marks an utterance-level layer (one vector
    per utterance, e.g. pooled statistics or an embedding), returned with time dimension 1.
    ``dim``, the vector width, lets a run be planned (bytes, memory) before anything loads.
    """

    name: str
    frame_rate: float | None
    dim: int | None = None


@dataclass
class LayerOutput:
    """A layer's activations for a batch: ``hidden`` (B, T, D) and valid ``lengths`` (B,)."""

    hidden: torch.Tensor
    lengths: torch.Tensor


class Encoder(ABC):
    """A loaded model that returns every layer from one forward pass."""

    layers: list[LayerSpec]
    sample_rate: int = SAMPLE_RATE

    @abstractmethod
    def __call__(self, waves: torch.Tensor, lengths: torch.Tensor) -> dict[str, LayerOutput]:
        """Run waves (B, S) float32 at ``sample_rate``, zero-padded; lengths (B,) in samples.

        Returns one :class:`LayerOutput` per layer name, in ``layers`` order. Padding must not
        change any valid frame's value beyond numerical noise.
        """

    @abstractmethod
    def to(self, device: str | torch.device) -> Encoder:
        """Move to ``device``; return self."""


class ModelFamily(ABC):
    """A family of models (e.g. HF transformers audio encoders) behind one adapter."""

    name: ClassVar[str]
    #: The ``config:`` keys the family accepts, as a JSON schema of that mapping (it may
    #: ``$ref`` the config schema's definitions); checked at parse time, so a misspelt key is
    #: an error naming it. None: the family takes no ``config:``.
    config_schema: ClassVar[dict[str, Any] | None] = None

    def config_schema_for(self, cfg: dict[str, Any]) -> dict[str, Any] | None:
        """The schema of this model's ``config:``: :attr:`config_schema`, unless the accepted
        keys depend on the rest of the model's entry (an ``arch``)."""
        return self.config_schema

    @abstractmethod
    def layer_specs(self, cfg: dict[str, Any]) -> list[LayerSpec]:
        """Ordered layers for a model config. Must be cheap: no torch, no weights."""

    def check_config(self, cfg: dict[str, Any]) -> None:
        """Raise :class:`~strata.config.ConfigError` (key relative to the model, e.g.
        ``config.channels``) for a schema-valid config the family cannot build. Cheap: it runs
        at Snakefile parse time. Per-key bounds belong in the schema, not here."""
        return None  # the default: a family whose schema-valid configs all build

    @abstractmethod
    def materialise(self, cfg: dict[str, Any], out_dir: Path) -> Path:
        """Make the checkpoint the encoder will load and return its path.

        Random-init models are built from ``cfg`` with its seed and saved under ``out_dir``;
        pretrained ones return their existing local path untouched.
        """

    @abstractmethod
    def weight_files(self, checkpoint: Path) -> list[Path]:
        """The files whose bytes define the weights (hashed into provenance)."""

    @abstractmethod
    def load(self, cfg: dict[str, Any], checkpoint: Path) -> Encoder:
        """Load a materialised checkpoint as an eval-mode encoder on CPU."""


class ContractError(ValueError):
    """An encoder returned something other than what its family declares
    (:mod:`strata.models.contract`)."""


LAYER_NAME = re.compile(r"[A-Za-z0-9_]+")
RESERVED = ("weighted",)  # the weighted-sum probe's folder beside the layers'


def check_specs(family: str, specs: list[LayerSpec]) -> None:
    """Layer names usable as file names and wildcards, unique, and sensible rates and widths:
    checked when the DAG is built, before any file is named after them."""
    names = [s.name for s in specs]
    problems = [
        f"layer name {s.name!r} is not letters, digits and _ (it names files and jobs)"
        for s in specs
        if not LAYER_NAME.fullmatch(str(s.name))
    ]
    problems += [f"layer name {n!r} is reserved" for n in names if n in RESERVED]
    problems += [
        f"layer name {n!r} appears twice" for n in sorted(set(names)) if names.count(n) > 1
    ]
    problems += [
        f"layer {s.name!r}: frame_rate {s.frame_rate!r} is not a positive number or None"
        for s in specs
        if s.frame_rate is not None
        and not (isinstance(s.frame_rate, int | float) and s.frame_rate > 0)
    ]
    problems += [
        f"layer {s.name!r}: dim {s.dim!r} is not a positive integer or None"
        for s in specs
        if s.dim is not None and not (isinstance(s.dim, int) and s.dim > 0)
    ]
    if not specs:
        problems.append("no layers")
    if problems:
        raise ContractError(f"family {family}'s layer_specs: " + "; ".join(problems))


def check_lengths(lengths: torch.Tensor, n_samples: int) -> None:
    """Reject empty or over-long utterances, naming their batch indices."""
    bad = ((lengths < 1) | (lengths > n_samples)).nonzero().flatten().tolist()
    if bad:
        raise ValueError(
            f"utterances {bad} have lengths {lengths[bad].tolist()} outside [1, {n_samples}]"
        )


def layer_outputs(
    layers: list[LayerSpec], hidden: list[torch.Tensor], frames: torch.Tensor
) -> dict[str, LayerOutput]:
    """One LayerOutput per layer from (B, T, D) tensors: frame-level layers get ``frames`` as
    lengths (steps past them zeroed, in place: the tensors are the caller's own activations),
    utterance-level ones (T = 1) length 1."""
    import torch

    if len(hidden) != len(layers):
        raise ContractError(
            f"{len(hidden)} hidden tensors for the {len(layers)} declared layers "
            f"{[s.name for s in layers]}"
        )
    ones = torch.ones_like(frames)
    outputs = {}
    for spec, h in zip(layers, hidden, strict=True):
        if spec.frame_rate is None:
            if h.shape[1] != 1:
                raise ContractError(
                    f"layer {spec.name!r} is declared utterance-level (frame_rate None) but has "
                    f"{h.shape[1]} time steps, not 1"
                )
            outputs[spec.name] = LayerOutput(h, ones)
            continue
        if int(frames.max()) > h.shape[1]:
            raise ContractError(
                f"layer {spec.name!r}: {int(frames.max())} valid frames in a tensor of "
                f"{h.shape[1]} time steps"
            )
        valid = torch.arange(h.shape[1], device=h.device)[None, :] < frames[:, None]
        outputs[spec.name] = LayerOutput(h.masked_fill_(~valid[..., None], 0.0), frames)
    return outputs


def batch_for(module: torch.nn.Module, waves: torch.Tensor, lengths: torch.Tensor):
    """The batch on ``module``'s device as float32 waves and int64 lengths, lengths checked."""
    import torch

    device = next(module.parameters()).device
    waves = waves.to(device=device, dtype=torch.float32)
    lengths = lengths.to(device=device, dtype=torch.long)
    check_lengths(lengths, waves.shape[1])
    return waves, lengths
