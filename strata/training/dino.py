"""DINO self-distillation for ECAPA-TDNN, without labels (as in the speaker DINO recipes of
3D-Speaker and wespeaker, scaled down).

Each utterance gives two long and several short crops, each augmented independently. The teacher
(an exponential moving average of the student, momentum rising to 1 on a cosine schedule) sees
the long crops; the student sees all of them and matches, for every pair of different crops, the
teacher's centred and sharpened distribution over prototypes. The teacher is the model saved.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from strata.training.augment import Augment
from strata.training.data import TrainingSet, batches_of, epoch_order
from strata.training.speaker import SpeakerNet, augmented_crops

DEFAULTS: dict[str, Any] = {
    "long_seconds": 1.0,
    "short_seconds": 0.5,
    "short_crops": 2,
    "prototypes": 256,
    "head": {"hidden": 512, "bottleneck": 128},
    "student_temperature": 0.1,
    "teacher_temperature": 0.04,
    "teacher_momentum": 0.99,
    "center_momentum": 0.9,
    "augment": None,
}


class DinoHead(torch.nn.Module):
    """MLP to a bottleneck, L2-normalised, then cosine logits against unit-norm prototypes
    (DINO's weight-normalised last layer with its gain fixed at 1)."""

    def __init__(self, dim: int, hidden: int, bottleneck: int, prototypes: int) -> None:
        super().__init__()
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden),
            torch.nn.GELU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.GELU(),
            torch.nn.Linear(hidden, bottleneck),
        )
        self.prototypes = torch.nn.Parameter(torch.randn(prototypes, bottleneck) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(x), dim=-1) @ F.normalize(self.prototypes, dim=-1).T


class Dino(torch.nn.Module):
    def __init__(
        self, model_cfg: dict[str, Any], settings: dict[str, Any], data: TrainingSet, targets=None
    ) -> None:
        super().__init__()
        s = self.settings = {**DEFAULTS, **settings}
        self.seed, self.data = int(model_cfg["seed"]), data
        self.net = SpeakerNet(model_cfg)
        dim = self.net.arch.params.get("lin_neurons", 192)
        head = {**DEFAULTS["head"], **s["head"]}
        self.head = DinoHead(dim, head["hidden"], head["bottleneck"], s["prototypes"])
        self.teacher = copy.deepcopy(self.net.encoder).requires_grad_(False)
        self.teacher_head = copy.deepcopy(self.head).requires_grad_(False)
        self.register_buffer("center", torch.zeros(1, s["prototypes"]))
        self.augment = Augment.from_config(s["augment"])
        self._batch_center: torch.Tensor | None = None
        self.steps_per_epoch = len(batches_of(np.arange(len(data)), s["batch_size"]))

    def batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        s = self.settings
        g = torch.Generator().manual_seed(self.seed * 1_000 + epoch)
        order = epoch_order(len(self.data), self.seed, epoch)
        for rows in batches_of(order, s["batch_size"]):
            waves = [self.data.wave(i) for i in rows.tolist()]
            if self.augment is not None:
                # One speed per utterance, shared by its crops: a speed change alters the
                # voice, and views of one voice must not be taught to agree across voices.
                waves = [self.augment.speed(wave, g) for wave in waves]
            views = [(s["long_seconds"], 2), (s["short_seconds"], s["short_crops"])]
            crops = [
                torch.stack(
                    [
                        augmented_crops(self.data, rows, sec, self.augment, g, waves, speed=False)
                        for _ in range(n)
                    ]
                )
                for sec, n in views
            ]
            yield crops[0], crops[1]  # (2, B, S_long), (n_short, B, S_short)

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        long, short = batch
        n_long, b = long.shape[:2]
        s = self.settings
        with torch.no_grad():
            t = self.teacher_head(self.net.embed(long.flatten(0, 1), self.teacher))
            self._batch_center = t.mean(0, keepdim=True)
            targets = F.softmax((t - self.center) / s["teacher_temperature"], -1)
        student = [self.head(self.net.embed(long.flatten(0, 1)))]
        if len(short):
            student.append(self.head(self.net.embed(short.flatten(0, 1))))
        logp = F.log_softmax(torch.cat(student) / s["student_temperature"], -1)
        targets, logp = targets.view(n_long, b, -1), logp.view(-1, b, logp.shape[-1])
        terms = [
            -(targets[i] * logp[j]).sum(-1).mean()
            for i in range(n_long)
            for j in range(len(logp))
            if i != j
        ]
        return torch.stack(terms).mean()

    @torch.no_grad()
    def after_step(self, step: int, total: int) -> None:
        s = self.settings
        m = 1 - (1 - s["teacher_momentum"]) * (math.cos(math.pi * step / total) + 1) / 2
        for pairs in (
            zip(self.teacher.parameters(), self.net.encoder.parameters(), strict=True),
            zip(self.teacher_head.parameters(), self.head.parameters(), strict=True),
        ):
            for t, p in pairs:
                t.mul_(m).add_(p.detach(), alpha=1 - m)
        c = s["center_momentum"]
        self.center.mul_(c).add_(self._batch_center, alpha=1 - c)

    def save(self, out_dir: Path) -> Path:
        header = f"ECAPA-TDNN trained by strata with DINO (seed {self.seed}; the EMA teacher)"
        return self.net.save(out_dir, header, encoder=self.teacher)
