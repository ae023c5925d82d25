"""HuBERT-style masked prediction for waveform transformers (WavLM, HuBERT, wav2vec 2.0).

Targets are k-means clusters of frame features of the whole training split, computed once: MFCCs
with deltas (the first iteration) or a layer of an already trained model (a second iteration,
``targets: {source: <model>, layer: layer_NN}``). Spans of the CNN features are replaced by the
model's learned mask embedding; the last layer, projected, predicts each masked frame's cluster
by cosine similarity with one learned embedding per cluster (HuBERT's head, loss on masked
frames only).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from strata.models import hf
from strata.models.base import SAMPLE_RATE
from strata.training.data import TrainingSet, batches_of, epoch_order

HOP = 320  # samples per frame of the default conv stack (20 ms); checked against the model
WINDOW = 400  # its receptive field (25 ms)
DEFAULTS: dict[str, Any] = {
    "crop_seconds": 2.0,
    "mask": {"prob": 0.5, "length": 5},
    "targets": {"source": "mfcc", "clusters": 50, "max_frames": 100_000},
    "head_dim": 64,
    "temperature": 0.1,
}


def mfcc_frames(wave: torch.Tensor) -> np.ndarray:
    """13 MFCCs with deltas and delta-deltas, 25 ms windows every 20 ms: (frames, 39)."""
    import torchaudio

    if len(wave) < WINDOW:
        return np.zeros((0, 39), np.float32)
    mfcc = torchaudio.compliance.kaldi.mfcc(
        wave[None] * 32768,
        sample_frequency=SAMPLE_RATE,
        frame_length=25,
        frame_shift=20,
        dither=0.0,
    ).T
    d1 = torchaudio.functional.compute_deltas(mfcc)
    d2 = torchaudio.functional.compute_deltas(d1)
    return torch.cat([mfcc, d1, d2]).T.numpy()


def layer_frames(encoder: Any, layer: str):
    """A function: wave -> (frames, dim) of one layer of a loaded encoder."""

    def frames(wave: torch.Tensor) -> np.ndarray:
        out = encoder(wave[None], torch.tensor([len(wave)]))[layer]
        return out.hidden[0, : int(out.lengths[0])].float().cpu().numpy()

    return frames


def cluster_labels(
    features: list[np.ndarray], clusters: int, max_frames: int, seed: int
) -> list[np.ndarray]:
    """k-means (on standardised frames, at most ``max_frames`` of them) labels per utterance."""
    from sklearn.cluster import MiniBatchKMeans

    stacked = np.concatenate(features)
    if len(stacked) < clusters:
        raise ValueError(f"{len(stacked)} training frames cannot make {clusters} clusters")
    mean, std = stacked.mean(0), stacked.std(0) + 1e-5
    rng = np.random.default_rng(seed)
    sample = stacked[rng.permutation(len(stacked))[:max_frames]]
    kmeans = MiniBatchKMeans(clusters, random_state=seed, n_init=3, batch_size=4096)
    kmeans.fit((sample - mean) / std)
    return [kmeans.predict((f - mean) / std).astype(np.int64) for f in features]


def span_mask(frames: torch.Tensor, width: int, prob: float, length: int, g) -> torch.Tensor:
    """(B, width) bool: about ``prob`` of each row's valid frames, in spans of ``length``."""
    mask = torch.zeros(len(frames), width, dtype=torch.bool)
    for row, n in enumerate(frames.tolist()):
        span = min(length, n)
        spans = max(1, math.ceil(prob * n / span))
        for start in torch.randperm(n - span + 1, generator=g)[:spans].tolist():
            mask[row, start : start + span] = True
    return mask


@dataclass(frozen=True)
class Batch:
    waves: torch.Tensor
    samples: torch.Tensor
    labels: torch.Tensor  # (B, T), -100 past each row's frames
    mask: torch.Tensor  # (B, T) masked frames


class MaskedPrediction(torch.nn.Module):
    """A random-init transformers model and HuBERT's prediction head."""

    def __init__(
        self,
        model_cfg: dict[str, Any],
        settings: dict[str, Any],
        data: TrainingSet,
        targets: Any = None,
    ) -> None:
        super().__init__()
        self.settings = {**DEFAULTS, **settings}
        self.seed = int(model_cfg["seed"])
        self.model = hf.build_random(model_cfg)
        if math.prod(self.model.config.conv_stride) != HOP:
            raise ValueError(f"masked_prediction needs a conv stride product of {HOP} (20 ms)")
        self.data = data
        spec = {**DEFAULTS["targets"], **self.settings["targets"]}
        feature = mfcc_frames if spec["source"] == "mfcc" else layer_frames(targets, spec["layer"])
        with torch.inference_mode():
            frames = [feature(data.wave(i)) for i in range(len(data))]
        short = [data.utt_ids[i] for i, f in enumerate(frames) if len(f) == 0]
        if short:
            raise ValueError(
                f"{data.name}: utterances shorter than one {WINDOW}-sample frame: {short[:5]}"
            )
        self.labels = cluster_labels(frames, spec["clusters"], spec["max_frames"], self.seed)
        hidden, dim = self.model.config.hidden_size, self.settings["head_dim"]
        self.project = torch.nn.Linear(hidden, dim)
        self.codebook = torch.nn.Parameter(torch.randn(spec["clusters"], dim))
        self.steps_per_epoch = len(batches_of(np.arange(len(data)), settings["batch_size"]))

    def batches(self, epoch: int) -> Iterator[Batch]:
        g = torch.Generator().manual_seed(self.seed * 1_000 + epoch)
        order = epoch_order(len(self.data), self.seed, epoch)
        for rows in batches_of(order, self.settings["batch_size"]):
            yield self._batch(rows, g)

    def _batch(self, rows: np.ndarray, g: torch.Generator) -> Batch:
        most = round(self.settings["crop_seconds"] * SAMPLE_RATE) // HOP  # frames per crop
        waves, labels = [], []
        for i in rows.tolist():
            wave, target = self.data.wave(i), self.labels[i]
            n = min(len(target), most)
            start = int(torch.randint(len(target) - n + 1, (1,), generator=g))
            waves.append(wave[start * HOP : start * HOP + (n - 1) * HOP + WINDOW])
            labels.append(torch.from_numpy(target[start : start + n]))
        samples = torch.tensor([len(w) for w in waves])
        frames = torch.tensor([len(t) for t in labels])
        width = int(frames.max())
        padded = torch.zeros(len(rows), int(samples.max()))
        target = torch.full((len(rows), width), -100, dtype=torch.long)
        for row, (w, t) in enumerate(zip(waves, labels, strict=True)):
            padded[row, : len(w)], target[row, : len(t)] = w, t
        spec = self.settings["mask"]
        mask = span_mask(frames, width, spec["prob"], spec["length"], g)
        return Batch(padded, samples, target, mask)

    def loss(self, batch: Batch) -> torch.Tensor:
        device = self.codebook.device
        waves, samples = batch.waves.to(device), batch.samples.to(device)
        valid = torch.arange(waves.shape[1], device=device)[None] < samples[:, None]
        waves = hf.normalise_waves(waves, valid)
        width = int(self.model._get_feat_extract_output_lengths(samples).max())
        if width != batch.labels.shape[1]:
            raise RuntimeError(f"model gives {width} frames, targets {batch.labels.shape[1]}")
        mask = batch.mask.to(device)
        hidden = self.model(
            waves, attention_mask=valid.long(), mask_time_indices=mask
        ).last_hidden_state
        labels = batch.labels.to(device).masked_fill(~mask, -100)  # masked frames only
        logits = F.normalize(self.project(hidden), dim=-1) @ F.normalize(self.codebook, dim=-1).T
        return F.cross_entropy(
            (logits / self.settings["temperature"]).flatten(0, 1), labels.flatten()
        )

    def after_step(self, step: int, total: int) -> None:
        return None

    def save(self, out_dir: Path) -> Path:
        return hf.save_checkpoint(self.model, Path(out_dir) / "checkpoint")
