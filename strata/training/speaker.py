"""What the two ECAPA-TDNN objectives share: the adapter's own front end, augmented crops."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from strata.models import ecapa
from strata.models.base import SAMPLE_RATE
from strata.training.augment import Augment
from strata.training.data import TrainingSet, crop


class SpeakerNet(torch.nn.Module):
    """A random-init ECAPA-TDNN (the config's seed) fed by the front end its checkpoint names,
    so training sees exactly the features the adapter computes later."""

    def __init__(self, model_cfg: dict[str, Any], out_neurons: int = 2) -> None:
        super().__init__()
        self.arch = ecapa.architecture(model_cfg)
        self.encoder, self.classifier = ecapa.build_random(model_cfg, out_neurons)
        self.frontend = self.arch.build_frontend()

    def embed(self, waves: torch.Tensor, encoder: torch.nn.Module | None = None) -> torch.Tensor:
        """(B, S) equal-length crops -> (B, lin_neurons) embeddings."""
        device = next(self.encoder.parameters()).device
        waves = waves.to(device)
        with torch.no_grad():
            self.frontend.to(device)
            lengths = torch.full((len(waves),), waves.shape[1], device=device)
            feats, _ = self.frontend(waves, lengths)
        return (encoder or self.encoder)(feats.transpose(1, 2))[:, 0]

    def save(self, out_dir: Any, header: str, encoder: torch.nn.Module | None = None):
        return ecapa.save_checkpoint(
            encoder or self.encoder, self.classifier, self.arch, header, out_dir
        )


def augmented_crops(
    data: TrainingSet,
    rows: np.ndarray,
    seconds: float,
    augment: Augment | None,
    g: torch.Generator,
    waves: list[torch.Tensor] | None = None,
    speed: bool = True,
) -> torch.Tensor:
    """One crop of ``seconds`` per row (B, S), each perturbed independently (``speed``: its
    speed too); another row of the batch is the babble noise."""
    waves = waves if waves is not None else [data.wave(i) for i in rows.tolist()]
    samples = round(seconds * SAMPLE_RATE)
    out = []
    for k, wave in enumerate(waves):
        if augment is not None and speed:
            wave = augment.speed(wave, g)
        piece = crop(wave, samples, g)
        if augment is not None:
            babble = waves[(k + 1) % len(waves)]
            piece = augment.mix(piece, babble, g)
        out.append(piece)
    return torch.stack(out)
