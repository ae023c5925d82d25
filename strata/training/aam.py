"""Supervised speaker training: ECAPA-TDNN with an additive angular margin (AAM) softmax over
the training split's speakers (SpeechBrain's cosine ``Classifier`` and
``AdditiveAngularMargin`` loss, as its VoxCeleb recipe)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from strata.training.augment import Augment
from strata.training.data import TrainingSet, batches_of, epoch_order
from strata.training.speaker import SpeakerNet, augmented_crops

DEFAULTS: dict[str, Any] = {"crop_seconds": 1.0, "margin": 0.2, "scale": 30.0, "augment": None}


class AamSoftmax(torch.nn.Module):
    def __init__(
        self, model_cfg: dict[str, Any], settings: dict[str, Any], data: TrainingSet, targets=None
    ) -> None:
        from speechbrain.nnet.losses import AdditiveAngularMargin, LogSoftmaxWrapper

        super().__init__()
        self.settings = {**DEFAULTS, **settings}
        self.seed, self.data = int(model_cfg["seed"]), data
        self.speakers = torch.from_numpy(data.speaker_index())
        if len(data.speaker_names) < 2:
            raise ValueError(f"aam_softmax: dataset {data.name!r} has one training speaker")
        self.net = SpeakerNet(model_cfg, out_neurons=len(data.speaker_names))
        margin = AdditiveAngularMargin(self.settings["margin"], self.settings["scale"])
        self.criterion = LogSoftmaxWrapper(margin)
        self.augment = Augment.from_config(self.settings["augment"])
        self.steps_per_epoch = len(batches_of(np.arange(len(data)), settings["batch_size"]))

    def batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed * 1_000 + epoch)
        order = epoch_order(len(self.data), self.seed, epoch)
        for rows in batches_of(order, self.settings["batch_size"]):
            crops = augmented_crops(self.data, rows, self.settings["crop_seconds"], self.augment, g)
            yield crops, self.speakers[rows]

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        crops, speakers = batch
        cosines = self.net.classifier(self.net.embed(crops)[:, None])
        return self.criterion(cosines, speakers.to(cosines.device)[:, None])

    def after_step(self, step: int, total: int) -> None:
        return None

    def save(self, out_dir: Path) -> Path:
        header = f"ECAPA-TDNN trained by strata with AAM-softmax (seed {self.seed})"
        return self.net.save(out_dir, header)
