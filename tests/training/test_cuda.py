"""On a GPU (``device: auto``), every objective trains there, and its checkpoint, written from
GPU tensors, loads through the adapter on the CPU and agrees with the model run on the GPU."""

from __future__ import annotations

import math

import pytest
import torch
from training_setup import trained_config

from strata.models.registry import get_family
from strata.training import OBJECTIVES
from strata.training.data import training_set
from strata.training.run import train_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_training_runs_on_the_gpu_and_reloads_on_the_cpu(objective, corpus, tmp_path):
    cfg = trained_config(objective, 2)
    summary = train_model("m", cfg, corpus, tmp_path / "out", progress=False)
    assert summary["device"].startswith("cuda")
    assert math.isfinite(summary["last_epoch_loss"])
    encoder = get_family(cfg["family"]).load(cfg, tmp_path / "out" / "checkpoint")
    wave = training_set(corpus, "small").wave(0)[None]
    lengths = torch.tensor([wave.shape[1]])
    on_cpu = encoder(wave, lengths)
    on_gpu = encoder.to("cuda")(wave.cuda(), lengths.cuda())
    for layer, out in on_cpu.items():
        gpu = on_gpu[layer].hidden.float().cpu()
        scale = out.hidden.abs().max().clamp_min(1.0)
        assert (gpu - out.hidden).abs().max() / scale < 2e-2, layer  # TF32 on the GPU
